"""Funding: the pipeline rules, the rates against hand-computed figures, the district view, the alerts
(fired once, also with two workers), the acceleration measures and "拿地即开工".

Dates are fixed (`today=` and the worker's `now` are passed in), so nothing depends on the real date.
"""

from __future__ import annotations

import datetime
import os
import threading
from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from keyprojects.audit.models import AuditRecord
from keyprojects.funding import domain, figures, worker
from keyprojects.funding.domain import StepValue
from keyprojects.funding.models import (
    ApprovalAcceleration,
    BondDetail,
    FundingAlert,
    FundingLine,
    FundingSettings,
    FundingStep,
    FundType,
    ProjectLand,
    PromiseOutcome,
    Step,
)
from keyprojects.notify.models import Notification
from keyprojects.progress.models import MonthlyReport, ReportStatus
from keyprojects.projects import domain as project_domain
from keyprojects.projects.models import ApprovalItem, ApprovalStatus, Project
from keyprojects.workcal.calendar import workdays_between

TODAY = date(2026, 11, 26)
W = Decimal


def at(day: date, hour: int = 9) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour)))


def bond_type() -> FundType:
    return FundType.objects.get(name="地方政府专项债券")


def central_type() -> FundType:
    return FundType.objects.get(name="中央预算内投资")


def loan_type() -> FundType:
    return FundType.objects.get(name="银行贷款")


def steps(**values) -> dict[str, StepValue]:
    """steps(reserve=("1000", date(...), "文号"), ...) → the domain's step values."""
    out = {}
    for step, value in values.items():
        amount, day, *doc = value
        out[step] = StepValue(W(amount), day, doc[0] if doc else "")
    return out


BOND = dict(
    reserve=("1000", date(2024, 9, 10)),
    applied=("1000", date(2024, 11, 5), "红发改投资〔2024〕30号"),
    ndrc=("900", date(2025, 1, 10), "豫发改投资〔2025〕12号"),
    mof=("800", date(2025, 2, 12), "豫财债〔2025〕20号"),
    allocated=("600", date(2025, 3, 15), "新财预〔2025〕40号"),
    issued=("600", date(2025, 4, 10)),
    disbursed=("500", date(2025, 5, 8), "红财预〔2025〕60号"),
    spent=("200", date(2025, 6, 1)),
)
BOND_DETAIL = {"name": "2025年河南省政府专项债券（五期）", "code": "250532", "term_years": 20, "rate": W("2.280")}


def bond_line(world, project=None, **overrides) -> FundingLine:
    values = {**BOND, **overrides}
    return domain.create_line(
        by=world.dispatcher, project=project or world.project_a, today=TODAY,
        data={"fund_type": bond_type(), "year": 2025, "batch": "第二批", "steps": steps(**values), "bond": BOND_DETAIL},
    )  # fmt: skip


def line_data(fund_type=None, year=2025, **step_values) -> dict:
    return {"fund_type": fund_type or central_type(), "year": year, "steps": steps(**step_values)}


# ---------------------------------------------------------------------------------------------
# The pipeline


def test_a_line_is_saved_with_its_steps_bond_and_audit_record(world):
    line = bond_line(world)
    assert line.stage == Step.SPENT and line.version == 1
    stored = {s.step: (s.amount, s.date, s.document_number) for s in line.steps.all()}
    assert stored[Step.ALLOCATED] == (W("600.00"), date(2025, 3, 15), "新财预〔2025〕40号")
    assert len(stored) == 8
    assert BondDetail.objects.get(line=line).term_years == 20
    record = AuditRecord.objects.get(object_type="fundingline", action="create")
    assert record.project_id == world.project_a.pk and record.actor_name == "dispatcher"
    assert (
        record.after["资金类型"] == "地方政府专项债券"
        and record.after["拨付"] == "500.00万元 2025-05-08 红财预〔2025〕60号"
    )
    assert "期限20年" in record.after["债券"]


