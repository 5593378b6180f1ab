"""Monthly reports in a real browser (headless Chromium through Playwright, pytest-django's live server).

The enterprise fills and submits last month's report (with a photo), the responsible unit returns it
with a reason, and the enterprise sees the reason. Screenshots of the report form, the report list,
the rates page and the project chart go to test-artifacts/.
"""

from __future__ import annotations

import datetime
import io
import os
from decimal import Decimal
from pathlib import Path

import pytest
from PIL import Image

from keyprojects.progress import domain
from keyprojects.progress.forms import last_month
from keyprojects.progress.models import MonthlyReport, ReportStatus
from keyprojects.projects import domain as project_domain
from keyprojects.projects.models import Industry, Level, Project, ProjectType, Stage
from tests.conftest import PASSWORD

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]  # fmt: skip
LAST = last_month()

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def browser_settings(settings, monkeypatch):
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


def sign_in(browser, live_server, username: str, width: int = 1366):
    context = browser.new_context(locale="zh-CN", viewport={"width": width, "height": 900})
    page = context.new_page()
    errors = watch_errors(page)
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{live_server.url}/projects/")
    return context, page, errors


def photo_file(tmp_path) -> Path:
    path = tmp_path / "现场照片.jpg"
    image = Image.new("RGB", (640, 400), (120, 150, 190))
    for x in range(0, 640, 40):
        for y in range(260, 400):
            image.putpixel((x, y), (90, 90, 90))
    out = io.BytesIO()
    image.save(out, "JPEG")
    path.write_bytes(out.getvalue())
    return path


def history(world):
    """Plans for this year and last, last year's reports and this year's before last month, and a few
    more projects so that the rates table has several rows."""
    a = world.project_a
    Project.objects.filter(pk=a.pk).update(stage=Stage.CONSTRUCTION, actual_start=datetime.date(2024, 3, 1))
    a.refresh_from_db()
    year, month = LAST
    domain.save_annual_plan(a, by=world.dispatcher, year=year - 1, data={"planned_investment": "14000"})
    plan = {"planned_investment": "15000", "to_complete": True}
    domain.save_annual_plan(a, by=world.dispatcher, year=year, data=plan)
    amounts = [300, 450, 1200, 1350, 1500, 1420, 1100, 1250, 1380, 1460, 1530, 1800]
    for m, amount in enumerate(amounts, start=1):
        report = domain.create_report(a, by=world.enterprise, year=year - 1, month=m, data={"investment": amount})
        domain.submit(report, by=world.enterprise, explanation="按实际完成填报")
    for m in range(1, month):
        report = domain.create_report(a, by=world.enterprise, year=year, month=m,
                                      data={"investment": amounts[m - 1] + 120})  # fmt: skip
        domain.submit(report, by=world.enterprise, explanation="按实际完成填报")
    electronics = Industry.objects.get(name="电子信息")
    others = [
        ("红旗区智能终端产业园", world.hongmen, Level.CITY, "60000", "8000", 9600),
        ("新乡高新区数据中心", world.dongjie, Level.PROVINCE, "220000", "30000", 16800),
        ("洪门镇冷链物流中心", world.hongmen, Level.DISTRICT, "18000", "5000", 1900),
    ]
    for name, town, level, total, plan, done in others:
        project = project_domain.create_project(
            by=world.dispatcher,
            data=dict(name=name, owner_name=name + "有限公司", industry=electronics, project_type=ProjectType.FILING,
                      level=level, total_investment=Decimal(total), town=town, responsible_unit=town,
                      actual_start=datetime.date(2025, 3, 1)),
            stage=Stage.CONSTRUCTION, stage_on=datetime.date(2025, 3, 1),
        )  # fmt: skip
        domain.save_annual_plan(project, by=world.dispatcher, year=year, data={"planned_investment": plan})
        report = domain.create_report(project, by=world.dispatcher, year=year, month=month, data={"investment": done})
        domain.submit(report, by=world.dispatcher, explanation="集中支付设备款")


