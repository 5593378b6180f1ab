"""The cockpit (驾驶舱), the map (一张图) and the big screen (大屏).

Every page is within the user's data scope: projects from `projects.access.visible_projects`,
problems from `problems.access.visible_problems`, the 月点评 behind the ranking from
`bulletins.access.visible_bulletins`; 三员 accounts (no business data) get 403. Figures
come from `figures.cockpit` (cached, one definition of each number); charts are drawn by
static/js/dashboard*.js from data handed over with `json_script`.
"""

from __future__ import annotations

import datetime
import json
import os

from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import get_template, render_to_string
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from keyprojects.bulletins import access as bulletin_access
from keyprojects.dashboard import data as cockpit_data
from keyprojects.dashboard import figures, geo
from keyprojects.dashboard.models import MapOutline
from keyprojects.lib.choices import choice_label
from keyprojects.lib.money import format_wan
from keyprojects.org.models import Unit
from keyprojects.problems.access import visible_problems
from keyprojects.progress.forms import PeriodForm
from keyprojects.projects import access
from keyprojects.projects.filters import ProjectFilter
from keyprojects.projects.models import Level, Stage, Status
from keyprojects.projects.views import project_page
from keyprojects.rollups.cache import cached, queryset_key

REFRESH_SECONDS = 300
BODY_TEMPLATE = "dashboard/_cockpit_body.html"
DEMO_OUTLINE = "dashboard/demo_district.geojson"
# Point colours on the map, by stage (lifecycle order) and by status.
STAGE_COLOURS = {
    Stage.PLANNING: "#9aa5b4", Stage.SIGNED: "#6f8fc4", Stage.PREPARATION: "#3f6fb5", Stage.STARTED: "#1f9d8b",
    Stage.CONSTRUCTION: "#2e7d32", Stage.COMPLETED: "#c77700", Stage.COMMISSIONED: "#d1495b",
    Stage.EFFECTIVE: "#7b2d8e",
}  # fmt: skip
STATUS_COLOURS = {
    Status.NORMAL: "#2e7d32", Status.BEHIND: "#e0a100", Status.STOPPED: "#b3261e", Status.PAUSED: "#7a8699",
    Status.TERMINATED: "#3b3b3b",
}  # fmt: skip


# The project pages' gate: signed-in users with a business data scope only; 三员 accounts get 403.
dashboard_page = project_page


def _today() -> datetime.date:
    return timezone.localdate()


def review_for(user, year: int, month: int) -> int | None:
    """The 月点评 whose ranking the user's cockpit shows: the latest issued one for (or before) the month
    that the user may open (`bulletins.access`, the bulletin pages' rule); None (no query) for a user who
    may not read bulletins, whose cockpit ranks the units of the scope by the completion table instead.
    """
    if not bulletin_access.can_read(user):
        return None
    return figures.latest_review(bulletin_access.visible_bulletins(user), year, month)


def cockpit_for(user, year: int, month: int, today: datetime.date) -> figures.Cockpit:
    """The cockpit of one user's scope (the pages and the API ask here)."""
    return figures.cockpit(access.visible_projects(user), visible_problems(user), year, month, today=today,
                           review_id=review_for(user, year, month))  # fmt: skip


def _labels() -> dict:
    """Chart texts in the active language (the figures carry only keys and data)."""
    return {
        "this_year": _("本年累计完成"),
        "last_year": _("上年同期累计"),
        "plan": _("按时序进度应完成"),
        "annual_plan": _("年度计划"),
        "unit_wan": _("万元"),
        "unit_yi": _("亿元"),
        "projects": _("项目数"),
        "investment": _("总投资"),
        "months": [_("%(m)s月") % {"m": m} for m in range(1, 13)],
        "rate": _("年度投资完成率"),
        "time_progress": _("时序进度"),
        "pipeline": {"performed": _("履约"), "started": _("开工"), "commissioned": _("投产"), "effective": _("达效")},
        "no_link": _("项目库暂不能按此条件筛选"),
        "overdue_days": _("逾期 {n} 天"),
    }


