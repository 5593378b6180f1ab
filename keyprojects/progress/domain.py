"""Domain functions of monthly reports, annual plans, month locks and restatements.

Every change goes through here: each function checks that the actor sees the project (`Http404`
outside the scope) and may act (`PermissionDenied`), validates with the rules of `rules.py`
(`ValidationError` with Chinese messages, keyed by field where there is one), changes the rows in one
transaction and writes the audit trail. On refusal nothing is saved. Stale `expected_version` →
`ConflictError`.

`now` exists for tests, imports and seed data: it fixes the moment of the action and "today" (its
local date), used for "a month in the future" and for late filing.

Report workflow: `create_report` / `update_report` (draft or returned) → `submit` (hard rules block,
soft rules need an explanation) → `return_report` (with a reason) or `review` → `confirm`. Then
`lock_month` closes the month and every earlier one; a closed report changes only by `restate`.

Derived totals: `ytd_investment` and `since_start_investment` are stored on every counted report
(`models.COUNTED_STATUSES`) and recomputed for the project's later months whenever the counted set
changes (submit, return, restate, baseline); `recompute_totals` does it for bulk loaders.
Since-start = the project's `InvestmentBaseline` (what it completed before its first month in the
system; zero when none) + every counted month up to this one. Year-to-date = the counted months of
the year up to this one (+ the baseline's part of that year, for the year the project joined).
"""

from __future__ import annotations

import datetime
import hashlib
import io
import json
import os
import warnings
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import Max, Q
from django.utils import timezone

from keyprojects.audit.models import AuditRecord
from keyprojects.audit.trail import record, snapshot
from keyprojects.org.models import User
from keyprojects.progress import access, rules
from keyprojects.progress.models import (
    COUNTED_STATUSES,
    EDITABLE_STATUSES,
    FIGURE_FIELDS,
    AnnualPlan,
    AnnualPlanRevision,
    InvestmentBaseline,
    MonthLock,
    MonthlyReport,
    ProgressSettings,
    ReportPhoto,
    ReportStatus,
    Restatement,
    period_month,
    period_of,
)
from keyprojects.projects.models import Project
from keyprojects.rollups.cache import bump

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
def delete_draft(report: MonthlyReport, *, by: User) -> None:
    """Delete a draft that was never submitted (a report once submitted is kept for ever)."""
    access.ensure_project_visible(by, report.project)
    current = _lock_report(report, None)
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


# --- photos --------------------------------------------------------------------------------------------------

JPEG_MAGIC = b"\xff\xd8\xff"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _clean_name(name: str) -> str:
    base = os.path.basename((name or "").replace("\\", "/"))
    return "".join(ch for ch in base if ch.isprintable())[:200]


def _reencode(data: bytes, settings: ProgressSettings) -> tuple[bytes, str, int, int]:
    """Validate by magic bytes and by decoding, then re-encode (drops metadata and any payload)."""
    if data.startswith(JPEG_MAGIC):
        expected, content_type = "JPEG", "image/jpeg"
    elif data.startswith(PNG_MAGIC):
        expected, content_type = "PNG", "image/png"
    else:
        raise ValidationError({"photo": ["只能上传JPEG或PNG格式的照片。"]})
    from PIL import Image, ImageOps

    bad = ValidationError({"photo": ["照片文件已损坏或格式不正确，无法识别。"]})
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                if probe.format != expected:
                    raise bad
                width, height = probe.size
                if width * height > settings.photo_max_pixels:
                    raise ValidationError({"photo": [f"照片像素过大（{width}×{height}），请缩小后上传。"]})
                probe.verify()
            with Image.open(io.BytesIO(data)) as image:
                image.load()
                image = ImageOps.exif_transpose(image)
                out = io.BytesIO()
                if expected == "JPEG":
                    image.convert("RGB").save(out, "JPEG", quality=88, optimize=True)
                else:
                    if image.mode not in ("RGB", "RGBA", "L", "LA"):
                        image = image.convert("RGBA")
                    image.save(out, "PNG", optimize=True)
                width, height = image.size
    except ValidationError:
        raise
    except Exception:  # Pillow raises many kinds (OSError, SyntaxError, DecompressionBombError…)
        raise bad from None
    return out.getvalue(), content_type, width, height


