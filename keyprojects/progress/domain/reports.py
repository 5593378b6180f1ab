"""Monthly reports: filing (`create_report`, `update_report`, `delete_draft`, `check_report`, `submit`)
and review (`return_report`, `review`, `confirm`).
"""

from __future__ import annotations

import datetime
import hashlib
import json
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from keyprojects.audit.models import AuditRecord
from keyprojects.audit.trail import record
from keyprojects.org.models import User
from keyprojects.progress import access, rules
from keyprojects.progress.domain.common import (
    AMOUNT_LABELS,
    MAX_REASON,
    MAX_TEXT,
    REPORT_INPUT_FIELDS,
    TEXT_FIELDS,
    _baseline,
    _context,
    _lock_project,
    _lock_report,
    _moment,
    _refuse,
    _report_snapshot,
    _state_error,
    _sync,
    _text,
    _today,
    due_date,
    locked_through,
)
from keyprojects.progress.domain.photos import _delete_files
from keyprojects.progress.domain.totals import _recompute_totals
from keyprojects.progress.models import EDITABLE_STATUSES, FIGURE_FIELDS, MonthlyReport, ReportStatus
from keyprojects.projects.models import Project


def _apply_input(report: MonthlyReport, project: Project, data: dict[str, Any]) -> None:
    """Parse and set the fields a filer may give; every error at once, keyed by field."""
    errors: dict[str, list[str]] = {}
    for key in data:
        if key not in REPORT_INPUT_FIELDS:
            errors.setdefault(key, []).append("该字段不可填写。")
    values: dict[str, Any] = {}
    for key, label in AMOUNT_LABELS.items():
        if key in data:
            try:
                values[key] = rules.parse_amount(data[key], label)
            except ValidationError as exc:
                errors.setdefault(key, []).extend(exc.messages)
    if "workers_on_site" in data:
        try:
            values["workers_on_site"] = rules.parse_count(data["workers_on_site"], "在岗工人数")
        except ValidationError as exc:
            errors.setdefault("workers_on_site", []).extend(exc.messages)
    for key, label in TEXT_FIELDS.items():
        if key in data:
            try:
                values[key] = _text(data[key], label, limit=2000 if key == "explanation" else MAX_TEXT)
            except ValidationError as exc:
                errors.setdefault(key, []).extend(exc.messages)
    if errors:
        raise ValidationError(errors)

    ytd = values.pop("ytd_investment", None)
    for key, value in values.items():
        setattr(report, key, value)
    if ytd is not None:
        # The year-to-date typed instead of (or as well as) the month: derive the month from it.
        before = _context(report, project).ytd_before()
        if "investment" in data and values.get("investment") is not None:
            message = rules.ytd_mismatch(values["investment"], ytd, before)
            if message:
                raise ValidationError({"ytd_investment": [message]})
        message = rules.ytd_going_down(before, ytd)
        if message:
            raise ValidationError({"ytd_investment": [message]})
        report.investment = ytd - before


def _month_refusal(year: Any, month: Any, today: datetime.date, project: Project) -> dict[str, list[str]]:
    message = rules.invalid_month(year, month)
    if message:
        return {"month": [message]}
    baseline = _baseline(project.pk)
    for message in (
        rules.future_month(year, month, today),
        rules.closed_month(year, month, locked_through()),
        rules.before_baseline(year, month, baseline.first_period if baseline else None),
    ):
        if message:
            return {"month": [message]}
    return {}


# --- monthly reports: filing ---------------------------------------------------------------------------


@transaction.atomic
def create_report(project: Project, *, by: User, year: int, month: int, data: dict[str, Any] | None = None,
                  now: datetime.datetime | None = None) -> MonthlyReport:  # fmt: skip
    """Start the report of `project` for (year, month) as a draft, optionally with its figures."""
    access.ensure_project_visible(by, project)
    project = _lock_project(project.pk)
    _refuse(access.filing_refusal(by, project))
    errors = _month_refusal(year, month, _today(now), project)
    if errors:
        raise ValidationError(errors)
    existing = MonthlyReport.objects.filter(project=project, year=year, month=month).first()
    if existing:
        message = rules.duplicate_month(year, month, existing.get_status_display())
        raise ValidationError({"month": [message]}, code="duplicate")
    report = MonthlyReport(project=project, year=year, month=month, created_by=by,
                           on_behalf=not access.is_company_reporter(by, project))  # fmt: skip
    _apply_input(report, project, data or {})
    try:
        with transaction.atomic():
            report.save()
    except IntegrityError:
        raise ValidationError(
            {"month": [rules.duplicate_month(year, month, ReportStatus.DRAFT.label)]}, code="duplicate"
        ) from None
    record(actor=by, action=AuditRecord.Action.CREATE, obj=report, after=_report_snapshot(report),
           project_id=project.pk, reason="代企业填报" if report.on_behalf else "")  # fmt: skip
    return report


