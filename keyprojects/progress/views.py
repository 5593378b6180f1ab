"""Server-rendered pages of monthly reports (月报), annual plans, month locks and completion rates.

Every report is fetched through `keyprojects.progress.access` (outside the scope: 404) and every change
goes through `keyprojects.progress.domain`, which checks the role (403), validates (shown at the form
fields, 400) and writes the audit trail. A workflow step out of order or a stale version is 409, with
the message at the top of the form; nothing is saved.

Reviewers (责任单位, 服务中心) get return / review / confirm buttons and never a form with the figures:
the company's figures change only through the company's own form, or, after the month is closed,
through an explicit restatement (更正) that every view shows.
"""

from __future__ import annotations

import datetime
import functools
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, DecimalField, Exists, OuterRef, Q, Subquery
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from keyprojects.lib.money import quantize_wan
from keyprojects.lib.pagination import DeferredJoinPaginator
from keyprojects.org.models import Role
from keyprojects.progress import access, domain, rates
from keyprojects.progress.forms import (
    RATE_SORTS,
    AnnualPlanForm,
    LockForm,
    NewReportForm,
    PeriodForm,
    PhotoForm,
    RatesForm,
    ReportForm,
    ReportListFilter,
    RestateForm,
    ReturnForm,
    SubmitForm,
    VersionForm,
    last_month,
)
from keyprojects.progress.models import (
    COUNTED_STATUSES,
    EDITABLE_STATUSES,
    AnnualPlan,
    MonthLock,
    MonthlyReport,
    ProgressSettings,
    ReportPhoto,
    ReportStatus,
    Restatement,
    period_month,
    period_of,
)
from keyprojects.projects import access as project_access
from keyprojects.projects.filters import ProjectFilter
from keyprojects.projects.forms import attach_errors
from keyprojects.projects.models import Project

PER_PAGE = 25
ZERO = Decimal("0")
MONEY = DecimalField(max_digits=14, decimal_places=2)
FIGURE_LABELS = {
    "investment": "本月完成投资",
    "workers_on_site": "在岗工人数",
    "output_value": "本月产值",
    "tax": "本月税收",
    "ytd_investment": "年度累计完成投资",
    "since_start_investment": "开工累计完成投资",
}
STATUS_BADGES = {
    "missing": "kp-rs kp-rs-missing",
    ReportStatus.DRAFT: "kp-rs kp-rs-draft",
    ReportStatus.SUBMITTED: "kp-rs kp-rs-submitted",
    ReportStatus.RETURNED: "kp-rs kp-rs-returned",
    ReportStatus.REVIEWED: "kp-rs kp-rs-reviewed",
    ReportStatus.CONFIRMED: "kp-rs kp-rs-confirmed",
}
# Workflow refusals that are about the report's state, not the input: 409.
STATE_CODES = {"invalid_state", "locked", "not_locked", "pending"}


def report_page(view):
    """Signed-in users with a business data scope only; 三员 accounts get 403."""

    @login_required
    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not project_access.can_see_projects(request.user):
            raise PermissionDenied(_("您的账号没有查看月报的权限。"))
        return view(request, *args, **kwargs)

    return wrapper


def _today() -> datetime.date:
    return timezone.localdate()


def _error_status(exc: ValidationError) -> int:
    return 409 if getattr(exc, "code", None) in STATE_CODES else 400


def _percent(ratio: Decimal | None) -> str:
    return rates.percent(ratio)


def _gap_text(gap: Decimal | None) -> str:
    """The gap to 时序进度: "超时序进度 N 个百分点" / "落后 N 个百分点"."""
    if gap is None:
        return "—"
    value = gap.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    if value >= 0:
        return _("超时序进度 %(n)s 个百分点") % {"n": value}
    return _("落后 %(n)s 个百分点") % {"n": -value}


def _plain(value: Any) -> str:
    """A stored old/new value as staff read it (amounts with separators)."""
    if value is None or value == "":
        return "—"
    try:
        amount = Decimal(str(value))
    except ArithmeticError:
        return str(value)
    if amount == amount.to_integral_value() and "." not in str(value):
        return f"{amount:,}"
    return f"{quantize_wan(amount):,}"


def restatement_lines(restatements: list[Restatement]) -> list[dict[str, Any]]:
    """Each restatement as who/when/why and its old → new figures."""
    out = []
    for r in restatements:
        changes = [
            {"label": FIGURE_LABELS.get(name, name), "field": name, "old": _plain(pair.get("old")),
             "new": _plain(pair.get("new"))}
            for name, pair in (r.changes or {}).items()
        ]  # fmt: skip
        out.append({"restatement": r, "changes": changes})
    return out


def restated_fields(restatements: list[Restatement]) -> dict[str, dict[str, str]]:
    """For each corrected figure, the first old value and the latest new value."""
    fields: dict[str, dict[str, str]] = {}
    for r in restatements:
        for name, pair in (r.changes or {}).items():
            entry = fields.setdefault(name, {"old": _plain(pair.get("old"))})
            entry["new"] = _plain(pair.get("new"))
    return fields