@transaction.atomic
def add_photo(report: MonthlyReport, *, by: User, upload, caption: str = "") -> ReportPhoto:
    """Attach a site photo to a draft or returned report: jpeg/png only, size-limited, re-encoded."""
    access.ensure_project_visible(by, report.project)
    current = _lock_report(report, None)
    _refuse(access.filing_refusal(by, current.project, current))
    if current.status not in EDITABLE_STATUSES:
        raise _state_error(current, "添加照片")
    settings = ProgressSettings.load()
    if current.photos.count() >= settings.photos_per_report:
        raise ValidationError({"photo": [f"每份月报最多{settings.photos_per_report}张照片。"]})
    limit = settings.photo_max_bytes
    too_big = ValidationError({"photo": [f"照片不能超过{limit / 1024 / 1024:.1f}MB。"]})
    if getattr(upload, "size", None) is not None and upload.size > limit:
        raise too_big
    if hasattr(upload, "seek"):
        upload.seek(0)
    data = upload.read(limit + 1)
    if len(data) > limit:
        raise too_big
    if not data:
        raise ValidationError({"photo": ["照片文件为空。"]})
    encoded, content_type, width, height = _reencode(data, settings)
    photo = ReportPhoto(
        report=current, content_type=content_type, size=len(encoded), width=width, height=height,
        sha256=hashlib.sha256(encoded).hexdigest(), original_name=_clean_name(getattr(upload, "name", "")),
        caption=_text(caption, "照片说明", limit=200), uploaded_by=by,
    )  # fmt: skip
    photo.file.save("photo", ContentFile(encoded), save=False)
    name = photo.file.name
    try:
        photo.save()
    except Exception:
        _delete_files([name])
        raise
    record(actor=by, action=AuditRecord.Action.CREATE, obj=photo, project_id=current.project_id,
           after={"report": str(current), "file": name, "sha256": photo.sha256, "size": photo.size})  # fmt: skip
    return photo


@transaction.atomic
def remove_photo(photo: ReportPhoto, *, by: User) -> None:
    report = photo.report
    access.ensure_project_visible(by, report.project)
    current = _lock_report(report, None)
    _refuse(access.filing_refusal(by, current.project, current))
    if current.status not in EDITABLE_STATUSES:
        raise _state_error(current, "删除照片")
    record(actor=by, action=AuditRecord.Action.DELETE, obj=photo, project_id=current.project_id,
           before={"report": str(current), "file": photo.file.name, "sha256": photo.sha256})  # fmt: skip
    name = photo.file.name
    photo.delete()
    transaction.on_commit(lambda: _delete_files([name]))


def _delete_files(names: list[str]) -> None:
    from django.core.files.storage import default_storage

    for name in names:
        if name:
            default_storage.delete(name)


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


# --- annual plans -----------------------------------------------------------------------------------------------

PLAN_FLAGS = {"to_start": "计划年内开工", "to_complete": "计划年内竣工", "to_commission": "计划年内投产"}
PLAN_FIELDS = {"planned_investment", "monthly_plan", *PLAN_FLAGS}


def _flag(raw: Any, label: str) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in {"true", "1", "是", "yes"}:
        return True
    if isinstance(raw, str) and raw.strip().lower() in {"false", "0", "否", "no", ""}:
        return False
    if isinstance(raw, int) and raw in (0, 1):
        return bool(raw)
    raise ValidationError(f"{label}应为“是”或“否”。")


