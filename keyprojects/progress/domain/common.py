"""What the domain modules share: limits and field labels, `ConflictError`, the moment of an action,
row locking, the month locks (`locked_through`, `is_locked`), the due date and a report's rule context.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Max
from django.utils import timezone

from keyprojects.audit.trail import snapshot
from keyprojects.progress import rules
from keyprojects.progress.models import (
    COUNTED_STATUSES,
    InvestmentBaseline,
    MonthLock,
    MonthlyReport,
    ProgressSettings,
    period_of,
)
from keyprojects.projects.models import Project

MAX_TEXT = 4000
MAX_REASON = 500
ZERO = Decimal("0")

AMOUNT_LABELS = {
    "investment": "本月完成投资",
    "ytd_investment": "年度累计完成投资",
    "output_value": "本月产值",
    "tax": "本月税收",
}
TEXT_FIELDS = {"progress_text": "形象进度", "problems_text": "存在问题及建议", "explanation": "情况说明"}
REPORT_INPUT_FIELDS = {*AMOUNT_LABELS, *TEXT_FIELDS, "workers_on_site"}
TRACKED = [
    "investment", "ytd_investment", "since_start_investment", "progress_text", "workers_on_site",
    "output_value", "tax", "problems_text", "status", "warnings", "explanation", "return_reason",
    "submitted_late",
]  # fmt: skip


class ConflictError(Exception):
    """The report or plan changed since the user loaded it (optimistic locking on `version`)."""

    message = "该数据已被他人修改，请刷新后重试（您的修改未保存）。"


# --- helpers ---------------------------------------------------------------------------------------------


def _moment(now: datetime.datetime | None) -> datetime.datetime:
    if now is None:
        return timezone.now()
    return timezone.make_aware(now) if timezone.is_naive(now) else now


def _today(now: datetime.datetime | None) -> datetime.date:
    return timezone.localdate(_moment(now))


def _refuse(message: str | None) -> None:
    if message:
        raise PermissionDenied(message)


def _state_error(report: MonthlyReport, action: str) -> ValidationError:
    return ValidationError(f"月报当前状态为“{report.get_status_display()}”，不能{action}。", code="invalid_state")


def _text(value: Any, label: str, *, required: bool = False, limit: int = MAX_TEXT) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValidationError(f"{label}格式不正确。")
    text = value.strip()
    if required and not text:
        raise ValidationError(f"请填写{label}。")
    if len(text) > limit:
        raise ValidationError(f"{label}不能超过{limit}个字。")
    return text


def _report_snapshot(report: MonthlyReport) -> dict[str, Any]:
    return snapshot(report, TRACKED)


def _lock_project(project_id: int) -> Project:
    """Serialise changes to one project's reports (their derived totals depend on each other)."""
    return Project.objects.select_for_update().get(pk=project_id)


def _lock_report(report: MonthlyReport, expected_version: int | None) -> MonthlyReport:
    _lock_project(report.project_id)
    current = MonthlyReport.objects.select_for_update().select_related("project").get(pk=report.pk)
    if expected_version is not None and current.version != expected_version:
        raise ConflictError()
    return current


def _sync(target: Any, source: Any) -> None:
    """Bring the caller's instance up to date with the saved row."""
    if target is source:
        return
    for f in type(source)._meta.concrete_fields:
        setattr(target, f.attname, getattr(source, f.attname))
    target._state.fields_cache = {}


def locked_through() -> int | None:
    """The last closed period (see `models.period_of`), or None when no month was ever locked."""
    return MonthLock.objects.aggregate(p=Max("period"))["p"]


def is_locked(year: int, month: int) -> bool:
    through = locked_through()
    return through is not None and period_of(year, month) <= through


def due_date(year: int, month: int, settings: ProgressSettings | None = None) -> datetime.date:
    """The last day to file the report for (year, month): the configured day of the next month."""
    settings = settings or ProgressSettings.load()
    return datetime.date(year + month // 12, month % 12 + 1, settings.due_day)


def _baseline(project_id: int) -> InvestmentBaseline | None:
    return InvestmentBaseline.objects.filter(project_id=project_id).first()


def _context(report: MonthlyReport, project: Project, settings: ProgressSettings | None = None) -> rules.Context:
    history = dict(
        MonthlyReport.objects.filter(project_id=project.pk, status__in=COUNTED_STATUSES)
        .exclude(pk=report.pk)
        .values_list("period", "investment")
    )
    baseline = _baseline(project.pk)
    return rules.Context(
        year=report.year, month=report.month, investment=report.investment or ZERO,
        output_value=report.output_value, tax=report.tax, total_investment=project.total_investment,
        stage=project.stage, actual_start=project.actual_start, actual_end=project.actual_end,
        history={p: v or ZERO for p, v in history.items()},
        baseline_amount=baseline.amount if baseline else ZERO,
        baseline_ytd=baseline.ytd_amount if baseline else ZERO,
        baseline_first_period=baseline.first_period if baseline else None,
        settings=settings or ProgressSettings.load(),
    )  # fmt: skip
