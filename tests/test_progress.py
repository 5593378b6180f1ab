"""Monthly reports: workflow by role, plausibility rules, photos, locks and restatements, plans, overdue list."""

from __future__ import annotations

import datetime
import io
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, transaction
from django.http import Http404
from django.utils import timezone

from keyprojects.audit.models import AuditRecord
from keyprojects.progress import access, domain, rates, rules
from keyprojects.progress.models import (
    AnnualPlan,
    MonthLock,
    MonthlyReport,
    ProgressSettings,
    ReportPhoto,
    ReportStatus,
    Restatement,
)
from keyprojects.projects.models import Project, Stage, Status

D = Decimal


def at(year: int, month: int, day: int = 3, hour: int = 10) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime(year, month, day, hour))


def filed(year: int, month: int) -> datetime.datetime:
    """The 3rd of the next month: inside the default due day (the 5th)."""
    return at(year + month // 12, month % 12 + 1)


@pytest.fixture
def w(world):
    """The test district, with project_a under construction since 2025-06-01 (no soft rule fires
    for ordinary figures)."""
    Project.objects.filter(pk=world.project_a.pk).update(
        stage=Stage.CONSTRUCTION, actual_start=datetime.date(2025, 6, 1)
    )
    world.project_a.refresh_from_db()
    return world


def draft(w, month, investment="1000", *, by=None, year=2026, project=None, **data) -> MonthlyReport:
    return domain.create_report(project or w.project_a, by=by or w.enterprise, year=year, month=month,
                                data={"investment": investment, **data}, now=filed(year, month))  # fmt: skip


def submitted(w, month, investment="1000", *, by=None, year=2026, explanation=None, **data) -> MonthlyReport:
    report = draft(w, month, investment, by=by, year=year, **data)
    return domain.submit(report, by=by or w.enterprise, explanation=explanation, now=filed(year, month))


def confirmed(w, month, investment="1000", *, year=2026, **data) -> MonthlyReport:
    report = submitted(w, month, investment, year=year, **data)
    domain.review(report, by=w.town_officer, now=filed(year, month))
    return domain.confirm(report, by=w.dispatcher, now=filed(year, month))


def stored(report: MonthlyReport) -> MonthlyReport:
    return MonthlyReport.objects.get(pk=report.pk)


def audits(report, action=None):
    qs = AuditRecord.objects.filter(object_type="monthlyreport", object_id=str(report.pk)).order_by("id")
    return list(qs.filter(action=action) if action else qs)


# --- who may file ---------------------------------------------------------------------------------------------

CREATE = {
    "enterprise": None,
    "town_officer": None,
    "dispatcher": None,
    "leader": PermissionDenied,
    "dept_officer": PermissionDenied,
    "officer": PermissionDenied,
    "other_town_officer": Http404,
    "sysadmin": Http404,
    "secadmin": Http404,
    "auditor": Http404,
}


@pytest.mark.parametrize("persona", list(CREATE))
def test_who_may_start_a_report(w, persona):
    user = getattr(w, persona)
    expected = CREATE[persona]
    if expected is None:
        report = draft(w, 3, "1200.5", by=user)
        saved = stored(report)
        assert saved.status == ReportStatus.DRAFT
        assert saved.investment == D("1200.50")
        assert saved.on_behalf == (persona != "enterprise")
        assert saved.created_by == user
        rec = audits(report, "create")[0]
        assert rec.actor == user and rec.project_id == w.project_a.pk
        assert rec.after["investment"] == "1200.50"
    else:
        with pytest.raises(expected):
            draft(w, 3, by=user)
        assert not MonthlyReport.objects.exists()


def test_enterprise_of_another_company_cannot_file(w):
    # project_b belongs to company_b; the enterprise user does not even see it.
    with pytest.raises(Http404):
        draft(w, 3, project=w.project_b)


def test_full_workflow_stores_people_times_totals_and_audit(w):
    report = draft(w, 3, "1000", progress_text="主体结构施工至三层", workers_on_site=120, problems_text="用电增容待批")
    domain.submit(report, by=w.enterprise, now=at(2026, 4, 2))
    saved = stored(report)
    assert saved.status == ReportStatus.SUBMITTED
    assert saved.submitted_by == w.enterprise and saved.submitted_at == at(2026, 4, 2)
    assert saved.ytd_investment == D("1000.00") and saved.since_start_investment == D("1000.00")
    assert saved.submitted_late is False and len(saved.submission_hash) == 64
    assert saved.warnings == []

    domain.review(report, by=w.town_officer, now=at(2026, 4, 4))
    saved = stored(report)
    assert saved.status == ReportStatus.REVIEWED
    assert saved.reviewed_by == w.town_officer and saved.reviewed_at == at(2026, 4, 4)

    domain.confirm(report, by=w.dispatcher, now=at(2026, 4, 6))
    saved = stored(report)
    assert saved.status == ReportStatus.CONFIRMED
    assert saved.confirmed_by == w.dispatcher and saved.confirmed_at == at(2026, 4, 6)
    assert saved.progress_text == "主体结构施工至三层" and saved.workers_on_site == 120

    transitions = audits(report, "transition")
    assert [(r.before["status"], r.after["status"]) for r in transitions] == [
        ("草稿", "已提交"), ("已提交", "已审核"), ("已审核", "已确认"),
    ]  # fmt: skip
    assert [r.actor for r in transitions] == [w.enterprise, w.town_officer, w.dispatcher]


def test_return_needs_a_reason_and_takes_the_figures_out_until_resubmitted(w):
    jan = submitted(w, 1, "1000")
    feb = submitted(w, 2, "500")
    with pytest.raises(ValidationError) as exc:
        domain.return_report(feb, by=w.town_officer, reason="  ")
    assert "请填写退回理由" in str(exc.value)
    assert stored(feb).status == ReportStatus.SUBMITTED

    domain.return_report(jan, by=w.town_officer, reason="投资额与发票不符", now=at(2026, 2, 4))
    jan_saved, feb_saved = stored(jan), stored(feb)
    assert jan_saved.status == ReportStatus.RETURNED and jan_saved.return_reason == "投资额与发票不符"
    assert jan_saved.returned_by == w.town_officer
    assert jan_saved.ytd_investment is None  # not counted while returned
    assert feb_saved.ytd_investment == D("500.00")  # later month recomputed
    rec = audits(jan, "transition")[-1]
    assert rec.reason == "投资额与发票不符" and rec.after["status"] == "已退回"
    assert audits(feb, "update")[-1].after == {"ytd_investment": "500.00", "since_start_investment": "500.00"}

    # The company corrects and resubmits; the later month follows.
    domain.update_report(jan, by=w.enterprise, data={"investment": "800"}, now=at(2026, 2, 5))
    domain.submit(jan, by=w.enterprise, now=at(2026, 2, 5))
    assert stored(jan).status == ReportStatus.SUBMITTED
    assert stored(feb).ytd_investment == D("1300.00")


@pytest.mark.parametrize("persona", ["town_officer", "dispatcher"])
def test_reviewers_never_change_a_companys_figures(w, persona):
    report = draft(w, 3, "1000")
    with pytest.raises(PermissionDenied):
        domain.update_report(report, by=getattr(w, persona), data={"investment": "2000"})
    with pytest.raises(PermissionDenied):
        domain.submit(report, by=getattr(w, persona))
    domain.submit(report, by=w.enterprise, now=filed(2026, 3))
    domain.return_report(report, by=w.town_officer, reason="请补充形象进度")
    with pytest.raises(PermissionDenied):
        domain.update_report(report, by=getattr(w, persona), data={"investment": "2000"})
    assert stored(report).investment == D("1000.00")


def test_the_unit_files_on_behalf_and_the_company_may_complete_it(w):
    report = draft(w, 3, "1000", by=w.town_officer)
    domain.update_report(report, by=w.enterprise, data={"progress_text": "完成基础"})
    domain.submit(report, by=w.town_officer, now=filed(2026, 3))
    saved = stored(report)
    assert saved.on_behalf and saved.submitted_by == w.town_officer
    assert audits(report, "transition")[-1].reason == "代企业提交"


@pytest.mark.parametrize(
    "step, persona, error",
    [
        ("review", "enterprise", PermissionDenied),
        ("review", "dispatcher", PermissionDenied),
        ("review", "dept_officer", PermissionDenied),
        ("review", "other_town_officer", Http404),
        ("confirm", "town_officer", PermissionDenied),
        ("confirm", "enterprise", PermissionDenied),
        ("return", "enterprise", PermissionDenied),
        ("return", "officer", PermissionDenied),
        ("return", "leader", PermissionDenied),
    ],
)
def test_review_steps_refused_by_role(w, step, persona, error):
    report = submitted(w, 3)
    if step == "confirm":
        domain.review(report, by=w.town_officer)
    before = stored(report).status
    with pytest.raises(error):
        if step == "review":
            domain.review(report, by=getattr(w, persona))
        elif step == "confirm":
            domain.confirm(report, by=getattr(w, persona))
        else:
            domain.return_report(report, by=getattr(w, persona), reason="不对")
    assert stored(report).status == before


def test_out_of_order_transitions_are_refused(w):
    report = draft(w, 3)
    with pytest.raises(ValidationError, match="草稿"):
        domain.review(report, by=w.town_officer)
    with pytest.raises(ValidationError):
        domain.confirm(report, by=w.dispatcher)
    with pytest.raises(ValidationError):
        domain.return_report(report, by=w.town_officer, reason="x")
    domain.submit(report, by=w.enterprise, now=filed(2026, 3))
    with pytest.raises(ValidationError, match="须先经责任单位审核"):
        domain.confirm(report, by=w.dispatcher)
    with pytest.raises(ValidationError):
        domain.submit(report, by=w.enterprise, now=filed(2026, 3))
    with pytest.raises(ValidationError, match="只有草稿和退回"):
        domain.update_report(report, by=w.enterprise, data={"investment": "1"})
    domain.review(report, by=w.town_officer)
    domain.confirm(report, by=w.dispatcher)
    with pytest.raises(ValidationError):
        domain.review(report, by=w.town_officer)
    # Only the service center returns a confirmed report (while the month is open).
    with pytest.raises(ValidationError):
        domain.return_report(report, by=w.town_officer, reason="x")
    domain.return_report(report, by=w.dispatcher, reason="统计口径调整，请重报")
    saved = stored(report)
    assert saved.status == ReportStatus.RETURNED and saved.confirmed_by is None


def test_stale_version_is_a_conflict(w):
    report = draft(w, 3)
    version = report.version
    domain.update_report(report, by=w.enterprise, data={"investment": "5"}, expected_version=version)
    with pytest.raises(domain.ConflictError):
        domain.update_report(report, by=w.enterprise, data={"investment": "6"}, expected_version=version)
    assert stored(report).investment == D("5.00")


def test_a_late_report_is_accepted_and_flagged(w):
    report = draft(w, 3)
    domain.submit(report, by=w.enterprise, now=at(2026, 4, 6))
    assert stored(report).submitted_late is True
    on_time = draft(w, 2)
    domain.submit(on_time, by=w.enterprise, now=at(2026, 3, 5, 23))
    assert stored(on_time).submitted_late is False


def test_delete_draft_only_before_first_submission(w):
    report = draft(w, 3)
    domain.delete_draft(report, by=w.enterprise)
    assert not MonthlyReport.objects.exists()
    assert AuditRecord.objects.filter(object_type="monthlyreport", action="delete").count() == 1
    report = submitted(w, 3)
    with pytest.raises(ValidationError):
        domain.delete_draft(report, by=w.enterprise)


def test_reports_are_visible_when_their_project_is(w):
    draft(w, 3)
    draft(w, 3, project=w.project_b, by=w.dispatcher)
    assert access.visible_reports(w.town_officer).count() == 1
    assert access.visible_reports(w.other_town_officer).get().project == w.project_b
    assert access.visible_reports(w.dispatcher).count() == 2
    assert access.visible_reports(w.sysadmin).count() == 0
    with pytest.raises(Http404):
        access.get_report(w.enterprise, access.visible_reports(w.dispatcher).get(project=w.project_b).pk)


# --- bad input: the month ---------------------------------------------------------------------------------


def test_a_future_month_is_refused(w):
    with pytest.raises(ValidationError, match="尚未到来"):
        domain.create_report(w.project_a, by=w.enterprise, year=2026, month=5, now=at(2026, 4, 20))
    # The current month may be filed (some districts collect on the 25th).
    domain.create_report(w.project_a, by=w.enterprise, year=2026, month=4, now=at(2026, 4, 25))


@pytest.mark.parametrize("year, month", [(2026, 13), (2026, 0), (1999, 5), ("2026", 3), (2026, True)])
def test_an_invalid_month_is_refused(w, year, month):
    with pytest.raises(ValidationError):
        domain.create_report(w.project_a, by=w.enterprise, year=year, month=month, now=at(2026, 4, 20))


def test_a_month_reported_twice_gets_a_clear_message(w):
    submitted(w, 3)
    with pytest.raises(ValidationError) as exc:
        draft(w, 3, by=w.town_officer)
    assert "2026年3月的月报已存在（状态：已提交），不能重复填报" in str(exc.value)
    assert MonthlyReport.objects.count() == 1
    # The database refuses it too.
    with pytest.raises(IntegrityError), transaction.atomic():
        MonthlyReport.objects.create(project=w.project_a, year=2026, month=3)


# --- hard rules -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, message",
    [
        ("-1", "不能为负数"),
        ("12.345", "最多保留两位小数"),
        (0.1 + 0.2, "最多保留两位小数"),
        ("abc", "必须是数字"),
        (True, "必须是数字"),
        ("NaN", "必须是数字"),
        ("Infinity", "必须是数字"),
        ("100000000", "超过1万亿元"),
    ],
)
def test_parse_amount_refuses(raw, message):
    with pytest.raises(ValidationError, match=message):
        rules.parse_amount(raw, "本月完成投资")


