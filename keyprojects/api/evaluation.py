"""Evaluations (半年考评、年底总评) and quarterly observation tours (季度观摩) over the API.

- `GET /evaluations/{scheme}/{period}`: a scheme computed per unit (`keyprojects.evaluation.scoring`),
  each unit with its rank and the breakdown of every indicator (raw value, rule, points, weight,
  weighted points). Scope 全部 sees every unit; a unit officer the units in their scope; other roles 403.
- `GET /observation-tours`, `GET /observation-tours/{id}/results` (published once the tour is closed;
  409 before), `GET|POST /observation-tours/{id}/scores` (a judge's own sheets; posting creates the
  judge's sheet for a project, or edits it when `version` is given).

Reads go through `keyprojects.evaluation.access` (outside the scope: 404); the one error shape of
`keyprojects.api.errors`.
"""

from __future__ import annotations

import datetime
from typing import Annotated, Any, Literal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.http import Http404
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status
from ninja.errors import HttpError
from pydantic import ConfigDict

from keyprojects.api.errors import ApiValidationError, domain_refusal, error_item
from keyprojects.api.schemas import Id, Message, Money, Text, ValidationErrors
from keyprojects.evaluation import access, tours
from keyprojects.evaluation.models import ObservationTour, Scheme, ScoreSheet, TourStatus
from keyprojects.evaluation.periods import PeriodError
from keyprojects.evaluation.scoring import SchemeInvalid, as_dict, evaluate, rule_summary, scheme_units
from keyprojects.lib.choices import choice_label
from keyprojects.org.models import Unit

router = Router(tags=["考评与观摩"])

Points = Annotated[str, Field(description='两位小数的字符串，如 "87.50"')]


def _business(user) -> None:
    if not access.can_see_projects(user):
        raise PermissionDenied(_("您的账号没有查看业务数据的权限。"))


# ---------------------------------------------------------------------------------------------
# Evaluations


class IndicatorScoreOut(Schema):
    code: str
    name: str
    group: str = Field(description="指标组")
    source: str = Field(description="数据来源代码")
    unit: str = Field(description="原始值的单位：%、个、万元、个百分点、分")
    raw: Points | None = Field(description="原始值；无数据为 null")
    points: Points = Field(description="指标得分（0–100；加减分项为带符号的加减分）")
    weight: Points = Field(description="占总分的权重（分）；加减分项为 0")
    weighted: Points = Field(description="计入总分的分数 = 得分 × 权重 ÷ 100（加减分项为其加减分）")
    rule: str = Field(description="计分规则")
    note: str = Field(description="名次、无数据的处理、权重调整等说明")


class UnitScoreOut(Schema):
    unit_id: int
    unit_name: str
    unit_kind: str = Field(description="town 乡镇街道 / department 职能部门")
    total: Points
    rank: int = Field(description="名次；总分相同名次并列（1、2、2、4）")
    indicators: list[IndicatorScoreOut]


class EvaluationOut(Schema):
    scheme_code: str
    scheme_name: str
    period: str
    period_label: str
    start: datetime.date
    end: datetime.date
    rule: str
    notes: list[str]
    rows: list[UnitScoreOut]


class EvaluationQuery(Schema):
    kind: Literal["town", "department"] | None = Field(None, description="只评比乡镇街道或职能部门（在其中排名）")


@router.get(
    "/evaluations/{scheme}/{period}",
    response={200: EvaluationOut, 401: Message, 403: Message, 404: Message, 422: ValidationErrors},
    summary="考评结果",
    operation_id="get_evaluation",
)
def get_evaluation(request, scheme: str, period: str, params: Query[EvaluationQuery]):
    """按考评方案计算各单位得分。`period`：2026H1（半年）、2026（全年）、2026Q3（季度）、2026-10（月）。
    方案权重或规则有误：422（逐条说明，指明指标组）。无数据的指标按方案规定的规则计分。"""
    user = request.auth
    visible = access.evaluation_unit_ids(user)
    try:
        obj = Scheme.objects.get(code=scheme)
    except Scheme.DoesNotExist:
        raise Http404(_("考评方案不存在。")) from None
    units = None
    if params.kind:
        kind = Unit.Kind.TOWN if params.kind == "town" else Unit.Kind.DEPARTMENT
        units = [u for u in scheme_units(obj) if u.kind == kind]
    try:
        result = evaluate(scheme, period, units=units)
    except PeriodError as exc:
        raise ApiValidationError([error_item(["path", "period"], str(exc))]) from None
    except SchemeInvalid as exc:
        raise ApiValidationError([error_item(["path", "scheme"], m) for m in exc.messages]) from None
    data = as_dict(result)
    if visible is not None:
        data["rows"] = [r for r in data["rows"] if r["unit_id"] in visible]
    data["rule"] = rule_summary()
    return data


