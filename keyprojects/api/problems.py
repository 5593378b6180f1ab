"""Problems and supervision (问题督办) over the API: list, raise, read, correct, and the 13710 actions.

Reads go through `keyprojects.problems.access` (outside the user's scope: 404). An action the user's
role does not allow is 403 before the domain is asked; the domain functions validate, change and
audit. A step out of order ("当前状态为…，不能…") and a stale `version` are 409; invalid values 422
(`loc` ends with this API's field name); the one error shape of `keyprojects.api.errors`.
"""

from __future__ import annotations

import datetime
from typing import Annotated, Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema
from ninja import Status as Answer
from ninja.errors import HttpError
from pydantic import ConfigDict, Field

from keyprojects.api.errors import ApiValidationError, domain_refusal, error_item
from keyprojects.api.schemas import Choice, Day, Id, Message, Text, ValidationErrors
from keyprojects.lib.choices import choice_label
from keyprojects.lib.pagination import window
from keyprojects.org.models import User
from keyprojects.problems import access, clock, domain
from keyprojects.problems.forms import DONE, LIGHT_CHOICES, OPEN, SORTS, ProblemFilter, list_rows
from keyprojects.problems.models import (
    Category,
    EscalationLevel,
    Problem,
    Rating,
    Severity,
    SolveLevel,
    Source,
    Status,
)
from keyprojects.projects.filters import list_count

router = Router(tags=["问题督办"])


# ---------------------------------------------------------------------------------------------
# Shapes


class ProblemOut(Schema):
    id: int
    project: int = Field(description="项目 id")
    project_name: str
    source: str
    source_label: str
    category: str
    category_label: str
    title: str
    description: str
    severity: str
    severity_label: str
    lead_unit: int | None = Field(description="主办单位 id（交办前为空）")
    lead_unit_name: str | None
    helper_units: list[int] = Field(description="协办单位 id")
    helper_unit_names: list[str]
    status: str
    status_label: str
    received_at: datetime.date = Field(description="收到日期")
    deploy_due: datetime.date | None = Field(description="部署期限（交办后）")
    feedback_due: datetime.date | None = Field(description="首次反馈期限")
    resolve_due: datetime.date | None = Field(description="办结期限")
    current_step: str = Field(description="当前环节：deploy/feedback/resolve，不在计时中为空")
    current_due: datetime.date | None
    overdue: bool = Field(description="当前环节已过期限")
    escalation_level: int = Field(description="督办层级：0 主办单位，1 分管领导，2 主要领导，3 上报市/省")
    escalation_level_label: str
    light: str = Field(description="期限灯：green/yellow/red，none 表示不在计时中（当前环节与挂牌督办中较差者）")
    light_label: str
    supervised: bool = Field(description="挂牌督办")
    supervision_due: datetime.date | None
    version: int = Field(description="版本号；操作时回传可防止覆盖他人的处理（409）。")


class EventOut(Schema):
    id: int
    kind: str
    kind_label: str
    at: datetime.datetime
    actor: int | None
    actor_name: str | None
    from_status: str
    to_status: str
    step: str
    text: str
    has_evidence: bool = Field(description="有附件（在页面上下载）")


class ProblemDetail(ProblemOut):
    solve_level: str
    solve_level_label: str
    raised_by: int | None
    raised_by_name: str | None
    responsible_leader: int | None = Field(description="分管领导（用户）id")
    responsible_leader_name: str | None
    assigned_on: datetime.date | None
    deployed_at: datetime.datetime | None
    first_feedback_at: datetime.datetime | None
    resolved_at: datetime.datetime | None
    resolve_workdays: int | None
    resolved_on_time: bool | None
    rating: str
    rating_label: str
    rated_at: datetime.datetime | None
    reopen_count: int
    closed_at: datetime.datetime | None
    supervisor: int | None
    supervisor_name: str | None
    created_at: datetime.datetime
    updated_at: datetime.datetime
    allowed_actions: list[str] = Field(description="本人现在可以执行的操作")
    events: list[EventOut] = Field(description="办理记录，按时间先后")


class ProblemPage(Schema):
    count: int = Field(description="符合条件的问题总数。")
    items: list[ProblemOut]


