"""/rates/: the completion rates grouped by district, unit, town, industry or level, sortable, linked to
the project list, with the chart.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from keyprojects.progress import rates
from keyprojects.progress.forms import RATE_SORTS, RatesForm
from keyprojects.progress.views.common import _filters_invalid, _percent, _today, report_page
from keyprojects.projects import access as project_access
from keyprojects.projects.filters import ProjectFilter

# ---------------------------------------------------------------------------------------------
# /rates/


PROJECT_FILTER_FIELDS = list(ProjectFilter.base_fields)
GROUP_FILTER = {"unit": "responsible_unit", "town": "town", "industry": "industry", "level": "level"}


def _gap_text(gap: Decimal | None) -> str:
    """The gap to 时序进度: "超时序进度 N 个百分点" / "落后 N 个百分点"."""
    if gap is None:
        return "—"
    value = gap.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    if value >= 0:
        return _("超时序进度 %(n)s 个百分点") % {"n": value}
    return _("落后 %(n)s 个百分点") % {"n": -value}


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