@pytest.mark.parametrize(
    "raw, value",
    [("12.3", "12.30"), ("12.340", "12.34"), (12, "12.00"), (12.5, "12.50"), ("1,234.5", "1234.50"), ("", None)],
)
def test_parse_amount_accepts(raw, value):
    assert rules.parse_amount(raw, "x") == (None if value is None else D(value))


def test_bad_figures_save_nothing(w):
    with pytest.raises(ValidationError) as exc:
        draft(w, 3, "-5", output_value="1.234", workers_on_site="many", tax="abc")
    assert set(exc.value.message_dict) == {"investment", "output_value", "workers_on_site", "tax"}
    assert not MonthlyReport.objects.exists()
    report = draft(w, 3, "10")
    with pytest.raises(ValidationError):
        domain.update_report(report, by=w.enterprise, data={"investment": "20", "tax": "-1"})
    assert stored(report).investment == D("10.00")
    with pytest.raises(ValidationError, match="不可填写"):
        domain.update_report(report, by=w.enterprise, data={"status": "confirmed"})


def test_submit_without_investment_is_refused(w):
    report = domain.create_report(w.project_a, by=w.enterprise, year=2026, month=3, now=filed(2026, 3))
    with pytest.raises(ValidationError, match="没有投资请填0"):
        domain.submit(report, by=w.enterprise, now=filed(2026, 3))
    assert stored(report).status == ReportStatus.DRAFT