def _restatements_by_report(report_ids: list[int]) -> dict[int, list[Restatement]]:
    out: dict[int, list[Restatement]] = {}
    if not report_ids:
        return out
    for r in Restatement.objects.filter(report_id__in=report_ids).select_related("restated_by").order_by("id"):
        out.setdefault(r.report_id, []).append(r)
    return out


def _restatement_title(restatements: list[Restatement]) -> str:
    parts = []
    for name, pair in restated_fields(restatements).items():
        parts.append(f"{FIGURE_LABELS.get(name, name)} {pair['old']} → {pair['new']}")
    return _("已更正：") + "；".join(parts) if parts else ""


def _plans_in_force(project_ids: list[int], year: int, month: int) -> dict[int, dict[str, Any]]:
    """The plan in force at (year, month) and the original plan, per project."""
    if not project_ids:
        return {}
    rows = (
        AnnualPlan.objects.filter(project_id__in=project_ids, year=year)
        .annotate(_planned=rates.in_force("planned_investment", month, MONEY))
        .values("project_id", "pk", "_planned", "planned_investment", "original_planned_investment")
    )
    return {r["project_id"]: r for r in rows}


def _totals(project_ids: list[int], year: int, month: int) -> dict[int, tuple[Decimal, Decimal]]:
    """Each project's year-to-date and since-start totals at (year, month), as the rates count them.

    From the stored totals of the project's latest counted report up to the month (in the year, for
    the year-to-date), or else its baseline (see `rates.completion_table`). One query.
    """
    if not project_ids:
        return {}
    period = period_of(year, month)
    latest = rates.counted_reports().filter(project=OuterRef("pk"), period__lte=period).order_by("-period")
    in_year = latest.filter(period__gte=period_of(year, 1))
    rows = (
        Project.objects.filter(pk__in=project_ids)
        .annotate(
            _ss=Subquery(latest.values("since_start_investment")[:1], output_field=MONEY),
            _ytd=Subquery(in_year.values("ytd_investment")[:1], output_field=MONEY),
        )
        .values_list(
            "pk", "_ss", "_ytd", "investment_baseline__amount", "investment_baseline__ytd_amount",
            "investment_baseline__first_year", "investment_baseline__first_month",
        )
    )  # fmt: skip
    out = {}
    for pk, ss, ytd, base, base_ytd, first_year, first_month in rows:
        if ss is None:
            applies = first_year is not None and (
                first_year < year
                or (first_year == year and first_month <= month + 1)
                or (month == 12 and first_year == year + 1 and first_month == 1)
            )
            ss = base if applies else ZERO
        if ytd is None:
            ytd = base_ytd if first_year == year and first_month <= month + 1 else ZERO
        out[pk] = (ytd, ss)
    return out


def _detail_context(request: HttpRequest, project: Project) -> dict[str, Any]:
    """What projects/detail_base.html needs (the header and the tabs)."""
    user = request.user
    return {
        "nav": "projects",
        "project": project,
        "tab": "reports",
        "can_edit": project_access.can_edit_project(user, project),
        "can_delete": project_access.can_delete_project(user, project),
    }


def _filters_invalid(filter_form: ProjectFilter) -> bool:
    return bool(filter_form.is_bound and filter_form.errors)


# ---------------------------------------------------------------------------------------------
# /reports/: one row per project expected to report for the month


@dataclass
class ReportRow:
    project: Project
    report: MonthlyReport | None
    ytd: Decimal
    since_start: Decimal
    plan: Decimal | None
    original_plan: Decimal | None
    overdue: bool
    can_file: bool = False
    restatements: list[Restatement] = field(default_factory=list)

    @property
    def state(self) -> str:
        return self.report.status if self.report else "missing"

    @property
    def state_label(self) -> str:
        return self.report.get_status_display() if self.report else _("未填报")

    @property
    def badge(self) -> str:
        return STATUS_BADGES.get(self.state, "kp-rs")

    @property
    def counted(self) -> bool:
        return self.report is not None and self.report.status in COUNTED_STATUSES

    @property
    def rate(self) -> str:
        if not self.plan:
            return "—"
        return _percent(self.ytd / self.plan)

    @property
    def plan_revised(self) -> bool:
        return self.plan is not None and self.original_plan is not None and self.plan != self.original_plan

    @property
    def restated_title(self) -> str:
        return _restatement_title(self.restatements)