@pytest.mark.parametrize(
    ("changes", "key", "text"),
    [
        ({"spent": ("700", date(2025, 6, 1))}, "spent_amount", "支出金额（700.00万元）不能超过拨付金额（500.00万元）"),
        ({"issued": ("650", date(2025, 4, 10))}, "issued_amount", "发行金额（650.00万元）不能超过额度下达金额"),
        ({"mof": ("950", date(2025, 2, 12))}, "mof_amount", "财政审核通过金额（950.00万元）不能超过发改审核通过金额"),
        (
            {"disbursed": ("500", date(2025, 4, 1))},
            "disbursed_date",
            "拨付日期（2025-04-01）不能早于发行日期（2025-04-10）",
        ),
        ({"applied": ("1000", date(2024, 8, 1))}, "applied_date", "申报日期（2024-08-01）不能早于储备日期"),
        ({"spent": ("100", date(2026, 12, 1))}, "spent_date", "支出日期不能晚于今天"),
        ({"spent": ("-1", date(2025, 6, 1))}, "spent_amount", "支出金额不能为负数"),
        ({"spent": ("1.005", date(2025, 6, 1))}, "spent_amount", "最多两位小数"),
        ({"reserve": ("0", date(2024, 9, 10))}, "reserve_amount", "储备金额必须大于0"),
        ({"reserve": ("200000000", date(2024, 9, 10))}, "reserve_amount", "超过1万亿元"),
    ],
)
def test_amounts_and_dates_never_go_backwards_and_nothing_is_saved(world, changes, key, text):
    before = (FundingLine.objects.count(), FundingStep.objects.count(), AuditRecord.objects.count())
    with pytest.raises(ValidationError) as exc:
        bond_line(world, **changes)
    messages = exc.value.message_dict
    assert key in messages and any(text in m for m in messages[key]), messages
    assert (FundingLine.objects.count(), FundingStep.objects.count(), AuditRecord.objects.count()) == before


def test_skipped_steps_compare_with_the_nearest_recorded_one(world):
    # A central-budget line without 财政审核 or 发行: allocated is checked against the 发改 amount.
    with pytest.raises(ValidationError) as exc:
        data = line_data(reserve=("500", date(2024, 9, 1)), ndrc=("300", date(2025, 1, 5)),
                         allocated=("350", date(2025, 2, 1)))  # fmt: skip
        domain.create_line(by=world.dispatcher, project=world.project_a, today=TODAY, data=data)
    assert (
        "额度下达金额（350.00万元）不能超过发改审核通过金额（300.00万元）"
        in exc.value.message_dict["allocated_amount"][0]
    )


def test_structural_rules_of_the_pipeline(world):
    project = world.project_a

    def errors(data) -> dict:
        with pytest.raises(ValidationError) as exc:
            domain.create_line(by=world.dispatcher, project=project, today=TODAY, data=data)
        return exc.value.message_dict

    assert "每条资金都从储备开始" in errors(line_data(applied=("100", date(2025, 1, 1))))["reserve_amount"][0]
    assert "没有发行环节" in errors(line_data(reserve=("100", date(2025, 1, 1)), issued=("100", date(2025, 2, 1))))[
        "issued_amount"][0]  # fmt: skip
    bond_without_issue = line_data(bond_type(), reserve=("100", date(2025, 1, 1)), disbursed=("50", date(2025, 2, 1)))
    assert "须先发行" in errors(bond_without_issue)["disbursed_amount"][0]
    issued_without_bond = line_data(bond_type(), reserve=("100", date(2025, 1, 1)), issued=("100", date(2025, 2, 1)))
    found = errors(issued_without_bond)
    assert "债券名称" in found["bond_name"][0] and "期限" in found["bond_term_years"][0] and found["bond_rate"]
    missing_date = {"fund_type": central_type(), "year": 2025, "steps": {"reserve": StepValue(W("100"), None, "")}}
    assert "请填写储备日期" in errors(missing_date)["reserve_date"][0]
    rejected = {**line_data(reserve=("100", date(2025, 1, 1)), ndrc=("80", date(2025, 2, 1))), "rejected": True}
    assert "审核未通过" in errors(rejected)["rejected"][0]
    assert "年度" in errors({**line_data(reserve=("100", date(2025, 1, 1))), "year": 1999})["year"][0]
    assert FundingLine.objects.count() == 0


