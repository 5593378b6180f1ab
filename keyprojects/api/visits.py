"""Site visits and service officers over the API.

`GET/POST /visits` (and `GET /visits/{id}`): reads through `keyprojects.visits.access` (a visit is seen by
whoever sees one of its projects; outside: 404), creation through `keyprojects.visits.domain` (leaders and
dispatchers; each demand becomes a problem, each decision a task with its owner unit and due date).
`GET /officer-pairings` and `GET /officers` (`/officers/{id}`): pairings and the officers' monthly figures,
with the same scope as the pages. Photos are uploaded on the page; the API lists them with their URL.
"""

from __future__ import annotations

import datetime
from typing import Annotated, Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db.models import Count, Prefetch, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status
from pydantic import ConfigDict

from keyprojects.api.errors import ApiValidationError, error_item
from keyprojects.api.schemas import Choice, Day, Id, Message, Text, ValidationErrors
from keyprojects.lib.pagination import window
from keyprojects.problems import clock
from keyprojects.problems.models import Category, Severity
from keyprojects.projects.models import Project
from keyprojects.visits import access, domain
from keyprojects.visits.figures import Month, officer_figures, paired_in
from keyprojects.visits.models import OfficerPairing, OriginLink, SiteVisit

router = Router(tags=["现场办公与首席服务员"])

# Domain field -> API field.
API_NAMES = {
    "project": "project_id",
    "projects": "project_ids",
    "leaders": "leader_ids",
    "lead_unit": "lead_unit_id",
    "uploads": "photos",
}


def _loc(key: str) -> list[str | int]:
    """``demands.0.project`` → ["body", "demands", 0, "project_id"]."""
    loc: list[str | int] = ["body"]
    if key == NON_FIELD_ERRORS:
        return loc
    for part in key.split("."):
        loc.append(int(part) if part.isdigit() else API_NAMES.get(part, part))
    return loc


def api_errors(exc: ValidationError) -> ApiValidationError:
    if not hasattr(exc, "error_dict"):
        return ApiValidationError([error_item(["body"], m) for m in exc.messages])
    return ApiValidationError([error_item(_loc(k), m) for k, msgs in exc.message_dict.items() for m in msgs])


# ---------------------------------------------------------------------------------------------
# Shapes


class _Input(Schema):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class DemandIn(_Input):
    project_id: Id = Field(description="项目 id（须在本人数据范围内；自动加入本次现场办公的项目）")
    title: Annotated[Text, Field(max_length=200, description="诉求内容")]
    category: Choice(Category) = Field(Category.OTHER.value, description="问题类别")
    description: Annotated[Text, Field(max_length=5000)] = ""
    severity: Choice(Severity) = Field(Severity.ORDINARY.value, description="问题性质")


class DecisionIn(_Input):
    project_id: Id = Field(description="项目 id")
    text: Annotated[Text, Field(max_length=5000, description="议定事项")]
    lead_unit_id: Id = Field(description="责任单位 id（非企业的在用单位）")
    due: Day = Field(description="办结期限 YYYY-MM-DD，不早于现场办公日期")


class VisitCreate(_Input):
    """登记现场办公。诉求逐条成为问题（待交办），议定事项逐项交办责任单位并按13710机制计时。"""

    visited_on: Day = Field(description="日期 YYYY-MM-DD，不晚于今天")
    place: Annotated[Text, Field(max_length=200)]
    leader_ids: list[Id] = Field(default_factory=list, description="带队领导（用户）id；领导本人登记时可省略")
    project_ids: list[Id] = Field(default_factory=list, description="现场项目 id")
    attendees: Annotated[Text, Field(max_length=5000)] = ""
    summary: Annotated[Text, Field(max_length=5000)] = ""
    demands: list[DemandIn] = Field(default_factory=list, max_length=30)
    decisions: list[DecisionIn] = Field(default_factory=list, max_length=30)


class LinkedOut(Schema):
    problem_id: int
    kind: str = Field(description="demand（诉求）或 decision（议定事项）")
    project_id: int
    title: str
    status: str
    status_label: str
    lead_unit_id: int | None
    lead_unit: str | None
    resolve_due: datetime.date | None
    overdue: bool
    escalation_level: int


class PhotoOut(Schema):
    id: int
    url: str
    width: int | None
    height: int | None


class VisitOut(Schema):
    id: int
    visited_on: datetime.date
    place: str
    leader_ids: list[int]
    leaders: list[str]
    project_ids: list[int]
    demand_count: int
    decision_count: int


class VisitDetail(VisitOut):
    attendees: str
    summary: str
    created_by: str
    created_at: datetime.datetime
    demands: list[LinkedOut]
    decisions: list[LinkedOut]
    photos: list[PhotoOut]


class VisitPage(Schema):
    count: int
    items: list[VisitOut]


class VisitListQuery(Schema):
    project: int | None = Field(None, ge=1, description="只列出涉及该项目的现场办公")
    date_from: datetime.date | None = Field(None, description="起始日期 YYYY-MM-DD")
    date_to: datetime.date | None = Field(None, description="截止日期 YYYY-MM-DD")
    limit: int = Field(25, ge=1, le=100)
    offset: int = Field(0, ge=0, le=1_000_000_000)


