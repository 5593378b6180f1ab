"""`import_reports`: every row checked against the domain's rules, then all the reports submitted in bulk,
with their audit records, or none of them (`ImportRefused`).
"""

from __future__ import annotations

import datetime
import hashlib
import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from keyprojects.audit.models import AuditRecord
from keyprojects.audit.trail import snapshot
from keyprojects.lib import context
from keyprojects.org.models import User
from keyprojects.progress import access, domain, rules
from keyprojects.progress.excel_common import month_refusal
from keyprojects.progress.excel_import.common import (
    DATA_SHEET,
    FIELD_COLUMN,
    FILING_REFUSAL,
    INPUTS,
    TEXT_INPUTS,
    TITLE_ROW,
    CellError,
    ImportRefused,
    _cell_error,
    fileable_projects,
    may_file,
)
from keyprojects.progress.excel_import.reading import (
    Row,
    _unreadable,
    open_workbook,
    read_meta,
    read_rows,
    read_upload,
    screen,
)
from keyprojects.progress.models import (
    COUNTED_STATUSES,
    EDITABLE_STATUSES,
    FIGURE_FIELDS,
    InvestmentBaseline,
    MonthlyReport,
    ProgressSettings,
    ReportPhoto,
    ReportStatus,
    period_of,
)
from keyprojects.projects.models import Project
from keyprojects.rollups.cache import bump

# --- applying --------------------------------------------------------------------------------------------


@dataclass
class ImportResult:
    year: int
    month: int
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    flagged: int = 0
    late: bool = False
    report_ids: list[int] = field(default_factory=list)

    @property
    def submitted(self) -> int:
        return self.created + self.updated

    def as_dict(self) -> dict[str, Any]:
        return {"year": self.year, "month": self.month, "submitted": self.submitted, "created": self.created,
                "updated": self.updated, "unchanged": self.unchanged, "skipped": self.skipped,
                "flagged": self.flagged, "late": self.late}  # fmt: skip