def _period(request: HttpRequest, today: datetime.date) -> tuple[PeriodForm, int, int]:
    form = PeriodForm(request.GET, today=today)
    year, month = form.period()
    return form, year, month


def cockpit_body(user, year: int, month: int, today: datetime.date) -> str:
    """The cockpit's figures as HTML, cached with them per (scope, period, day, language).

    Rendering the figures (some 7,000 template nodes: tables, lists, the chart data) costs more than
    reading them from the cache, so the rendered part is kept too and invalidated by the same data
    versions (`rollups.cache`); the page around it (menu, period form) is rendered on every request.
    """
    projects, problems = access.visible_projects(user), visible_problems(user)
    review_id = review_for(user, year, month)

    def render_body() -> str:
        fig = figures.cockpit(projects, problems, year, month, today=today, review_id=review_id)
        data = cockpit_data.cockpit_data(fig)
        ctx = {"data": data, "h": data["headline"], "chart": {**data, "labels": _labels()},
               "ranking_tables": _ranking_tables(data["ranking"])}  # fmt: skip
        return render_to_string(BODY_TEMPLATE, ctx)

    parts = (figures.VERSION, _template_stamp(BODY_TEMPLATE), queryset_key(projects), queryset_key(problems), year,
             month, today, review_id, get_language())  # fmt: skip
    return cached("cockpit-html", figures.TOPICS, parts, render_body)


def _ranking_tables(ranking: dict) -> list[dict]:
    """The ranking's tables with each row's (value, rank) in the indicators' order, for the template."""
    codes = [i["code"] for i in ranking["indicators"]]
    return [
        {**t, "rows": [{**r, "cells": [(r["values"].get(c), r["ranks"].get(c)) for c in codes]} for r in t["rows"]]}
        for t in ranking["tables"]
    ]


def _template_stamp(name: str) -> tuple[int, int]:
    """The template file's modification time and size: a new release (or an edit) is a new cache entry."""
    stat = os.stat(get_template(name).origin.name)
    return stat.st_mtime_ns, stat.st_size


@dashboard_page
@require_http_methods(["GET", "HEAD"])
def cockpit(request: HttpRequest) -> HttpResponse:
    today = _today()
    form, year, month = _period(request, today)
    ctx = {
        "nav": "dashboard",
        "form": form,
        "year": year,
        "month": month,
        "body": mark_safe(cockpit_body(request.user, year, month, today)),  # escaped by its own template
        "period_query": f"year={year}&month={month}",
    }
    return render(request, "dashboard/cockpit.html", ctx)


@dashboard_page
@require_http_methods(["GET", "HEAD"])
def cockpit_json(request: HttpRequest) -> JsonResponse:
    """The cockpit's figures for the big screen's refresh (the API's answer, with the session)."""
    today = _today()
    _form, year, month = _period(request, today)
    data = cockpit_data.cockpit_data(cockpit_for(request.user, year, month, today))
    return JsonResponse({**data, "labels": _labels()}, json_dumps_params={"ensure_ascii": False})


# --- the map --------------------------------------------------------------------------------------------------


def _outline_url() -> str:
    current = MapOutline.current()
    if current is not None:
        return reverse("dashboard-outline", args=[current.pk])
    return static(DEMO_OUTLINE)


def _map_config() -> dict:
    """What the map script needs besides the points: outline, towns by code and name, colours, labels."""
    towns = Unit.objects.filter(kind=Unit.Kind.TOWN).select_related("region")
    by_code: dict[str, int] = {}
    by_name: dict[str, int] = {}
    for town in towns:
        for name in (town.name, town.short_name, town.region.name if town.region_id else ""):
            if name:
                by_name.setdefault(name, town.pk)
        if town.region_id and town.region.code:
            by_code[town.region.code] = town.pk
            by_code[town.region.code[:9]] = town.pk
    return {
        "outline": _outline_url(),
        "points": reverse("dashboard-map-points"),
        "card": reverse("dashboard-project-card", args=[0]).replace("/0/", "/{id}/"),
        "project": reverse("project-detail", args=[0]).replace("/0/", "/{id}/"),
        "project_list": reverse("project-list"),
        "towns_by_code": by_code,
        "towns_by_name": by_name,
        "colours": {
            "stage": [{"key": k, "label": choice_label(Stage, k), "colour": c} for k, c in STAGE_COLOURS.items()],
            "status": [{"key": k, "label": choice_label(Status, k), "colour": c} for k, c in STATUS_COLOURS.items()],
        },
        "labels": {
            "projects": _("个项目"),
            "unplaced": _("个项目未填写坐标，未在图上显示"),
            "town_hint": _("点击查看该乡镇街道的项目"),
            "unit_yi": _("亿元"),
            "unit_wan": _("万元"),
        },  # fmt: skip
    }