def _report_filter(rows, data: dict[str, Any], year: int, month: int, today: datetime.date, due: datetime.date):
    report = MonthlyReport.objects.filter(project=OuterRef("pk"), year=year, month=month)
    state = data.get("report_status")
    if state == "missing":
        rows = rows.filter(_report_status__isnull=True)
    elif state:
        rows = rows.filter(_report_status=state)
    flag = data.get("flag")
    if flag == "overdue":
        if today <= due:
            rows = rows.none()
        else:
            rows = rows.filter(Q(_report_status__isnull=True) | Q(_report_status__in=EDITABLE_STATUSES))
    elif flag == "late":
        rows = rows.filter(Exists(report.filter(submitted_late=True)))
    elif flag == "warnings":
        rows = rows.filter(Exists(report.exclude(warnings=[])))
    elif flag == "restated":
        rows = rows.filter(Exists(report.filter(restatement_count__gt=0)))
    return rows


@report_page
@require_http_methods(["GET", "HEAD"])
def report_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    today = _today()
    period_form = ReportListFilter(request.GET, today=today)
    filter_form = ProjectFilter(request.GET)
    year, month = period_form.period()
    data = period_form.cleaned_data if period_form.is_valid() else {}
    settings = ProgressSettings.load()
    due = domain.due_date(year, month, settings)

    report = MonthlyReport.objects.filter(project=OuterRef("pk"), year=year, month=month)
    expected = rates.expected_reporters(filter_form.filter(project_access.visible_projects(user)), year, month)
    expected = expected.annotate(_report_status=Subquery(report.values("status")[:1]))
    summary = expected.order_by().aggregate(
        total=Count("pk"),
        missing=Count("pk", filter=Q(_report_status__isnull=True)),
        **{status: Count("pk", filter=Q(_report_status=status)) for status in ReportStatus.values},
    )
    rows = _report_filter(expected, data, year, month, today, due).select_related("responsible_unit")
    paginator = DeferredJoinPaginator(rows, PER_PAGE)
    page = paginator.get_page(request.GET.get("page"))
    projects = list(page.object_list)
    ids = [p.pk for p in projects]
    reports = {r.project_id: r for r in MonthlyReport.objects.filter(project_id__in=ids, year=year, month=month)}
    restated = _restatements_by_report([r.pk for r in reports.values() if r.restatement_count])
    plans = _plans_in_force(ids, year, month)
    totals = _totals(ids, year, month)
    past_due = today > due
    closed = domain.is_locked(year, month)
    page_rows = []
    for project in projects:
        r = reports.get(project.pk)
        plan = plans.get(project.pk)
        ytd, since_start = totals.get(project.pk, (ZERO, ZERO))
        page_rows.append(
            ReportRow(
                project=project, report=r, ytd=ytd, since_start=since_start,
                plan=plan["_planned"] if plan else None,
                original_plan=plan["original_planned_investment"] if plan else None,
                overdue=past_due and (r is None or r.status in EDITABLE_STATUSES),
                can_file=r is None and not closed and access.filing_refusal(user, project) is None,
                restatements=restated.get(r.pk, []) if r else [],
            )
        )  # fmt: skip
    chips = [("missing", _("未填报"), summary["missing"])]
    chips += [(s.value, s.label, summary[s.value]) for s in ReportStatus]
    ctx = {
        "nav": "reports",
        "period_form": period_form,
        "filter_form": filter_form,
        "filters_invalid": _filters_invalid(filter_form),
        "year": year,
        "month": month,
        "due": due,
        "past_due": past_due,
        "summary": summary,
        "chips": chips,
        "badges": STATUS_BADGES,
        "page": page,
        "rows": page_rows,
        "page_range": paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1),
        "closed": closed,
        "can_see_overdue": _can_see_overdue(user),
        "is_dispatcher": access.is_dispatcher(user),
    }
    return render(request, "progress/report_list.html", ctx)


def _can_see_overdue(user) -> bool:
    return user.has_role(Role.DISPATCHER, Role.UNIT_OFFICER, Role.LEADER)


@report_page
@require_http_methods(["GET", "HEAD"])
def report_overdue(request: HttpRequest) -> HttpResponse:
    """Per responsible unit, the reports not filed (or not resubmitted) after the due day."""
    user = request.user
    if not _can_see_overdue(user):
        raise PermissionDenied(_("只有项目服务中心、责任单位和领导可以查看逾期未报清单。"))
    today = _today()
    period_form = PeriodForm(request.GET, today=today)
    filter_form = ProjectFilter(request.GET)
    year, month = period_form.period()
    settings = ProgressSettings.load()
    due = domain.due_date(year, month, settings)
    groups = rates.overdue_reports(
        filter_form.filter(project_access.visible_projects(user)), year, month, today=today, settings=settings
    )
    for group in groups:
        for item in group.items:
            item.label = rates.OVERDUE_LABELS.get(item.status, item.status)
            item.badge = STATUS_BADGES.get(item.status, "kp-rs")
    ctx = {
        "nav": "reports",
        "period_form": period_form,
        "filter_form": filter_form,
        "filters_invalid": _filters_invalid(filter_form),
        "year": year,
        "month": month,
        "due": due,
        "not_due_yet": today <= due,
        "groups": groups,
        "total": sum(len(g.items) for g in groups),
        "days_overdue": (today - due).days,
    }
    return render(request, "progress/overdue.html", ctx)


