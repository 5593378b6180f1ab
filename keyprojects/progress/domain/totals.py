"""Derived totals: the stored year-to-date and since-start totals of the counted reports, recomputed
whenever the counted set changes (`recompute_totals` for bulk loaders), and the investment baseline
(开累基数, `set_baseline`) they start from.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from keyprojects.audit.models import AuditRecord
from keyprojects.audit.trail import record, snapshot
from keyprojects.org.models import User
from keyprojects.progress import access, rules
from keyprojects.progress.domain.common import ZERO, _baseline, _lock_project, _refuse, _text, locked_through
from keyprojects.progress.models import COUNTED_STATUSES, InvestmentBaseline, MonthlyReport, Restatement, period_of
from keyprojects.projects.models import Project
from keyprojects.rollups.cache import bump


def _recompute_totals(project_id: int, *, by: User | None, reason: str,
                      restatement: Restatement | None = None, exclude_pk: int | None = None) -> list[dict]:  # fmt: skip
    """Recompute the stored year-to-date and since-start totals of the project's reports.

    Counted reports get their running totals; the others none. Returns, for every report whose
    totals changed (other than `exclude_pk`, whose own record says it), its old and new totals; each
    such change is audited and, for a restatement, linked to it.
    """
    baseline = _baseline(project_id)
    reports = list(MonthlyReport.objects.filter(project_id=project_id).order_by("period"))
    since_start = baseline.amount if baseline else ZERO
    ytd, year = ZERO, None
    changed: list[MonthlyReport] = []
    log: list[dict] = []
    for report in reports:
        if report.year != year:
            year = report.year
            ytd = baseline.ytd_amount if baseline and baseline.first_year == year else ZERO
        if report.status in COUNTED_STATUSES:
            ytd += report.investment or ZERO
            since_start += report.investment or ZERO
            new = (ytd, since_start)
        else:
            new = (None, None)
        old = (report.ytd_investment, report.since_start_investment)
        if old == new:
            continue
        report.ytd_investment, report.since_start_investment = new
        changed.append(report)
        if report.pk == exclude_pk:
            continue
        entry = {
            "report": report.pk, "year": report.year, "month": report.month,
            "ytd_investment": [rules.plain(old[0]), rules.plain(new[0])],
            "since_start_investment": [rules.plain(old[1]), rules.plain(new[1])],
        }  # fmt: skip
        log.append(entry)
        if restatement is not None:
            report.totals_adjusted_by = restatement
    if changed:
        moment = timezone.now()
        for report in changed:
            report.updated_at = moment
        MonthlyReport.objects.bulk_update(
            changed, ["ytd_investment", "since_start_investment", "totals_adjusted_by", "updated_at"]
        )
        bump("progress")  # bulk_update sends no save signal
    for entry in log:
        report = next(r for r in changed if r.pk == entry["report"])
        record(
            actor=by, action=AuditRecord.Action.UPDATE, obj=report, project_id=project_id, reason=reason,
            before={"ytd_investment": entry["ytd_investment"][0],
                    "since_start_investment": entry["since_start_investment"][0]},
            after={"ytd_investment": entry["ytd_investment"][1],
                   "since_start_investment": entry["since_start_investment"][1]},
        )  # fmt: skip
    return log


@transaction.atomic
def recompute_totals(project: Project, *, by: User | None = None, reason: str = "重算累计数") -> list[dict]:
    """Recompute one project's stored totals (for loaders that insert reports without `submit`).

    The roll-ups in `rates.py` read these stored totals: whatever writes reports in bulk (seed data,
    a migration from another system) must either set them itself or call this afterwards.
    """
    _lock_project(project.pk)
    return _recompute_totals(project.pk, by=by, reason=reason)


# --- baselines ---------------------------------------------------------------------------------------------------


@transaction.atomic
def set_baseline(project: Project, *, by: User, amount: Any, first_year: int, first_month: int,
                 ytd_amount: Any = ZERO, note: str = "") -> InvestmentBaseline:  # fmt: skip
    """Record what a project had completed before its first month in the system (开累基数)."""
    access.ensure_project_visible(by, project)
    _refuse(access.center_refusal(by, "设置累计投资基数"))
    project = _lock_project(project.pk)
    errors: dict[str, list[str]] = {}
    parsed: dict[str, Decimal | None] = {}
    for key, raw, label in (
        ("amount", amount, "系统启用前累计完成投资"),
        ("ytd_amount", ytd_amount, "其中启用当年已完成"),
    ):
        try:
            parsed[key] = rules.parse_amount(raw, label, required=True)
        except ValidationError as exc:
            errors[key] = exc.messages
    message = rules.invalid_month(first_year, first_month)
    if message:
        errors["first_month"] = [message]
    if errors:
        raise ValidationError(errors)
    value, ytd = parsed["amount"], parsed["ytd_amount"]
    if ytd > value:
        raise ValidationError({"ytd_amount": ["启用当年已完成投资不能大于累计完成投资。"]})
    if first_month == 1 and ytd:
        raise ValidationError({"ytd_amount": ["自1月起填报时，启用当年此前没有已完成投资，应为0。"]})
    message = rules.since_start_above_total(value, project.total_investment)
    if message:
        raise ValidationError({"amount": [message]})
    first = period_of(first_year, first_month)
    earlier = MonthlyReport.objects.filter(project=project, period__lt=first).order_by("period").first()
    if earlier:
        raise ValidationError({"first_month": [f"已有{earlier.year}年{earlier.month}月的月报，起始月不能晚于它。"]})
    through = locked_through()
    if through is not None and MonthlyReport.objects.filter(project=project, period__lte=through).exists():
        raise ValidationError("该项目已有锁定月份的月报，累计基数不能再修改；如需调整请办理更正。", code="locked")
    baseline = InvestmentBaseline.objects.select_for_update().filter(project=project).first()
    before = snapshot(baseline) if baseline else None
    if baseline is None:
        baseline = InvestmentBaseline(project=project)
    baseline.amount, baseline.ytd_amount = value, ytd
    baseline.first_year, baseline.first_month = first_year, first_month
    baseline.note, baseline.set_by = _text(note, "依据", limit=200), by
    after = snapshot(baseline)
    if before == after:
        return baseline
    counted = MonthlyReport.objects.filter(project=project, status__in=COUNTED_STATUSES)
    message = rules.since_start_above_total(
        value + sum((v or ZERO for v in counted.values_list("investment", flat=True)), ZERO), project.total_investment
    )
    if message:
        raise ValidationError({"amount": [message]})
    if before is not None:
        baseline.version += 1
    baseline.save()
    action = AuditRecord.Action.CREATE if before is None else AuditRecord.Action.UPDATE
    record(actor=by, action=action, obj=baseline, before=before, after=after, project_id=project.pk, reason=note)
    _recompute_totals(project.pk, by=by, reason="累计投资基数变更后重算累计数")
    return baseline