@dashboard_page
@require_http_methods(["GET", "HEAD"])
def map_page(request: HttpRequest) -> HttpResponse:
    filter_form = ProjectFilter(request.GET)
    colour = request.GET.get("colour") if request.GET.get("colour") in ("stage", "status") else "stage"
    params = request.GET.copy()
    params.pop("colour", None)
    query = params.urlencode()
    ctx = {
        "nav": "dashboard",
        "filter_form": filter_form,
        "filters_invalid": filter_form.is_bound and not filter_form.is_valid(),
        "colour": colour,
        "config": {**_map_config(), "colour": colour, "query": query},
        "list_url": reverse("project-list") + (f"?{query}" if query else ""),
    }
    return render(request, "dashboard/map.html", ctx)


@dashboard_page
@require_http_methods(["GET", "HEAD"])
def map_points(request: HttpRequest) -> JsonResponse:
    """The points of the projects the user sees, filtered like the project list (invalid filters: 400)."""
    form = ProjectFilter(request.GET)
    if not form.is_valid():
        return JsonResponse({"detail": {k: list(v) for k, v in form.errors.items()}}, status=400,
                            json_dumps_params={"ensure_ascii": False})  # fmt: skip
    projects = form.filter(access.visible_projects(request.user))
    points = geo.project_points(projects, labels=False)
    unplaced = projects.filter(Q(latitude=None) | Q(longitude=None)).count()
    return JsonResponse({**points, "unplaced": unplaced}, json_dumps_params={"ensure_ascii": False})


@dashboard_page
@require_http_methods(["GET", "HEAD"])
def outline(request: HttpRequest, pk: int) -> HttpResponse:
    """An uploaded outline, checked again on the way out (served only to signed-in business users)."""
    current = MapOutline.objects.filter(pk=pk).first()
    if current is None:
        raise Http404(_("地图边界不存在。"))
    body = json.dumps(current.read(), ensure_ascii=False)
    response = HttpResponse(body, content_type="application/geo+json; charset=utf-8")
    response["Cache-Control"] = "private, max-age=3600"
    return response


@dashboard_page
@require_http_methods(["GET", "HEAD"])
def project_card(request: HttpRequest, pk: int) -> HttpResponse:
    """A project's card for the map (404 outside the scope, as everywhere)."""
    project = access.get_project(request.user, pk)
    ctx = {
        "project": project,
        "level_label": choice_label(Level, project.level),
        "stage_label": choice_label(Stage, project.stage),
        "status_label": choice_label(Status, project.status),
        "investment": format_wan(project.total_investment),
    }
    return render(request, "dashboard/_card.html", ctx)


# --- the big screen -------------------------------------------------------------------------------------------


@dashboard_page
@require_http_methods(["GET", "HEAD"])
def screen(request: HttpRequest) -> HttpResponse:
    today = _today()
    _form, year, month = _period(request, today)
    data = cockpit_data.cockpit_data(cockpit_for(request.user, year, month, today))
    # Without a chosen month the screen follows the latest one as the days pass.
    query = f"?year={year}&month={month}" if request.GET.get("year") or request.GET.get("month") else ""
    ctx = {
        "year": year,
        "month": month,
        "data": data,
        "h": data["headline"],
        "chart": {**data, "labels": _labels()},
        "config": {
            **_map_config(),
            "colour": "stage",
            "query": "",
            "refresh_seconds": REFRESH_SECONDS,
            "data_url": f"{reverse('dashboard-data')}{query}",
        },  # fmt: skip
    }
    return render(request, "dashboard/screen.html", ctx)
