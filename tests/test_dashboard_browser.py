"""The cockpit, the map and the big screen in a real browser (headless Chromium through Playwright).

The leader signs in and lands on the cockpit, picks March 2026, clicks the 洪门镇 bar of the town chart
and lands on the project list filtered to that town, showing the three projects the bar counted; on the
map a click on a project shows its card; the big screen fills 1920×1080 without scrolling. Screenshots
at 1920×1080 go to var/screenshots/dashboard/ (cockpit.png, map.png, screen.png).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import PASSWORD
from tests.test_dashboard import cw  # noqa: F401 (fixture)
from tests.test_progress_browser import browser, browser_settings, watch_errors  # noqa: F401 (fixtures)
from tests.test_rates import district  # noqa: F401 (fixture)

SCREENSHOTS = Path(__file__).resolve().parent.parent / "var" / "screenshots" / "dashboard"
SIZE = {"width": 1920, "height": 1080}

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def sign_in(browser, live_server, username: str):  # noqa: F811
    context = browser.new_context(locale="zh-CN", viewport=SIZE)
    page = context.new_page()
    errors = watch_errors(page)
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_label("密码").press("Enter")
    return context, page, errors


def click_at(page, selector: str, x: float, y: float) -> None:
    """Point at (x, y) inside the element, as a user does, then click there."""
    box = page.locator(selector).bounding_box()
    page.mouse.move(box["x"] + x - 4, box["y"] + y - 4)
    page.mouse.move(box["x"] + x, box["y"] + y)
    page.mouse.click(box["x"] + x, box["y"] + y)


def click_chart(page, selector: str, series: int, index: int, value: float) -> None:
    """Click inside the bar/point `index` of a chart (pixel position from ECharts itself)."""
    x, y = page.evaluate(
        """([selector, series, index, value]) => {
            const chart = echarts.getInstanceByDom(document.querySelector(selector));
            return chart.convertToPixel({seriesIndex: series}, [index, value]);
        }""",
        [selector, series, index, value],
    )
    click_at(page, selector, x, y)


def test_leader_opens_the_cockpit_clicks_a_town_and_sees_its_projects(browser_settings, cw, live_server, browser):  # noqa: F811
    from playwright.sync_api import expect

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    context, page, errors = sign_in(browser, live_server, "leader")
    page.wait_for_url(f"{live_server.url}/dashboard/")  # leaders land on the cockpit
    expect(page.get_by_role("link", name="驾驶舱", exact=True)).to_have_attribute("aria-current", "page")

    page.get_by_label("年度", exact=True).select_option("2026")
    page.get_by_label("月份", exact=True).select_option("3")
    page.get_by_role("button", name="查看").click()
    page.wait_for_url("**/dashboard/?year=2026&month=3")
    expect(page.locator(".kp-dash-headline").first).to_contain_text("65.9")
    for kind in ("curve", "funnel", "bar", "pie"):
        expect(page.locator(f"[data-kp-dash='{kind}'][data-kp-drawn='true'] canvas").first).to_be_visible()
    page.screenshot(path=SCREENSHOTS / "cockpit.png", full_page=True)

    # The town chart's first bar is 洪门镇 (largest investment): B, D and E.
    town_chart = "[data-kp-dash='bar'][data-part='town']"
    page.locator(town_chart).scroll_into_view_if_needed()
    click_chart(page, town_chart, 0, 0, 1.5)
    page.wait_for_url(f"**/projects/?town={cw.hongmen.pk}")
    rows = page.locator("#kp-results tbody tr")
    expect(rows).to_have_count(3)
    for project in (cw.b, cw.d, cw.e):
        expect(page.locator("#kp-results")).to_contain_text(project.name)
    assert page.get_by_label("乡镇街道").input_value() == str(cw.hongmen.pk)

    # A headline number opens its list too.
    page.go_back()
    overdue = page.locator(".kp-dash-headline a[href='/problems/?overdue=on']")
    expect(overdue).to_have_text("2")
    overdue.click()
    page.wait_for_url("**/problems/?overdue=on")
    expect(page.locator("#kp-results tbody tr")).to_have_count(2)
    assert errors == []
    context.close()


def test_the_map_shows_points_and_a_click_opens_the_card(browser_settings, cw, live_server, browser):  # noqa: F811
    from playwright.sync_api import expect

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    context, page, errors = sign_in(browser, live_server, "dispatcher")
    page.wait_for_url(f"{live_server.url}/dashboard/")
    page.get_by_role("link", name="一张图").click()
    page.wait_for_url("**/dashboard/map/")
    expect(page.locator("#kp-map[data-kp-points='2']")).to_have_count(1)
    expect(page.locator("#kp-map-count")).to_contain_text("2")
    expect(page.locator("#kp-map-note")).to_contain_text("4")  # four projects have no coordinates
    x, y = page.evaluate(
        """() => echarts.getInstanceByDom(document.getElementById('kp-map'))
                   .convertToPixel({geoIndex: 0}, [113.91, 35.302])"""
    )
    click_at(page, "#kp-map", x, y)
    expect(page.locator("#kp-map-card")).to_contain_text(cw.a.name)
    expect(page.locator("#kp-map-card")).to_contain_text("15.00亿元")
    page.screenshot(path=SCREENSHOTS / "map.png", full_page=True)

    # Filters as on the list page: only province-level projects (D).
    page.get_by_label("级别").select_option("province")
    page.get_by_role("button", name="筛选").click()
    expect(page.locator("#kp-map[data-kp-points='1']")).to_have_count(1)
    assert errors == []
    context.close()


def test_the_big_screen_fills_1920_by_1080_without_scrolling(browser_settings, cw, live_server, browser):  # noqa: F811
    from playwright.sync_api import expect

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    context, page, errors = sign_in(browser, live_server, "leader")
    page.wait_for_url(f"{live_server.url}/dashboard/")
    page.goto(f"{live_server.url}/dashboard/screen/?year=2026&month=3")
    expect(page.locator("#kps-map[data-kp-points='2']")).to_have_count(1)
    for kind in ("curve", "funnel", "bar", "ranking"):
        expect(page.locator(f"[data-kp-dash='{kind}'][data-kp-drawn='true'] canvas").first).to_be_visible()
    assert page.evaluate("document.documentElement.scrollHeight") <= SIZE["height"]
    assert page.evaluate("document.documentElement.scrollWidth") <= SIZE["width"]
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") != "rgb(255, 255, 255)"
    expect(page.locator("[data-kp-field='headline.investment.annual_rate']")).to_have_text("65.9")
    expect(page.locator("#kps-updated")).not_to_be_empty()
    page.screenshot(path=SCREENSHOTS / "screen.png")
    assert errors == []
    context.close()
