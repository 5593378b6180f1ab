"""The pages in a real browser (headless Chromium through Playwright), against pytest-django's live server.

A dispatcher signs in, filters the list by town, opens a project, changes its total investment
and finds the change in the history tab; the detail page is also checked at phone width.
Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import pytest

from keyprojects.org.models import User
from tests.conftest import PASSWORD

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]  # fmt: skip

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def browser_settings(settings, monkeypatch):
    # Static files without the manifest and MEDIA_ROOT in tmp_path come from conftest's _test_settings.
    # Playwright's sync API keeps an event loop in this thread; the ORM calls of the test itself are safe.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    return settings


@pytest.fixture
def browser():
    if not os.path.exists(CHROMIUM):
        message = f"{CHROMIUM} is not installed"
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


def watch_errors(page) -> list[str]:
    """Collect console errors and failed requests (a missing static file, a refused script)."""
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(f"console: {msg.text}") if msg.type == "error" else None)
    # A request the browser itself aborts because the page navigated on is not an error.
    page.on(
        "requestfailed",
        lambda request: (
            "ERR_ABORTED" not in (request.failure or "")
            and errors.append(f"request failed: {request.url} {request.failure}")
        ),
    )
    page.on(
        "response",
        lambda response: errors.append(f"{response.status}: {response.url}") if response.status >= 400 else None,
    )
    return errors


def no_horizontal_overflow(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def wide_elements(page) -> list[str]:
    """The elements that stick out to the right of the viewport (to explain an overflow)."""
    return page.evaluate(
        """() => [...document.querySelectorAll('body *')]
            .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
            .filter(e => !e.closest('.table-responsive, .kp-tabs'))
            .slice(0, 10).map(e => e.tagName + '.' + e.className)"""
    )


def test_dispatcher_filters_opens_edits_and_sees_history(browser_settings, world, live_server, browser):
    from playwright.sync_api import expect

    ARTIFACTS.mkdir(exist_ok=True)
    project = world.project_a
    context = browser.new_context(locale="zh-CN", viewport={"width": 1366, "height": 900})
    page = context.new_page()
    errors = watch_errors(page)

    # Sign in
    page.goto(f"{live_server.url}/projects/")
    expect(page).to_have_url(f"{live_server.url}/accounts/login/?next=/projects/")
    page.get_by_label("用户名").fill("dispatcher")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("heading", name="项目库")).to_be_visible()
    expect(page.locator(".kp-navbar")).to_contain_text("调度员")
    # The stylesheet is served and applied (no CDN: everything comes from the live server).
    assert page.evaluate("getComputedStyle(document.querySelector('.kp-navbar')).backgroundColor") == "rgb(29, 63, 114)"
    rows = page.locator("#kp-results tbody tr")
    expect(rows).to_have_count(2)
    page.screenshot(path=ARTIFACTS / "list.png", full_page=True)

    # Filter by town: htmx swaps the results and pushes the URL
    page.get_by_label("乡镇街道").select_option(label="东街街道")
    page.wait_for_url(f"**/projects/?*town={world.dongjie.pk}*")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(project.name)
    expect(page.locator("#kp-results")).not_to_contain_text(world.project_b.name)
    page.screenshot(path=ARTIFACTS / "list-filtered.png", full_page=True)

    # Open the project
    page.get_by_role("link", name=project.name).click()
    expect(page.get_by_role("heading", name=project.name)).to_be_visible()
    expect(page.locator("main")).to_contain_text("15.00亿元")
    expect(page.locator("main")).to_contain_text("2026年3月1日")
    page.screenshot(path=ARTIFACTS / "detail.png", full_page=True)

    # Edit the total investment
    page.get_by_role("link", name="编辑").click()
    page.screenshot(path=ARTIFACTS / "edit.png", full_page=True)
    page.get_by_label("总投资（万元）").fill("166666.66")
    page.get_by_role("button", name="保存").click()
    expect(page.locator(".alert-success")).to_contain_text("项目信息已保存")
    expect(page.locator("main")).to_contain_text("16.67亿元")
    project.refresh_from_db()
    assert project.total_investment == Decimal("166666.66")

    # The change is in the history
    page.get_by_role("link", name="历史").click()
    change = page.locator(".kp-changes li").first
    expect(change).to_contain_text("总投资（万元）")
    expect(change.locator(".kp-before")).to_have_text("15.00亿元")
    expect(change.locator(".kp-after")).to_have_text("16.67亿元")
    expect(page.locator(".kp-history-item").first).to_contain_text("经网页")
    page.screenshot(path=ARTIFACTS / "history.png", full_page=True)

    # The stage and approvals tabs render
    page.get_by_role("link", name="阶段", exact=True).click()
    expect(page.locator(".kp-step-current")).to_contain_text("谋划储备")
    page.screenshot(path=ARTIFACTS / "stages.png", full_page=True)
    page.get_by_role("link", name="前期手续").click()
    expect(page.locator("main table")).to_contain_text("用地预审与选址意见书")
    page.screenshot(path=ARTIFACTS / "approvals.png", full_page=True)

    # Phone width: the main content does not overflow sideways
    page.set_viewport_size({"width": 375, "height": 812})
    for name, path in [
        ("detail-375", f"/projects/{project.pk}/"),
        ("stages-375", f"/projects/{project.pk}/stages/"),
        ("approvals-375", f"/projects/{project.pk}/approvals/"),
        ("history-375", f"/projects/{project.pk}/history/"),
        ("list-375", "/projects/"),
    ]:
        page.goto(live_server.url + path)
        page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True)
        assert no_horizontal_overflow(page), (name, wide_elements(page))

    # Switch to English
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(f"{live_server.url}/projects/{project.pk}/")
    page.get_by_role("button", name="EN").click()
    expect(page.get_by_role("link", name="Overview")).to_be_visible()
    expect(page.locator("main")).to_contain_text("Total investment")
    page.screenshot(path=ARTIFACTS / "detail-en.png", full_page=True)

    assert errors == []
    context.close()


def test_login_page_and_mobile_form(browser_settings, world, live_server, browser):
    from playwright.sync_api import expect

    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(locale="zh-CN", viewport={"width": 375, "height": 812})
    page = context.new_page()
    errors = watch_errors(page)
    User.objects.filter(username__in=["dispatcher", "leader"]).update(is_demo=True)
    page.goto(f"{live_server.url}/accounts/login/")
    expect(page.locator(".kp-demo")).to_contain_text("当前数据库包含演示数据")
    assert no_horizontal_overflow(page)
    page.screenshot(path=ARTIFACTS / "login-375.png", full_page=True)
    page.get_by_label("用户名").fill("town_officer")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("heading", name="项目库")).to_be_visible()
    page.goto(f"{live_server.url}/projects/{world.project_a.pk}/edit/")
    page.get_by_label("统一社会信用代码").fill("91350200776049653B")
    page.get_by_role("button", name="保存").click()
    expect(page.locator("#id_owner_credit_code_errors")).to_contain_text("请填写保存理由")
    assert no_horizontal_overflow(page)
    page.screenshot(path=ARTIFACTS / "edit-error-375.png", full_page=True)
    assert [e for e in errors if "400" not in e] == []  # the form comes back with 400 Bad Request
    context.close()
