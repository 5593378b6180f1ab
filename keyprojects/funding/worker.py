"""Funding alerts, checked by the background worker (`problems.worker.run_pass` calls `run_pass` here).

Two checks per funding line, each with a basis date and a due moment:

- **资金闲置** (idle money): the money the project has (拨付; for a type without issuance, 额度下达
  until something is disbursed: a bond quota is no money before it is issued) is not all spent, and
  nothing was spent for `FundingSettings.idle_days` days: basis = the later of the date that money
  came and the last 支出 date.
- **债券资金到位未报投资**: bond money was disbursed (拨付, fund types with issuance) and the project
  reported no investment (no counted monthly report with investment above 0 from the month of the
  disbursement on) within `no_investment_days` days: basis = the 拨付 date.

`FundingLine.next_check_at` is the earliest due moment of the checks not yet made (`schedule()`,
set by the domain on every change). A pass claims each due line with a conditional UPDATE
(`filter(pk=…, next_check_at=<value read>).update(next_check_at=None)`), so with two workers only one
goes on; it then inserts a `FundingAlert` per due check (the unique (line, kind, basis) row is the
claim: a check is made once whatever happens), notifies when the condition holds (inbox, and e-mail
or webhook by preference; the problems worker delivers them), and schedules the next check.
Recipients: the dispatchers and the unit officers of the project's responsible unit.
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from keyprojects.audit.models import AuditRecord
from keyprojects.audit.trail import record
from keyprojects.funding.models import FundingAlert, FundingLine, FundingSettings, Step
from keyprojects.lib import context
from keyprojects.lib.money import format_wan
from keyprojects.notify import delivery
from keyprojects.org.models import Role, User

logger = logging.getLogger(__name__)

RETRY_DELAY = datetime.timedelta(minutes=15)
Kind = FundingAlert.Kind


@dataclass(frozen=True)
class Check:
    kind: str
    basis: datetime.date
    due: datetime.datetime


def _day(day: datetime.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def _start_of(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime(day.year, day.month, day.day))


def _steps(line: FundingLine) -> dict[str, object]:
    return {s.step: s for s in line.steps.all()}


def checks(line: FundingLine, cfg: FundingSettings | None = None) -> list[Check]:
    """The checks the line has now (made or not), from its steps and the settings."""
    cfg = cfg or FundingSettings.load()
    if line.rejected:
        return []
    steps = _steps(line)
    out: list[Check] = []
    allocated = money_in_hand(line, steps)
    if allocated is not None and allocated.amount > 0:
        spent = steps.get(Step.SPENT)
        if spent is None or spent.amount < allocated.amount:
            basis = max(allocated.date, spent.date) if spent is not None else allocated.date
            out.append(Check(Kind.IDLE, basis, _start_of(basis + datetime.timedelta(days=cfg.idle_days))))
    disbursed = steps.get(Step.DISBURSED)
    if line.fund_type.has_issuance and disbursed is not None and disbursed.amount > 0:
        basis = disbursed.date
        out.append(Check(Kind.NO_INVESTMENT, basis, _start_of(basis + datetime.timedelta(days=cfg.no_investment_days))))
    return out


def money_in_hand(line: FundingLine, steps: dict) -> object | None:
    """The step whose amount the project has to spend: 拨付, else (no issuance) 额度下达, else None."""
    if Step.DISBURSED in steps:
        return steps[Step.DISBURSED]
    if not line.fund_type.has_issuance:
        return steps.get(Step.ALLOCATED)
    return None


def _made(line: FundingLine) -> set[tuple[str, datetime.date]]:
    return {(a.kind, a.basis_date) for a in line.alerts.all()}


def schedule(line: FundingLine, cfg: FundingSettings | None = None) -> datetime.datetime | None:
    """When the worker should next look at the line: the earliest check not made yet, or None."""
    made = _made(line)
    pending = [c.due for c in checks(line, cfg) if (c.kind, c.basis) not in made]
    return min(pending) if pending else None


def dispatchers() -> list[User]:
    return list(User.objects.filter(is_active=True, roles__role=Role.DISPATCHER).distinct())


def recipients(line: FundingLine) -> list[User]:
    officers = User.objects.filter(
        is_active=True, roles__role=Role.UNIT_OFFICER, unit_id=line.project.responsible_unit_id
    ).distinct()
    return [*dispatchers(), *officers]


def _reported_investment(line: FundingLine, since: datetime.date) -> bool:
    from keyprojects.progress.models import COUNTED_STATUSES, MonthlyReport, period_of

    return MonthlyReport.objects.filter(
        project_id=line.project_id, status__in=COUNTED_STATUSES, investment__gt=0,
        period__gte=period_of(since.year, since.month),
    ).exists()  # fmt: skip


def evaluate(line: FundingLine, check: Check, now: datetime.datetime) -> str | None:
    """The alert's message when the check's condition holds at `now`, else None."""
    steps = _steps(line)
    if check.kind == Kind.IDLE:
        allocated = money_in_hand(line, steps)
        spent = steps.get(Step.SPENT)
        spent_amount = spent.amount if spent is not None else Decimal("0")
        days = (timezone.localdate(now) - check.basis).days
        label = "拨付" if Step.DISBURSED in steps else "下达"
        share = f"{spent_amount / allocated.amount * 100:.1f}%"
        return (
            f"{line.year}年{line.fund_type.name}已{label}{format_wan(allocated.amount)}，已支出"
            f"{format_wan(spent_amount)}（支出进度{share}），自{_day(check.basis)}起{days}天没有新的支出，请督促加快支出。"
        )
    if check.kind == Kind.NO_INVESTMENT:
        if _reported_investment(line, check.basis):
            return None
        disbursed = steps[Step.DISBURSED]
        return (
            f"{_day(check.basis)}已拨付{line.fund_type.name}{format_wan(disbursed.amount)}，"
            "项目至今未报送完成投资，请核实资金使用和形成实物工作量情况。"
        )
    return None


def _notify(line: FundingLine, alert: FundingAlert, now: datetime.datetime) -> int:
    title = f"【{alert.get_kind_display()}】{line.project}"
    body = "\n".join([f"项目：{line.project}", f"资金：{line}", alert.message])
    rows = delivery.notify(
        recipients(line), title=title, body=body, link=f"/projects/{line.project_id}/#funding",
        source_key=f"funding-alert:{alert.pk}", object_type="fundingline", object_id=str(line.pk), now=now,
    )  # fmt: skip
    return len(rows)


def _handle(pk: int, now: datetime.datetime, cfg: FundingSettings) -> int:
    line = FundingLine.objects.select_related("project", "fund_type").prefetch_related("steps", "alerts").get(pk=pk)
    made = _made(line)
    fired = 0
    for check in checks(line, cfg):
        if check.due > now or (check.kind, check.basis) in made:
            continue
        message = evaluate(line, check, now)
        try:
            with transaction.atomic():
                alert = FundingAlert.objects.create(line=line, kind=check.kind, basis_date=check.basis,
                                                    fired=message is not None, message=(message or "")[:300],
                                                    created_at=now)  # fmt: skip
        except IntegrityError:
            continue  # made by another worker after a user's change re-armed the line: once only
        if message is not None:
            after = {"提醒": alert.get_kind_display(), "起算日期": check.basis.isoformat(), "内容": message}
            record(actor=None, action=AuditRecord.Action.CREATE, obj=alert, project_id=line.project_id, after=after)
            _notify(line, alert, now)
            fired += 1
    line._prefetched_objects_cache.pop("alerts", None)
    FundingLine.objects.filter(pk=pk, next_check_at__isnull=True).update(next_check_at=schedule(line, cfg))
    return fired


def run_pass(now: datetime.datetime | None = None, *, batch: int = 500) -> int:
    """Claim and check the funding lines whose next check has come; returns the alerts fired."""
    now = now or timezone.now()
    cfg = FundingSettings.load()
    fired = 0
    with context.bind(request_id=context.current().request_id or None, channel="worker"):
        due = list(
            FundingLine.objects.filter(next_check_at__lte=now)
            .order_by("next_check_at", "id")
            .values_list("pk", "next_check_at")[:batch]
        )
        for pk, seen in due:
            try:
                with transaction.atomic():
                    if FundingLine.objects.filter(pk=pk, next_check_at=seen).update(next_check_at=None) != 1:
                        continue  # another worker (or a user's change) got there first
                    fired += _handle(pk, now, cfg)
            except Exception:
                logger.exception("worker: funding line %s failed; retrying later", pk)
                FundingLine.objects.filter(pk=pk, next_check_at=seen).update(next_check_at=now + RETRY_DELAY)
    return fired