def test_since_start_above_total_investment_is_refused(w):
    Project.objects.filter(pk=w.project_a.pk).update(total_investment=D("2000.00"))
    submitted(w, 1, "1500", explanation="设备集中到货")
    report = draft(w, 2, "500.01")
    with pytest.raises(ValidationError, match="超过项目总投资"):
        domain.submit(report, by=w.enterprise, explanation="x", now=filed(2026, 2))
    assert stored(report).status == ReportStatus.DRAFT
    domain.update_report(report, by=w.enterprise, data={"investment": "500"})
    domain.submit(report, by=w.enterprise, explanation="收尾", now=filed(2026, 2))  # equal to the total: fine
    assert stored(report).since_start_investment == D("2000.00")


def test_ytd_typed_instead_of_the_month_is_derived_and_may_not_go_down(w):
    submitted(w, 1, "1000")
    submitted(w, 2, "500")
    report = domain.create_report(w.project_a, by=w.enterprise, year=2026, month=3,
                                  data={"ytd_investment": "2100"}, now=filed(2026, 3))  # fmt: skip
    assert stored(report).investment == D("600.00")
    with pytest.raises(ValidationError, match="低于上月累计"):
        domain.update_report(report, by=w.enterprise, data={"ytd_investment": "1499.99"})
    with pytest.raises(ValidationError, match="不一致"):
        domain.update_report(report, by=w.enterprise, data={"investment": "100", "ytd_investment": "2100"})
    domain.update_report(report, by=w.enterprise, data={"investment": "0", "ytd_investment": "1500"})
    assert stored(report).investment == D("0.00")


