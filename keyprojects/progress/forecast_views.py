"""The year-end forecast page (全年预计) and the 滞后预警 list: `forecast.forecast` over the user's projects.

The numbers are those of `GET /api/v1/stats/forecast`; the method is explained on the page and in
docs/forecast.md.
"""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from keyprojects.progress import forecast, rates
from keyprojects.progress.forms import PeriodForm
from keyprojects.progress.views import _filters_invalid, report_page
from keyprojects.projects import access as project_access
from keyprojects.projects.filters import ProjectFilter

WARNINGS_PER_PAGE = 50
LEVEL_CLASSES = {forecast.HIGH: "text-bg-danger", forecast.MEDIUM: "text-bg-warning"}


def _with_percents(row) -> None:
    """Rates as display strings for the template (112.9%, "—" without a plan)."""
    row.annual_pct = rates.percent(row.annual_rate)
    row.projected_pct = rates.percent(row.projected_rate)
    row.projected_behind = row.projected_rate is not None and row.projected_rate < 1


@report_page
@require_http_methods(["GET", "HEAD"])
def forecast_page(request: HttpRequest) -> HttpResponse:
    period_form = PeriodForm(request.GET, today=timezone.localdate())
    filter_form = ProjectFilter(request.GET)
    year, month = period_form.period()
    result = forecast.warning_summary(filter_form.filter(project_access.visible_projects(request.user)), year, month)
    warnings = Paginator(result.warnings, WARNINGS_PER_PAGE).get_page(request.GET.get("page"))
    for item in warnings.object_list:
        item.level_class = LEVEL_CLASSES.get(item.level, "text-bg-secondary")
        _with_percents(item)
    units = sorted(result.units, key=lambda u: (-u.shortfall, u.label))
    for group in [*units, result.total]:
        _with_percents(group)
    ctx = {
        "nav": "rates",
        "form": period_form,
        "filter_form": filter_form,
        "filters_invalid": _filters_invalid(filter_form),
        "year": year,
        "month": month,
        "result": result,
        "total": result.total,
        "units": units,
        "warnings": warnings,
        "warning_count": len(result.warnings),
        "profile": result.profile.as_dict(),
        "time_progress": rates.percent(result.time_progress),
        "high_score": forecast.HIGH_SCORE,
        "medium_score": forecast.MEDIUM_SCORE,
    }
    return render(request, "progress/forecast.html", ctx)
