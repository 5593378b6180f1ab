"""The project library over the API: list, read, create, change, delete.

Reads go through `keyprojects.projects.access` (outside the user's scope is 404, in scope but not
changeable is 403); changes go through `keyprojects.projects.domain`, which validates and audits.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import Http404
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from ninja import Query, Router, Status

from keyprojects.api.errors import ApiValidationError, error_item
from keyprojects.api.schemas import (
    Message,
    ProjectCreate,
    ProjectDetail,
    ProjectListQuery,
    ProjectPage,
    ProjectPatch,
    ValidationErrors,
)
from keyprojects.lib.choices import choice_label
from keyprojects.lib.pagination import window
from keyprojects.org.models import Unit, User
from keyprojects.projects import access, domain
from keyprojects.projects.filters import ProjectFilter, list_count
from keyprojects.projects.models import FinancingModel, Industry, Level, Project, SizeBand, Stage
from keyprojects.projects.models import Status as ProjectStatus

router = Router(tags=["项目"])

LIST_RELATED = ("industry", "town", "responsible_unit")


# The detail's other three names, read as scalar subqueries rather than joined: PostgreSQL's planner
# searches join orders for each added join (the six joins planned in 0.6–0.9 ms, longer than reading the
# row; three joins and three subqueries in 0.17 ms).
DETAIL_NAMES = {
    "_leader_name": User.name_of("responsible_leader_id"),
    "_officer_name": User.name_of("service_officer_id"),
    "_financing_name": Subquery(FinancingModel.objects.filter(pk=OuterRef("financing_model_id")).values("name")[:1]),
    # `domain.size_band_for` in the same statement: the highest band the investment reaches, and the
    # lowest band (whose name makes the "below" label), instead of a round trip for the bands.
    "_band": Subquery(
        SizeBand.objects.filter(min_investment__lte=OuterRef("total_investment"))
        .order_by("-min_investment")
        .values("name")[:1]
    ),
    "_lowest_band": Subquery(SizeBand.objects.order_by("min_investment").values("name")[:1]),
}


def _decimal(value, places: int) -> str | None:
    return None if value is None else f"{value:.{places}f}"


def project_item(p: Project, bands: list[SizeBand] | None) -> dict[str, Any]:
    """The list representation; needs industry, town and responsible_unit loaded, and the size bands
    (None: the project was read with `DETAIL_NAMES`, which name its band)."""
    return {
        "id": p.pk,
        "code": p.code,
        "name": p.name,
        "owner_name": p.owner_name,
        "owner_credit_code": p.owner_credit_code,
        "total_investment": _decimal(p.total_investment, 2),
        "industry_id": p.industry_id,
        "industry": p.industry.name,
        "level": p.level,
        "level_label": choice_label(Level, p.level),
        "size_band": domain.band_label(p._band, p._lowest_band)
        if bands is None
        else domain.size_band_for(p.total_investment, bands),
        "stage": p.stage,
        "stage_label": choice_label(Stage, p.stage),
        "status": p.status,
        "status_label": choice_label(ProjectStatus, p.status),
        "town_id": p.town_id,
        "town": p.town.name if p.town_id else None,
        "responsible_unit_id": p.responsible_unit_id,
        "responsible_unit": p.responsible_unit.name,
        "planned_start": p.planned_start,
        "planned_end": p.planned_end,
        "actual_start": p.actual_start,
        "actual_end": p.actual_end,
        "latitude": _decimal(p.latitude, 6),
        "longitude": _decimal(p.longitude, 6),
        "version": p.version,
    }


@functools.cache
def _detail_base() -> QuerySet[Project]:
    """All projects with the detail's joins and `DETAIL_NAMES`, unordered: built once per process, since
    resolving the five subqueries on every request cost more Python time than the query's round trip."""
    return Project.objects.select_related(*LIST_RELATED).annotate(**DETAIL_NAMES).order_by()