def test_submit_into_a_closed_month_is_refused(w):
    report = draft(w, 2)
    confirmed(w, 3, "900")
    domain.lock_month(2026, 3, by=w.dispatcher, now=at(2026, 4, 20))  # a draft does not stop the lock
    with pytest.raises(ValidationError, match="已锁定"):
        domain.submit(report, by=w.enterprise, now=at(2026, 4, 20))
    with pytest.raises(ValidationError, match="已锁定"):
        domain.update_report(report, by=w.enterprise, data={"investment": "3"})
    with pytest.raises(ValidationError, match="已锁定"):
        draft(w, 1)


@pytest.mark.parametrize(
    "rule, args, fires",
    [
        (rules.future_month, (2026, 4, datetime.date(2026, 4, 1)), False),
        (rules.future_month, (2026, 5, datetime.date(2026, 4, 30)), True),
        (rules.future_month, (2027, 1, datetime.date(2026, 12, 31)), True),
        (rules.since_start_above_total, (D("100.00"), D("100.00")), False),
        (rules.since_start_above_total, (D("100.01"), D("100.00")), True),
        (rules.ytd_going_down, (D("500"), D("500")), False),
        (rules.ytd_going_down, (D("500"), D("499.99")), True),
        (rules.ytd_mismatch, (D("100"), D("600"), D("500")), False),
        (rules.ytd_mismatch, (D("100"), D("601"), D("500")), True),
        (rules.duplicate_month, (2026, 3, None), False),
        (rules.duplicate_month, (2026, 3, "草稿"), True),
        (rules.closed_month, (2026, 4, 2026 * 12 + 2), False),
        (rules.closed_month, (2026, 3, 2026 * 12 + 2), True),
        (rules.closed_month, (2026, 3, None), False),
        (rules.before_baseline, (2026, 2, 2026 * 12 + 1), False),
        (rules.before_baseline, (2026, 1, 2026 * 12 + 1), True),
        (rules.investment_missing, (D("0"),), False),
        (rules.investment_missing, (None,), True),
        (rules.negative_amount, ("x", D("0")), False),
        (rules.negative_amount, ("x", D("-0.01")), True),
        (rules.too_many_decimals, ("x", D("1.10")), False),
        (rules.too_many_decimals, ("x", D("1.101")), True),
        (rules.explanation_missing, ([{"message": "m"}], "说明"), False),
        (rules.explanation_missing, ([{"message": "m"}], " "), True),
        (rules.explanation_missing, ([], ""), False),
    ],
)
def test_hard_rule_boundaries(rule, args, fires):
    message = rule(*args)
    assert bool(message) is fires
    if fires:
        assert isinstance(message, str) and message.endswith(("。", "）")) or "：" in message


# --- soft rules -------------------------------------------------------------------------------------------------

F3 = D("3")


@pytest.mark.parametrize(
    "investment, history, fires",
    [
        (D("300"), [D("100"), D("100")], False),  # exactly 3 × median: fine
        (D("300.01"), [D("100"), D("100")], True),
        (D("300.01"), [D("100")], False),  # too little history
        (D("300.01"), [D("0"), D("100"), D("0")], False),  # zero months are not "usual"
        (D("1000"), [D("100"), D("200"), D("300"), D("400")], True),  # median 250
        (D("0"), [D("100"), D("100")], False),
    ],
)
def test_soft_spike(investment, history, fires):
    assert bool(rules.spike(investment, history, F3, 6, 2)) is fires


def test_soft_spike_uses_the_latest_window():
    history = [D("1000")] * 6 + [D("10")] * 5
    assert rules.spike(D("31"), history, F3, 6, 2)
    assert not rules.spike(D("31"), history, F3, 11, 2)


@pytest.mark.parametrize(
    "investment, fires", [(D("2000.00"), False), (D("2000.01"), True)]
)  # fmt: skip
def test_soft_large_share_of_total(investment, fires):
    assert bool(rules.large_share(investment, D("10000"), D("20"))) is fires


@pytest.mark.parametrize(
    "investment, run, fires",
    [
        (D("500"), [D("500"), D("500")], True),
        (D("500"), [D("400"), D("500")], False),
        (D("500"), [D("500")], False),
        (D("0"), [D("0"), D("0")], False),  # zero months are the other rule's business
        (D("500"), [D("500"), D("500"), D("400"), D("500"), D("500")], True),
    ],
)
def test_soft_repeated_figure(investment, run, fires):
    assert bool(rules.repeated_figure(investment, run, 3)) is fires


@pytest.mark.parametrize(
    "month, investment, actual_start, fires",
    [
        (3, D("10"), None, True),
        (3, D("0"), None, False),
        (3, D("10"), datetime.date(2026, 3, 31), False),
        (3, D("10"), datetime.date(2026, 4, 1), True),
    ],
)
def test_soft_before_start(month, investment, actual_start, fires):
    assert bool(rules.before_start(2026, month, investment, actual_start)) is fires


@pytest.mark.parametrize(
    "month, actual_end, fires",
    [(3, None, False), (3, datetime.date(2026, 3, 1), False), (4, datetime.date(2026, 3, 31), True)],
)
def test_soft_after_completion(month, actual_end, fires):
    assert bool(rules.after_completion(2026, month, D("10"), actual_end)) is fires


@pytest.mark.parametrize(
    "investment, stage, fires",
    [(D("0"), Stage.CONSTRUCTION, True), (D("0.01"), Stage.CONSTRUCTION, False), (D("0"), Stage.COMPLETED, False)],
)
def test_soft_zero_while_under_construction(investment, stage, fires):
    assert bool(rules.zero_under_construction(investment, stage)) is fires