# ---------------------------------------------------------------------------------------------
# /projects/<pk>/reports/: the year's plan, the months and the chart


def _year_param(request: HttpRequest, today: datetime.date) -> int:
    try:
        year = int(request.GET.get("year", ""))
    except ValueError:
        return today.year
    return year if 2000 <= year <= today.year + 1 else today.year


def _render_project_reports(request: HttpRequest, project: Project, year: int, plan_form: AnnualPlanForm | None = None,
                            status: int = 200) -> HttpResponse:  # fmt: skip
    user = request.user
    today = _today()
    plan = (
        AnnualPlan.objects.filter(project=project, year=year)
        .prefetch_related("revisions__created_by")
        .select_related("created_by")
        .first()
    )
    revisions = list(plan.revisions.all()) if plan else []
    reports = {r.month: r for r in MonthlyReport.objects.filter(project=project, year=year)}
    restated = _restatements_by_report([r.pk for r in reports.values() if r.restatement_count])
    through = domain.locked_through()
    baseline = getattr(project, "investment_baseline", None)
    first_period = baseline.first_period if baseline else None
    can_file = access.filing_refusal(user, project) is None
    settings = ProgressSettings.load()
    last = 12 if year < today.year else today.month if year == today.year else 0
    months = []
    for m in range(1, last + 1):
        r = reports.get(m)
        period = period_of(year, m)
        closed = through is not None and period <= through
        before = first_period is not None and period < first_period
        due = domain.due_date(year, m, settings)
        months.append({
            "month": m, "report": r, "closed": closed, "before_baseline": before,
            "current": (year, m) == (today.year, today.month),
            "badge": STATUS_BADGES.get(r.status if r else "missing"),
            "overdue": today > due and (r is None or r.status in EDITABLE_STATUSES) and not closed and not before,
            "can_file": can_file and r is None and not closed and not before,
            "restated_title": _restatement_title(restated.get(r.pk, [])) if r else "",
        })  # fmt: skip
    series = rates.project_series(project, year)
    plan_editable = access.plan_refusal(user, project) is None and year <= today.year + 1
    if plan_form is None and plan_editable:
        plan_form = AnnualPlanForm(plan=plan)
    ctx = _detail_context(request, project)
    ctx.update(
        year=year,
        years=list(range(today.year + 1, today.year - 6, -1)),
        plan=plan,
        revisions=revisions,
        months=list(reversed(months)),
        series=_series_json(series, plan),
        plan_form=plan_form if plan_editable else None,
        can_file=can_file,
        baseline=baseline,
        totals=_year_totals(reports),
    )
    return render(request, "progress/project_reports.html", ctx, status=status)


def _year_totals(reports: dict[int, MonthlyReport]) -> dict[str, Any]:
    counted = [r for r in reports.values() if r.status in COUNTED_STATUSES]
    latest = max(counted, key=lambda r: r.month, default=None)
    return {
        "ytd": latest.ytd_investment if latest else None,
        "since_start": latest.since_start_investment if latest else None,
        "through": latest.month if latest else None,
    }


def _series_json(series: dict[str, Any], plan: AnnualPlan | None) -> dict[str, Any]:
    """The chart's data: amounts as strings (never floats on the server), labels in the page's language."""

    def strings(values):
        return None if values is None else [None if v is None else str(v) for v in values]

    annual = series["annual_plan"]
    # Without a monthly breakdown, the plan line is the annual plan spread evenly (时序进度).
    plan_line = series["plan_cumulative"]
    plan_label = _("计划累计")
    if plan_line is None and annual:
        plan_line = [(annual * m / 12).quantize(Decimal("0.01")) for m in range(1, 13)]
        plan_label = _("年度计划×时序进度")
    year = series["year"]
    return {
        "months": [_("%(m)s月") % {"m": m} for m in series["months"]],
        "actual": strings(series["actual"]),
        "actual_cumulative": strings(series["actual_cumulative"]),
        "last_year_cumulative": strings(series["last_year_cumulative"]),
        "plan_cumulative": strings(plan_line),
        "annual_plan": None if annual is None else str(annual),
        "labels": {
            "actual": _("%(y)s年当月完成") % {"y": year},
            "actual_cumulative": _("%(y)s年累计完成") % {"y": year},
            "last_year_cumulative": _("%(y)s年累计完成") % {"y": year - 1},
            "plan_cumulative": plan_label,
            "annual_plan": _("年度计划"),
            "unit": _("万元"),
        },
    }


@report_page
@require_http_methods(["GET", "HEAD"])
def project_reports(request: HttpRequest, pk: int) -> HttpResponse:
    project = project_access.get_project(request.user, pk)
    return _render_project_reports(request, project, _year_param(request, _today()))


