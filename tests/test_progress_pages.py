"""The monthly-report pages: who may see and do what, the workflow, bad input and query counts.

Each persona of the `world` fixture goes through every page; the expected answer follows the data
scope (SEES) and the roles of `progress.access`. Writes are checked in the database. Reports are
filed for last month (and the month before), relative to the real date, as the pages use it.
"""

from __future__ import annotations

import datetime
import io
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from keyprojects.audit.models import AuditRecord
from keyprojects.progress import domain
from keyprojects.progress.forms import last_month
from keyprojects.progress.models import (
    AnnualPlan,
    AnnualPlanRevision,
    MonthLock,
    MonthlyReport,
    ReportPhoto,
    ReportStatus,
    Restatement,
)
from keyprojects.projects.models import Project, ProjectType, Stage
from tests.conftest import PERSONAS, SEES

D = Decimal
ADMINS = [p for p in PERSONAS if not SEES[p]]
LAST = last_month()
PREV = last_month(datetime.date(*LAST, 1))
FILERS_A = {"enterprise", "town_officer", "dispatcher"}  # may file for project_a (company, its unit, the center)


def read_status(persona: str, key: str) -> int:
    if persona in ADMINS:
        return 403
    return 200 if key in SEES[persona] else 404


def signed_in(client, world, persona: str):
    client.force_login(getattr(world, persona))
    return client