def test_one_line_per_project_type_year_and_batch(world):
    bond_line(world)
    with pytest.raises(ValidationError) as exc:
        bond_line(world)
    assert "已有2025年第二批的“地方政府专项债券”资金" in exc.value.message_dict["fund_type"][0]
    assert FundingLine.objects.count() == 1


def test_update_replaces_the_steps_checks_the_version_and_records_the_change(world):
    line = bond_line(world)
    data = {"fund_type": bond_type(), "year": 2025, "batch": "第二批", "bond": BOND_DETAIL,
            "steps": {**domain.step_values(line), "spent": StepValue(W("450"), date(2025, 9, 1), "")}}  # fmt: skip
    saved = domain.update_line(line, by=world.town_officer, data=data, expected_version=1, today=TODAY)
    assert saved.version == 2 and line.steps.get(step="spent").amount == W("450")
    record = AuditRecord.objects.get(object_type="fundingline", action="update")
    assert record.before == {"支出": "200.00万元 2025-06-01"} and record.after == {"支出": "450.00万元 2025-09-01"}
    with pytest.raises(domain.ConflictError):
        domain.update_line(line, by=world.dispatcher, data=data, expected_version=1, today=TODAY)
    # A refused change leaves the line as it was.
    bad = {**data, "steps": {**data["steps"], "spent": StepValue(W("501"), date(2025, 9, 1), "")}}
    with pytest.raises(ValidationError):
        domain.update_line(line, by=world.dispatcher, data=bad, today=TODAY)
    assert line.steps.get(step="spent").amount == W("450") and FundingLine.objects.get().version == 2
    # Dropping the steps after 申报 removes them (and the bond).
    back = {"fund_type": bond_type(), "year": 2025, "batch": "第二批",
            "steps": {k: v for k, v in domain.step_values(line).items() if k in ("reserve", "applied")}}  # fmt: skip
    saved = domain.update_line(line, by=world.dispatcher, data=back, today=TODAY)
    assert saved.stage == Step.APPLIED and saved.steps.count() == 2 and not BondDetail.objects.exists()


def test_unchanged_update_writes_nothing_and_delete_is_audited(world):
    line = bond_line(world)
    data = {"fund_type": bond_type(), "year": 2025, "batch": "第二批", "bond": BOND_DETAIL,
            "steps": domain.step_values(line)}  # fmt: skip
    count = AuditRecord.objects.count()
    assert domain.update_line(line, by=world.dispatcher, data=data, today=TODAY).version == 1
    assert AuditRecord.objects.count() == count
    domain.delete_line(line, by=world.dispatcher)
    assert not FundingLine.objects.exists() and not FundingStep.objects.exists()
    assert AuditRecord.objects.get(object_type="fundingline", action="delete").before["发行"] == "600.00万元 2025-04-10"


def test_a_project_with_funding_cannot_be_deleted(world):
    from django.db.models import ProtectedError

    bond_line(world)
    with pytest.raises(ProtectedError):
        project_domain.delete_project(world.project_a, by=world.dispatcher)
    assert Project.objects.filter(pk=world.project_a.pk).exists()


# ---------------------------------------------------------------------------------------------
# Rates (hand-computed)


def test_line_rates(world):
    amounts = figures.line_amounts(bond_line(world))
    assert amounts.approved == W("800")  # the 财政 amount wins over the 发改 one
    assert amounts.allocation_rate == W("0.75")  # 下达 600 ÷ 审核通过 800
    assert figures.percent(amounts.spending_progress) == "33.3%"  # 支出 200 ÷ 下达 600
    assert amounts.in_place_rate == W("0.5")  # 拨付 500 ÷ 储备 1000