def test_enterprise_files_and_submits_unit_returns(browser_settings, world, live_server, browser, tmp_path):
    from playwright.sync_api import expect

    ARTIFACTS.mkdir(exist_ok=True)
    history(world)
    project = world.project_a
    year, month = LAST

    # --- The enterprise files last month's report
    context, page, errors = sign_in(browser, live_server, "enterprise")
    page.goto(f"{live_server.url}/projects/{project.pk}/")
    page.get_by_role("link", name="月报与投资").click()
    expect(page.locator("[data-kp-chart='project-series'] canvas")).to_have_count(1)
    page.get_by_role("link", name="填报月报").click()
    expect(page.locator(".kp-report-form")).to_contain_text("填报月报")
    assert page.get_by_label("年度").input_value() == str(year)
    assert page.get_by_label("月份").input_value() == str(month)
    page.get_by_label("本月完成投资（万元）").fill("1,688.50")
    page.get_by_label("在岗工人数").fill("126")
    page.get_by_label("形象进度").fill("1#、2#厂房主体封顶，3#厂房钢结构吊装完成60%，综合楼二次结构施工。")
    page.get_by_label("存在问题及建议").fill("10kV 用电增容尚未批复，影响设备调试。")
    page.screenshot(path=ARTIFACTS / "report-form.png", full_page=True)
    page.get_by_role("button", name="保存草稿").click()
    expect(page.locator(".alert-success")).to_contain_text("月报草稿已保存")
    report = MonthlyReport.objects.get(project=project, year=year, month=month)
    assert report.investment == Decimal("1688.50") and report.status == ReportStatus.DRAFT

    # A photo, re-encoded and shown through the access-checked view
    page.get_by_label("照片文件").set_input_files(str(photo_file(tmp_path)))
    page.get_by_label("照片说明").fill("3#厂房钢结构吊装")
    page.get_by_role("button", name="上传照片").click()
    expect(page.locator(".alert-success")).to_contain_text("照片已上传")
    image = page.locator(".kp-photos img").first
    expect(image).to_be_visible()
    assert "/_media/" not in image.get_attribute("src")
    assert page.evaluate("document.querySelector('.kp-photos img').naturalWidth") == 640

    # Check before submitting, then submit
    expect(page.locator("#action-submit")).to_contain_text("检查通过")
    page.screenshot(path=ARTIFACTS / "report-draft.png", full_page=True)
    page.get_by_role("button", name="提交月报").click()
    expect(page.locator(".alert-success")).to_contain_text("月报已提交")
    expect(page.locator(".kp-rs-submitted").first).to_have_text("已提交")
    report.refresh_from_db()
    assert report.status == ReportStatus.SUBMITTED and report.ytd_investment is not None

    # The project's chart now reaches last month
    page.get_by_role("link", name="本项目全部月报").click()
    expect(page.locator("[data-kp-chart='project-series'] canvas")).to_have_count(1)
    assert page.locator("[data-kp-chart='project-series']").get_attribute("data-kp-drawn") == "true"
    page.screenshot(path=ARTIFACTS / "project-reports-chart.png", full_page=True)
    assert errors == []
    context.close()

    # --- The responsible unit returns it with a reason
    context, page, errors = sign_in(browser, live_server, "town_officer")
    page.locator(".kp-navbar").get_by_role("button", name="投资").or_(
        page.locator(".kp-navbar").get_by_role("link", name="投资", exact=True)
    ).click()  # the menu group
    page.get_by_role("link", name="月报", exact=True).click()
    expect(page.get_by_role("heading", name=f"{year}年{month}月 项目月报")).to_be_visible()
    row = page.locator("tr", has_text=project.name)
    expect(row).to_contain_text("已提交")
    page.screenshot(path=ARTIFACTS / "report-list.png", full_page=True)
    row.get_by_role("link", name="查看").click()
    expect(page.locator("#action-review")).to_be_visible()
    expect(page.locator("input[name='investment']")).to_have_count(0)  # no figure form for a reviewer
    page.get_by_role("button", name="退回").click()  # without a reason: refused
    expect(page.locator("#id_return_reason_errors")).to_contain_text("请填写退回理由")
    page.get_by_label("退回理由").fill("形象进度与本月投资不匹配，请补充设备采购发票后重报。")
    page.get_by_role("button", name="退回").click()
    expect(page.locator(".alert-success")).to_contain_text("月报已退回企业")
    expect(page.locator(".alert-warning")).to_contain_text("请补充设备采购发票")
    page.screenshot(path=ARTIFACTS / "report-returned.png", full_page=True)
    report.refresh_from_db()
    assert report.status == ReportStatus.RETURNED and report.investment == Decimal("1688.50")

    # The rates page
    page.locator(".kp-navbar").get_by_role("button", name="投资", exact=True).click()
    page.get_by_role("link", name="投资完成").click()
    page.get_by_label("汇总方式").select_option("town")
    page.get_by_role("button", name="统计").click()
    expect(page.locator(".kp-rates-table tbody tr")).not_to_have_count(0)
    page.get_by_role("link", name="年度投资完成率", exact=True).click()
    expect(page.locator("th[aria-sort='descending']")).to_contain_text("年度投资完成率")
    page.screenshot(path=ARTIFACTS / "rates.png", full_page=True)

    # Phone width: no sideways scrolling of the page itself
    page.set_viewport_size({"width": 375, "height": 812})
    for name, path in [
        ("report-list-375", "/reports/"),
        ("report-detail-375", f"/reports/{report.pk}/"),
        ("rates-375", "/rates/"),
    ]:
        page.goto(live_server.url + path)
        page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True)
        assert no_horizontal_overflow(page), name
    assert [e for e in errors if " 400" not in e and not e.startswith("400")] == []
    context.close()

    # --- The enterprise sees the reason and may edit again
    context, page, errors = sign_in(browser, live_server, "enterprise", width=375)
    page.goto(f"{live_server.url}/reports/{report.pk}/")
    expect(page.locator(".alert-warning")).to_contain_text("请补充设备采购发票")
    page.get_by_role("link", name="修改", exact=True).click()
    expect(page.get_by_label("本月完成投资（万元）")).to_have_value("1688.50")
    page.screenshot(path=ARTIFACTS / "report-form-375.png", full_page=True)
    assert no_horizontal_overflow(page)
    assert errors == []
    context.close()
