"""The month across projects: /reports/ (one row per project expected to report, with filters and
status counts) and /reports/overdue/ (the late reports per responsible unit).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import Count, Exists, OuterRef, Q, Subquery
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from keyprojects.lib.pagination import DeferredJoinPaginator
from keyprojects.org.models import Role
from keyprojects.progress import access, domain, rates
from keyprojects.progress.forms import PeriodForm, ReportListFilter
from keyprojects.progress.models import (
    COUNTED_STATUSES,
    EDITABLE_STATUSES,
    MonthlyReport,
    ProgressSettings,
    ReportStatus,
    Restatement,
    period_of,
)
from keyprojects.progress.views.common import (
    MONEY,
    PER_PAGE,
    STATUS_BADGES,
    ZERO,
    _filters_invalid,
    _percent,
    _plans_in_force,
    _restatement_title,
    _restatements_by_report,
    _today,
    report_page,
)
from keyprojects.projects import access as project_access
from keyprojects.projects.filters import ProjectFilter
from keyprojects.projects.models import Project

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