class ProblemListQuery(Schema):
    """The list filters (validated by the same form as the list page) and the page window."""

    q: str | None = Field(None, description="在标题、描述、项目名称中搜索（至多100字）。")
    status: str | None = Field(
        None,
        description="状态；open 为计时中的全部（已交办、已部署、办理中），done 为办结的全部（已办结、已回访、已销号）",
        json_schema_extra={"enum": ["", OPEN, DONE, *Status.values]},
    )  # fmt: skip
    category: str | None = Field(None, description="类别", json_schema_extra={"enum": ["", *Category.values]})
    severity: str | None = Field(None, description="性质", json_schema_extra={"enum": ["", *Severity.values]})
    source: str | None = Field(None, description="来源", json_schema_extra={"enum": ["", *Source.values]})
    lead_unit: str | None = Field(None, description="主办单位 id")
    project: str | None = Field(None, description="项目 id（须在本人可见范围内）")
    light: str | None = Field(
        None, description="期限灯", json_schema_extra={"enum": ["", *(v for v, _label in LIGHT_CHOICES)]}
    )
    overdue: bool | None = Field(None, description="只看当前环节已逾期的")
    supervised: bool | None = Field(None, description="只看挂牌督办的")
    on_time: bool | None = Field(None, description="只看按期办结的")
    sort: str | None = Field(
        None, description="排序：-received 收到日期从新到旧（默认），due 当前期限从近到远",
        json_schema_extra={"enum": ["", *SORTS]},
    )  # fmt: skip
    limit: int = Field(25, ge=1, le=100, description="每页条数，默认25，最多100。")
    offset: int = Field(0, ge=0, le=1_000_000_000, description="跳过的条数。")


class _Input(Schema):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


Version = Annotated[Id | None, Field(None, description="读取时的版本号；问题已被他人处理时返回 409")]


class ProblemCreate(_Input):
    """反映问题。企业和首席服务员以本人的来源提出；只有调度员可以补录以往的收到日期。"""

    project: Id = Field(description="项目 id（须为本人可以反映问题的项目）")
    title: Text = Field(description="问题标题（至多200字）")
    category: Choice(Category) = Field(description="问题类别")
    description: Text = Field("", description="问题描述")
    source: Choice(Source) | None = Field(None, description="来源；企业、首席服务员可不填")
    severity: Choice(Severity) = Field(Severity.ORDINARY.value, description="问题性质")
    received_at: Day | None = Field(None, description="收到日期，默认今天；早于今天须为调度员")


class ProblemPatch(_Input):
    """修改问题内容：交办前，提出人或调度员可改标题、描述、类别、性质；只传要改的字段。"""

    title: Text | None = None
    description: Text | None = None
    category: Choice(Category) | None = None
    severity: Choice(Severity) | None = None
    version: Version


class AssignIn(_Input):
    lead_unit: Id | None = Field(None, description="主办单位 id（必填）")
    helper_units: list[Id] = Field(default_factory=list, description="协办单位 id")
    responsible_leader: Id | None = Field(None, description="分管领导（用户）id；默认为项目分包领导")
    severity: Choice(Severity) | None = Field(None, description="问题性质；默认不变")
    solve_level: Choice(SolveLevel) | None = Field(None, description="需协调层级；默认不变")
    assigned_on: Day | None = Field(None, description="交办日期，默认今天；不早于收到日期")
    resolve_due: Day | None = Field(None, description="任务（现场办公、周调度会、领导批示）自定的办结期限")
    note: Text = Field("", description="交办意见")
    version: Version


class NoteIn(_Input):
    note: Text = Field("", description="说明")
    version: Version


class FeedbackIn(_Input):
    text: Text = Field(description="办理情况")


class ResolveIn(_Input):
    evidence: Text = Field(description="办结情况及佐证（附件在页面上传）")
    version: Version


class RateIn(_Input):
    rating: Choice(Rating) = Field(
        description="satisfied 满意 / basic 基本满意 / dissatisfied 不满意（须说明原因，退回重办）"
    )
    comment: Text = Field("", description="评价意见")
    version: Version


class SuperviseIn(_Input):
    supervision_due: Day = Field(description="督办期限，不早于收到日期和今天")
    note: Text = Field("", description="督办要求")


class EscalateIn(_Input):
    reason: Text = Field(description="升级理由（升一级）")


# ---------------------------------------------------------------------------------------------
# Representations


def _label(value) -> str:
    return str(value) if value is not None else ""