class PairingOut(Schema):
    id: int
    officer_id: int
    officer: str
    project_id: int
    project: str
    roles: list[str]
    started_on: datetime.date
    ended_on: datetime.date | None
    active: bool


class PairingQuery(Schema):
    project: int | None = Field(None, ge=1)
    officer: int | None = Field(None, ge=1)
    active: bool | None = Field(None, description="true 只列在岗结对，false 只列已结束的")


class FiguresOut(Schema):
    visits: int
    on_site: int
    by_phone: int
    relayed: int = Field(description="本月反映诉求数")
    resolved: int
    on_time: int
    rated: int
    satisfied: int
    pushes: int
    closure_rate: str | None = Field(description="办结率（%），一位小数")
    on_time_rate: str | None = Field(description="按期办结率（%）")
    satisfaction_rate: str | None = Field(description="满意率（%）")


class OfficerOut(Schema):
    id: int
    name: str
    unit: str | None
    project_ids: list[int] = Field(description="本月在岗结对的项目")
    visited: bool = Field(description="本月是否走访过")
    figures: FiguresOut


class OfficerPage(Schema):
    month: str = Field(description="YYYY-MM")
    count: int
    items: list[OfficerOut]
    without_visit: list[int] = Field(description="本月结对但未走访的首席服务员 id")


class MonthQuery(Schema):
    month: str | None = Field(None, pattern=r"^\d{4}-\d{2}$", description="月份 YYYY-MM，默认本月")


# ---------------------------------------------------------------------------------------------
# Visits


def _linked(link: OriginLink, today: datetime.date) -> dict[str, Any]:
    p = link.problem
    return {
        "problem_id": p.pk, "kind": link.kind, "project_id": p.project_id, "title": p.title, "status": p.status,
        "status_label": p.get_status_display(), "lead_unit_id": p.lead_unit_id,
        "lead_unit": str(p.lead_unit) if p.lead_unit_id else None, "resolve_due": p.resolve_due,
        "overdue": clock.is_overdue(p, today), "escalation_level": p.escalation_level,
    }  # fmt: skip


def _visit_item(v: SiteVisit) -> dict[str, Any]:
    leaders = list(v.leaders.all())
    return {
        "id": v.pk, "visited_on": v.visited_on, "place": v.place, "leader_ids": [u.pk for u in leaders],
        "leaders": [str(u) for u in leaders], "project_ids": [p.pk for p in v.projects.all()],
        "demand_count": v.demand_count, "decision_count": v.decision_count,
    }  # fmt: skip


def _annotated(queryset):
    return queryset.annotate(
        demand_count=Count("links", filter=Q(links__kind=OriginLink.Kind.DEMAND)),
        decision_count=Count("links", filter=Q(links__kind=OriginLink.Kind.DECISION)),
    ).prefetch_related("leaders", Prefetch("projects", queryset=Project.objects.only("id")))


def _visit_detail(user, pk: int) -> dict[str, Any]:
    visit = access.get_site_visit(user, pk)
    visit = _annotated(SiteVisit.objects.filter(pk=visit.pk)).select_related("created_by").get()
    today = timezone.localdate()
    links = OriginLink.objects.filter(site_visit=visit).select_related("problem__lead_unit").order_by("id")
    linked = [_linked(link, today) for link in links]
    return {
        **_visit_item(visit), "attendees": visit.attendees, "summary": visit.summary,
        "created_by": str(visit.created_by), "created_at": visit.created_at,
        "demands": [x for x in linked if x["kind"] == OriginLink.Kind.DEMAND],
        "decisions": [x for x in linked if x["kind"] == OriginLink.Kind.DECISION],
        "photos": [
            {"id": ph.pk, "url": reverse("visit-photo", args=[ph.pk]), "width": ph.width, "height": ph.height}
            for ph in visit.photos.all()
        ],
    }  # fmt: skip


@router.get(
    "/visits", response={200: VisitPage, 401: Message, 422: ValidationErrors}, summary="现场办公列表",
    operation_id="list_visits",
)  # fmt: skip
def list_visits(request, params: Query[VisitListQuery]):
    """本人可见的现场办公（涉及本人可见项目的；数据范围“全部”可见全部），按日期倒序。"""
    visits = access.visible_site_visits(request.auth)
    if params.project:
        visits = visits.filter(projects=params.project)
    if params.date_from:
        visits = visits.filter(visited_on__gte=params.date_from)
    if params.date_to:
        visits = visits.filter(visited_on__lte=params.date_to)
    count = visits.count()
    visits = _annotated(visits).order_by("-visited_on", "-id")
    rows = window(visits, params.offset, params.limit) if count > params.offset else []
    return {"count": count, "items": [_visit_item(v) for v in rows]}