@transaction.atomic
def update_report(report: MonthlyReport, *, by: User, data: dict[str, Any], expected_version: int | None = None,
                  now: datetime.datetime | None = None) -> MonthlyReport:  # fmt: skip
    """Change a draft or a returned report (the company's figures, or a 代填报 report)."""
    access.ensure_project_visible(by, report.project)
    current = _lock_report(report, expected_version)
    _refuse(access.filing_refusal(by, current.project, current))
    if current.status not in EDITABLE_STATUSES:
        raise _state_error(current, "修改（只有草稿和退回的月报可以修改）")
    message = rules.closed_month(current.year, current.month, locked_through())
    if message:
        raise ValidationError(message, code="locked")
    before = _report_snapshot(current)
    _apply_input(current, current.project, data)
    after = _report_snapshot(current)
    if after != before:
        current.version += 1
        current.save()
        record(actor=by, action=AuditRecord.Action.UPDATE, obj=current, before=before, after=after,
               project_id=current.project_id)  # fmt: skip
    _sync(report, current)
    return report


@transaction.atomic
def delete_draft(report: MonthlyReport, *, by: User, expected_version: int | None = None) -> None:
    """Delete a draft that was never submitted (a report once submitted is kept for ever).

    With `expected_version` (the page's form), a draft changed since the page was loaded is not deleted:
    the user first sees what was saved (`ConflictError`)."""
    access.ensure_project_visible(by, report.project)
    current = _lock_report(report, expected_version)
    _refuse(access.filing_refusal(by, current.project, current))
    if current.status != ReportStatus.DRAFT or current.submission_hash:
        raise _state_error(current, "删除（只有从未提交的草稿可以删除）")
    record(actor=by, action=AuditRecord.Action.DELETE, obj=current, before=_report_snapshot(current),
           project_id=current.project_id)  # fmt: skip
    files = [p.file.name for p in current.photos.all()]
    current.delete()
    transaction.on_commit(lambda: _delete_files(files))


def check_report(report: MonthlyReport) -> tuple[dict[str, list[str]], list[dict[str, str]]]:
    """The hard errors and soft warnings the report would get if submitted now (changes nothing)."""
    errors: dict[str, list[str]] = {}
    message = rules.investment_missing(report.investment)
    if message:
        errors["investment"] = [message]
        return errors, []
    ctx = _context(report, report.project)
    errors.update(rules.hard_errors(ctx))
    return errors, rules.soft_warnings(ctx)


