"""A project's year: /projects/<pk>/reports/ (the annual plan and its revisions, the months, the chart)
and saving the annual plan.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from keyprojects.progress import access, domain, rates
from keyprojects.progress.forms import AnnualPlanForm
from keyprojects.progress.models import (
    COUNTED_STATUSES,
    EDITABLE_STATUSES,
    AnnualPlan,
    MonthlyReport,
    ProgressSettings,
    period_of,
)
from keyprojects.progress.views.common import (
    STATUS_BADGES,
    _detail_context,
    _restatement_title,
    _restatements_by_report,
    _today,
    report_page,
)
from keyprojects.projects import access as project_access
from keyprojects.projects.forms import attach_errors
from keyprojects.projects.models import Project

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