@router.post(
    "/visits",
    response={201: VisitDetail, 400: Message, 401: Message, 403: Message, 404: Message, 422: ValidationErrors},
    summary="登记现场办公", operation_id="create_visit",
)  # fmt: skip
def create_visit(request, payload: VisitCreate):
    """领导和调度员可登记。任一条诉求或议定事项有误时整体不保存，错误位置如 ["body", "decisions", 0, "due"]。"""
    user = request.auth
    access.ensure_can_record(user, _("现场办公"))
    try:
        visit = domain.create_site_visit(
            by=user, visited_on=payload.visited_on, place=payload.place, leaders=payload.leader_ids,
            projects=payload.project_ids, attendees=payload.attendees, summary=payload.summary,
            demands=[{**d.model_dump(exclude={"project_id"}), "project": d.project_id} for d in payload.demands],
            decisions=[
                {"project": d.project_id, "text": d.text, "lead_unit": d.lead_unit_id, "due": d.due}
                for d in payload.decisions
            ],
        )  # fmt: skip
    except ValidationError as exc:
        raise api_errors(exc) from None
    return Status(201, _visit_detail(user, visit.pk))


@router.get(
    "/visits/{visit_id}", response={200: VisitDetail, 401: Message, 404: Message, 422: ValidationErrors},
    summary="现场办公详情", operation_id="get_visit",
)  # fmt: skip
def get_visit(request, visit_id: int):
    """数据范围以外的现场办公一律 404。"""
    return _visit_detail(request.auth, visit_id)


# ---------------------------------------------------------------------------------------------
# Service officers


def _pairing(p: OfficerPairing, today: datetime.date) -> dict[str, Any]:
    return {
        "id": p.pk, "officer_id": p.officer_id, "officer": str(p.officer), "project_id": p.project_id,
        "project": p.project.name, "roles": [r.name for r in p.roles.all()], "started_on": p.started_on,
        "ended_on": p.ended_on, "active": p.is_active_on(today),
    }  # fmt: skip


@router.get(
    "/officer-pairings", response={200: list[PairingOut], 401: Message, 422: ValidationErrors},
    summary="首席服务员结对", operation_id="list_officer_pairings",
)  # fmt: skip
def list_pairings(request, params: Query[PairingQuery]):
    """本人可见项目的结对（首席服务员本人另可见自己的）。"""
    today = timezone.localdate()
    pairings = access.visible_pairings(request.auth)
    if params.project:
        pairings = pairings.filter(project=params.project)
    if params.officer:
        pairings = pairings.filter(officer=params.officer)
    if params.active is True:
        pairings = pairings.filter(started_on__lte=today).exclude(ended_on__lt=today)
    elif params.active is False:
        pairings = pairings.filter(Q(ended_on__lt=today) | Q(started_on__gt=today))
    pairings = pairings.select_related("officer", "project").prefetch_related("roles").order_by("id")
    return [_pairing(p, today) for p in pairings]


def _month(params: MonthQuery) -> Month:
    month = Month.parse(params.month)
    if month is None:
        raise ApiValidationError([error_item(["query", "month"], _("月份格式应为 YYYY-MM。"))])
    return month


def _figures(fig) -> dict[str, Any]:
    data = fig.as_dict()
    for key in ("closure_rate", "on_time_rate", "satisfaction_rate"):
        data[key] = None if data[key] is None else str(data[key])
    return data


def _officers(officers: list, month: Month) -> tuple[list[dict], list[int]]:
    ids = [o.pk for o in officers]
    paired: dict[int, list[int]] = {}
    for officer_id, project_id in paired_in(month).filter(officer_id__in=ids).values_list("officer_id", "project_id"):
        paired.setdefault(officer_id, []).append(project_id)
    figures = officer_figures(ids, month)
    items = [
        {
            "id": o.pk,
            "name": str(o),
            "unit": str(o.unit) if o.unit_id else None,
            "project_ids": paired.get(o.pk, []),
            "visited": figures[o.pk].visits > 0,
            "figures": _figures(figures[o.pk]),
        }  # fmt: skip
        for o in officers
    ]
    idle = [o.pk for o in officers if o.pk in paired and figures[o.pk].visits == 0]
    return items, idle


@router.get(
    "/officers", response={200: OfficerPage, 401: Message, 422: ValidationErrors}, summary="首席服务员月度情况",
    operation_id="list_officers",
)  # fmt: skip
def list_officers(request, params: Query[MonthQuery]):
    """每名首席服务员本月的走访次数、反映诉求、办结率、按期办结率、满意率和政策推送，及本月未走访名单。"""
    month = _month(params)
    officers = list(access.visible_officers(request.auth).select_related("unit").order_by("id"))
    items, idle = _officers(officers, month)
    return {"month": str(month), "count": len(items), "items": items, "without_visit": idle}


@router.get(
    "/officers/{officer_id}", response={200: OfficerOut, 401: Message, 404: Message, 422: ValidationErrors},
    summary="首席服务员月度情况（单人）", operation_id="get_officer",
)  # fmt: skip
def get_officer(request, officer_id: int, params: Query[MonthQuery]):
    month = _month(params)
    officer = access.get_officer(request.auth, officer_id)
    items, _idle = _officers([officer], month)
    return items[0]