@pytest.mark.parametrize(
    "output, tax, stage, fires",
    [(D("5"), None, Stage.CONSTRUCTION, True), (None, None, Stage.CONSTRUCTION, False),
     (D("5"), D("1"), Stage.COMMISSIONED, False), (None, D("1"), Stage.COMPLETED, True)],
)  # fmt: skip
def test_soft_output_before_commission(output, tax, stage, fires):
    assert bool(rules.output_before_commission(output, tax, stage)) is fires


def test_soft_warnings_need_an_explanation_and_are_stored(w):
    submitted(w, 1, "100")
    submitted(w, 2, "100")
    report = draft(w, 3, "100")  # same amount a third month running
    with pytest.raises(ValidationError) as exc:
        domain.submit(report, by=w.enterprise, now=filed(2026, 3))
    assert "请填写情况说明" in str(exc.value) and "连续3个月" in str(exc.value)
    assert exc.value.warnings[0]["code"] == "repeated"
    assert stored(report).status == ReportStatus.DRAFT
    domain.submit(report, by=w.enterprise, explanation="按合同分期付款，每月固定", now=filed(2026, 3))
    saved = stored(report)
    assert saved.status == ReportStatus.SUBMITTED
    assert [x["code"] for x in saved.warnings] == ["repeated"]
    assert saved.explanation == "按合同分期付款，每月固定"
    override = audits(report, "override")[0]
    assert override.after == {"warnings": ["repeated"]} and override.reason == "按合同分期付款，每月固定"


def test_soft_rules_in_submission_use_the_project(w):
    submitted(w, 1, "100")
    submitted(w, 2, "120")
    errors, found = domain.check_report(draft(w, 3, "0"))
    assert errors == {} and [x["code"] for x in found] == ["zero_under_construction"]
    Project.objects.filter(pk=w.project_a.pk).update(actual_end=datetime.date(2026, 2, 28))
    errors, found = domain.check_report(domain.update_report(stored(draft(w, 4, "400")), by=w.enterprise, data={}))
    assert [x["code"] for x in found] == ["spike", "after_completion"]


def test_thresholds_are_configuration(w):
    settings = ProgressSettings.load()
    settings.repeat_months = 2
    settings.save()
    submitted(w, 1, "100")
    errors, found = domain.check_report(draft(w, 2, "100"))
    assert [x["code"] for x in found] == ["repeated"]


# --- photos -------------------------------------------------------------------------------------------------------


def image_bytes(fmt: str, size=(40, 30), **kwargs) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", size, (200, 120, 40)).save(out, fmt, **kwargs)
    return out.getvalue()


@pytest.mark.parametrize("fmt, content_type", [("JPEG", "image/jpeg"), ("PNG", "image/png")])
def test_photo_is_validated_reencoded_and_stored_under_a_random_name(w, fmt, content_type):
    report = draft(w, 3)
    data = image_bytes(fmt) + b"<?php echo 'payload'; ?>"  # trailing junk must not survive
    upload = SimpleUploadedFile("../../etc/现场照片.jpg", data, content_type="text/html")
    photo = domain.add_photo(report, by=w.enterprise, upload=upload, caption="三层楼板浇筑")
    photo.refresh_from_db()
    assert photo.content_type == content_type and (photo.width, photo.height) == (40, 30)
    assert photo.original_name == "现场照片.jpg"
    assert photo.file.name.startswith(f"reports/{w.project_a.pk}/") and "现场" not in photo.file.name
    with photo.file.open("rb") as f:
        stored_bytes = f.read()
    assert b"payload" not in stored_bytes and len(stored_bytes) == photo.size
    assert AuditRecord.objects.filter(object_type="reportphoto", action="create").exists()


@pytest.mark.parametrize(
    "data, message",
    [
        (b"GIF89a" + b"\x00" * 50, "只能上传JPEG或PNG"),
        (b"<html><script>alert(1)</script></html>", "只能上传JPEG或PNG"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 100, "已损坏"),
        (b"\x89PNG\r\n\x1a\n" + b"garbage" * 10, "已损坏"),
        (b"", "为空"),
    ],
)
def test_bad_photos_are_refused(w, data, message):
    report = draft(w, 3)
    with pytest.raises(ValidationError, match=message):
        domain.add_photo(report, by=w.enterprise, upload=SimpleUploadedFile("a.jpg", data))
    assert not ReportPhoto.objects.exists()


def test_photo_type_must_match_its_content(w):
    report = draft(w, 3)
    png = image_bytes("PNG")
    fake = b"\xff\xd8\xff" + png[3:]
    with pytest.raises(ValidationError):
        domain.add_photo(report, by=w.enterprise, upload=SimpleUploadedFile("a.jpg", fake))


def test_photo_size_and_pixel_limits_are_configuration(w):
    settings = ProgressSettings.load()
    settings.photo_max_bytes = 10 * 1024
    settings.photo_max_pixels = 10_000
    settings.save()
    report = draft(w, 3)
    with pytest.raises(ValidationError, match="不能超过"):
        domain.add_photo(report, by=w.enterprise, upload=SimpleUploadedFile("a.png", b"\x89PNG" + b"0" * 11 * 1024))
    with pytest.raises(ValidationError, match="像素过大"):
        domain.add_photo(report, by=w.enterprise, upload=SimpleUploadedFile("a.png", image_bytes("PNG", (200, 100))))