def png(size=(40, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (30, 90, 160)).save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def w(world):
    """Both projects under construction since 2025-06 (ordinary figures fire no soft rule), with plans."""
    Project.objects.filter(pk__in=[world.project_a.pk, world.project_b.pk]).update(
        stage=Stage.CONSTRUCTION, actual_start=datetime.date(2025, 6, 1)
    )
    world.project_a.refresh_from_db()
    world.project_b.refresh_from_db()
    for year in {LAST[0], PREV[0]}:
        domain.save_annual_plan(world.project_a, by=world.dispatcher, year=year, data={"planned_investment": "12000"})
        domain.save_annual_plan(world.project_b, by=world.dispatcher, year=year, data={"planned_investment": "4000"})
    return world


def draft(w, project=None, *, by=None, period=LAST, investment="1000", **data) -> MonthlyReport:
    project = project or w.project_a
    by = by or (w.enterprise if project == w.project_a else w.dispatcher)
    return domain.create_report(project, by=by, year=period[0], month=period[1],
                                data={"investment": investment, **data})  # fmt: skip


def submitted(w, project=None, *, by=None, period=LAST, investment="1000", **data) -> MonthlyReport:
    report = draft(w, project, by=by, period=period, investment=investment, **data)
    by = by or (w.enterprise if (project or w.project_a) == w.project_a else w.dispatcher)
    return domain.submit(report, by=by, explanation="核实无误")


def confirmed(w, project=None, *, period=LAST, investment="1000") -> MonthlyReport:
    report = submitted(w, project, period=period, investment=investment)
    officer = w.town_officer if (project or w.project_a) == w.project_a else w.other_town_officer
    domain.review(report, by=officer)
    return domain.confirm(report, by=w.dispatcher)


def stored(report: MonthlyReport) -> MonthlyReport:
    return MonthlyReport.objects.get(pk=report.pk)


def body(response) -> str:
    return response.content.decode()


# ---------------------------------------------------------------------------------------------
# Anonymous users and the menu


def test_anonymous_users_are_sent_to_login(client, w):
    report = submitted(w)
    pk = w.project_a.pk
    urls = [
        reverse("report-list"), reverse("report-overdue"), reverse("month-locks"), reverse("rates"),
        reverse("project-reports", args=[pk]), reverse("report-create", args=[pk]),
        reverse("report-detail", args=[report.pk]), reverse("report-edit", args=[report.pk]),
        reverse("report-restate", args=[report.pk]),
    ]  # fmt: skip
    for url in urls:
        r = client.get(url)
        assert r.status_code == 302 and r["Location"].startswith(reverse("login")), url
    r = client.post(reverse("report-return", args=[report.pk]), {"reason": "x"})
    assert r.status_code == 302
    assert stored(report).status == ReportStatus.SUBMITTED


def test_menu_shows_reports_and_rates(client, w):
    r = signed_in(client, w, "leader").get(reverse("rates"))
    html = body(r)
    assert f'href="{reverse("report-list")}">月报</a>' in html
    assert 'active" aria-current="page" href="/rates/">投资完成</a>' in html
    r = client.get(reverse("project-detail", args=[w.project_a.pk]))
    assert "月报与投资" in body(r) and reverse("project-reports", args=[w.project_a.pk]) in body(r)


# ---------------------------------------------------------------------------------------------
# Who sees what


@pytest.mark.parametrize("persona", PERSONAS)
def test_read_pages_follow_the_data_scope(client, w, persona):
    report_a = submitted(w)
    report_b = submitted(w, w.project_b)
    photo_report = draft(w, period=PREV)
    photo = domain.add_photo(photo_report, by=w.enterprise, upload=SimpleUploadedFile("p.png", png()))
    c = signed_in(client, w, persona)
    everyone = 403 if persona in ADMINS else 200
    assert c.get(reverse("report-list")).status_code == everyone
    assert c.get(reverse("rates")).status_code == everyone
    for key, report in (("project_a", report_a), ("project_b", report_b)):
        project = getattr(w, key)
        assert c.get(reverse("project-reports", args=[project.pk])).status_code == read_status(persona, key)
        assert c.get(reverse("report-detail", args=[report.pk])).status_code == read_status(persona, key)
    r = c.get(reverse("report-photo", args=[photo_report.pk, photo.pk]))
    assert r.status_code == read_status(persona, "project_a")
    # The list shows exactly the projects in scope.
    if persona not in ADMINS:
        html = body(c.get(reverse("report-list")))
        assert (w.project_a.name in html) == ("project_a" in SEES[persona])
        assert (w.project_b.name in html) == ("project_b" in SEES[persona])


OVERDUE_READERS = {"dispatcher", "leader", "town_officer", "dept_officer", "other_town_officer"}


@pytest.mark.parametrize("persona", PERSONAS)
def test_overdue_list_and_lock_page_by_role(client, w, persona):
    c = signed_in(client, w, persona)
    r = c.get(reverse("report-overdue"), {"year": PREV[0], "month": PREV[1]})
    assert r.status_code == (200 if persona in OVERDUE_READERS else 403)
    if r.status_code == 200:
        html = body(r)
        # The month before last is past due for everyone; a project in scope without a report is listed.
        assert (w.project_a.name in html) == ("project_a" in SEES[persona])
        assert (w.project_b.name in html) == ("project_b" in SEES[persona])
        assert "未填报" in html
    assert c.get(reverse("month-locks")).status_code == (200 if persona == "dispatcher" else 403)


def test_overdue_list_groups_by_unit_and_names_the_state(client, w):
    draft(w, period=PREV)
    r = signed_in(client, w, "dispatcher").get(reverse("report-overdue"), {"year": PREV[0], "month": PREV[1]})
    html = body(r)
    assert "东街街道" in html and "洪门镇" in html
    assert "草稿未提交" in html and "未填报" in html


# ---------------------------------------------------------------------------------------------
# Who may file, change and move a report


CREATE_STATUS = {p: 403 for p in PERSONAS} | {"other_town_officer": 404} | {p: 302 for p in FILERS_A}


@pytest.mark.parametrize("persona", PERSONAS)
def test_who_may_file_a_report(client, w, persona):
    c = signed_in(client, w, persona)
    url = reverse("report-create", args=[w.project_a.pk])
    get = c.get(url, {"year": PREV[0], "month": PREV[1]})
    assert get.status_code == (200 if persona in FILERS_A else CREATE_STATUS[persona])
    r = c.post(url, {"year": PREV[0], "month": PREV[1], "investment": "1200.5", "progress_text": "主体施工"})
    assert r.status_code == CREATE_STATUS[persona]
    reports = MonthlyReport.objects.filter(project=w.project_a)
    if persona in FILERS_A:
        report = reports.get()
        assert r["Location"] == reverse("report-detail", args=[report.pk])
        assert report.investment == D("1200.50") and report.status == ReportStatus.DRAFT
        assert report.on_behalf == (persona != "enterprise") and report.created_by == getattr(w, persona)
        assert AuditRecord.objects.filter(object_type="monthlyreport", action="create", channel="web").exists()
    else:
        assert not reports.exists()


EDIT_STATUS = {p: 403 for p in PERSONAS} | {"other_town_officer": 404, "enterprise": 302}


@pytest.mark.parametrize("persona", PERSONAS)
def test_only_the_company_edits_its_own_report(client, w, persona):
    report = draft(w)
    c = signed_in(client, w, persona)
    url = reverse("report-edit", args=[report.pk])
    assert c.get(url).status_code == (200 if persona == "enterprise" else EDIT_STATUS[persona])
    r = c.post(url, {"investment": "5555", "progress_text": "改", "version": report.version})
    assert r.status_code == EDIT_STATUS[persona]
    expected = D("5555.00") if persona == "enterprise" else D("1000.00")
    assert stored(report).investment == expected


ACTIONS = {
    # action: (state to start from, who may do it, what it leads to)
    "submit": ("draft", {"enterprise"}, ReportStatus.SUBMITTED),
    "return": ("submitted", {"town_officer", "dispatcher"}, ReportStatus.RETURNED),
    "review": ("submitted", {"town_officer"}, ReportStatus.REVIEWED),
    "confirm": ("reviewed", {"dispatcher"}, ReportStatus.CONFIRMED),
}


def report_in(w, state: str) -> MonthlyReport:
    report = draft(w)
    if state in ("submitted", "reviewed"):
        domain.submit(report, by=w.enterprise)
    if state == "reviewed":
        domain.review(report, by=w.town_officer)
    return stored(report)


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("action", list(ACTIONS))
def test_workflow_actions_by_role(client, w, persona, action):
    start, allowed, result = ACTIONS[action]
    report = report_in(w, start)
    c = signed_in(client, w, persona)
    r = c.post(reverse(f"report-{action}", args=[report.pk]), {"reason": "请核实本月投资", "version": report.version})
    if persona in allowed:
        assert r.status_code == 302, body(r)
        assert stored(report).status == result
    else:
        assert r.status_code == (404 if "project_a" not in SEES[persona] and persona not in ADMINS else 403)
        assert stored(report).status == start


PLANNERS = {"dispatcher", "town_officer"}


@pytest.mark.parametrize("persona", PERSONAS)
def test_who_may_set_the_annual_plan(client, w, persona):
    year = LAST[0] + 1
    c = signed_in(client, w, persona)
    r = c.post(
        reverse("annual-plan-save", args=[w.project_a.pk, year]), {"planned_investment": "9000", "to_start": "on"}
    )
    plans = AnnualPlan.objects.filter(project=w.project_a, year=year)
    if persona in PLANNERS:
        assert r.status_code == 302
        plan = plans.get()
        assert plan.planned_investment == D("9000.00") and plan.to_start
    else:
        assert r.status_code == (403 if persona in ADMINS or "project_a" in SEES[persona] else 404)
        assert not plans.exists()


@pytest.mark.parametrize("persona", PERSONAS)
def test_only_the_center_locks_months_and_restates(client, w, persona):
    report = confirmed(w, period=PREV)
    c = signed_in(client, w, persona)
    r = c.post(reverse("month-locks"), {"year": PREV[0], "month": PREV[1], "note": "月度关账"})
    if persona == "dispatcher":
        assert r.status_code == 302
        assert MonthLock.objects.filter(year=PREV[0], month=PREV[1]).exists()
    else:
        assert r.status_code == 403
        assert not MonthLock.objects.exists()
        domain.lock_month(PREV[0], PREV[1], by=w.dispatcher)
    r = c.post(reverse("report-restate", args=[report.pk]), {"investment": "1500", "reason": "统计部门核查"})
    if persona == "dispatcher":
        assert r.status_code == 302
        assert stored(report).investment == D("1500.00") and Restatement.objects.count() == 1
    else:
        assert r.status_code == (403 if persona in ADMINS or "project_a" in SEES[persona] else 404)
        assert stored(report).investment == D("1000.00") and not Restatement.objects.exists()


# ---------------------------------------------------------------------------------------------
# The whole workflow through the pages


def test_workflow_through_the_pages(client, w):
    pk = w.project_a.pk
    ent = signed_in(client, w, "enterprise")
    # The enterprise files: nothing this month under construction is a soft warning (shown before submitting).
    r = ent.post(
        reverse("report-create", args=[pk]),
        {"year": LAST[0], "month": LAST[1], "investment": "0", "progress_text": "设备调试", "workers_on_site": "35"},
    )
    assert r.status_code == 302
    report = MonthlyReport.objects.get(project=w.project_a, year=LAST[0], month=LAST[1])
    html = body(ent.get(reverse("report-detail", args=[report.pk])))
    assert "本月报有异常提示，须填写情况说明才能提交" in html and "本月完成投资却为0" in html
    # Submitting without the explanation is refused, nothing changes.
    r = ent.post(reverse("report-submit", args=[report.pk]), {"version": report.version, "explanation": ""})
    assert r.status_code == 400
    assert "请填写情况说明后再提交" in body(r)
    assert stored(report).status == ReportStatus.DRAFT
    # Correct the figure, then submit with the explanation of what remains.
    r = ent.post(
        reverse("report-edit", args=[report.pk]),
        {"investment": "800", "progress_text": "设备调试", "workers_on_site": "35", "version": report.version},
    )
    assert r.status_code == 302
    report = stored(report)
    r = ent.post(reverse("report-submit", args=[report.pk]), {"version": report.version, "explanation": ""})
    assert r.status_code == 302
    report = stored(report)
    assert report.status == ReportStatus.SUBMITTED and report.ytd_investment == D("800.00")

    # The unit returns it with a reason; the enterprise sees the reason and resubmits.
    unit = signed_in(client, w, "town_officer")
    html = body(unit.get(reverse("report-detail", args=[report.pk])))
    assert "退回企业" in html and "审核通过" in html and reverse("report-edit", args=[report.pk]) not in html
    r = unit.post(reverse("report-return", args=[report.pk]), {"reason": "", "version": report.version})
    assert r.status_code == 400 and "请填写退回理由" in body(r)
    r = unit.post(
        reverse("report-return", args=[report.pk]), {"reason": "请补充设备采购发票", "version": report.version}
    )
    assert r.status_code == 302
    report = stored(report)
    assert report.status == ReportStatus.RETURNED and report.ytd_investment is None
    ent = signed_in(client, w, "enterprise")
    html = body(ent.get(reverse("report-detail", args=[report.pk])))
    assert "请补充设备采购发票" in html and "重新提交" in html
    ent.post(
        reverse("report-edit", args=[report.pk]),
        {"investment": "850", "progress_text": "设备调试完成", "version": report.version},
    )
    report = stored(report)
    r = ent.post(reverse("report-submit", args=[report.pk]), {"version": report.version})
    assert r.status_code == 302 and stored(report).status == ReportStatus.SUBMITTED

    # Review by the unit, confirmation by the center, then the month is locked.
    unit = signed_in(client, w, "town_officer")
    assert unit.post(reverse("report-review", args=[report.pk]), {"version": stored(report).version}).status_code == 302
    center = signed_in(client, w, "dispatcher")
    assert (
        center.post(reverse("report-confirm", args=[report.pk]), {"version": stored(report).version}).status_code == 302
    )
    assert stored(report).status == ReportStatus.CONFIRMED
    r = center.post(reverse("month-locks"), {"year": LAST[0], "month": LAST[1], "note": "月度关账"})
    assert r.status_code == 302
    html = body(center.get(reverse("month-locks")))
    assert f"已锁定至 {LAST[0]}年{LAST[1]}月" in html

    # Nothing changes silently any more: the enterprise cannot edit, the unit cannot return.
    ent = signed_in(client, w, "enterprise")
    r = ent.post(reverse("report-edit", args=[report.pk]), {"investment": "1", "version": stored(report).version})
    assert r.status_code == 302 and stored(report).investment == D("850.00")
    unit = signed_in(client, w, "town_officer")
    r = unit.post(reverse("report-return", args=[report.pk]), {"reason": "再核", "version": stored(report).version})
    assert r.status_code in (403, 409) and stored(report).status == ReportStatus.CONFIRMED

    # A restatement by the center, shown wherever the figures are.
    center = signed_in(client, w, "dispatcher")
    html = body(center.get(reverse("report-detail", args=[report.pk])))
    assert reverse("report-restate", args=[report.pk]) in html
    r = center.post(reverse("report-restate", args=[report.pk]), {"investment": "", "reason": "x"})
    assert r.status_code == 400 and "请填写本月完成投资" in body(r)
    r = center.post(
        reverse("report-restate", args=[report.pk]),
        {"investment": "1,050", "reason": "统计部门核查后调整", "version": stored(report).version},
    )
    assert r.status_code == 302
    report = stored(report)
    assert report.investment == D("1050.00") and report.ytd_investment == D("1050.00") and report.restatement_count == 1
    for url in (reverse("report-detail", args=[report.pk]), reverse("report-list") + f"?year={LAST[0]}&month={LAST[1]}",
                reverse("project-reports", args=[pk]) + f"?year={LAST[0]}"):  # fmt: skip
        html = body(center.get(url))
        assert "已更正" in html, url
    html = body(center.get(reverse("report-detail", args=[report.pk])))
    assert "850.00" in html and "1,050.00" in html and "统计部门核查后调整" in html
    assert 'class="kp-before">850.00</span> → <span class="kp-after">1,050.00' in html
    # The audit trail names the web channel for every step.
    steps = AuditRecord.objects.filter(object_type="monthlyreport", object_id=str(report.pk))
    assert steps.filter(channel="web").count() == steps.count() >= 8


def test_reviewers_never_change_figures_even_with_a_forged_post(client, w):
    report = submitted(w, investment="1000", progress_text="主体施工")
    forged = {"investment": "99999", "progress_text": "篡改", "ytd_investment": "99999", "tax": "1",
              "version": report.version, "reason": "请核实"}  # fmt: skip
    unit = signed_in(client, w, "town_officer")
    assert unit.post(reverse("report-edit", args=[report.pk]), forged).status_code == 403
    assert unit.post(reverse("report-review", args=[report.pk]), forged).status_code == 302
    saved = stored(report)
    assert saved.status == ReportStatus.REVIEWED
    assert (saved.investment, saved.progress_text, saved.tax, saved.ytd_investment) == (
        D("1000.00"),
        "主体施工",
        None,
        D("1000.00"),
    )
    center = signed_in(client, w, "dispatcher")
    assert center.post(reverse("report-edit", args=[report.pk]), forged).status_code == 403
    assert (
        center.post(reverse("report-return", args=[report.pk]), {**forged, "version": saved.version}).status_code == 302
    )
    saved = stored(report)
    assert (
        saved.status == ReportStatus.RETURNED and saved.investment == D("1000.00") and saved.progress_text == "主体施工"
    )
    # No figure form is offered to a reviewer.
    html = body(unit.get(reverse("report-detail", args=[report.pk])))
    assert 'name="investment"' not in html and reverse("report-edit", args=[report.pk]) not in html


def test_stale_version_is_a_conflict_and_changes_nothing(client, w):
    report = submitted(w)
    unit = signed_in(client, w, "town_officer")
    r = unit.post(reverse("report-review", args=[report.pk]), {"version": report.version - 1})
    assert r.status_code == 409 and "已被他人修改" in body(r)
    assert stored(report).status == ReportStatus.SUBMITTED
    r = unit.post(reverse("report-confirm", args=[report.pk]), {"version": report.version})
    assert r.status_code == 403


def test_step_out_of_order_is_a_conflict(client, w):
    report = draft(w)
    domain.submit(report, by=w.enterprise)
    center = signed_in(client, w, "dispatcher")
    r = center.post(reverse("report-confirm", args=[report.pk]), {"version": stored(report).version})
    assert r.status_code == 409 and "须先经责任单位审核" in body(r)
    assert stored(report).status == ReportStatus.SUBMITTED


# ---------------------------------------------------------------------------------------------
# Bad input: a clear Chinese message at the field, nothing saved


def future_period() -> tuple[int, int]:
    today = timezone.localdate()
    return (today.year, today.month + 1) if today.month < 12 else (today.year + 1, 1)


@pytest.mark.parametrize(
    "changes,message",
    [
        ({"investment": "-5"}, "本月完成投资不能为负数"),
        ({"investment": "12.345"}, "最多保留两位小数"),
        ({"investment": "十万"}, "本月完成投资必须是数字"),
        ({"workers_on_site": "三十"}, "在岗工人数必须是数字"),
        ({"workers_on_site": "2.5"}, "在岗工人数必须是整数"),
        ({"tax": "-1"}, "本月税收不能为负数"),
        ({"investment": "200000"}, "超过项目总投资"),
        ({"year": future_period()[0], "month": future_period()[1]}, "尚未到来，不能填报"),
    ],
)
def test_bad_input_is_refused_with_a_chinese_message(client, w, changes, message):
    ent = signed_in(client, w, "enterprise")
    data = {"year": LAST[0], "month": LAST[1], "investment": "100", **changes}
    r = ent.post(reverse("report-create", args=[w.project_a.pk]), data)
    if r.status_code == 302:
        # Only the "above total" rule waits for the submission (a draft may be saved).
        report = MonthlyReport.objects.get()
        r = ent.post(reverse("report-submit", args=[report.pk]), {"version": report.version})
        assert r.status_code == 400 and message in body(r)
        assert stored(report).status == ReportStatus.DRAFT
        return
    assert r.status_code == 400
    assert message in body(r)
    assert not MonthlyReport.objects.exists()


def test_a_locked_month_cannot_be_filed(client, w):
    confirmed(w, w.project_b, period=PREV)
    domain.lock_month(PREV[0], PREV[1], by=w.dispatcher)
    r = signed_in(client, w, "enterprise").post(
        reverse("report-create", args=[w.project_a.pk]), {"year": PREV[0], "month": PREV[1], "investment": "100"}
    )
    assert r.status_code == 400 and "已锁定" in body(r)
    assert not MonthlyReport.objects.filter(project=w.project_a).exists()


def test_a_month_reported_twice_is_refused(client, w):
    report = draft(w)
    ent = signed_in(client, w, "enterprise")
    # Asking for the form of a month that exists opens that report.
    r = ent.get(reverse("report-create", args=[w.project_a.pk]), {"year": LAST[0], "month": LAST[1]})
    assert r.status_code == 302 and r["Location"] == reverse("report-detail", args=[report.pk])
    r = ent.post(
        reverse("report-create", args=[w.project_a.pk]), {"year": LAST[0], "month": LAST[1], "investment": "5"}
    )
    assert r.status_code == 400 and "不能重复填报" in body(r)
    assert MonthlyReport.objects.count() == 1


def test_absurd_month_in_the_address_opens_the_form_for_last_month(client, w):
    ent = signed_in(client, w, "enterprise")
    for year, month in (("99999999999999999999999", "1"), ("2026", "-99999999999999999999"), ("1", "13")):
        r = ent.get(reverse("report-create", args=[w.project_a.pk]), {"year": year, "month": month})
        assert r.status_code == 200
        assert r.context["form"].initial == {"year": LAST[0], "month": LAST[1]}
    assert not MonthlyReport.objects.exists()


def test_deleting_a_draft_changed_since_the_page_was_loaded_is_refused(client, w):
    report = draft(w)
    loaded_version = report.version
    domain.update_report(report, by=w.enterprise, data={"investment": Decimal("7")})
    ent = signed_in(client, w, "enterprise")
    r = ent.post(reverse("report-delete", args=[report.pk]), {"version": loaded_version})
    assert r.status_code == 409
    assert MonthlyReport.objects.get(pk=report.pk).investment == Decimal("7")


def test_out_of_scope_project_is_not_found(client, w):
    ent = signed_in(client, w, "enterprise")
    r = ent.post(
        reverse("report-create", args=[w.project_b.pk]), {"year": LAST[0], "month": LAST[1], "investment": "5"}
    )
    assert r.status_code == 404
    assert "不存在，或者您无权查看" in body(r)
    assert not MonthlyReport.objects.exists()


def test_bad_plan_input(client, w):
    c = signed_in(client, w, "dispatcher")
    url = reverse("annual-plan-save", args=[w.project_a.pk, LAST[0] + 1])
    r = c.post(url, {"planned_investment": "-1"})
    assert r.status_code == 400 and "年度计划投资不能为负数" in body(r)
    months = {f"m{m}": "100" for m in range(1, 13)}
    r = c.post(url, {"planned_investment": "1000", **months})
    assert r.status_code == 400 and "与年度计划" in body(r) and "不一致" in body(r)
    r = c.post(url, {"planned_investment": "1000", "m1": "1000"})
    assert r.status_code == 400 and "请填写2月计划投资" in body(r)
    assert not AnnualPlan.objects.filter(year=LAST[0] + 1).exists()
    # A valid plan, then a revision without a reason, then with one.
    assert c.post(url, {"planned_investment": "1200", **months}).status_code == 302
    r = c.post(url, {"planned_investment": "1500"})
    assert r.status_code == 400 and "请填写调整理由" in body(r)
    r = c.post(url, {"planned_investment": "1500", "reason": "新增二期", "version": 1})
    assert r.status_code == 302
    plan = AnnualPlan.objects.get(project=w.project_a, year=LAST[0] + 1)
    assert plan.planned_investment == D("1500.00") and plan.original_planned_investment == D("1200.00")
    assert AnnualPlanRevision.objects.filter(plan=plan).count() == 2
    html = body(c.get(reverse("project-reports", args=[w.project_a.pk]), {"year": LAST[0] + 1}))
    assert "年初计划投资" in html and "调整记录" in html and "新增二期" in html and "已调整 1 次" in html


def test_bad_query_parameters_fall_back_without_errors(client, w):
    c = signed_in(client, w, "dispatcher")
    for url, params in [
        (reverse("report-list"), {"year": "abc", "month": "13", "report_status": "x", "flag": "y", "page": "zz"}),
        (reverse("rates"), {"year": "1900", "group_by": "nope", "order": "drop table", "town": "99999"}),
        (reverse("report-overdue"), {"year": "-1", "month": "0"}),
        (reverse("project-reports", args=[w.project_a.pk]), {"year": "99999"}),
    ]:
        r = c.get(url, params)
        assert r.status_code == 200, url
    assert "项目筛选条件有误" in body(c.get(reverse("rates"), {"town": "99999"}))


# ---------------------------------------------------------------------------------------------
# Photos


def test_photos_upload_display_and_refusals(client, w):
    report = draft(w)
    ent = signed_in(client, w, "enterprise")
    r = ent.post(
        reverse("report-photo-add", args=[report.pk]),
        {"photo": SimpleUploadedFile("../../现场.png", png(), content_type="text/html"), "caption": "东立面"},
    )
    assert r.status_code == 302
    photo = ReportPhoto.objects.get()
    assert photo.content_type == "image/png" and ".." not in photo.file.name
    html = body(ent.get(reverse("report-detail", args=[report.pk])))
    src = reverse("report-photo", args=[report.pk, photo.pk])
    assert src in html and "/_media/" not in html and photo.file.name not in html
    r = ent.get(src)
    assert r.status_code == 200 and r["Content-Type"] == "image/png"
    assert b"".join(r.streaming_content).startswith(b"\x89PNG")
    # Not an image: refused with a message, nothing stored.
    r = ent.post(reverse("report-photo-add", args=[report.pk]),
                 {"photo": SimpleUploadedFile("x.jpg", b"<html>not a photo</html>")})  # fmt: skip
    assert r.status_code == 400 and "只能上传JPEG或PNG格式的照片" in body(r)
    assert ReportPhoto.objects.count() == 1
    # Reviewers cannot add or remove photos; a photo of another report is not found.
    unit = signed_in(client, w, "town_officer")
    r = unit.post(reverse("report-photo-add", args=[report.pk]), {"photo": SimpleUploadedFile("p.png", png())})
    assert r.status_code == 403
    assert unit.post(reverse("report-photo-delete", args=[report.pk, photo.pk])).status_code == 403
    other = draft(w, w.project_b)
    assert unit.get(reverse("report-photo", args=[other.pk, photo.pk])).status_code == 404
    assert ReportPhoto.objects.count() == 1
    ent = signed_in(client, w, "enterprise")
    assert ent.post(reverse("report-photo-delete", args=[report.pk, photo.pk])).status_code == 302
    assert not ReportPhoto.objects.exists()


# ---------------------------------------------------------------------------------------------
# The list, the project page and the rates


def test_report_list_shows_states_flags_and_filters(client, w):
    report = submitted(w, investment="3000")
    domain.return_report(report, by=w.town_officer, reason="请核实")
    submitted(w, w.project_b, investment="1000")
    c = signed_in(client, w, "dispatcher")
    html = body(c.get(reverse("report-list")))
    assert "已退回" in html and "已提交" in html and "代填报" in html
    assert "3,000.00*" in html  # returned: shown but not counted
    assert "25.0%" in html  # project_b: 1000 of 4000
    only_returned = body(c.get(reverse("report-list"), {"report_status": "returned"}))
    assert w.project_a.name in only_returned and w.project_b.name not in only_returned
    missing = body(c.get(reverse("report-list"), {"year": PREV[0], "month": PREV[1], "report_status": "missing"}))
    assert w.project_a.name in missing and w.project_b.name in missing
    by_town = body(c.get(reverse("report-list"), {"town": w.hongmen.pk}))
    assert w.project_b.name in by_town and w.project_a.name not in by_town
    overdue = body(c.get(reverse("report-list"), {"year": PREV[0], "month": PREV[1], "flag": "overdue"}))
    assert w.project_a.name in overdue and "逾期" in overdue


def test_project_page_has_the_plan_the_months_and_the_chart_data(client, w):
    submitted(w, period=PREV, investment="700")
    submitted(w, investment="900")
    c = signed_in(client, w, "enterprise")
    r = c.get(reverse("project-reports", args=[w.project_a.pk]), {"year": LAST[0]})
    html = body(r)
    assert 'data-kp-chart="project-series"' in html and 'id="kp-series" type="application/json"' in html
    assert "vendor/echarts.min.js" in html and "js/progress.js" in html
    assert "<script>" not in html  # no inline script
    assert "1.20亿元" in html  # the plan, 12000 万元
    series = r.context["series"]
    assert series["actual"][LAST[1] - 1] == "900.00"
    assert series["annual_plan"] == "12000.00" and len(series["plan_cumulative"]) == 12
    # The enterprise may file, but not change the plan.
    assert reverse("report-create", args=[w.project_a.pk]) in html
    assert reverse("annual-plan-save", args=[w.project_a.pk, LAST[0]]) not in html
    html = body(signed_in(client, w, "town_officer").get(reverse("project-reports", args=[w.project_a.pk])))
    assert "调整年度计划" in html


def test_rates_page_groups_sorts_and_links(client, w):
    submitted(w, investment="6000", explanation="设备款")  # 50% of 12000 (and above 20% of total? no: 4%)
    submitted(w, w.project_b, investment="6000")  # 150% of 4000: not capped
    c = signed_in(client, w, "dispatcher")
    r = c.get(reverse("rates"), {"year": LAST[0], "month": LAST[1], "group_by": "town"})
    html = body(r)
    assert "150.0%" in html and "50.0%" in html
    assert f'href="/projects/?town={w.hongmen.pk}"' in html and f'href="/projects/?town={w.dongjie.pk}"' in html
    time_progress = D(LAST[1]) / 12 * 100
    gap = (D(150) - time_progress).quantize(D("0.1"))
    assert f"超时序进度 {gap} 个百分点" in html
    behind = (time_progress - D(50)).quantize(D("0.1"))
    if behind > 0:
        assert f"落后 {behind} 个百分点" in html
    rows = r.context["rows"]
    sorted_desc = c.get(reverse("rates"), {"year": LAST[0], "month": LAST[1], "group_by": "town",
                                           "order": "-annual_rate"}).context["rows"]  # fmt: skip
    assert [x.label for x in sorted_desc] == ["洪门镇", "东街街道"]
    sorted_asc = c.get(reverse("rates"), {"year": LAST[0], "month": LAST[1], "group_by": "town",
                                          "order": "annual_rate"}).context["rows"]  # fmt: skip
    assert [x.label for x in sorted_asc] == ["东街街道", "洪门镇"]
    assert len(rows) == 2
    # The project filters narrow the table and are carried into the links.
    html = body(c.get(reverse("rates"), {"year": LAST[0], "month": LAST[1], "group_by": "unit", "town": w.hongmen.pk}))
    assert f"town={w.hongmen.pk}" in html and "东街街道" not in html.split("<tbody>")[1].split("</tbody>")[0]
    for group in ("unit", "industry", "level", "size_band", "district"):
        assert c.get(reverse("rates"), {"group_by": group}).status_code == 200


# ---------------------------------------------------------------------------------------------
# Query counts do not grow with the number of projects


def make_projects(w, count: int) -> None:
    projects = Project.objects.bulk_create(
        Project(name=f"批量项目{i}", owner_name=f"企业{i}", industry=w.industry, project_type=ProjectType.FILING,
                total_investment=D("50000"), responsible_unit=w.dongjie if i % 2 else w.hongmen,
                town=w.dongjie if i % 2 else w.hongmen, stage=Stage.CONSTRUCTION,
                actual_start=datetime.date(2025, 6, 1))
        for i in range(count)
    )  # fmt: skip
    AnnualPlan.objects.bulk_create(
        AnnualPlan(project=p, year=LAST[0], planned_investment=D("6000"), original_planned_investment=D("6000"))
        for p in projects
    )
    MonthlyReport.objects.bulk_create(
        MonthlyReport(project=p, year=LAST[0], month=LAST[1], investment=D("500"), ytd_investment=D("500"),
                      since_start_investment=D("500"), status=ReportStatus.SUBMITTED if i % 3 else ReportStatus.DRAFT,
                      warnings=[{"code": "spike", "message": "x"}] if i % 5 == 0 else [])
        for i, p in enumerate(projects)
    )  # fmt: skip


def count_queries(client, url, params) -> int:
    with CaptureQueriesContext(connection) as ctx:
        r = client.get(url, params)
    assert r.status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize(
    "name,params",
    [
        ("report-list", {}),
        ("report-list", {"report_status": "submitted", "town": "__dongjie__"}),
        ("report-list", {"flag": "warnings"}),
        ("rates", {"group_by": "unit"}),
        ("rates", {"group_by": "size_band", "order": "-total_rate"}),
        ("report-overdue", {}),
    ],
)
def test_query_counts_stay_constant(client, w, django_assert_max_num_queries, name, params):
    params = {k: (w.dongjie.pk if v == "__dongjie__" else v) for k, v in params.items()}
    if name == "report-overdue":
        params.update(year=PREV[0], month=PREV[1])
    c = signed_in(client, w, "dispatcher")
    make_projects(w, 3)
    small = count_queries(c, reverse(name), params)
    make_projects(w, 60)
    large = count_queries(c, reverse(name), params)
    assert large == small
    with django_assert_max_num_queries(25):
        c.get(reverse(name), params)


def test_report_list_flag_filters(client, w):
    flagged = draft(w, investment="0")  # nothing under construction: a soft warning, explained
    domain.submit(flagged, by=w.enterprise, explanation="停工检修")
    old = confirmed(w, w.project_b, period=PREV, investment="900")
    domain.lock_month(PREV[0], PREV[1], by=w.dispatcher)
    domain.restate(old, by=w.dispatcher, changes={"investment": "950"}, reason="核查调整")
    c = signed_in(client, w, "dispatcher")
    warned = body(c.get(reverse("report-list"), {"flag": "warnings"}))
    assert w.project_a.name in warned and w.project_b.name not in warned and "异常提示" in warned
    restated = body(c.get(reverse("report-list"), {"year": PREV[0], "month": PREV[1], "flag": "restated"}))
    assert w.project_b.name in restated and w.project_a.name not in restated
    assert "已更正：本月完成投资 900.00 → 950.00" in restated
    late = c.get(reverse("report-list"), {"year": PREV[0], "month": PREV[1], "flag": "late"}).context["rows"]
    assert {row.project.pk for row in late} <= {w.project_b.pk}
    # The reviewer sees the flag and the explanation on the report.
    html = body(signed_in(client, w, "town_officer").get(reverse("report-detail", args=[flagged.pk])))
    assert "异常提示（提交时）" in html and "停工检修" in html and "本月完成投资却为0" in html