def _submission_hash(report: MonthlyReport) -> str:
    fields = (*FIGURE_FIELDS, "progress_text", "problems_text", "explanation")
    content = {
        "project": report.project_id, "year": report.year, "month": report.month,
        **{f: rules.plain(getattr(report, f)) for f in fields},
        "photos": sorted(report.photos.values_list("sha256", flat=True)),
    }  # fmt: skip
    return hashlib.sha256(json.dumps(content, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


@transaction.atomic
def submit(report: MonthlyReport, *, by: User, explanation: str | None = None, expected_version: int | None = None,
           now: datetime.datetime | None = None) -> MonthlyReport:  # fmt: skip
    """Submit a draft or a returned report to the responsible unit.

    Hard rules refuse it (nothing saved); soft rules store their warnings, and then an explanation
    is required. Year-to-date and since-start totals are derived and stored here, and recomputed for
    the project's later months.
    """
    access.ensure_project_visible(by, report.project)
    current = _lock_report(report, expected_version)
    project = current.project
    _refuse(access.filing_refusal(by, project, current))
    if current.status not in EDITABLE_STATUSES:
        raise _state_error(current, "提交")
    moment = _moment(now)
    today = timezone.localdate(moment)
    errors = _month_refusal(current.year, current.month, today, project)
    if errors:
        raise ValidationError(errors)
    before = _report_snapshot(current)
    if explanation is not None:
        current.explanation = _text(explanation, "情况说明", limit=2000)
    errors, found = check_report(current)
    if errors:
        raise ValidationError(errors)
    message = rules.explanation_missing(found, current.explanation)
    if message:
        error = ValidationError({"explanation": [ValidationError(message, code="explanation_required")]})
        error.warnings = found  # for the page and the API to show them
        raise error
    first_submission = not current.submission_hash
    current.warnings = found
    current.status = ReportStatus.SUBMITTED
    current.submitted_by, current.submitted_at = by, moment
    if first_submission:
        current.submitted_late = today > due_date(current.year, current.month)
    current.submission_hash = _submission_hash(current)
    current.version += 1
    current.save()
    _recompute_totals(project.pk, by=by, reason=f"{current.year}年{current.month}月月报提交后重算累计数",
                      exclude_pk=current.pk)  # fmt: skip
    current.refresh_from_db()
    record(actor=by, action=AuditRecord.Action.TRANSITION, obj=current, before=before,
           after=_report_snapshot(current), project_id=project.pk,
           reason="代企业提交" if not access.is_company_reporter(by, project) else "")  # fmt: skip
    if found:
        record(actor=by, action=AuditRecord.Action.OVERRIDE, obj=current, project_id=project.pk,
               after={"warnings": [w["code"] for w in found]}, reason=current.explanation)  # fmt: skip
    _sync(report, current)
    return report


# --- monthly reports: review --------------------------------------------------------------------------------


@transaction.atomic
def return_report(report: MonthlyReport, *, by: User, reason: str, expected_version: int | None = None,
                  now: datetime.datetime | None = None) -> MonthlyReport:  # fmt: skip
    """Send a report back to the company with a reason; its figures stop counting until resubmitted."""
    access.ensure_project_visible(by, report.project)
    current = _lock_report(report, expected_version)
    _refuse(access.return_refusal(by, current))
    allowed = [ReportStatus.SUBMITTED, ReportStatus.REVIEWED]
    if access.is_dispatcher(by):
        allowed.append(ReportStatus.CONFIRMED)
    if current.status not in allowed:
        raise _state_error(current, "退回")
    message = rules.closed_month(current.year, current.month, locked_through())
    if message:
        raise ValidationError(message, code="locked")
    reason = _text(reason, "退回理由", required=True, limit=MAX_REASON)
    before = _report_snapshot(current)
    current.status = ReportStatus.RETURNED
    current.return_reason = reason
    current.returned_by, current.returned_at = by, _moment(now)
    current.reviewed_by = current.reviewed_at = current.confirmed_by = current.confirmed_at = None
    current.version += 1
    current.save()
    _recompute_totals(current.project_id, by=by, reason=f"{current.year}年{current.month}月月报退回后重算累计数",
                      exclude_pk=current.pk)  # fmt: skip
    current.refresh_from_db()
    record(actor=by, action=AuditRecord.Action.TRANSITION, obj=current, before=before,
           after=_report_snapshot(current), project_id=current.project_id, reason=reason)  # fmt: skip
    _sync(report, current)
    return report


@transaction.atomic
def review(report: MonthlyReport, *, by: User, expected_version: int | None = None,
           now: datetime.datetime | None = None) -> MonthlyReport:  # fmt: skip
    """The responsible unit accepts a submitted report (it cannot change the figures)."""
    access.ensure_project_visible(by, report.project)
    current = _lock_report(report, expected_version)
    _refuse(access.review_refusal(by, current))
    if current.status != ReportStatus.SUBMITTED:
        raise _state_error(current, "审核")
    before = _report_snapshot(current)
    current.status = ReportStatus.REVIEWED
    current.reviewed_by, current.reviewed_at = by, _moment(now)
    current.version += 1
    current.save()
    record(actor=by, action=AuditRecord.Action.TRANSITION, obj=current, before=before,
           after=_report_snapshot(current), project_id=current.project_id)  # fmt: skip
    _sync(report, current)
    return report


@transaction.atomic
def confirm(report: MonthlyReport, *, by: User, expected_version: int | None = None,
            now: datetime.datetime | None = None) -> MonthlyReport:  # fmt: skip
    """The service center confirms a reviewed report."""
    access.ensure_project_visible(by, report.project)
    current = _lock_report(report, expected_version)
    _refuse(access.confirm_refusal(by))
    if current.status != ReportStatus.REVIEWED:
        raise _state_error(current, "确认（须先经责任单位审核）")
    before = _report_snapshot(current)
    current.status = ReportStatus.CONFIRMED
    current.confirmed_by, current.confirmed_at = by, _moment(now)
    current.version += 1
    current.save()
    record(actor=by, action=AuditRecord.Action.TRANSITION, obj=current, before=before,
           after=_report_snapshot(current), project_id=current.project_id)  # fmt: skip
    _sync(report, current)
    return report