# ---------------------------------------------------------------------------------------------
# Observation tours


class CriterionOut(Schema):
    id: int
    name: str
    max_points: Points
    description: str


class TourOut(Schema):
    id: int
    year: int
    quarter: int
    title: str
    held_on: datetime.date
    status: str = Field(description="draft 筹备中 / open 评分中 / closed 已结束")
    status_label: str
    projects: int = Field(description="观摩项目数")
    judges: int = Field(description="评委人数")
    is_judge: bool = Field(description="本人是评委")
    trim_count: int
    trim_min_judges: int
    town_method: str
    rule: str = Field(description="汇总规则")
    criteria: list[CriterionOut]


class TourPage(Schema):
    count: int
    items: list[TourOut]


class ProjectResultOut(Schema):
    rank: int | None = Field(description="名次；得分相同并列；无人评分为 null")
    project_id: int
    name: str
    town_id: int | None
    town_name: str
    unit_name: str
    judges: int = Field(description="评分评委人数")
    totals: list[Points] = Field(description="各评委总分（由低到高）")
    dropped: list[Points] = Field(description="按规则去掉的最高、最低分")
    trimmed: bool
    score: Points | None = Field(description="最终得分")
    criteria_means: list[Points | None] = Field(description="各评分项的平均分，顺序同 criteria")


class TownResultOut(Schema):
    rank: int | None
    town_id: int | None
    name: str
    projects: int
    score: Points | None


class TourResultsOut(Schema):
    tour: TourOut
    max_total: Points
    projects: list[ProjectResultOut]
    towns: list[TownResultOut]


class ScoreItemOut(Schema):
    criterion: int
    criterion_name: str
    max_points: Points
    points: Points


class SheetOut(Schema):
    id: int
    tour: int
    project: int
    project_name: str
    judge: int
    total: Points
    comment: str
    version: int = Field(description="修改本评分表时回传")
    updated_at: datetime.datetime
    items: list[ScoreItemOut]


class ScoreIn(Schema):
    model_config = ConfigDict(extra="forbid")

    criterion: Id = Field(description="评分项 id")
    points: Money = Field(description='得分，0 到该项满分，最多两位小数，如 "18.5"')


class SheetIn(Schema):
    """评委本人对一个观摩项目的评分表。首次提交新建；已评过分的项目须带上原评分表的 `version`（修改原表），
    否则拒绝第二张评分表（409）。"""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    project: Id = Field(description="项目 id（须在本次观摩名单中）")
    scores: list[ScoreIn] = Field(description="每个评分项一项")
    comment: Annotated[Text, Field(max_length=500)] = ""
    version: Id | None = Field(None, description="修改原评分表时回传其版本号")


def _money(value) -> str | None:
    return None if value is None else f"{value:.2f}"


def _tour_item(tour: ObservationTour, judge_ids: set[int]) -> dict[str, Any]:
    return {
        "id": tour.pk, "year": tour.year, "quarter": tour.quarter, "title": tour.title, "held_on": tour.held_on,
        "status": tour.status, "status_label": choice_label(TourStatus, tour.status),
        "projects": tour.n_projects, "judges": tour.n_judges, "is_judge": tour.pk in judge_ids,
        "trim_count": tour.trim_count, "trim_min_judges": tour.trim_min_judges, "town_method": tour.town_method,
        "rule": tours.rule_text(tour),
        "criteria": [{"id": c.pk, "name": c.name, "max_points": _money(c.max_points), "description": c.description}
                     for c in tour.criteria.all()],
    }  # fmt: skip


def _tours_qs(user):
    return (
        access.visible_tours(user)
        .annotate(n_projects=Count("tour_projects", distinct=True), n_judges=Count("judges", distinct=True))
        .prefetch_related("criteria")
        .order_by("-year", "-quarter", "-held_on", "-id")
    )


def _judged(user) -> set[int]:
    from keyprojects.evaluation.models import TourJudge

    return set(TourJudge.objects.filter(user=user.pk).values_list("tour_id", flat=True))


@router.get(
    "/observation-tours",
    response={200: TourPage, 401: Message, 403: Message},
    summary="季度观摩列表",
    operation_id="list_observation_tours",
)
def list_tours(request):
    """本人可见的观摩活动（数据范围为全部的用户、评委本人、能看到其中项目的用户），按时间由近到远。"""
    user = request.auth
    _business(user)
    judged = _judged(user)
    items = [_tour_item(t, judged) for t in _tours_qs(user)]
    return {"count": len(items), "items": items}


def _get_tour(user, tour_id: int) -> ObservationTour:
    _business(user)
    tour = access.get_tour(user, tour_id)
    return _tours_qs(user).get(pk=tour.pk)