def _name(p: Project, annotation: str, relation: str) -> str | None:
    """A related row's name: from the `DETAIL_NAMES` annotation when the project was read with it."""
    if hasattr(p, annotation):
        return getattr(p, annotation)
    return str(getattr(p, relation)) if getattr(p, f"{relation}_id") else None


def project_detail(p: Project, bands: list[SizeBand] | None) -> dict[str, Any]:
    return {
        **project_item(p, bands),
        "project_type": p.project_type,
        "project_type_label": p.get_project_type_display(),
        "owner_credit_override": p.owner_credit_override,
        "owner_unit_id": p.owner_unit_id,
        "construction_content": p.construction_content,
        "responsible_leader_id": p.responsible_leader_id,
        "responsible_leader": _name(p, "_leader_name", "responsible_leader"),
        "service_officer_id": p.service_officer_id,
        "service_officer": _name(p, "_officer_name", "service_officer"),
        "financing_model_id": p.financing_model_id,
        "financing_model": _name(p, "_financing_name", "financing_model"),
        "stage_changed_on": p.stage_changed_on,
        "created_at": p.created_at,
        "updated_at": p.updated_at,
    }


def _render(request, data: dict[str, Any]):
    """A 200 answer of data built field by field to its schema, without a second validation pass."""
    from keyprojects.api.api import api  # the API module imports this router

    return api.create_response(request, data, status=200)


def _detail_of(project: Project) -> dict[str, Any]:
    return project_detail(project, domain.size_bands())


def _industries(user: User) -> QuerySet:
    return Industry.objects.all()


def _financing_models(user: User) -> QuerySet:
    return FinancingModel.objects.all()


def _towns(user: User) -> QuerySet:
    return Unit.objects.filter(kind=Unit.Kind.TOWN)


def _enterprises(user: User) -> QuerySet:
    return Unit.objects.filter(kind=Unit.Kind.ENTERPRISE)


def _active_users(user: User) -> QuerySet:
    return User.objects.filter(is_active=True)


# API field -> (model field, the objects the user may name, message when the id is not among them).
FOREIGN_KEYS: dict[str, tuple[str, Callable[[User], QuerySet], Any]] = {
    "industry_id": ("industry", _industries, gettext_lazy("行业不存在。")),
    "town_id": ("town", _towns, gettext_lazy("乡镇街道不存在。")),
    "responsible_unit_id": (
        "responsible_unit",
        access.assignable_responsible_units,
        gettext_lazy("责任单位不存在或无权指定。"),
    ),
    "owner_unit_id": ("owner_unit", _enterprises, gettext_lazy("企业账号单位不存在（须为企业类单位）。")),
    "responsible_leader_id": ("responsible_leader", _active_users, gettext_lazy("分包领导不存在或已停用。")),
    "service_officer_id": ("service_officer", _active_users, gettext_lazy("首席服务员不存在或已停用。")),
    "financing_model_id": ("financing_model", _financing_models, gettext_lazy("融资模式不存在。")),
}


def resolve_fields(user: User, values: dict[str, Any], current: Project | None = None) -> dict[str, Any]:
    """Turn API values into the domain's data: ids become objects the user may name.

    An id the project already has is kept without checking it again, so a client may send back
    what it read (e.g. an officer editing a project of their town whose responsible unit is not theirs).
    """
    data: dict[str, Any] = {}
    errors = []
    for key, value in values.items():
        if key not in FOREIGN_KEYS:
            data[key] = value
            continue
        field, choices, message = FOREIGN_KEYS[key]
        if value is None:
            data[field] = None
        elif current is not None and getattr(current, f"{field}_id") == value:
            continue
        elif obj := choices(user).filter(pk=value).first():
            data[field] = obj
        else:
            errors.append(error_item(["body", key], message, "not_found"))
    if errors:
        raise ApiValidationError(errors)
    return data


# ---------------------------------------------------------------------------------------------