def test_project_rates_cover_the_whole_funding_plan(world):
    bond_line(world)
    domain.create_line(by=world.dispatcher, project=world.project_a, today=TODAY, data=line_data(
        loan_type(), reserve=("2000", date(2025, 1, 5)), disbursed=("1500", date(2025, 3, 1)),
        spent=("1200", date(2025, 8, 1))))  # fmt: skip
    # A rejected line does not count.
    domain.create_line(by=world.dispatcher, project=world.project_a, today=TODAY, data={
        **line_data(reserve=("9999", date(2025, 1, 5))), "rejected": True})  # fmt: skip
    total = figures.project_amounts(list(world.project_a.funding_lines.prefetch_related("steps")))
    assert figures.percent(total.in_place_rate) == "66.7%"  # (500 + 1500) ÷ (1000 + 2000)
    assert total.spending_progress == W("1400") / W("2100")  # (200 + 1200) ÷ (下达 600 + 拨付 1500 of the loan)
    assert total.allocation_rate == W("0.75")  # 600 ÷ 800: the loan has no review
    assert figures.line_amounts(world.project_a.funding_lines.get(fund_type=loan_type())).allocation_rate is None


def test_rates_above_100_percent_are_not_capped():
    amounts = figures.Amounts()
    amounts.add_line({Step.RESERVE: W("100"), Step.DISBURSED: W("80"), Step.SPENT: W("100")})
    assert figures.percent(amounts.spending_progress) == "125.0%"


def test_district_rows_per_fund_type_and_year_follow_the_scope(world):
    bond_line(world)
    domain.create_line(by=world.dispatcher, project=world.project_b, today=TODAY, data=line_data(
        bond_type(), reserve=("3000", date(2024, 10, 1)), applied=("3000", date(2024, 12, 1)),
        ndrc=("2500", date(2025, 2, 1)), allocated=("2500", date(2025, 3, 1))))  # fmt: skip
    domain.create_line(by=world.dispatcher, project=world.project_b, today=TODAY, data=line_data(
        year=2026, reserve=("400", date(2025, 9, 1))))  # fmt: skip
    rows = figures.district_rows(Project.objects.all())
    assert [(r.fund_type.name, r.year) for r in rows] == [("地方政府专项债券", 2025), ("中央预算内投资", 2026)]
    bonds = rows[0]
    assert (bonds.prepared.projects, bonds.prepared.amount) == (2, W("4000"))
    assert (bonds.approved.projects, bonds.approved.amount) == (2, W("3300"))  # 800 (财政) + 2500 (发改)
    assert (bonds.allocated.projects, bonds.allocated.amount) == (2, W("3100"))
    assert (bonds.issued.projects, bonds.issued.amount) == (1, W("600"))
    assert (bonds.disbursed.projects, bonds.spent.amount) == (1, W("200"))
    assert figures.percent(bonds.allocation_rate) == "93.9%"  # 3100 ÷ 3300
    assert figures.percent(bonds.spending_progress) == "6.5%"  # 200 ÷ 3100
    assert figures.percent(bonds.in_place_rate) == "12.5%"  # 500 ÷ 4000
    assert bonds.summary().startswith("储备2个项目、0.40亿元；申报2个项目、0.40亿元；审核通过2个项目、0.33亿元")
    mine = figures.district_rows(Project.objects.filter(pk=world.project_a.pk))
    assert len(mine) == 1 and mine[0].prepared.projects == 1 and mine[0].prepared.amount == W("1000")
    assert figures.district_rows(Project.objects.all(), year=2026)[0].prepared.amount == W("400")


def test_district_rows_use_two_queries_whatever_the_number_of_lines(world, django_assert_max_num_queries):
    for i in range(12):
        project = project_domain.create_project(by=world.dispatcher, data=dict(
            name=f"资金项目{i}", owner_name="某公司", industry=world.industry, project_type="approval",
            total_investment=W("50000"), town=world.dongjie, responsible_unit=world.dongjie))  # fmt: skip
        bond_line(world, project)
    with django_assert_max_num_queries(2):
        rows = figures.district_rows(Project.objects.all())
    assert rows[0].issued.projects == 12 and rows[0].issued.amount == W("7200")


# ---------------------------------------------------------------------------------------------
# Alerts through the worker


