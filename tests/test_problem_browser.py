"""A problem's whole life in a real browser (headless Chromium through Playwright), on the live server.

The company raises a demand with a photo, the dispatcher assigns it, the lead unit's officer finds it
in the inbox, deploys it and resolves it with evidence, the company rates it 满意. Pages are also
checked at phone width. Screenshots go to test-artifacts/problem-*.png.
"""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from django.utils import timezone

from keyprojects.problems import domain, worker
from keyprojects.problems.models import Problem, ProblemEvent, Rating, Status
from tests.conftest import PASSWORD
from tests.test_browser import browser as browser  # noqa: F401 (fixture)
from tests.test_browser import browser_settings as browser_settings  # noqa: F401 (fixture)
from tests.test_browser import no_horizontal_overflow, watch_errors, wide_elements

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde\x00\x00\x00\x0cIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"  # noqa: E501

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def sign_in(browser, live_server, username: str, *, width: int = 1366):
    context = browser.new_context(locale="zh-CN", viewport={"width": width, "height": 900})
    page = context.new_page()
    errors = watch_errors(page)
    page.goto(f"{live_server.url}/accounts/login/?next=/problems/")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/problems/")
    return context, page, errors


def shot(page, name: str) -> None:
    page.screenshot(path=ARTIFACTS / f"problem-{name}.png", full_page=True)


def busy_list(world) -> None:
    """A few problems received earlier, on the clock and late (dates relative to today)."""
    today = timezone.localdate()
    start = today - datetime.timedelta(days=40)
    moment = timezone.make_aware(datetime.datetime.combine(start, datetime.time(9)))
    for i, title in enumerate(["征迁补偿款未到位", "规划条件调整", "环评批复延迟", "天然气接入"]):
        p = domain.raise_problem(by=world.dispatcher, project=world.project_a, title=title, category="relocation",
                                 source="site_visit", received_on=start, now=moment)  # fmt: skip
        domain.assign(p, by=world.dispatcher, lead_unit=world.resources if i % 2 else world.dongjie,
                      solve_level="city", now=moment)  # fmt: skip
        if i == 3:
            continue
        for level in range(1, i + 1):
            domain.escalate(p, to_level=level, by=world.dispatcher, reason="逾期未部署", now=moment)
    domain.supervise(p, by=world.leader, due=today + datetime.timedelta(days=1), note="限期解决")