@router.get(
    "/projects",
    response={200: ProjectPage, 401: Message, 422: ValidationErrors},
    summary="项目列表",
    operation_id="list_projects",
)
def list_projects(request, params: Query[ProjectListQuery]):
    """本人可见的项目，筛选条件与项目库页面相同（无效的筛选值返回 422，逐字段说明）。"""
    form = ProjectFilter(request.GET)
    if not form.is_valid():
        raise ApiValidationError.from_fields("query", {field: list(errs) for field, errs in form.errors.items()})
    projects = form.filter(access.visible_projects(request.auth)).select_related(*LIST_RELATED)
    count = list_count(projects)
    rows = window(projects, params.offset, params.limit) if count > params.offset else []
    bands = domain.size_bands()
    # project_item() builds exactly ProjectPage's fields (tests check the answer against the schema);
    # a second validation pass over 25 rows through ninja's getters cost ~2 ms of CPU per request.
    return _render(request, {"count": count, "items": [project_item(p, bands) for p in rows]})


@router.post(
    "/projects",
    response={201: ProjectDetail, 400: Message, 401: Message, 403: Message, 409: Message, 422: ValidationErrors},
    summary="新建项目",
    operation_id="create_project",
)
def create_project(request, payload: ProjectCreate):
    """调度员和责任单位经办人可新建；责任单位须为本人有权指定的单位。"""
    user = request.auth
    if not access.can_create_project(user):
        raise PermissionDenied(_("无权新建项目。"))
    values = payload.model_dump()
    stage, stage_on = values.pop("stage"), values.pop("stage_on")
    data = resolve_fields(user, values)
    project = domain.create_project(by=user, data=data, stage=stage, stage_on=stage_on)
    return Status(201, _detail_of(project))


@router.get(
    "/projects/{project_id}",
    response={200: ProjectDetail, 401: Message, 404: Message, 422: ValidationErrors},
    summary="项目详情",
    operation_id="get_project",
)
def get_project(request, project_id: int):
    """本人数据范围以外的项目一律 404。"""
    # As access.get_project (the scope, the same 404), with every related row the answer names in the
    # same query instead of one query each. Unordered and without LIMIT (the id matches one row at most):
    # both cost PostgreSQL's planner time for nothing.
    try:
        project = next(iter(access.visible_projects(request.auth, _detail_base()).filter(pk=project_id)), None)
    except OverflowError:
        project = None
    if project is None:
        raise Http404("项目不存在或无权查看。")
    # project_detail() builds exactly ProjectDetail's fields (a test compares the answer with the schema's);
    # the renderer formats dates and times as ninja would after validating.
    return _render(request, project_detail(project, None))


@router.patch(
    "/projects/{project_id}",
    response={200: ProjectDetail, 400: Message, 401: Message, 403: Message, 404: Message, 409: Message,
              422: ValidationErrors},
    summary="修改项目",
    operation_id="update_project",
)  # fmt: skip
def update_project(request, project_id: int, payload: ProjectPatch):
    """只传要修改的字段；带上读取时的 version 可避免覆盖他人的修改（409）。可见但无权修改时 403。"""
    user = request.auth
    project = access.get_project(user, project_id, write=True)
    values = payload.model_dump(exclude_unset=True)
    version = values.pop("version", None)
    data = resolve_fields(user, values, current=project)
    return _detail_of(domain.update_project(project, by=user, data=data, expected_version=version))


@router.delete(
    "/projects/{project_id}",
    response={204: None, 401: Message, 403: Message, 404: Message, 409: Message, 422: ValidationErrors},
    summary="删除项目",
    operation_id="delete_project",
)
def delete_project(request, project_id: int):
    """仅调度员可删除。"""
    user = request.auth
    project = access.get_project(user, project_id)
    if not access.can_delete_project(user, project):
        raise PermissionDenied(_("无权删除该项目。"))
    domain.delete_project(project, by=user)
    return Status(204, None)