def problem_item(p: Problem, today: datetime.date, cfg: clock.ClockConfig) -> dict[str, Any]:
    """The list representation; needs project and lead_unit loaded and helper_units prefetched (or
    `helper_list`, the (id, name) pairs of the helper units, set by `attach_helpers`)."""
    helpers = getattr(p, "helper_list", None)
    if helpers is None:
        helpers = [(u.pk, str(u)) for u in sorted(p.helper_units.all(), key=lambda u: u.pk)]
    light = clock.problem_light(p, today, cfg)
    return {
        "id": p.pk,
        "project": p.project_id,
        "project_name": p.project.name,
        "source": p.source,
        "source_label": choice_label(Source, p.source),
        "category": p.category,
        "category_label": choice_label(Category, p.category),
        "title": p.title,
        "description": p.description,
        "severity": p.severity,
        "severity_label": choice_label(Severity, p.severity),
        "lead_unit": p.lead_unit_id,
        "lead_unit_name": str(p.lead_unit) if p.lead_unit_id else None,
        "helper_units": [pk for pk, _name in helpers],
        "helper_unit_names": [name for _pk, name in helpers],
        "status": p.status,
        "status_label": choice_label(Status, p.status),
        "received_at": p.received_on,
        "deploy_due": p.deploy_due,
        "feedback_due": p.feedback_due,
        "resolve_due": p.resolve_due,
        "current_step": p.current_step,
        "current_due": p.current_due,
        "overdue": clock.is_overdue(p, today),
        "escalation_level": p.escalation_level,
        "escalation_level_label": choice_label(EscalationLevel, p.escalation_level),
        "light": light,
        "light_label": _label(clock.Light(light).label),
        "supervised": p.supervised,
        "supervision_due": p.supervision_due,
        "version": p.version,
    }


def attach_helpers(rows: list[Problem]) -> None:
    """Set `helper_list` on each row: its helper units' (id, name) pairs, in one narrow query
    (cheaper than prefetching whole Unit objects for a list page)."""
    helpers: dict[int, list[tuple[int, str]]] = {p.pk: [] for p in rows}
    if helpers:
        links = Problem.helper_units.through.objects.filter(problem_id__in=list(helpers)).order_by("unit_id")
        for problem_id, unit_id, name, short_name in links.values_list(
            "problem_id", "unit_id", "unit__name", "unit__short_name"
        ):
            helpers[problem_id].append((unit_id, short_name or name))  # as Unit.__str__
    for p in rows:
        p.helper_list = helpers[p.pk]


def _name(user: User | None) -> str | None:
    return str(user) if user is not None else None


def problem_detail(user: User, pk: int) -> dict[str, Any]:
    # The three people's names as scalar subqueries, unordered and without LIMIT (the id matches one row
    # at most): five joins cost PostgreSQL's planner more than reading the row (`api.projects.DETAIL_NAMES`).
    found = (
        access.visible_problems(user)
        .select_related("project", "lead_unit")
        .annotate(_raised_by=User.name_of("raised_by_id"), _leader=User.name_of("responsible_leader_id"),
                  _supervisor=User.name_of("supervisor_id"))
        .prefetch_related("helper_units")
        .filter(pk=pk)
        .order_by()
    )  # fmt: skip
    p = next(iter(found), None)
    if p is None:
        raise Http404(access.NOT_FOUND)
    events = list(p.events.select_related("actor").order_by("at", "id"))
    return {
        **problem_item(p, timezone.localdate(), clock.load_config()),
        "solve_level": p.solve_level,
        "solve_level_label": p.get_solve_level_display(),
        "raised_by": p.raised_by_id,
        "raised_by_name": p._raised_by,
        "responsible_leader": p.responsible_leader_id,
        "responsible_leader_name": p._leader,
        "assigned_on": p.assigned_on,
        "deployed_at": p.deployed_at,
        "first_feedback_at": p.first_feedback_at,
        "resolved_at": p.resolved_at,
        "resolve_workdays": p.resolve_workdays,
        "resolved_on_time": p.resolved_on_time,
        "rating": p.rating,
        "rating_label": p.get_rating_display() if p.rating else "",
        "rated_at": p.rated_at,
        "reopen_count": p.reopen_count,
        "closed_at": p.closed_at,
        "supervisor": p.supervisor_id,
        "supervisor_name": p._supervisor,
        "created_at": p.created_at,
        "updated_at": p.updated_at,
        "allowed_actions": sorted(access.allowed_actions(user, p)),
        "events": [
            {
                "id": e.pk,
                "kind": e.kind,
                "kind_label": e.get_kind_display(),
                "at": e.at,
                "actor": e.actor_id,
                "actor_name": _name(e.actor),
                "from_status": e.from_status,
                "to_status": e.to_status,
                "step": e.step,
                "text": e.text,
                "has_evidence": bool(e.evidence),
            }  # fmt: skip
            for e in events
        ],
    }


def _get(user: User, problem_id: int, action: str | None = None) -> Problem:
    """The problem through the scope (404), and the role check of `action` (403)."""
    problem = access.get_problem(user, problem_id)
    if action is not None and (reason := access.refusal(user, problem, action)):
        raise PermissionDenied(reason)
    return problem