def test_idle_money_alert_fires_once_to_dispatchers_and_the_responsible_unit(world):
    line = bond_line(world)  # disbursed 500 on 2025-05-08, spent 200 on 2025-06-01: idle from 2025-06-01
    FundingSettings.objects.create(idle_days=90, no_investment_days=60)
    MonthlyReport.objects.create(project=world.project_a, year=2025, month=6, investment=W("300"),
                                 status=ReportStatus.SUBMITTED)  # fmt: skip
    line = FundingLine.objects.get(pk=line.pk)
    assert line.next_check_at == at(date(2025, 7, 7), 0)  # the investment check: 2025-05-08 + 60 days
    assert worker.run_pass(at(date(2025, 7, 6))) == 0
    # The investment check comes due and finds the reported investment: made, nothing fired.
    assert worker.run_pass(at(date(2025, 7, 8))) == 0
    made = FundingAlert.objects.get()
    assert made.kind == FundingAlert.Kind.NO_INVESTMENT and not made.fired
    assert FundingLine.objects.get(pk=line.pk).next_check_at == at(date(2025, 8, 30), 0)  # 2025-06-01 + 90 days
    assert (
        worker.run_pass(
            at(
                date(
                    2025,
                    8,
                    30,
                ),
                8,
            )
        )
        == 1
    )
    alert = FundingAlert.objects.get(kind=FundingAlert.Kind.IDLE)
    assert alert.fired and alert.basis_date == date(2025, 6, 1)
    assert (
        "已拨付500.00万元，已支出200.00万元（支出进度40.0%）" in alert.message and "90天没有新的支出" in alert.message
    )
    inbox = Notification.objects.filter(source_key=f"funding-alert:{alert.pk}", channel="inbox")
    assert {n.recipient.username for n in inbox} == {"dispatcher", "town_officer"}
    assert inbox[0].title == "【资金闲置】联东U谷红旗科创园" and inbox[0].link.endswith("#funding")
    assert AuditRecord.objects.filter(object_type="fundingalert", channel="worker").count() == 1
    # Fired once: later passes find nothing to do.
    assert FundingLine.objects.get(pk=line.pk).next_check_at is None
    for day in (date(2025, 9, 1), date(2025, 12, 1)):
        assert worker.run_pass(at(day)) == 0
    assert Notification.objects.filter(source_key__startswith="funding-alert:").count() == 2
    # New spending starts a new episode, with its own alert later.
    data = {"fund_type": bond_type(), "year": 2025, "batch": "第二批", "bond": BOND_DETAIL,
            "steps": {**domain.step_values(line), "spent": StepValue(W("300"), date(2025, 10, 8), "")}}  # fmt: skip
    domain.update_line(line, by=world.dispatcher, data=data, today=date(2025, 10, 9))
    assert worker.run_pass(at(date(2026, 1, 7))) == 1
    assert FundingAlert.objects.filter(kind=FundingAlert.Kind.IDLE, fired=True).count() == 2


def test_bond_money_without_reported_investment_alerts_once(world):
    line = bond_line(world, spent=("500", date(2025, 6, 1)))  # all spent: no idle alert
    assert worker.run_pass(at(date(2025, 7, 8))) == 1
    alert = FundingAlert.objects.get()
    assert alert.kind == FundingAlert.Kind.NO_INVESTMENT and "项目至今未报送完成投资" in alert.message
    assert worker.run_pass(at(date(2025, 9, 1))) == 0
    assert FundingLine.objects.get(pk=line.pk).next_check_at is None


def test_a_line_claimed_by_another_worker_is_skipped(world, monkeypatch):
    line = bond_line(world, spent=("500", date(2025, 6, 1)))
    original_filter = FundingLine.objects.filter

    def rival_claims_first(*args, **kwargs):
        # Another worker claims the line between this pass's read and its claim.
        if "pk" in kwargs and "next_check_at" in kwargs:
            original_filter(pk=kwargs["pk"]).update(next_check_at=None)
        return original_filter(*args, **kwargs)

    def must_not_run(pk, now, cfg):  # pragma: no cover - the claim counts 0 rows
        raise AssertionError("the claim should have failed")

    monkeypatch.setattr(worker, "_handle", must_not_run)
    monkeypatch.setattr(FundingLine.objects, "filter", rival_claims_first)
    assert worker.run_pass(at(date(2025, 7, 8))) == 0
    monkeypatch.undo()
    assert not FundingAlert.objects.exists() and FundingLine.objects.get(pk=line.pk).next_check_at is None