@report_page
@require_POST
def annual_plan_save(request: HttpRequest, pk: int, year: int) -> HttpResponse:
    """Set or revise the project's plan for the year (调度员 or the responsible unit)."""
    user = request.user
    project = project_access.get_project(user, pk)
    refusal = access.plan_refusal(user, project)
    if refusal:
        raise PermissionDenied(refusal)
    plan = AnnualPlan.objects.filter(project=project, year=year).first()
    form = AnnualPlanForm(request.POST, plan=plan)
    status = 400
    if form.is_valid():
        try:
            saved = domain.save_annual_plan(
                project, by=user, year=year, data=form.domain_data(), reason=form.cleaned_data["reason"],
                effective_month=form.cleaned_data.get("effective_month"),
                expected_version=form.cleaned_data.get("version") if plan else None,
            )  # fmt: skip
        except domain.ConflictError as exc:
            form.add_error(None, _(exc.message))
            status = 409
        except ValidationError as exc:
            attach_errors(form, exc)
        else:
            if plan is None:
                messages.success(request, _("%(y)s年度计划已制定。") % {"y": year})
            elif saved.version == plan.version:
                messages.info(request, _("年度计划没有变化。"))
            else:
                messages.success(request, _("年度计划已调整（第%(n)s次调整）。") % {"n": saved.revision_count})
            return redirect(f"{reverse('project-reports', args=[project.pk])}?year={year}#plan")
    return _render_project_reports(request, project, year, plan_form=form, status=status)


# ---------------------------------------------------------------------------------------------
# Filing: new report, edit, photos


def _may_file(user, project: Project, report: MonthlyReport | None = None) -> None:
    refusal = access.filing_refusal(user, project, report)
    if refusal:
        raise PermissionDenied(refusal)