def test_photos_only_on_editable_reports_by_filers(w):
    report = draft(w, 3)
    with pytest.raises(PermissionDenied):
        domain.add_photo(report, by=w.town_officer, upload=SimpleUploadedFile("a.png", image_bytes("PNG")))
    photo = domain.add_photo(report, by=w.enterprise, upload=SimpleUploadedFile("a.png", image_bytes("PNG")))
    domain.submit(report, by=w.enterprise, now=filed(2026, 3))
    with pytest.raises(ValidationError):
        domain.add_photo(report, by=w.enterprise, upload=SimpleUploadedFile("b.png", image_bytes("PNG")))
    with pytest.raises(ValidationError):
        domain.remove_photo(photo, by=w.enterprise)
    assert ReportPhoto.objects.count() == 1


# --- locks and restatements --------------------------------------------------------------------------------------


def test_lock_needs_every_filed_report_confirmed_and_closes_earlier_months(w):
    confirmed(w, 1, "1000")
    feb = submitted(w, 2, "1200")
    with pytest.raises(PermissionDenied):
        domain.lock_month(2026, 2, by=w.town_officer, now=at(2026, 3, 20))
    with pytest.raises(ValidationError) as exc:
        domain.lock_month(2026, 2, by=w.dispatcher, now=at(2026, 3, 20))
    assert "联东U谷红旗科创园 2026年2月（已提交）" in str(exc.value)
    with pytest.raises(ValidationError, match="尚未结束"):
        domain.lock_month(2026, 3, by=w.dispatcher, now=at(2026, 3, 20))
    domain.review(feb, by=w.town_officer)
    domain.confirm(feb, by=w.dispatcher)
    lock = domain.lock_month(2026, 2, by=w.dispatcher, note="2月数据已发布", now=at(2026, 3, 20))
    assert (lock.year, lock.month, lock.locked_by, lock.confirmed_count) == (2026, 2, w.dispatcher, 2)
    assert domain.is_locked(2026, 1) and domain.is_locked(2026, 2) and not domain.is_locked(2026, 3)
    assert AuditRecord.objects.filter(object_type="monthlock", action="create").count() == 1
    with pytest.raises(ValidationError, match="已锁定"):
        domain.lock_month(2026, 1, by=w.dispatcher, now=at(2026, 3, 20))
    # Once closed, nobody changes the figures through the workflow.
    with pytest.raises(ValidationError, match="已锁定"):
        domain.return_report(feb, by=w.dispatcher, reason="改一下")
    assert stored(feb).status == ReportStatus.CONFIRMED


@pytest.fixture
def closed_quarter(w):
    """Jan 1000, Feb 1200, Mar 1500 confirmed and closed through March; April submitted."""
    w.jan, w.feb, w.mar = confirmed(w, 1, "1000"), confirmed(w, 2, "1200"), confirmed(w, 3, "1500")
    domain.lock_month(2026, 3, by=w.dispatcher, now=at(2026, 4, 20))
    w.apr = submitted(w, 4, "1300")
    return w


def test_restatement_keeps_old_and_new_values_and_recomputes_later_months(closed_quarter):
    w = closed_quarter
    assert [stored(r).ytd_investment for r in (w.jan, w.feb, w.mar, w.apr)] == [D("1000"), D("2200"), D("3700"),
                                                                                D("5000")]  # fmt: skip
    restatement = domain.restate(w.feb, by=w.dispatcher, changes={"investment": "800", "workers_on_site": 95},
                                 reason="审计发现2月发票重复计入", now=at(2026, 5, 8))  # fmt: skip
    feb, mar, apr = stored(w.feb), stored(w.mar), stored(w.apr)
    assert feb.investment == D("800.00") and feb.workers_on_site == 95
    assert feb.status == ReportStatus.CONFIRMED and feb.is_restated and feb.restatement_count == 1
    assert (feb.ytd_investment, mar.ytd_investment, apr.ytd_investment) == (D("1800"), D("3300"), D("4600"))
    assert apr.since_start_investment == D("4600")
    assert mar.totals_adjusted_by == restatement and apr.totals_adjusted_by == restatement
    assert stored(w.jan).totals_adjusted_by is None

    restatement.refresh_from_db()
    assert restatement.changes == {
        "investment": {"old": "1200.00", "new": "800.00"},
        "workers_on_site": {"old": None, "new": 95},
        "ytd_investment": {"old": "2200.00", "new": "1800.00"},
        "since_start_investment": {"old": "2200.00", "new": "1800.00"},
    }
    assert [(e["month"], e["ytd_investment"]) for e in restatement.recomputed] == [
        (3, ["3700.00", "3300.00"]), (4, ["5000.00", "4600.00"]),
    ]  # fmt: skip
    assert restatement.restated_by == w.dispatcher and restatement.reason == "审计发现2月发票重复计入"
    assert list(feb.restatements.all()) == [restatement]

    rec = audits(w.feb, "update")[-1]
    assert rec.before["investment"] == "1200.00" and rec.after["investment"] == "800.00"
    assert rec.reason == "更正：审计发现2月发票重复计入"
    assert audits(w.mar, "update")[-1].after == {"ytd_investment": "3300.00", "since_start_investment": "3300.00"}
    assert AuditRecord.objects.filter(object_type="restatement", action="create").count() == 1


def test_restatement_by_ytd_may_not_go_below_an_earlier_month(closed_quarter):
    w = closed_quarter
    with pytest.raises(ValidationError, match="低于上月累计"):
        domain.restate(w.feb, by=w.dispatcher, changes={"ytd_investment": "999.99"}, reason="更正")
    restatement = domain.restate(w.feb, by=w.dispatcher, changes={"ytd_investment": "1000"}, reason="2月实际无投资")
    assert stored(w.feb).investment == D("0.00")
    assert restatement.changes["investment"] == {"old": "1200.00", "new": "0.00"}