def _parse_plan(data: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    values = dict(current)
    for key in data:
        if key not in PLAN_FIELDS:
            errors.setdefault(key, []).append("该字段不可填写。")
    if "planned_investment" in data:
        try:
            values["planned_investment"] = rules.parse_amount(data["planned_investment"], "年度计划投资", required=True)
        except ValidationError as exc:
            errors["planned_investment"] = exc.messages
    for key, label in PLAN_FLAGS.items():
        if key in data:
            try:
                values[key] = _flag(data[key], label)
            except ValidationError as exc:
                errors[key] = exc.messages
    if "monthly_plan" in data:
        raw = data["monthly_plan"]
        if not raw:
            values["monthly_plan"] = []
        elif not isinstance(raw, (list, tuple)) or len(raw) != 12:
            errors["monthly_plan"] = ["分月计划须填写1至12月共12个数（或全部留空）。"]
        else:
            months = []
            for i, v in enumerate(raw, start=1):
                try:
                    months.append(rules.parse_amount(v, f"{i}月计划投资", required=True))
                except ValidationError as exc:
                    errors.setdefault("monthly_plan", []).extend(exc.messages)
            if len(months) == 12:
                values["monthly_plan"] = [str(m) for m in months]
    if errors:
        raise ValidationError(errors)
    if values.get("planned_investment") is None:
        raise ValidationError({"planned_investment": ["请填写年度计划投资。"]})
    if values["monthly_plan"]:
        total = sum((Decimal(v) for v in values["monthly_plan"]), ZERO)
        if total != values["planned_investment"]:
            planned = rules.wan(values["planned_investment"])
            raise ValidationError({"monthly_plan": [f"分月计划合计{rules.wan(total)}与年度计划{planned}不一致。"]})
    return values


def _plan_values(plan: AnnualPlan) -> dict[str, Any]:
    return {
        "planned_investment": plan.planned_investment, "to_start": plan.to_start, "to_complete": plan.to_complete,
        "to_commission": plan.to_commission, "monthly_plan": list(plan.monthly_plan or []),
    }  # fmt: skip


@transaction.atomic
def save_annual_plan(project: Project, *, by: User, year: int, data: dict[str, Any], reason: str = "",
                     effective_month: int | None = None, expected_version: int | None = None,
                     now: datetime.datetime | None = None) -> AnnualPlan:  # fmt: skip
    """Set a project's plan for a year, or revise it (a new kept version, with a reason).

    A revision applies from `effective_month` (default: the current month during the year, January
    before it, December after it); never from a closed month nor from before the previous revision.
    """
    access.ensure_project_visible(by, project)
    _refuse(access.plan_refusal(by, project))
    project = _lock_project(project.pk)
    today = _today(now)
    message = rules.invalid_month(year, 1)
    if message or year > today.year + 1:
        raise ValidationError({"year": [message or f"只能制定{today.year + 1}年及以前的年度计划。"]})
    plan = AnnualPlan.objects.select_for_update().filter(project=project, year=year).first()
    if plan is None:
        values = _parse_plan(data, {"planned_investment": None, "to_start": False, "to_complete": False,
                                    "to_commission": False, "monthly_plan": []})  # fmt: skip
        _check_plan_total(values, project)
        plan = AnnualPlan(project=project, year=year, original_planned_investment=values["planned_investment"],
                          created_by=by, **values)  # fmt: skip
        plan.save()
        AnnualPlanRevision.objects.create(plan=plan, number=1, effective_month=1, created_by=by,
                                          reason=_text(reason, "说明", limit=MAX_REASON) or "年初计划",
                                          **values)  # fmt: skip
        record(actor=by, action=AuditRecord.Action.CREATE, obj=plan, after=snapshot(plan), project_id=project.pk,
               reason=reason)  # fmt: skip
        return plan

    if expected_version is not None and plan.version != expected_version:
        raise ConflictError()
    old = _plan_values(plan)
    values = _parse_plan(data, old)
    _check_plan_total(values, project)
    diff = {k: {"old": rules.plain(old[k]), "new": rules.plain(values[k])} for k in old if old[k] != values[k]}
    if not diff:
        return plan
    reason = _text(reason, "调整理由", required=True, limit=MAX_REASON)
    last = plan.revisions.order_by("-number").first()
    if effective_month is None:
        effective_month = 1 if today.year < year else 12 if today.year > year else today.month
        effective_month = max(effective_month, last.effective_month)
    message = rules.invalid_month(year, effective_month)
    if message:
        raise ValidationError({"effective_month": [message]})
    if effective_month < last.effective_month:
        raise ValidationError(
            {"effective_month": [f"上一次调整自{last.effective_month}月起执行，本次调整不能早于该月。"]}
        )
    message = rules.closed_month(year, effective_month, locked_through())
    if message:
        raise ValidationError({"effective_month": [f"年度计划调整不能追溯到已锁定的月份：{message}"]})
    before = snapshot(plan)
    for key, value in values.items():
        setattr(plan, key, value)
    plan.revision_count += 1
    plan.effective_month = effective_month
    plan.version += 1
    plan.save()
    AnnualPlanRevision.objects.create(plan=plan, number=last.number + 1, effective_month=effective_month,
                                      changes=diff, reason=reason, created_by=by, **values)  # fmt: skip
    record(actor=by, action=AuditRecord.Action.UPDATE, obj=plan, before=before, after=snapshot(plan),
           project_id=project.pk, reason=f"{reason}（自{effective_month}月起执行）")  # fmt: skip
    return plan


def _check_plan_total(values: dict[str, Any], project: Project) -> None:
    if values["planned_investment"] > project.total_investment:
        raise ValidationError(
            {"planned_investment": [f"年度计划投资不能超过项目总投资{rules.wan(project.total_investment)}。"]}
        )


def plan_in_force(plan: AnnualPlan, month: int) -> AnnualPlanRevision:
    """The version of the plan that the rates of `month` use."""
    return plan.revisions.filter(effective_month__lte=month).order_by("-number").first()