@router.get(
    "/observation-tours/{tour_id}/results",
    response={200: TourResultsOut, 401: Message, 403: Message, 404: Message, 409: Message, 422: ValidationErrors},
    summary="观摩结果",
    operation_id="get_observation_results",
)
def tour_results(request, tour_id: int):
    """观摩结束后公布：按项目、按乡镇街道排名，含各评委总分和去掉的最高最低分。评分进行中返回 409。
    数据范围不是全部的用户（评委除外）只看到本人可见的项目及其乡镇街道。"""
    user = request.auth
    tour = _get_tour(user, tour_id)
    if tour.status != TourStatus.CLOSED:
        raise HttpError(409, _("观摩评分尚未结束，结果在结束后公布。"))
    results = tours.tour_results(tour)
    allowed = access.result_project_ids(user, tour)
    projects = [r for r in results.projects if allowed is None or r.project_id in allowed]
    town_ids = {r.town_id for r in projects}
    return {
        "tour": _tour_item(tour, _judged(user)),
        "max_total": _money(results.max_total),
        "projects": [
            {
                "rank": r.rank,
                "project_id": r.project_id,
                "name": r.name,
                "town_id": r.town_id,
                "town_name": r.town_name,
                "unit_name": r.unit_name,
                "judges": r.judges,
                "totals": [_money(v) for v in r.totals],
                "dropped": [_money(v) for v in r.dropped],
                "trimmed": r.trimmed,
                "score": _money(r.score),
                "criteria_means": [_money(v) for v in r.criteria_means],
            }  # fmt: skip
            for r in projects
        ],
        "towns": [
            {"rank": t.rank, "town_id": t.town_id, "name": t.name, "projects": t.projects, "score": _money(t.score)}
            for t in results.towns
            if allowed is None or t.town_id in town_ids
        ],
    }


def _sheet(sheet: ScoreSheet) -> dict[str, Any]:
    items = sorted(sheet.items.all(), key=lambda i: (i.criterion.position, i.criterion_id))
    return {
        "id": sheet.pk, "tour": sheet.tour_id, "project": sheet.project_id, "project_name": sheet.project.name,
        "judge": sheet.judge_id, "total": _money(sheet.total), "comment": sheet.comment, "version": sheet.version,
        "updated_at": sheet.updated_at,
        "items": [{"criterion": i.criterion_id, "criterion_name": i.criterion.name,
                   "max_points": _money(i.criterion.max_points), "points": _money(i.points)} for i in items],
    }  # fmt: skip


def _sheets(tour: ObservationTour, user) -> list[ScoreSheet]:
    return list(
        ScoreSheet.objects.filter(tour=tour, judge=user.pk)
        .select_related("project")
        .prefetch_related("items__criterion")
        .order_by("project_id")
    )


@router.get(
    "/observation-tours/{tour_id}/scores",
    response={200: list[SheetOut], 401: Message, 403: Message, 404: Message, 422: ValidationErrors},
    summary="本人的观摩评分表",
    operation_id="list_my_observation_scores",
)
def my_scores(request, tour_id: int):
    """评委本人已提交的评分表（结束前只能看到本人的评分）。不是评委：空列表。"""
    user = request.auth
    tour = _get_tour(user, tour_id)
    return [_sheet(s) for s in _sheets(tour, user)]


@router.post(
    "/observation-tours/{tour_id}/scores",
    response={200: SheetOut, 201: SheetOut, 400: Message, 401: Message, 403: Message, 404: Message, 409: Message,
              422: ValidationErrors},
    summary="提交观摩评分表",
    operation_id="save_observation_scores",
)  # fmt: skip
def save_scores(request, tour_id: int, payload: SheetIn):
    """评委为一个观摩项目评分（评分中）：新建 201，带 `version` 修改本人原评分表 200。
    不是评委 403；观摩未开始或已结束、重复提交第二张评分表、版本过期 409；项目不在名单、得分为负或超过满分 422。"""
    user = request.auth
    tour = _get_tour(user, tour_id)
    points: dict[int, Any] = {}
    for index, item in enumerate(payload.scores):
        if item.criterion in points:
            raise ApiValidationError([error_item(["body", "scores", index, "criterion"], _("评分项重复。"))])
        points[item.criterion] = item.points
    try:
        sheet, created = tours.save_sheet(tour, by=user, project=payload.project, points=points,
                                          comment=payload.comment, expected_version=payload.version)  # fmt: skip
    except tours.ConflictError as exc:
        raise HttpError(409, _(exc.message)) from None
    except ValidationError as exc:
        raise domain_refusal(
            exc, state_codes=("invalid_state", "duplicate_sheet"), names={"points": "scores"}
        ) from None
    sheet = ScoreSheet.objects.select_related("project").prefetch_related("items__criterion").get(pk=sheet.pk)
    return Status(201 if created else 200, _sheet(sheet))