@report_page
@require_http_methods(["GET", "POST"])
def report_create(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    today = _today()
    project = project_access.get_project(user, pk)
    _may_file(user, project)
    initial_year, initial_month = last_month(today)
    try:
        initial_year = int(request.GET.get("year", initial_year))
        initial_month = int(request.GET.get("month", initial_month))
    except ValueError:
        pass
    if request.method == "GET":
        existing = MonthlyReport.objects.filter(project=project, year=initial_year, month=initial_month).first()
        if existing:
            messages.info(request, _("该月的月报已存在，已为您打开。"))
            return redirect("report-detail", pk=existing.pk)
    form = NewReportForm(request.POST or None, today=today, initial={"year": initial_year, "month": initial_month})
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                report = domain.create_report(
                    project, by=user, year=form.cleaned_data["year"], month=form.cleaned_data["month"],
                    data=form.domain_data(),
                )  # fmt: skip
            except ValidationError as exc:
                attach_errors(form, exc)
            else:
                messages.success(request, _("月报草稿已保存。请核对后添加照片并提交。"))
                return redirect("report-detail", pk=report.pk)
    ctx = _detail_context(request, project)
    ctx.update(form=form, report=None, on_behalf=not access.is_company_reporter(user, project))
    return render(request, "progress/report_form.html", ctx, status=status)


@report_page
@require_http_methods(["GET", "POST"])
def report_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    report = access.get_report(user, pk)
    project = report.project
    _may_file(user, project, report)
    if report.status not in EDITABLE_STATUSES:
        messages.error(request, _("只有草稿和退回的月报可以修改。"))
        return redirect("report-detail", pk=report.pk)
    form = ReportForm(request.POST or None, report=report)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                domain.update_report(report, by=user, data=form.domain_data(),
                                     expected_version=form.cleaned_data.get("version"))  # fmt: skip
            except domain.ConflictError as exc:
                form.add_error(None, _(exc.message))
                status = 409
            except ValidationError as exc:
                attach_errors(form, exc)
                status = _error_status(exc)
            else:
                messages.success(request, _("月报已保存。"))
                return redirect("report-detail", pk=report.pk)
    ctx = _detail_context(request, project)
    ctx.update(form=form, report=report, on_behalf=report.on_behalf)
    return render(request, "progress/report_form.html", ctx, status=status)


@report_page
@require_POST
def photo_add(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    report = access.get_report(user, pk)
    _may_file(user, report.project, report)
    form = PhotoForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            domain.add_photo(report, by=user, upload=form.cleaned_data["photo"], caption=form.cleaned_data["caption"])
        except ValidationError as exc:
            attach_errors(form, exc)
            return _render_detail(request, report, {"photo": form}, status=_error_status(exc))
        messages.success(request, _("照片已上传。"))
        return redirect(f"{reverse('report-detail', args=[report.pk])}#photos")
    return _render_detail(request, report, {"photo": form}, status=400)


@report_page
@require_POST
def photo_delete(request: HttpRequest, pk: int, photo_pk: int) -> HttpResponse:
    user = request.user
    report = access.get_report(user, pk)
    photo = _get_photo(report, photo_pk)
    try:
        domain.remove_photo(photo, by=user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("report-detail", pk=report.pk)
    messages.success(request, _("照片已删除。"))
    return redirect(f"{reverse('report-detail', args=[report.pk])}#photos")


def _get_photo(report: MonthlyReport, photo_pk) -> ReportPhoto:
    try:
        return report.photos.get(pk=int(photo_pk))
    except (ReportPhoto.DoesNotExist, ValueError, TypeError, OverflowError):
        raise Http404(_("照片不存在。")) from None


@report_page
@require_http_methods(["GET", "HEAD"])
def photo_file(request: HttpRequest, pk: int, photo_pk: int) -> FileResponse:
    """Stream a site photo to someone who may see the report; never served by path."""
    report = access.get_report(request.user, pk)
    photo = _get_photo(report, photo_pk)
    try:
        handle = photo.file.open("rb")
    except (FileNotFoundError, OSError):
        raise Http404(_("文件不存在。")) from None
    suffix = "png" if photo.content_type == "image/png" else "jpg"
    response = FileResponse(handle, content_type=photo.content_type, filename=f"photo-{photo.pk}.{suffix}")
    response["Cache-Control"] = "private, max-age=3600"
    return response


# ---------------------------------------------------------------------------------------------
# /reports/<id>/ and its workflow actions


ACTION_FORMS = {
    "submit": SubmitForm,
    "return": ReturnForm,
    "review": VersionForm,
    "confirm": VersionForm,
    "delete": VersionForm,
}
ACTION_MESSAGES = {
    "submit": gettext_lazy("月报已提交，等待责任单位审核。"),
    "return": gettext_lazy("月报已退回企业。"),
    "review": gettext_lazy("月报已审核，等待项目服务中心确认。"),
    "confirm": gettext_lazy("月报已确认。"),
}


def _actions(user, report: MonthlyReport, locked: bool) -> dict[str, bool]:
    project = report.project
    filer = access.filing_refusal(user, project, report) is None
    returnable = [ReportStatus.SUBMITTED, ReportStatus.REVIEWED]
    if access.is_dispatcher(user):
        returnable.append(ReportStatus.CONFIRMED)
    editable = report.status in EDITABLE_STATUSES and not locked
    return {
        "edit": filer and editable,
        "submit": filer and editable,
        "delete": filer and report.status == ReportStatus.DRAFT and not report.submission_hash and not locked,
        "return": access.return_refusal(user, report) is None and report.status in returnable and not locked,
        "review": access.review_refusal(user, report) is None and report.status == ReportStatus.SUBMITTED,
        "confirm": access.confirm_refusal(user) is None and report.status == ReportStatus.REVIEWED,
        "restate": access.is_dispatcher(user) and report.status == ReportStatus.CONFIRMED and locked,
    }


def _render_detail(request: HttpRequest, report: MonthlyReport, forms: dict | None = None, status: int = 200,
                   warnings: list | None = None) -> HttpResponse:  # fmt: skip
    user = request.user
    project = report.project
    locked = domain.is_locked(report.year, report.month)
    actions = _actions(user, report, locked)
    forms = dict(forms or {})
    for name in ("submit", "return", "review", "confirm", "delete"):
        if actions[name] and name not in forms:
            forms[name] = ACTION_FORMS[name](report=report, auto_id=f"id_{name}_%s")
    if actions["edit"] and "photo" not in forms:
        forms["photo"] = PhotoForm()
    check_errors, check_warnings = {}, []
    if actions["submit"]:
        check_errors, check_warnings = domain.check_report(report)
    if warnings is not None:
        check_warnings = warnings
    restatements = list(report.restatements.select_related("restated_by").order_by("id"))
    plan = _plans_in_force([project.pk], report.year, report.month).get(project.pk)
    planned = plan["_planned"] if plan else None
    ytd = report.ytd_investment if report.status in COUNTED_STATUSES else None
    settings = ProgressSettings.load()
    due = domain.due_date(report.year, report.month, settings)
    ctx = _detail_context(request, project)
    ctx.update(
        report=report,
        badge=STATUS_BADGES.get(report.status),
        locked=locked,
        actions=actions,
        forms=forms,
        check_errors=[m for messages_ in check_errors.values() for m in messages_],
        check_warnings=check_warnings,
        restatements=restatement_lines(restatements),
        restated=restated_fields(restatements),
        photos=list(report.photos.all()),
        planned=planned,
        original_planned=plan["original_planned_investment"] if plan else None,
        rate=_percent(ytd / planned) if ytd is not None and planned else "—",
        due=due,
        overdue=report.status in EDITABLE_STATUSES and _today() > due and not locked,
        adjusted_by=report.totals_adjusted_by,
        people=report,
        settings=settings,
    )
    return render(request, "progress/report_detail.html", ctx, status=status)


@report_page
@require_http_methods(["GET", "HEAD"])
def report_detail(request: HttpRequest, pk: int) -> HttpResponse:
    report = access.get_report(request.user, pk)
    return _render_detail(request, report)


@report_page
@require_POST
def report_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """submit / return / review / confirm / delete: the figures are never taken from this request."""
    user = request.user
    report = access.get_report(user, pk)
    form = ACTION_FORMS[action](request.POST, report=report, auto_id=f"id_{action}_%s")
    if not form.is_valid():
        return _render_detail(request, report, {action: form}, status=400)
    version = form.cleaned_data.get("version")
    warnings = None
    try:
        if action == "submit":
            domain.submit(report, by=user, explanation=form.cleaned_data["explanation"], expected_version=version)
        elif action == "return":
            domain.return_report(report, by=user, reason=form.cleaned_data["reason"], expected_version=version)
        elif action == "review":
            domain.review(report, by=user, expected_version=version)
        elif action == "confirm":
            domain.confirm(report, by=user, expected_version=version)
        else:
            project_pk = report.project_id
            domain.delete_draft(report, by=user)
            messages.success(request, _("草稿已删除。"))
            return redirect("project-reports", pk=project_pk)
    except domain.ConflictError as exc:
        form.add_error(None, _(exc.message))
        status = 409
    except ValidationError as exc:
        warnings = getattr(exc, "warnings", None)
        attach_errors(form, exc)
        status = _error_status(exc)
    else:
        messages.success(request, ACTION_MESSAGES[action])
        return redirect("report-detail", pk=report.pk)
    report = access.get_report(user, pk)  # as saved: nothing changed
    return _render_detail(request, report, {action: form}, status=status, warnings=warnings)


@report_page
@require_http_methods(["GET", "POST"])
def report_restate(request: HttpRequest, pk: int) -> HttpResponse:
    """The service center corrects a closed report: new figures, a reason, old values kept."""
    user = request.user
    report = access.get_report(user, pk)
    refusal = access.center_refusal(user, "更正已锁定的月报")
    if refusal:
        raise PermissionDenied(refusal)
    restatable = report.status == ReportStatus.CONFIRMED and domain.is_locked(report.year, report.month)
    form = RestateForm(request.POST or None, report=report)
    status = 200 if restatable else 409
    if request.method == "POST" and restatable:
        status = 400
        if form.is_valid():
            try:
                domain.restate(report, by=user, changes=form.changes(), reason=form.cleaned_data["reason"],
                               expected_version=form.cleaned_data.get("version"))  # fmt: skip
            except domain.ConflictError as exc:
                form.add_error(None, _(exc.message))
                status = 409
            except ValidationError as exc:
                attach_errors(form, exc)
                status = _error_status(exc)
            else:
                messages.success(request, _("更正已保存，原数据和更正记录均已保留。"))
                return redirect("report-detail", pk=report.pk)
    restatements = list(report.restatements.select_related("restated_by").order_by("id"))
    ctx = _detail_context(request, report.project)
    ctx.update(report=report, form=form, restatable=restatable, restatements=restatement_lines(restatements))
    return render(request, "progress/restate_form.html", ctx, status=status)


# ---------------------------------------------------------------------------------------------
# /reports/locks/


@report_page
@require_http_methods(["GET", "HEAD", "POST"])
def month_locks(request: HttpRequest) -> HttpResponse:
    user = request.user
    refusal = access.center_refusal(user, "锁定月份")
    if refusal:
        raise PermissionDenied(refusal)
    today = _today()
    form = LockForm(request.POST or None, today=today)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            year, month = form.cleaned_data["year"], form.cleaned_data["month"]
            try:
                domain.lock_month(year, month, by=user, note=form.cleaned_data["note"])
            except ValidationError as exc:
                attach_errors(form, exc)
                status = _error_status(exc)
            else:
                messages.success(request, _("已锁定至%(y)s年%(m)s月。") % {"y": year, "m": month})
                return redirect("month-locks")
    through = domain.locked_through()
    locks = list(MonthLock.objects.select_related("locked_by").order_by("-period")[:60])
    # What still waits for confirmation in the open months up to last month.
    last = period_of(*last_month(today))
    opened = Q(period__lte=last) if through is None else Q(period__gt=through, period__lte=last)
    pending = list(
        MonthlyReport.objects.filter(opened)
        .values("year", "month")
        .annotate(
            waiting=Count("pk", filter=Q(status__in=[ReportStatus.SUBMITTED, ReportStatus.REVIEWED,
                                                     ReportStatus.RETURNED])),
            confirmed=Count("pk", filter=Q(status=ReportStatus.CONFIRMED)),
            drafts=Count("pk", filter=Q(status=ReportStatus.DRAFT)),
        )
        .order_by("-year", "-month")[:24]
    )  # fmt: skip
    ctx = {
        "nav": "reports",
        "form": form,
        "locks": locks,
        "through": period_month(through) if through is not None else None,
        "pending": pending,
    }
    return render(request, "progress/locks.html", ctx, status=status)


# ---------------------------------------------------------------------------------------------
# /rates/


PROJECT_FILTER_FIELDS = list(ProjectFilter.base_fields)
GROUP_FILTER = {"unit": "responsible_unit", "town": "town", "industry": "industry", "level": "level"}


@dataclass
class RateView:
    row: rates.RateRow
    link: str | None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.row, name)

    @property
    def annual(self) -> str:
        return _percent(self.row.annual_rate)

    @property
    def original(self) -> str:
        return _percent(self.row.original_plan_rate)

    @property
    def total(self) -> str:
        return _percent(self.row.total_rate)

    @property
    def gap(self) -> str:
        return _gap_text(self.row.gap_points)

    @property
    def behind(self) -> bool:
        return self.row.gap_points is not None and self.row.gap_points < 0

    @property
    def start(self) -> str:
        return _percent(self.row.start_rate)

    @property
    def complete(self) -> str:
        return _percent(self.row.complete_rate)

    @property
    def commission(self) -> str:
        return _percent(self.row.commission_rate)

    @property
    def over(self) -> bool:
        return self.row.annual_rate is not None and self.row.annual_rate > 1


def _project_link(group_by: str, row: rates.RateRow, base: QueryDict) -> str | None:
    """The project list filtered to the row's projects, where the project filter can say so."""
    query = base.copy()
    if group_by == "district" or row.key == "total":
        pass
    elif group_by in GROUP_FILTER and row.key is not None:
        query[GROUP_FILTER[group_by]] = str(row.key)
    else:
        return None
    encoded = query.urlencode()
    return reverse("project-list") + (f"?{encoded}" if encoded else "")


def _sorted_rows(rows: list[rates.RateRow], order: str) -> list[rates.RateRow]:
    if not order:
        return rows
    name = order.lstrip("-")
    if name not in RATE_SORTS:
        return rows
    reverse_ = order.startswith("-")

    def value(r: rates.RateRow):
        return r.label if name == "label" else getattr(r, name)

    present = [r for r in rows if value(r) is not None]
    missing = [r for r in rows if value(r) is None]
    return sorted(present, key=value, reverse=reverse_) + missing


@report_page
@require_http_methods(["GET", "HEAD"])
def rates_page(request: HttpRequest) -> HttpResponse:
    user = request.user
    today = _today()
    form = RatesForm(request.GET, today=today)
    filter_form = ProjectFilter(request.GET)
    year, month = form.period()
    group_by, order = form.chosen_group_by(), form.chosen_order()
    table = rates.completion_table(filter_form.filter(project_access.visible_projects(user)), year, month, group_by)
    base = QueryDict(mutable=True)
    if filter_form.is_valid():
        for name in PROJECT_FILTER_FIELDS:
            if name != "sort" and request.GET.get(name):
                base[name] = request.GET[name]
    rows = [RateView(r, _project_link(group_by, r, base)) for r in _sorted_rows(table.rows, order)]
    total = RateView(table.total, _project_link(group_by, table.total, base)) if table.total else None
    chart = {
        "labels": [r.label for r in rows],
        "rates": [None if r.row.annual_rate is None else str(rates.as_percent(r.row.annual_rate)) for r in rows],
        "time_progress": str(rates.as_percent(rates.time_progress(month))),
        "names": {"rate": _("年度投资完成率（%）"), "time": _("时序进度")},
    }
    columns = [
        ("label", rates.GROUPINGS[group_by]), ("projects", _("项目数")), ("planned", _("年度计划（万元）")),
        ("ytd_in_plan", _("年度累计完成（万元）")), ("annual_rate", _("年度投资完成率")),
        ("gap_points", _("与时序进度")), ("since_start", _("开工累计完成（万元）")),
        ("total_rate", _("总投资完成率")), ("start_rate", _("开工率")), ("complete_rate", _("竣工率")),
        ("commission_rate", _("投产率")),
    ]  # fmt: skip
    headers = []
    for key, label in columns:
        current = order.lstrip("-") == key
        descending = current and order.startswith("-")
        # A second click reverses; the first sorts figures high-first and names A→Z.
        first = key if key == "label" else f"-{key}"
        next_order = (key if descending else f"-{key}") if current else first
        aria = ("descending" if descending else "ascending") if current else None
        headers.append({"key": key, "label": label, "order": next_order, "aria": aria, "numeric": key != "label"})
    ctx = {
        "nav": "rates",
        "form": form,
        "filter_form": filter_form,
        "filters_invalid": _filters_invalid(filter_form),
        "table": table,
        "rows": rows,
        "total": total,
        "year": year,
        "month": month,
        "group_by": group_by,
        "group_label": rates.GROUPINGS[group_by],
        "time_progress": _percent(rates.time_progress(month)),
        "headers": headers,
        "chart": chart,
    }
    return render(request, "progress/rates.html", ctx)