# Domain field name -> this API's field name (the rest are the same).
FIELD_NAMES = {"received_on": "received_at"}


def _act(fn, *args, **kwargs):
    """Call a domain function; a step out of order or a stale version is 409, invalid values 422."""
    try:
        return fn(*args, **kwargs)
    except domain.ConflictError as exc:
        raise HttpError(409, _(exc.message)) from None
    except ValidationError as exc:
        raise domain_refusal(exc, names=FIELD_NAMES) from None


# ---------------------------------------------------------------------------------------------
# Endpoints

# 400: the body is not JSON.
ACTION_RESPONSES = {
    200: ProblemDetail, 400: Message, 401: Message, 403: Message, 404: Message, 409: Message, 422: ValidationErrors,
}  # fmt: skip


@router.get(
    "/problems",
    response={200: ProblemPage, 401: Message, 422: ValidationErrors},
    summary="问题列表",
    operation_id="list_problems",
)
def list_problems(request, params: Query[ProblemListQuery]):
    """本人可见的问题，筛选条件与问题督办页面相同（无效的筛选值返回 422，逐字段说明）。"""
    user = request.auth
    form = ProblemFilter(request.GET, user=user)
    if not form.is_valid():
        raise ApiValidationError.from_fields("query", {field: list(errs) for field, errs in form.errors.items()})
    cfg, today = clock.load_config(), timezone.localdate()
    problems = list_rows(form.filter(access.visible_problems(user), today=today, cfg=cfg))
    count = list_count(problems, ("projects", "problems"))
    rows = window(problems, params.offset, params.limit) if count > params.offset else []
    attach_helpers(rows)
    # problem_item() builds exactly ProblemPage's fields (tests check the answer against the schema);
    # a second validation pass over 25 rows through ninja's getters cost ~2 ms of CPU per request.
    data = {"count": count, "items": [problem_item(p, today, cfg) for p in rows]}
    from keyprojects.api.api import api  # noqa: PLC0415 - the API module imports this router

    return api.create_response(request, data, status=200)


@router.post(
    "/problems",
    response={201: ProblemDetail, 400: Message, 401: Message, 403: Message, 422: ValidationErrors},
    summary="反映问题",
    operation_id="create_problem",
)
def create_problem(request, payload: ProblemCreate):
    """企业就本企业项目、首席服务员就结对项目、调度员/领导/责任单位经办人就可见项目提出问题（待交办）。
    项目不存在或不可见：422（`project`）；角色不能就该项目提出：403。"""
    user = request.auth
    data = payload.model_dump()
    problem = _act(
        domain.raise_problem,
        by=user, project=data["project"], title=data["title"], category=data["category"],
        description=data["description"], source=data["source"], severity=data["severity"],
        received_on=data["received_at"],
    )  # fmt: skip
    return Answer(201, problem_detail(user, problem.pk))


@router.get(
    "/problems/{problem_id}",
    response={200: ProblemDetail, 401: Message, 404: Message, 422: ValidationErrors},
    summary="问题详情",
    operation_id="get_problem",
)
def get_problem(request, problem_id: int):
    """本人数据范围以外的问题一律 404。含办理记录和本人现在可执行的操作。"""
    try:
        return problem_detail(request.auth, problem_id)  # through the scope: 404 outside it, in one read
    except OverflowError:
        raise Http404(access.NOT_FOUND) from None


@router.patch(
    "/problems/{problem_id}",
    response={200: ProblemDetail, **{k: v for k, v in ACTION_RESPONSES.items() if k != 200}},
    summary="修改问题内容",
    operation_id="update_problem",
)
def update_problem(request, problem_id: int, payload: ProblemPatch):
    """交办前（待交办），提出人或调度员可修改标题、描述、类别、性质；交办后 409，其他人 403。"""
    user = request.auth
    problem = _get(user, problem_id, "edit")
    values = payload.model_dump(exclude_unset=True)
    version = values.pop("version", None)
    for key, value in values.items():
        if value is None and key != "description":
            raise ApiValidationError([error_item(["body", key], _("不能为空。"))])
    _act(domain.update_problem, problem, by=user, data=values, expected_version=version)
    return problem_detail(user, problem.pk)