def test_restatement_rules_and_roles(closed_quarter):
    w = closed_quarter
    with pytest.raises(PermissionDenied):
        domain.restate(w.feb, by=w.town_officer, changes={"investment": "1"}, reason="x")
    with pytest.raises(PermissionDenied):
        domain.restate(w.feb, by=w.enterprise, changes={"investment": "1"}, reason="x")
    with pytest.raises(ValidationError, match="更正理由"):
        domain.restate(w.feb, by=w.dispatcher, changes={"investment": "1"}, reason=" ")
    with pytest.raises(ValidationError, match="相同"):
        domain.restate(w.feb, by=w.dispatcher, changes={"investment": "1200"}, reason="x")
    with pytest.raises(ValidationError, match="不能更正"):
        domain.restate(w.feb, by=w.dispatcher, changes={"progress_text": "x"}, reason="x")
    with pytest.raises(ValidationError, match="超过项目总投资"):
        domain.restate(w.feb, by=w.dispatcher, changes={"investment": "149000"}, reason="x")
    with pytest.raises(ValidationError, match="负数"):
        domain.restate(w.feb, by=w.dispatcher, changes={"investment": "-1"}, reason="x")
    # An open month is corrected by returning it, not by restatement.
    with pytest.raises(ValidationError, match="退回"):
        domain.restate(w.apr, by=w.dispatcher, changes={"investment": "1"}, reason="x")
    assert not Restatement.objects.exists()
    assert stored(w.feb).investment == D("1200.00")


def test_stored_totals_match_the_rates_after_everything(closed_quarter):
    w = closed_quarter
    domain.restate(w.jan, by=w.dispatcher, changes={"investment": "1100"}, reason="补记")
    table = rates.completion_table(Project.objects.filter(pk=w.project_a.pk), 2026, 4, "district")
    assert table.total.since_start == stored(w.apr).since_start_investment == D("5100")
    assert table.total.ytd == stored(w.apr).ytd_investment


def test_recompute_totals_for_bulk_loaders(w):
    MonthlyReport.objects.bulk_create(
        MonthlyReport(project=w.project_a, year=2026, month=m, investment=D(100 * m), status=ReportStatus.CONFIRMED)
        for m in (1, 2, 3)
    )
    log = domain.recompute_totals(w.project_a)
    assert [(e["month"], e["ytd_investment"][1]) for e in log] == [(1, "100.00"), (2, "300.00"), (3, "600.00")]
    assert MonthlyReport.objects.get(month=3).since_start_investment == D("600.00")


# --- baseline (since-start before the system) -------------------------------------------------------------------


def test_baseline_enters_since_start_and_the_first_years_ytd(w):
    with pytest.raises(PermissionDenied):
        domain.set_baseline(w.project_a, by=w.town_officer, amount="1", first_year=2026, first_month=3)
    with pytest.raises(ValidationError, match="应为0"):
        domain.set_baseline(w.project_a, by=w.dispatcher, amount="100", ytd_amount="5", first_year=2026, first_month=1)
    with pytest.raises(ValidationError, match="超过项目总投资"):
        domain.set_baseline(w.project_a, by=w.dispatcher, amount="150000.01", first_year=2026, first_month=3)
    domain.set_baseline(w.project_a, by=w.dispatcher, amount="30000", ytd_amount="2000", first_year=2026,
                        first_month=3, note="2026年2月底统计台账")  # fmt: skip
    with pytest.raises(ValidationError, match="累计基数"):
        draft(w, 2)
    mar = submitted(w, 3, "1000")
    assert stored(mar).ytd_investment == D("3000") and stored(mar).since_start_investment == D("31000")
    apr = submitted(w, 1, "500", year=2027)
    assert stored(apr).ytd_investment == D("500") and stored(apr).since_start_investment == D("31500")
    # Changing the baseline recomputes the stored totals.
    domain.set_baseline(w.project_a, by=w.dispatcher, amount="31000", ytd_amount="2000", first_year=2026,
                        first_month=3)  # fmt: skip
    assert stored(apr).since_start_investment == D("32500")
    with pytest.raises(ValidationError, match="起始月不能晚于"):
        domain.set_baseline(w.project_a, by=w.dispatcher, amount="31000", first_year=2026, first_month=4)


# --- annual plans ---------------------------------------------------------------------------------------------------


def test_plan_is_created_then_revised_with_every_version_kept(w):
    with pytest.raises(PermissionDenied):
        domain.save_annual_plan(w.project_a, by=w.enterprise, year=2026, data={"planned_investment": "1"})
    plan = domain.save_annual_plan(w.project_a, by=w.town_officer, year=2026, now=at(2026, 1, 20),
                                   data={"planned_investment": "12000", "to_complete": True})  # fmt: skip
    assert (plan.planned_investment, plan.original_planned_investment, plan.revision_count) == (D("12000"),
                                                                                             D("12000"), 0)  # fmt: skip
    first = plan.revisions.get()
    assert (first.number, first.effective_month, first.reason) == (1, 1, "年初计划")

    with pytest.raises(ValidationError, match="调整理由"):
        domain.save_annual_plan(w.project_a, by=w.dispatcher, year=2026, data={"planned_investment": "9000"})
    plan = domain.save_annual_plan(w.project_a, by=w.dispatcher, year=2026, reason="资金到位推迟",
                                   data={"planned_investment": "9000"}, now=at(2026, 7, 10))  # fmt: skip
    plan.refresh_from_db()
    assert plan.planned_investment == D("9000") and plan.original_planned_investment == D("12000")
    assert plan.is_revised and plan.revision_count == 1 and plan.to_complete
    second = plan.revisions.get(number=2)
    assert second.effective_month == 7 and second.created_by == w.dispatcher and second.reason == "资金到位推迟"
    assert second.changes == {"planned_investment": {"old": "12000.00", "new": "9000.00"}}
    assert domain.plan_in_force(plan, 6) == first and domain.plan_in_force(plan, 7) == second
    rec = AuditRecord.objects.filter(object_type="annualplan", action="update").get()
    assert rec.reason == "资金到位推迟（自7月起执行）"

    # A revision never applies from before the previous one, nor from a closed month.
    with pytest.raises(ValidationError, match="不能早于"):
        domain.save_annual_plan(w.project_a, by=w.dispatcher, year=2026, reason="x", effective_month=6,
                                data={"planned_investment": "8000"})  # fmt: skip
    confirmed(w, 7, "100")
    domain.lock_month(2026, 7, by=w.dispatcher, now=at(2026, 8, 20))
    with pytest.raises(ValidationError, match="已锁定"):
        domain.save_annual_plan(w.project_a, by=w.dispatcher, year=2026, reason="x", effective_month=7,
                                data={"planned_investment": "8000"})  # fmt: skip
    # Saving the same values again changes nothing.
    domain.save_annual_plan(w.project_a, by=w.dispatcher, year=2026, data={"planned_investment": "9000.00"})
    assert AnnualPlan.objects.get().revision_count == 1