def test_a_demand_from_raising_to_rating(browser_settings, world, live_server, browser, tmp_path):
    from playwright.sync_api import expect

    ARTIFACTS.mkdir(exist_ok=True)
    photo = tmp_path / "现场照片.png"
    photo.write_bytes(PNG)

    # 1. The company raises a demand.
    context, page, errors = sign_in(browser, live_server, "enterprise")
    expect(page.get_by_role("heading", name="问题督办")).to_be_visible()
    page.get_by_role("link", name="反映问题").click()
    page.get_by_label("项目").select_option(label=world.project_a.name)
    page.get_by_label("问题类别").select_option(label="水电气暖")
    page.get_by_label("问题标题").fill("施工用电增容申请迟迟未批")
    page.get_by_label("问题描述").fill("6月提交增容申请，至今未答复，影响主体结构施工。")
    page.get_by_label("附件").set_input_files(str(photo))
    shot(page, "raise")
    page.get_by_role("button", name="提交").click()
    expect(page.locator(".alert-success")).to_contain_text("已提交")
    expect(page.locator(".kp-problem-head")).to_contain_text("待交办")
    problem = Problem.objects.get()
    assert problem.raised_by == world.enterprise and problem.status == Status.NEW
    expect(page.locator(".kp-events")).to_contain_text("现场照片.png")
    shot(page, "raised")
    context.close()

    # 2. The dispatcher sees it in the list and assigns it.
    context, page, errors2 = sign_in(browser, live_server, "dispatcher")
    errors += errors2
    row = page.locator("#kp-results tbody tr").first
    expect(row).to_contain_text("施工用电增容申请迟迟未批")
    expect(row).to_contain_text("未计时")
    shot(page, "list")
    page.get_by_role("link", name="施工用电增容申请迟迟未批").click()
    page.get_by_label("主办单位").select_option(label="东街街道")
    page.locator("#action-assign").get_by_label("自然资源局").check()
    page.get_by_label("交办意见").fill("请东街街道牵头，自然资源局配合，协调供电公司。")
    shot(page, "assign-form")
    page.get_by_role("button", name="交办", exact=True).click()
    expect(page.locator(".alert-success")).to_contain_text("已交办")
    expect(page.locator(".kp-problem-head")).to_contain_text("已交办")
    expect(page.locator(".kp-clock tbody tr").nth(2)).to_contain_text("部署")
    problem.refresh_from_db()
    assert problem.lead_unit == world.dongjie and problem.deploy_due is not None
    shot(page, "assigned")
    context.close()

    # The worker writes the notifications of what happened so far.
    worker.process_events(timezone.now())

    # 3. The lead unit's officer finds it in the inbox, deploys and resolves it.
    context, page, errors3 = sign_in(browser, live_server, "town_officer")
    errors += errors3
    inbox = page.locator(".kp-navbar").get_by_role("link", name="消息")
    expect(inbox).to_contain_text("1")
    inbox.click()
    expect(page.locator(".kp-note-unread")).to_have_count(1)
    shot(page, "inbox")
    page.get_by_role("link", name="【交办】施工用电增容申请迟迟未批").click()
    expect(page.get_by_role("heading", name="施工用电增容申请迟迟未批")).to_be_visible()
    page.get_by_label("部署情况").fill("已召开专题会，明确专人对接供电公司。")
    page.get_by_role("button", name="确认部署").click()
    expect(page.locator(".kp-problem-head")).to_contain_text("已部署")
    # Resolving without evidence is refused at the field, nothing saved.
    page.get_by_role("button", name="确认办结").click()
    expect(page.locator("#id_resolve-evidence_errors")).to_be_visible()
    problem.refresh_from_db()
    assert problem.status == Status.DEPLOYED
    page.get_by_label("办结情况及佐证").fill("供电公司已完成增容并送电，附现场照片。")
    page.get_by_label("佐证材料").set_input_files(str(photo))
    page.get_by_role("button", name="确认办结").click()
    expect(page.locator(".kp-problem-head")).to_contain_text("已办结")
    expect(page.locator(".kp-problem-head")).to_contain_text("按期办结")
    shot(page, "resolved")
    problem.refresh_from_db()
    assert problem.status == Status.RESOLVED and problem.resolved_on_time
    assert problem.events.filter(kind=ProblemEvent.Kind.RESOLVED).get().evidence_name == "现场照片.png"
    context.close()

    # 4. The company rates it.
    context, page, errors4 = sign_in(browser, live_server, "enterprise")
    errors += errors4
    page.goto(f"{live_server.url}/problems/{problem.pk}/")
    page.get_by_label("满意", exact=True).check()
    page.get_by_label("评价意见").fill("办理及时，感谢！")
    shot(page, "rate-form")
    page.get_by_role("button", name="提交评价").click()
    expect(page.locator(".kp-problem-head")).to_contain_text("已回访")
    problem.refresh_from_db()
    assert problem.status == Status.RATED and problem.rating == Rating.SATISFIED
    shot(page, "rated")
    # The evidence downloads through the access-checked view.
    with page.expect_download() as download:
        page.locator(".kp-events").get_by_role("link", name="附件：现场照片.png").first.click()
    assert download.value.suggested_filename == "现场照片.png"

    # Phone width: no sideways overflow on the pages of this module.
    page.set_viewport_size({"width": 375, "height": 812})
    for name, path in [("detail-375", f"/problems/{problem.pk}/"), ("list-375", "/problems/"),
                       ("new-375", "/problems/new/"), ("figures-375", "/problems/figures/"),
                       ("inbox-375", "/notifications/")]:  # fmt: skip
        page.goto(live_server.url + path)
        shot(page, name)
        assert no_horizontal_overflow(page), (name, wide_elements(page))
    context.close()

    # The figures page and a busier list for the dispatcher: overdue, escalated and supervised problems.
    busy_list(world)
    context, page, errors5 = sign_in(browser, live_server, "dispatcher")
    errors += errors5
    expect(page.locator("#kp-results td.kp-wide .kp-light-red").first).to_be_visible()
    shot(page, "list-busy")
    page.get_by_label("只看逾期").check()
    page.wait_for_url("**/problems/?*overdue=on*")
    expect(page.locator("#kp-results tbody tr")).to_have_count(4)
    shot(page, "list-overdue")
    page.goto(f"{live_server.url}/problems/figures/")
    expect(page.locator("table").first).to_contain_text("东街街道")
    expect(page.locator("table").first).to_contain_text("100.0%")
    shot(page, "figures")
    page.get_by_role("link", name="逾期数").first.click()
    expect(page.locator("th[aria-sort]").first).to_contain_text("逾期数")
    context.close()

    assert errors == []