def submission_hash(report: MonthlyReport, photos: list[str]) -> str:
    """The digest `domain.submit` stores (same content, same encoding); `photos` are their sha256s."""
    fields = (*FIGURE_FIELDS, "progress_text", "problems_text", "explanation")
    content = {
        "project": report.project_id, "year": report.year, "month": report.month,
        **{f: rules.plain(getattr(report, f)) for f in fields},
        "photos": sorted(photos),
    }  # fmt: skip
    return hashlib.sha256(json.dumps(content, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _chunks(items: list, size: int = 900):
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _same(report: MonthlyReport, values: dict[str, Any]) -> bool:
    for key, value in values.items():
        current = getattr(report, key)
        if key in TEXT_INPUTS:
            current = (current or "").strip()
        if current != value:
            return False
    return True


def _audit(user: User, action: str, report: MonthlyReport, *, before=None, after=None, reason: str = ""):
    ctx = context.current()
    return AuditRecord(
        actor=user if user and user.pk else None, actor_name=user.get_username() if user else "system",
        actor_unit=str(user.unit) if user and user.unit_id else "", channel=ctx.channel, request_id=ctx.request_id,
        object_type="monthlyreport", object_id=str(report.pk), object_repr=str(report)[:200],
        project_id=report.project_id, action=action, before=before, after=after, reason=reason[:200],
    )  # fmt: skip


def import_reports(user: User, upload, *, now: datetime.datetime | None = None, filename: str = "") -> ImportResult:
    """Check an uploaded template and submit its reports: all of them, or none (`ImportRefused`)."""
    if not may_file(user):
        raise PermissionDenied(FILING_REFUSAL)
    data = read_upload(upload)
    screen(data)
    wb = open_workbook(data)
    try:
        year, month, _unit = read_meta(wb)
        moment = now or timezone.now()
        if timezone.is_naive(moment):
            moment = timezone.make_aware(moment)
        today = timezone.localdate(moment)
        message = month_refusal(year, month, today) or rules.closed_month(year, month, domain.locked_through())
        if message:
            raise ImportRefused([CellError(message, row=TITLE_ROW, column="A")], markable=True)
        errors: list[CellError] = []
        try:
            rows = read_rows(wb[DATA_SHEET], errors)
        except ImportRefused:
            raise
        except Exception as exc:  # the sheet is parsed lazily: a malformed one fails here
            raise _unreadable(exc) from None
    finally:
        wb.close()
    name = (filename or getattr(upload, "name", "") or "").replace("\\", "/").rsplit("/", 1)[-1][:100]
    with context.bind(request_id=context.current().request_id or None, channel="import"), transaction.atomic():
        result = _apply(user, rows, errors, year, month, moment, today)
        if errors:
            errors.sort(key=lambda e: (e.row or 0, e.column or ""))
            raise ImportRefused(errors, markable=True)
        _summary(user, result, name, hashlib.sha256(data).hexdigest())
    return result


def _apply(user: User, rows: list[Row], errors: list[CellError], year: int, month: int,
           moment: datetime.datetime, today: datetime.date) -> ImportResult:  # fmt: skip
    result = ImportResult(year=year, month=month)
    period = period_of(year, month)
    ids = sorted({r.project_id for r in rows if r.given})
    allowed = fileable_projects(user)
    projects: dict[int, Project] = {}
    fields = ("id", "name", "code", "total_investment", "stage", "actual_start", "actual_end", "owner_unit_id",
              "responsible_unit_id", "owner_name")  # fmt: skip
    for chunk in _chunks(ids):
        found = list(allowed.filter(pk__in=chunk).values_list("pk", flat=True))
        # Serialise with other writers of these projects' reports (PostgreSQL row locks; SQLite's
        # IMMEDIATE transaction already holds the write lock).
        for p in Project.objects.select_for_update().filter(pk__in=found).only(*fields).order_by("pk"):
            projects[p.pk] = p
    baselines = {}
    existing: dict[int, MonthlyReport] = {}
    history: dict[int, dict[int, Decimal]] = {pid: {} for pid in projects}
    photos: dict[int, list[str]] = {}
    known = sorted(projects)
    for chunk in _chunks(known):
        for b in InvestmentBaseline.objects.filter(project_id__in=chunk):
            baselines[b.project_id] = b
        for r in MonthlyReport.objects.filter(project_id__in=chunk, year=year, month=month):
            r.project = projects[r.project_id]
            existing[r.project_id] = r
        counted = (
            MonthlyReport.objects.filter(project_id__in=chunk, status__in=COUNTED_STATUSES)
            .exclude(period=period)
            .values_list("project_id", "period", "investment")
        )
        for pid, p, inv in counted:
            history[pid][p] = inv or Decimal("0")
    editable_ids = [r.pk for r in existing.values() if r.status in EDITABLE_STATUSES]
    for chunk in _chunks(editable_ids):
        for rid, sha in ReportPhoto.objects.filter(report_id__in=chunk).values_list("report_id", "sha256"):
            photos.setdefault(rid, []).append(sha)
    settings = ProgressSettings.load()
    late = today > domain.due_date(year, month, settings)
    result.late = late
    company = {pid for pid, p in projects.items() if access.is_company_reporter(user, p)}

    creates: list[MonthlyReport] = []
    updates: list[tuple[MonthlyReport, dict]] = []
    flagged: list[MonthlyReport] = []
    failed_rows = {e.row for e in errors}
    for row in rows:
        if not row.given:
            result.skipped += 1  # left empty: not reported by this file (whoever's project it is)
            continue
        project = projects.get(row.project_id)
        if project is None:
            errors.append(_cell_error(row.number, "project_id",
                                      f"项目（ID {row.project_id}）不存在或不在您的填报范围内。"))  # fmt: skip
            continue
        if row.name and row.name != project.name.strip():
            errors.append(_cell_error(row.number, "name", f"项目名称与系统不一致（系统中为“{project.name}”），"
                                                          "请重新下载模板。"))  # fmt: skip
            continue
        if row.number in failed_rows:
            continue
        baseline = baselines.get(project.pk)
        message = rules.before_baseline(year, month, baseline.first_period if baseline else None)
        if message:
            errors.append(_cell_error(row.number, "investment", message))
            continue
        report = existing.get(project.pk)
        values = row.values
        if report is not None and report.status not in EDITABLE_STATUSES:
            if _same(report, {k: v for k, v in values.items() if k != "explanation"}):
                result.unchanged += 1
            else:
                errors.append(_cell_error(row.number, "investment",
                    f"该项目{year}年{month}月的月报已{report.get_status_display()}，不能通过导入修改；"
                    "如需修改，请由责任单位退回后重新填报。"))  # fmt: skip
            continue
        if report is not None:
            refusal = access.filing_refusal(user, project, report)
            if refusal:
                errors.append(_cell_error(row.number, "investment", refusal))
                continue
        ctx = rules.Context(
            year=year, month=month, investment=values["investment"], output_value=values["output_value"],
            tax=values["tax"], total_investment=project.total_investment, stage=project.stage,
            actual_start=project.actual_start, actual_end=project.actual_end, history=history[project.pk],
            baseline_amount=baseline.amount if baseline else Decimal("0"),
            baseline_ytd=baseline.ytd_amount if baseline else Decimal("0"),
            baseline_first_period=baseline.first_period if baseline else None, settings=settings,
        )  # fmt: skip
        hard = rules.hard_errors(ctx)
        if hard:
            for key, messages in hard.items():
                for text in messages:
                    errors.append(_cell_error(row.number, FIELD_COLUMN.get(key, "investment"), text))
            continue
        found = rules.soft_warnings(ctx)
        missing = rules.explanation_missing(found, values["explanation"])
        if missing:
            errors.append(_cell_error(row.number, "explanation", missing))
            continue
        fields_now = {**values, "warnings": found, "ytd_investment": ctx.ytd(), "since_start_investment":
                      ctx.since_start()}  # fmt: skip
        if report is None:
            new = MonthlyReport(project=project, year=year, month=month, created_by=user,
                                on_behalf=project.pk not in company, **fields_now)  # fmt: skip
            creates.append(new)
        else:
            updates.append((report, fields_now))
    if errors:
        return result

    for new in creates:
        new.status = ReportStatus.SUBMITTED
        new.submitted_by, new.submitted_at, new.submitted_late = user, moment, late
        new.submission_hash = submission_hash(new, [])
        new.version = 2  # as create (1) then submit (2)
    MonthlyReport.objects.bulk_create(creates, batch_size=500)
    records: list[AuditRecord] = []
    for new in creates:
        reason = "Excel导入并提交" + ("（代企业填报）" if new.on_behalf else "")
        records.append(_audit(user, AuditRecord.Action.CREATE, new, after=snapshot(new, domain.TRACKED), reason=reason))
    changed: list[MonthlyReport] = []
    for report, values in updates:
        before = snapshot(report, domain.TRACKED)
        first_submission = not report.submission_hash
        for key, value in values.items():
            setattr(report, key, value)
        report.status = ReportStatus.SUBMITTED
        report.submitted_by, report.submitted_at = user, moment
        if first_submission:
            report.submitted_late = late
        report.submission_hash = submission_hash(report, photos.get(report.pk, []))
        report.version += 1
        report.updated_at = moment
        changed.append(report)
        records.append(_audit(user, AuditRecord.Action.TRANSITION, report, before=before,
                              after=snapshot(report, domain.TRACKED),
                              reason="Excel导入并提交" + ("（代企业提交）" if report.on_behalf else "")))  # fmt: skip
    if changed:
        MonthlyReport.objects.bulk_update(
            changed,
            [*INPUTS, "warnings", "ytd_investment", "since_start_investment", "status", "submitted_by",
             "submitted_at", "submitted_late", "submission_hash", "version", "updated_at"],
            batch_size=500,
        )  # fmt: skip
    for report in [*creates, *changed]:
        if report.warnings:
            flagged.append(report)
            records.append(_audit(user, AuditRecord.Action.OVERRIDE, report,
                                  after={"warnings": [w["code"] for w in report.warnings]},
                                  reason=report.explanation))  # fmt: skip
    AuditRecord.objects.bulk_create(records, batch_size=500)
    bump("progress")  # bulk writes send no save signal: cached rates are recomputed after the commit
    # Later months' stored totals change when an earlier month is (re)submitted: recompute those projects.
    touched = sorted({r.project_id for r in [*creates, *changed]})
    for chunk in _chunks(touched):
        later = (
            MonthlyReport.objects.filter(project_id__in=chunk, period__gt=period, status__in=COUNTED_STATUSES)
            .values_list("project_id", flat=True)
            .distinct()
        )
        for pid in sorted(set(later)):
            domain.recompute_totals(projects[pid], by=user, reason=f"Excel导入{year}年{month}月月报后重算累计数")
    result.created, result.updated, result.flagged = len(creates), len(changed), len(flagged)
    result.report_ids = [r.pk for r in [*creates, *changed]]
    return result


def _summary(user: User, result: ImportResult, filename: str, digest: str) -> None:
    if not result.submitted:
        return
    ctx = context.current()
    AuditRecord.objects.create(
        actor=user, actor_name=user.get_username(), actor_unit=str(user.unit) if user.unit_id else "",
        channel=ctx.channel, request_id=ctx.request_id, object_type="monthlyreport", object_id="import",
        object_repr=f"Excel导入{result.year}年{result.month}月月报 {result.submitted} 份"[:200],
        action=AuditRecord.Action.CREATE,
        after={"文件": filename, "sha256": digest, **result.as_dict()},
        reason="Excel导入月报",
    )  # fmt: skip