def test_the_alert_row_is_the_claim(world):
    line = bond_line(world)
    FundingAlert.objects.create(line=line, kind="idle", basis_date=date(2025, 6, 1), created_at=timezone.now())
    with pytest.raises(IntegrityError), transaction.atomic():
        FundingAlert.objects.create(line=line, kind="idle", basis_date=date(2025, 6, 1), created_at=timezone.now())


def test_the_problems_worker_runs_the_funding_pass(world):
    from keyprojects.problems import worker as problems_worker

    bond_line(world, spent=("500", date(2025, 6, 1)))
    problems_worker.run_pass(at(date(2025, 7, 8)))
    assert FundingAlert.objects.filter(fired=True).count() == 1
    assert AuditRecord.objects.get(object_type="fundingalert").channel == "worker"


@pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres"),
    reason="concurrent workers need PostgreSQL (on SQLite the passes run one after the other)",
)
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_workers_at_once_fire_each_alert_once(world):
    assert connection.vendor == "postgresql"
    for i in range(8):
        project = project_domain.create_project(by=world.dispatcher, data=dict(
            name=f"并发项目{i}", owner_name="某公司", industry=world.industry, project_type="approval",
            total_investment=W("50000"), town=world.dongjie, responsible_unit=world.dongjie))  # fmt: skip
        bond_line(world, project)
    now = at(date(2025, 12, 1))
    barrier = threading.Barrier(2)
    fired: list[int] = []
    errors: list[BaseException] = []

    def run():
        try:
            barrier.wait()
            fired.append(worker.run_pass(now))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors
    # Each line: one idle alert and one no-investment alert, whichever worker made them.
    assert sum(fired) == 16 == FundingAlert.objects.filter(fired=True).count()
    assert Notification.objects.filter(channel="inbox", source_key__startswith="funding-alert:").count() == 32


# ---------------------------------------------------------------------------------------------
# Acceleration measures and 拿地即开工


def _permit(world) -> ApprovalItem:
    return world.project_a.approvals.get(name="施工许可证")


def test_a_promise_needs_a_deadline_and_nothing_is_saved(world):
    item = _permit(world)
    before = AuditRecord.objects.count()
    with pytest.raises(ValidationError) as exc:
        domain.save_acceleration(item, by=world.dispatcher, data={"on_promise": True, "promise_content": "补齐图审"},
                                 today=TODAY)  # fmt: skip
    assert exc.value.message_dict == {"promise_deadline": ["信用承诺制办理须填写承诺期限。"]}
    assert not ApprovalAcceleration.objects.exists() and AuditRecord.objects.count() == before
    with pytest.raises(ValidationError) as exc:
        data = {"on_promise": True, "promise_deadline": date(2026, 3, 1), "promise_outcome": PromiseOutcome.KEPT}
        domain.save_acceleration(item, by=world.dispatcher, today=TODAY, data=data)
    assert "核查日期" in exc.value.message_dict["promise_checked_on"][0]
    with pytest.raises(ValidationError) as exc:
        domain.save_acceleration(item, by=world.dispatcher, data={"agent": world.officer}, today=TODAY)
    assert "代办受理日期" in exc.value.message_dict["agent_started_on"][0]


def test_agent_working_days_and_the_promise_are_recorded(world):
    item = _permit(world)
    project_domain.update_approval(item, by=world.dispatcher, data={"status": ApprovalStatus.DONE,
                                                                    "actual_date": date(2025, 10, 10)})  # fmt: skip
    item.refresh_from_db()
    saved = domain.save_acceleration(item, by=world.dispatcher, today=TODAY, data={
        "on_promise": True, "promise_content": "三个月内补齐施工图审查合格书", "promise_deadline": date(2026, 1, 10),
        "agent": world.officer, "agent_started_on": date(2025, 9, 26)})  # fmt: skip
    assert saved.promise_outcome == PromiseOutcome.PENDING
    # 2025-09-26 (Friday) to 2025-10-10: 国庆 1–8 October, make-up working days 28 September and 11 October.
    assert workdays_between(date(2025, 9, 26), date(2025, 10, 10)) == 5
    record = AuditRecord.objects.get(object_type="approvalacceleration")
    assert record.project_id == world.project_a.pk and record.after["代办员"] == "officer"
    assert record.reason == "前期手续：施工许可证"
    with pytest.raises(ValidationError) as exc:
        domain.save_acceleration(item, by=world.dispatcher, data={"agent_started_on": date(2025, 10, 20)}, today=TODAY)
    assert "不能晚于事项办结日期" in exc.value.message_dict["agent_started_on"][0]