@router.post("/problems/{problem_id}/assign", response=ACTION_RESPONSES, summary="交办", operation_id="assign_problem")
def assign_problem(request, problem_id: int, payload: AssignIn):
    """调度员交办：主办单位、协办单位、分管领导、性质、需协调层级，可补录交办日期；13710 计时开始。"""
    user = request.auth
    problem = _get(user, problem_id, "assign")
    data = payload.model_dump()
    kwargs = {"resolve_due": data["resolve_due"]} if data["resolve_due"] is not None else {}
    _act(
        domain.assign, problem, by=user, lead_unit=data["lead_unit"], helper_units=data["helper_units"],
        responsible_leader=data["responsible_leader"], solve_level=data["solve_level"], severity=data["severity"],
        assigned_on=data["assigned_on"], note=data["note"], expected_version=data["version"], **kwargs,
    )  # fmt: skip
    return problem_detail(user, problem.pk)


@router.post("/problems/{problem_id}/deploy", response=ACTION_RESPONSES, summary="部署", operation_id="deploy_problem")
def deploy_problem(request, problem_id: int, payload: NoteIn):
    """主办单位经办人确认部署（已交办 → 已部署）。"""
    user = request.auth
    problem = _get(user, problem_id, "deploy")
    _act(domain.deploy, problem, by=user, note=payload.note, expected_version=payload.version)
    return problem_detail(user, problem.pk)


@router.post(
    "/problems/{problem_id}/feedback", response=ACTION_RESPONSES, summary="反馈办理情况",
    operation_id="feedback_problem",
)  # fmt: skip
def feedback_problem(request, problem_id: int, payload: FeedbackIn):
    """主办或协办单位经办人反馈办理情况；主办单位的首次反馈使问题进入“办理中”。"""
    user = request.auth
    problem = _get(user, problem_id, "feedback")
    _act(domain.add_feedback, problem, by=user, text=payload.text)
    return problem_detail(user, problem.pk)


@router.post(
    "/problems/{problem_id}/resolve", response=ACTION_RESPONSES, summary="办结", operation_id="resolve_problem"
)
def resolve_problem(request, problem_id: int, payload: ResolveIn):
    """主办单位经办人办结，须说明办结情况及佐证（已部署/办理中 → 已办结）。"""
    user = request.auth
    problem = _get(user, problem_id, "resolve")
    _act(domain.resolve, problem, by=user, evidence=payload.evidence, expected_version=payload.version)
    return problem_detail(user, problem.pk)


@router.post("/problems/{problem_id}/rate", response=ACTION_RESPONSES, summary="回访评价", operation_id="rate_problem")
def rate_problem(request, problem_id: int, payload: RateIn):
    """项目企业评价：满意/基本满意 → 已回访；不满意（须说明原因）→ 退回办理中，重新计算办结期限。"""
    user = request.auth
    problem = _get(user, problem_id, "rate")
    _act(
        domain.rate, problem, by=user, rating=payload.rating, comment=payload.comment,
        expected_version=payload.version,
    )  # fmt: skip
    return problem_detail(user, problem.pk)


@router.post("/problems/{problem_id}/close", response=ACTION_RESPONSES, summary="销号", operation_id="close_problem")
def close_problem(request, problem_id: int, payload: NoteIn):
    """调度员销号（已回访且评价满意或基本满意 → 已销号）。"""
    user = request.auth
    problem = _get(user, problem_id, "close")
    _act(domain.close, problem, by=user, note=payload.note, expected_version=payload.version)
    return problem_detail(user, problem.pk)


@router.post(
    "/problems/{problem_id}/supervise", response=ACTION_RESPONSES, summary="挂牌督办",
    operation_id="supervise_problem",
)  # fmt: skip
def supervise_problem(request, problem_id: int, payload: SuperviseIn):
    """领导挂牌督办并设督办期限（不早于收到日期和今天）；再次挂牌替换督办领导和期限。"""
    user = request.auth
    problem = _get(user, problem_id, "supervise")
    _act(domain.supervise, problem, by=user, due=payload.supervision_due, note=payload.note)
    return problem_detail(user, problem.pk)


@router.post(
    "/problems/{problem_id}/escalate", response=ACTION_RESPONSES, summary="升级督办",
    operation_id="escalate_problem",
)  # fmt: skip
def escalate_problem(request, problem_id: int, payload: EscalateIn):
    """调度员或领导将计时中的问题升一级督办（上报市/省仅限需市级、省级协调的问题）。"""
    user = request.auth
    problem = _get(user, problem_id, "escalate")
    if not payload.reason:
        raise ApiValidationError([error_item(["body", "reason"], _("请填写升级理由。"), "missing")])
    _act(domain.escalate, problem, by=user, to_level=problem.escalation_level + 1, reason=payload.reason)
    return problem_detail(user, problem.pk)
