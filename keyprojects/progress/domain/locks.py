"""Month locks and restatements: `lock_month` closes a month and every earlier one (关账); a closed
report then changes only by `restate` (更正), which keeps the old and new values.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q

from keyprojects.audit.models import AuditRecord
from keyprojects.audit.trail import record, snapshot
from keyprojects.org.models import User
from keyprojects.progress import access, rules
from keyprojects.progress.domain.common import (
    MAX_REASON,
    _context,
    _lock_report,
    _refuse,
    _report_snapshot,
    _sync,
    _text,
    _today,
    is_locked,
    locked_through,
)
from keyprojects.progress.domain.reports import _apply_input
from keyprojects.progress.domain.totals import _recompute_totals
from keyprojects.progress.models import (
    FIGURE_FIELDS,
    MonthLock,
    MonthlyReport,
    ReportStatus,
    Restatement,
    period_month,
    period_of,
)

# --- month locks and restatements ---------------------------------------------------------------------------


@transaction.atomic
def lock_month(year: int, month: int, *, by: User, note: str = "", now: datetime.datetime | None = None) -> MonthLock:
    """Close (year, month) and every earlier month (关账).

    Every filed report of the months being closed must be confirmed first; drafts and missing
    reports do not stop the lock (they can no longer be filed: a late correction is a restatement).
    """
    _refuse(access.center_refusal(by, "锁定月份"))
    message = rules.invalid_month(year, month)
    if message:
        raise ValidationError({"month": [message]})
    today = _today(now)
    target = period_of(year, month)
    if target >= period_of(today.year, today.month):
        raise ValidationError({"month": [f"{year}年{month}月尚未结束，不能锁定。"]})
    through = locked_through()
    if through is not None and target <= through:
        y, m = period_month(through)
        raise ValidationError({"month": [f"{year}年{month}月已锁定（已关账至{y}年{m}月）。"]})
    opened = Q(period__lte=target) if through is None else Q(period__gt=through, period__lte=target)
    pending = (
        MonthlyReport.objects.filter(opened)
        .filter(status__in=[ReportStatus.SUBMITTED, ReportStatus.REVIEWED, ReportStatus.RETURNED])
        .select_related("project")
        .order_by("period", "project_id")
    )
    waiting = list(pending[:11])
    if waiting:
        listed = "；".join(f"{r.project.name} {r.year}年{r.month}月（{r.get_status_display()}）" for r in waiting[:10])
        more = "等" if len(waiting) > 10 else ""
        raise ValidationError({"month": [f"以下月报尚未确认，不能锁定：{listed}{more}。"]}, code="pending")
    confirmed = MonthlyReport.objects.filter(opened, status=ReportStatus.CONFIRMED).count()
    lock = MonthLock.objects.create(year=year, month=month, locked_by=by, confirmed_count=confirmed,
                                    note=_text(note, "备注", limit=200))  # fmt: skip
    record(actor=by, action=AuditRecord.Action.CREATE, obj=lock, after=snapshot(lock))
    return lock


RESTATABLE = {*FIGURE_FIELDS, "ytd_investment"}


@transaction.atomic
def restate(report: MonthlyReport, *, by: User, changes: dict[str, Any], reason: str,
            expected_version: int | None = None, now: datetime.datetime | None = None) -> Restatement:  # fmt: skip
    """Correct a closed report's figures explicitly (更正), keeping old and new values.

    `changes` maps figure fields (investment, workers_on_site, output_value, tax; or ytd_investment
    from which the month is derived) to new values. The hard rules apply; the totals of the
    project's later months are recomputed and linked to this restatement.
    """
    access.ensure_project_visible(by, report.project)
    _refuse(access.center_refusal(by, "更正已锁定的月报"))
    current = _lock_report(report, expected_version)
    if current.status != ReportStatus.CONFIRMED or not is_locked(current.year, current.month):
        raise ValidationError("只有已锁定月份的月报需要更正；未锁定的月报请退回企业修改后重新提交。", code="not_locked")
    reason = _text(reason, "更正理由", required=True, limit=MAX_REASON)
    unknown = [k for k in changes if k not in RESTATABLE]
    if unknown:
        raise ValidationError({k: ["该字段不能更正。"] for k in unknown})
    if not changes:
        raise ValidationError("请填写需要更正的数据。")
    old = {f: getattr(current, f) for f in (*FIGURE_FIELDS, "ytd_investment", "since_start_investment")}
    before = _report_snapshot(current)
    _apply_input(current, current.project, changes)
    if current.investment is None:
        raise ValidationError({"investment": [rules.investment_missing(None)]})
    diff = {f: {"old": rules.plain(old[f]), "new": rules.plain(getattr(current, f))}
            for f in FIGURE_FIELDS if old[f] != getattr(current, f)}  # fmt: skip
    if not diff:
        raise ValidationError("更正后的数据与原数据相同。")
    ctx = _context(current, current.project)
    errors = rules.hard_errors(ctx)
    if errors:
        raise ValidationError(errors)
    current.warnings = rules.soft_warnings(ctx)
    current.restatement_count += 1
    current.version += 1
    current.save()
    restatement = Restatement.objects.create(report=current, changes=diff, reason=reason, restated_by=by)
    label = f"{current.year}年{current.month}月月报更正后重算累计数"
    recomputed = _recompute_totals(current.project_id, by=by, reason=label, restatement=restatement,
                                   exclude_pk=current.pk)  # fmt: skip
    current.refresh_from_db()
    for f in ("ytd_investment", "since_start_investment"):
        if old[f] != getattr(current, f):
            diff[f] = {"old": rules.plain(old[f]), "new": rules.plain(getattr(current, f))}
    restatement.changes, restatement.recomputed = diff, recomputed
    restatement.save(update_fields=["changes", "recomputed"])
    record(actor=by, action=AuditRecord.Action.UPDATE, obj=current, before=before, after=_report_snapshot(current),
           project_id=current.project_id, reason=f"更正：{reason}")  # fmt: skip
    record(actor=by, action=AuditRecord.Action.CREATE, obj=restatement, project_id=current.project_id,
           after={"changes": diff, "recomputed": recomputed}, reason=reason)  # fmt: skip
    _sync(report, current)
    return restatement