def test_land_to_start_in_working_days_and_the_standard_land_gap(world):
    project = world.project_a
    project_domain.update_approval(_permit(world), by=world.dispatcher, data={
        "status": ApprovalStatus.DONE, "actual_date": date(2025, 9, 30)})  # fmt: skip
    project_domain.update_project(project, by=world.dispatcher, data={"actual_start": date(2025, 10, 13)})
    domain.save_land(project, by=world.dispatcher, today=TODAY, data={
        "certificate_on": date(2025, 9, 22), "area_mu": W("120"), "is_standard": True, "sold_on": date(2025, 9, 1),
        "promised_investment": W("350"), "promised_tax": W("20"), "promised_plot_ratio": W("1.2"),
        "promised_energy": W("0.35"), "promised_emission": W("20"),
        "checked_on": date(2026, 9, 1), "checked_investment": W("380"), "checked_tax": W("18"),
        "checked_plot_ratio": W("1.3"), "checked_energy": W("0.4"), "checked_emission": W("18")})  # fmt: skip
    result = figures.land_to_start(Project.objects.all())
    row = result.rows[0]
    # 22 September → 30 September: 23–26, 28 (调休), 29, 30 = 7; → 13 October: + 9, 10, 11 (调休), 13 = 11.
    assert (row.to_permit, row.to_start) == (7, 11)
    assert row.on_target and result.on_target == 1 and result.avg_to_start == W("11.0")
    gaps = {g.key: g for g in figures.indicator_gaps(ProjectLand.objects.get())}
    assert gaps["investment"].gap == W("30") and gaps["investment"].met
    assert gaps["tax"].gap == W("-2") and gaps["tax"].met is False
    assert gaps["energy"].met is False and gaps["emission"].met  # lower is better
    assert figures.land_to_start(Project.objects.filter(pk=world.project_b.pk)).rows == []


def test_standard_land_needs_its_promised_indicators(world):
    with pytest.raises(ValidationError) as exc:
        domain.save_land(world.project_a, by=world.dispatcher, today=TODAY,
                         data={"is_standard": True, "promised_investment": W("300")})  # fmt: skip
    found = exc.value.message_dict
    assert "出让日期" in found["sold_on"][0] and "亩均税收" in found["promised_tax"][0]
    with pytest.raises(ValidationError) as exc:
        domain.save_land(world.project_a, by=world.dispatcher, today=TODAY,
                         data={"certificate_on": date(2025, 1, 1), "checked_tax": W("3")})  # fmt: skip
    assert "只有标准地" in exc.value.message_dict["is_standard"][0]
    assert not ProjectLand.objects.exists()


def test_cockpit_figures_count_what_the_user_sees(world):
    bond_line(world)
    domain.save_chain(None, by=world.dispatcher, data={"name": "新材料产业链", "projects": [world.project_a,
                                                                                        world.project_b]})  # fmt: skip
    domain.save_building(None, by=world.dispatcher, data={"name": "平原金融中心", "annual_tax": W("10800"),
                                                          "tenant_count": 96, "star_rating": 5})  # fmt: skip
    figures_all = figures.cockpit(Project.objects.all())
    assert (figures_all["chains"], figures_all["chain_projects"], figures_all["chain_investment"]) == (
        1,
        2,
        W("158000"),
    )
    assert (figures_all["buildings"], figures_all["building_tax"], figures_all["starred_buildings"]) == (
        1,
        W("10800"),
        1,
    )
    assert figures_all["funding"].steps[Step.ISSUED] == W("600") and figures_all["matters"]["total"] == 0
    mine = figures.cockpit(Project.objects.filter(pk=world.project_b.pk))
    assert mine["chain_projects"] == 1 and mine["funding"].steps == {}