def test_plan_validation(w):
    def save(**data):
        return domain.save_annual_plan(w.project_a, by=w.dispatcher, year=2026, data=data, now=at(2026, 1, 5))

    with pytest.raises(ValidationError, match="不能超过项目总投资"):
        save(planned_investment="150000.01")
    with pytest.raises(ValidationError, match="12个数"):
        save(planned_investment="1200", monthly_plan=["100"] * 11)
    with pytest.raises(ValidationError, match="不一致"):
        save(planned_investment="1200", monthly_plan=["100"] * 11 + ["99"])
    with pytest.raises(ValidationError, match="负数"):
        save(planned_investment="-1")
    with pytest.raises(ValidationError, match="是.*否"):
        save(planned_investment="1", to_start="maybe")
    with pytest.raises(ValidationError, match="2027年及以前"):
        domain.save_annual_plan(w.project_a, by=w.dispatcher, year=2028, data={"planned_investment": "1"},
                                now=at(2026, 1, 5))  # fmt: skip
    plan = save(planned_investment="1200", monthly_plan=["100"] * 12, to_start="是")
    assert plan.monthly_amounts() == [D("100.00")] * 12 and plan.to_start is True


def test_plan_revisions_of_another_units_project_are_refused(w):
    with pytest.raises(Http404):
        domain.save_annual_plan(w.project_b, by=w.town_officer, year=2026, data={"planned_investment": "1"})


# --- overdue ------------------------------------------------------------------------------------------------------


def test_overdue_lists_missing_draft_and_returned_reports_per_unit_after_the_due_day(w):
    for project in (w.project_a, w.project_b):
        domain.save_annual_plan(project, by=w.dispatcher, year=2026, data={"planned_investment": "100"},
                                now=at(2026, 1, 5))  # fmt: skip
    extra = Project.objects.get(pk=w.project_b.pk)
    extra.pk, extra.code, extra.name, extra.status = None, None, "已终止项目", Status.TERMINATED
    extra.save()
    AnnualPlan.objects.create(project=extra, year=2026, planned_investment=1, original_planned_investment=1)
    report = draft(w, 3)
    everyone = Project.objects.all()
    assert rates.overdue_reports(everyone, 2026, 3, today=datetime.date(2026, 4, 5)) == []

    groups = rates.overdue_reports(everyone, 2026, 3, today=datetime.date(2026, 4, 8))
    by_unit = {g.unit_name: [(i.project_name, i.status, i.days_overdue) for i in g.items] for g in groups}
    assert by_unit == {
        "东街街道": [("联东U谷红旗科创园", "draft", 3)],
        "洪门镇": [("洪门镇智能传感器产业园", "missing", 3)],
    }
    domain.submit(report, by=w.enterprise, now=at(2026, 4, 8))
    groups = rates.overdue_reports(everyone, 2026, 3, today=datetime.date(2026, 4, 8))
    assert [g.unit_name for g in groups] == ["洪门镇"]
    domain.return_report(report, by=w.town_officer, reason="补照片")
    groups = rates.overdue_reports(everyone, 2026, 3, today=datetime.date(2026, 4, 8))
    assert {g.unit_name: [i.status for i in g.items] for g in groups}["东街街道"] == ["returned"]
    # Scoped: the 东街 officer sees only their own.
    mine = rates.overdue_reports(access.visible_projects(w.town_officer), 2026, 3, today=datetime.date(2026, 4, 8))
    assert [g.unit_name for g in mine] == ["东街街道"]


def test_due_day_is_configuration(w):
    assert domain.due_date(2026, 12) == datetime.date(2027, 1, 5)
    settings = ProgressSettings.load()
    settings.due_day = 10
    settings.save()
    assert domain.due_date(2026, 3) == datetime.date(2026, 4, 10)


def test_settings_admin_is_audited(w, client):
    from keyprojects.org.models import User

    admin_user = User.objects.create_superuser("root", password="Root@2026!x")
    client.force_login(admin_user)
    response = client.post(
        "/admin/progress/progresssettings/add/",
        {"due_day": 6, "spike_factor": "2.5", "spike_window": 6, "spike_min_history": 2, "spike_share_percent": "20",
         "repeat_months": 3, "photo_max_bytes": 5 * 1024 * 1024, "photo_max_pixels": 40_000_000,
         "photos_per_report": 20},
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:2000]
    assert ProgressSettings.load().due_day == 6
    assert AuditRecord.objects.filter(object_type="progresssettings", action="create").exists()


def test_month_lock_model_is_unique_per_month(w):
    MonthLock.objects.create(year=2026, month=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        MonthLock.objects.create(year=2026, month=1)
