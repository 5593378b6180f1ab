"""Funding, acceleration measures and the district registries over the API.

- `/funding-lines`: a project's funding lines (专项债, 中央预算内…) with their pipeline steps, bond and
  rates; the district summary per fund type and year (`/funding-lines/summary`); the fund types.
  Reads through `funding.access` (a line is seen when its project is: outside 404); changes through
  `funding.domain` by whoever may change the project (else 403), with the pipeline rules (422).
- `/projects/{id}/land`, `/projects/{id}/approvals/{item_id}/measures`: 标准地 / 拿地即开工 and the
  信用承诺 / 全程代办 measures, with the same rules as the pages.
- `/service-matters`, `/industry-chains`, `/buildings`: read by every business user (三员: 403); chains
  list only the projects the user may see; 调度员 create and change chains and buildings.

Money travels as decimal strings ("20370.00", 万元); rates as percentage strings with one decimal
("81.3"), never capped; dates as YYYY-MM-DD.
"""

from __future__ import annotations

import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any, Literal

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db.models import Prefetch, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema, Status
from ninja.errors import HttpError
from pydantic import ConfigDict, Field

from keyprojects.api.errors import ApiValidationError, error_item
from keyprojects.api.schemas import Day, Id, Message, Money, Text, ValidationErrors
from keyprojects.funding import access, domain, figures
from keyprojects.funding.models import (
    STEP_ORDER,
    ApprovalAcceleration,
    Building,
    FundingLine,
    FundingSettings,
    FundType,
    IndustryChain,
    ProjectLand,
    PromiseOutcome,
    ServiceMatter,
    Step,
    TaxBand,
)
from keyprojects.org.models import Role, Unit, User
from keyprojects.projects.models import Project
from keyprojects.workcal.calendar import workdays_between

router = Router(tags=["资金与营商环境"])

StepKey = Literal["reserve", "applied", "ndrc", "mof", "allocated", "issued", "disbursed", "spent"]
assert list(StepKey.__args__) == STEP_ORDER  # the API's step names are the stored ones

# Domain error keys -> API locations.
API_FIELDS = {
    "fund_type": ["fund_type_id"], "agent": ["agent_id"], "town": ["town_id"], "leader": ["leader_id"],
    "lead_company": ["lead_company_id"], "companies": ["company_ids"], "projects": ["project_ids"],
}  # fmt: skip


def _loc(key: str) -> list[str | int]:
    if key == NON_FIELD_ERRORS:
        return ["body"]
    if key in API_FIELDS:
        return ["body", *API_FIELDS[key]]
    for step in STEP_ORDER:
        if key.startswith(f"{step}_"):
            return ["body", "steps", step, key.removeprefix(f"{step}_")]
    if key.startswith("bond_"):
        return ["body", "bond", key.removeprefix("bond_")]
    return ["body", key]


def _run(call):
    """Call a domain function: field errors → 422 at the API's locations; a stale version → 409."""
    try:
        return call()
    except domain.ConflictError as exc:
        raise HttpError(409, _(exc.message)) from None
    except ValidationError as exc:
        if not hasattr(exc, "error_dict"):
            raise ApiValidationError([error_item(["body"], m) for m in exc.messages]) from None
        items = [error_item(_loc(k), m) for k, msgs in exc.message_dict.items() for m in msgs]
        raise ApiValidationError(items) from None


def _money(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


def _pct(ratio: Decimal | None) -> str | None:
    if ratio is None:
        return None
    return str((ratio * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def _resolve(queryset, pk: int | None, field: str, message: str):
    if pk is None:
        return None
    obj = queryset.filter(pk=pk).first()
    if obj is None:
        raise ApiValidationError([error_item(["body", field], message, "not_found")])
    return obj


def _resolve_many(queryset, pks: list[int], field: str, message: str) -> list:
    found = {o.pk: o for o in queryset.filter(pk__in=pks)}
    missing = [pk for pk in dict.fromkeys(pks) if pk not in found]
    if missing:
        raise ApiValidationError([error_item(["body", field], message % {"ids": ", ".join(map(str, missing))},
                                             "not_found")])  # fmt: skip
    return [found[pk] for pk in dict.fromkeys(pks)]


# ---------------------------------------------------------------------------------------------
# Shapes


class _Input(Schema):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class StepIn(_Input):
    amount: Money | None = Field(None, description='金额（万元，最多两位小数），如 "20370.00"；拨付、支出为累计数')
    date: Day | None = Field(None, description="日期 YYYY-MM-DD，不早于前一环节，不晚于今天")
    document_number: Annotated[Text, Field(max_length=80)] = ""


class BondIn(_Input):
    name: Annotated[Text, Field(max_length=120, description="债券名称")] = ""
    code: Annotated[Text, Field(max_length=40, description="债券代码")] = ""
    term_years: int | None = Field(None, description="期限（年），1–50")
    rate: Money | None = Field(None, description='票面利率（%），如 "2.150"')


STEPS_DESCRIPTION = (
    "各环节：reserve 储备、applied 申报、ndrc 发改审核通过、mof 财政审核通过、allocated 额度下达、issued 发行（债券）、"
    "disbursed 拨付、spent 支出。后一环节金额不超过前一环节，日期不早于前一环节；每条资金须有储备。"
)


class LineCreate(_Input):
    """登记一条资金。"""

    project_id: Id = Field(description="项目 id（本人可修改的项目）")
    fund_type_id: Id = Field(description="资金类型 id（见 /funding-lines/fund-types）")
    year: int = Field(description="年度")
    batch: Annotated[Text, Field(max_length=40, description="批次，如“第三批”")] = ""
    rejected: bool = Field(False, description="审核未通过（此时只能到申报环节）")
    note: Annotated[Text, Field(max_length=500)] = ""
    steps: dict[StepKey, StepIn] = Field(description=STEPS_DESCRIPTION)
    bond: BondIn | None = Field(None, description="债券信息（发行后必填，仅债券类资金）")


class LinePatch(_Input):
    """修改资金：只传要改的字段。steps 中给出的环节被替换，值为 null 的环节被删除，未给出的保持不变。"""

    fund_type_id: Id | None = None
    year: int | None = None
    batch: Annotated[Text, Field(max_length=40)] | None = None
    rejected: bool | None = None
    note: Annotated[Text, Field(max_length=500)] | None = None
    steps: dict[StepKey, StepIn | None] | None = Field(None, description=STEPS_DESCRIPTION)
    bond: BondIn | None = Field(None, description="债券信息；传 {} 清除")
    version: Id | None = Field(None, description="读取时的版本号；已被他人修改时返回 409")


class StepOut(Schema):
    step: str
    label: str
    amount: str
    date: datetime.date
    document_number: str


class BondOut(Schema):
    name: str
    code: str
    term_years: int
    rate: str


class RatesOut(Schema):
    allocation_rate: str | None = Field(description="下达率（%）= 额度下达 ÷ 审核通过")
    spending_progress: str | None = Field(description="支出进度（%）= 支出 ÷ 下达（无下达环节按拨付）")
    in_place_rate: str | None = Field(description="资金到位率（%）= 拨付 ÷ 储备")


class AlertOut(Schema):
    kind: str
    kind_label: str
    basis_date: datetime.date
    message: str
    created_at: datetime.datetime


class LineOut(Schema):
    id: int
    project_id: int
    project: str
    fund_type_id: int
    fund_type: str
    year: int
    batch: str
    stage: str = Field(description="当前（最远）环节")
    stage_label: str
    rejected: bool
    note: str
    steps: list[StepOut]
    bond: BondOut | None
    rates: RatesOut
    alerts: list[AlertOut] = Field(description="后台任务发出的提醒（资金闲置、债券资金到位未报投资）")
    version: int


class LinePage(Schema):
    count: int
    items: list[LineOut]


class LineQuery(Schema):
    project_id: int | None = Field(None, ge=1, description="只看该项目")
    fund_type_id: int | None = Field(None, ge=1, description="资金类型 id")
    year: int | None = Field(None, ge=2000, le=2100)
    stage: StepKey | None = Field(None, description="当前环节")
    limit: int = Field(100, ge=1, le=500)
    offset: int = Field(0, ge=0, le=1_000_000_000)


class FundTypeOut(Schema):
    id: int
    name: str
    short_name: str
    has_issuance: bool = Field(description="债券类，有发行环节")
    government: bool
    is_active: bool


class StepFigureOut(Schema):
    projects: int = Field(description="达到该环节的项目数")
    amount: str = Field(description="金额（万元）")


class SummaryRowOut(Schema):
    fund_type_id: int
    fund_type: str
    year: int
    lines: int
    prepared: StepFigureOut = Field(description="储备")
    applied: StepFigureOut = Field(description="申报")
    approved: StepFigureOut = Field(description="审核通过（财政审核金额，没有时取发改审核金额）")
    allocated: StepFigureOut = Field(description="额度下达")
    issued: StepFigureOut = Field(description="发行")
    disbursed: StepFigureOut = Field(description="拨付到位")
    spent: StepFigureOut = Field(description="支出")
    rates: RatesOut
    summary: str = Field(description="文字表述，如“储备14个项目、98.30亿元；…”")


class SummaryQuery(Schema):
    year: int | None = Field(None, ge=2000, le=2100)
    fund_type_id: int | None = Field(None, ge=1)


def line_out(line: FundingLine) -> dict[str, Any]:
    """Needs project, fund_type, bond, steps and alerts loaded."""
    steps = sorted(line.steps.all(), key=lambda s: Step.order(s.step))
    amounts = figures.line_amounts(line)
    bond = getattr(line, "bond", None)
    return {
        "id": line.pk, "project_id": line.project_id, "project": line.project.name, "fund_type_id": line.fund_type_id,
        "fund_type": line.fund_type.name, "year": line.year, "batch": line.batch, "stage": line.stage,
        "stage_label": line.get_stage_display(), "rejected": line.rejected, "note": line.note,
        "steps": [{"step": s.step, "label": s.get_step_display(), "amount": _money(s.amount), "date": s.date,
                   "document_number": s.document_number} for s in steps],
        "bond": {"name": bond.name, "code": bond.code, "term_years": bond.term_years, "rate": str(bond.rate)}
        if bond else None,
        "rates": _rates(amounts),
        "alerts": [{"kind": a.kind, "kind_label": a.get_kind_display(), "basis_date": a.basis_date,
                    "message": a.message, "created_at": a.created_at} for a in line.alerts.all() if a.fired],
        "version": line.version,
    }  # fmt: skip


def _rates(amounts: figures.Amounts) -> dict[str, str | None]:
    return {"allocation_rate": _pct(amounts.allocation_rate), "spending_progress": _pct(amounts.spending_progress),
            "in_place_rate": _pct(amounts.in_place_rate)}  # fmt: skip


def _lines(queryset):
    return queryset.select_related("project", "fund_type", "bond").prefetch_related("steps", "alerts")


def _line_detail(pk: int) -> dict[str, Any]:
    return line_out(_lines(FundingLine.objects).get(pk=pk))


def _step_values(steps: dict[str, Any] | None) -> dict[str, domain.StepValue]:
    out = {}
    for step, value in (steps or {}).items():
        if value is not None:
            out[step] = domain.StepValue(value.get("amount"), value.get("date"), value.get("document_number") or "")
    return out


# ---------------------------------------------------------------------------------------------
# Funding lines


@router.get(
    "/funding-lines/fund-types",
    response={200: list[FundTypeOut], 401: Message, 403: Message},
    summary="资金类型",
    operation_id="list_fund_types",
)
def list_fund_types(request):
    """可配置的资金类型（地方政府专项债券、中央预算内投资、银行贷款……）。"""
    access.ensure_registry_reader(request.auth)
    return [
        {"id": t.pk, "name": t.name, "short_name": t.short_name, "has_issuance": t.has_issuance,
         "government": t.government, "is_active": t.is_active}
        for t in FundType.objects.all()
    ]  # fmt: skip


@router.get(
    "/funding-lines/summary",
    response={200: list[SummaryRowOut], 401: Message, 403: Message, 422: ValidationErrors},
    summary="资金汇总（按资金类型和年度）",
    operation_id="funding_summary",
)
def funding_summary(request, params: Query[SummaryQuery]):
    """本人可见项目的资金：每种资金每个年度达到各环节的项目数和金额，以及下达率、支出进度、资金到位率。"""
    user = request.auth
    access.ensure_registry_reader(user)
    fund_type = None
    if params.fund_type_id is not None:
        fund_type = FundType.objects.filter(pk=params.fund_type_id).first()
        if fund_type is None:
            raise ApiValidationError([error_item(["query", "fund_type_id"], _("资金类型不存在。"), "not_found")])
    rows = figures.district_rows(access.visible_projects(user), year=params.year, fund_type=fund_type)

    def fig(f: figures.StepFigure) -> dict[str, Any]:
        return {"projects": f.projects, "amount": _money(f.amount)}

    return [
        {"fund_type_id": r.fund_type.pk, "fund_type": r.fund_type.name, "year": r.year, "lines": r.lines,
         "prepared": fig(r.prepared), "applied": fig(r.applied), "approved": fig(r.approved),
         "allocated": fig(r.allocated), "issued": fig(r.issued), "disbursed": fig(r.disbursed), "spent": fig(r.spent),
         "rates": _rates(r.amounts), "summary": r.summary()}
        for r in rows
    ]  # fmt: skip


@router.get(
    "/funding-lines",
    response={200: LinePage, 401: Message, 403: Message, 422: ValidationErrors},
    summary="资金列表",
    operation_id="list_funding_lines",
)
def list_funding_lines(request, params: Query[LineQuery]):
    """本人可见项目的资金，按年度（新在前）、资金类型排序。"""
    user = request.auth
    access.ensure_registry_reader(user)
    lines = access.visible_lines(user)
    if params.project_id:
        lines = lines.filter(project_id=params.project_id)
    if params.fund_type_id:
        lines = lines.filter(fund_type_id=params.fund_type_id)
    if params.year:
        lines = lines.filter(year=params.year)
    if params.stage:
        lines = lines.filter(stage=params.stage)
    lines = lines.order_by("-year", "fund_type__position", "project_id", "id")
    count = lines.count()
    rows = list(_lines(lines)[params.offset : params.offset + params.limit]) if count > params.offset else []
    return {"count": count, "items": [line_out(line) for line in rows]}


@router.get(
    "/funding-lines/{line_id}",
    response={200: LineOut, 401: Message, 404: Message, 422: ValidationErrors},
    summary="资金详情",
    operation_id="get_funding_line",
)
def get_funding_line(request, line_id: int):
    """本人数据范围以外的项目的资金一律 404。"""
    return _line_detail(access.get_line(request.auth, line_id).pk)


@router.post(
    "/funding-lines",
    response={201: LineOut, 400: Message, 401: Message, 403: Message, 404: Message, 409: Message,
              422: ValidationErrors},
    summary="登记资金",
    operation_id="create_funding_line",
)  # fmt: skip
def create_funding_line(request, payload: LineCreate):
    """调度员和项目责任单位（乡镇街道）经办人。环节倒退（金额超过前一环节、日期早于前一环节）时 422，不保存任何内容。"""
    user = request.auth
    project = access.get_project(user, payload.project_id)
    if not access.can_edit_funding(user, project):
        raise HttpError(403, _("无权修改该项目的资金信息。"))
    fund_type = _resolve(FundType.objects.filter(is_active=True), payload.fund_type_id, "fund_type_id",
                         _("资金类型不存在或已停用。"))  # fmt: skip
    values = payload.model_dump()
    data = {"fund_type": fund_type, "year": values["year"], "batch": values["batch"], "rejected": values["rejected"],
            "note": values["note"], "steps": _step_values(values["steps"]), "bond": values["bond"] or {}}  # fmt: skip
    line = _run(lambda: domain.create_line(by=user, project=project, data=data))
    return Status(201, _line_detail(line.pk))


@router.patch(
    "/funding-lines/{line_id}",
    response={200: LineOut, 400: Message, 401: Message, 403: Message, 404: Message, 409: Message,
              422: ValidationErrors},
    summary="修改资金",
    operation_id="update_funding_line",
)  # fmt: skip
def update_funding_line(request, line_id: int, payload: LinePatch):
    """只传要改的字段；steps 按环节合并（null 删除该环节）。修改后整条资金重新校验，不通过时 422，不保存任何内容。"""
    user = request.auth
    line = access.get_line(user, line_id, write=True)
    values = payload.model_dump(exclude_unset=True)
    fund_type = line.fund_type
    if values.get("fund_type_id") is not None and values["fund_type_id"] != line.fund_type_id:
        fund_type = _resolve(FundType.objects.filter(is_active=True), values["fund_type_id"], "fund_type_id",
                             _("资金类型不存在或已停用。"))  # fmt: skip
    steps = domain.step_values(line)
    for step, value in (values.get("steps") or {}).items():
        if value is None:
            steps.pop(step, None)
        else:
            steps[step] = domain.StepValue(value.get("amount"), value.get("date"), value.get("document_number") or "")
    bond = (values["bond"] or {}) if "bond" in values else domain.bond_values(line)
    data = {
        "fund_type": fund_type,
        "year": values["year"] if values.get("year") is not None else line.year,
        "batch": values["batch"] if values.get("batch") is not None else line.batch,
        "rejected": values["rejected"] if values.get("rejected") is not None else line.rejected,
        "note": values["note"] if values.get("note") is not None else line.note,
        "steps": steps,
        "bond": bond,
    }
    saved = _run(lambda: domain.update_line(line, by=user, data=data, expected_version=values.get("version")))
    return _line_detail(saved.pk)


@router.delete(
    "/funding-lines/{line_id}",
    response={204: None, 401: Message, 403: Message, 404: Message, 422: ValidationErrors},
    summary="删除资金",
    operation_id="delete_funding_line",
)
def delete_funding_line(request, line_id: int):
    """与修改相同的人可删除；记入项目历史。"""
    line = access.get_line(request.auth, line_id, write=True)
    domain.delete_line(line, by=request.auth)
    return Status(204, None)


# ---------------------------------------------------------------------------------------------
# Land (标准地, 拿地即开工) and the acceleration measures of an approval


class LandIO(_Input):
    certificate_on: Day | None = Field(None, description="取得不动产权证日期")
    area_mu: Money | None = Field(None, description="用地面积（亩）")
    is_standard: bool = Field(False, description="标准地出让")
    sold_on: Day | None = Field(None, description="出让日期（标准地必填）")
    promised_investment: Money | None = Field(None, description="承诺亩均投资（万元/亩）")
    promised_tax: Money | None = Field(None, description="承诺亩均税收（万元/亩）")
    promised_plot_ratio: Money | None = Field(None, description="承诺容积率")
    promised_energy: Money | None = Field(None, description="承诺单位能耗（吨标煤/万元）")
    promised_emission: Money | None = Field(None, description="承诺排放总量（吨/年）")
    checked_on: Day | None = Field(None, description="达产复核日期")
    checked_investment: Money | None = None
    checked_tax: Money | None = None
    checked_plot_ratio: Money | None = None
    checked_energy: Money | None = None
    checked_emission: Money | None = None


class GapOut(Schema):
    key: str
    label: str
    unit: str
    promised: str | None
    checked: str | None
    gap: str | None = Field(description="复核 − 承诺")
    met: bool | None = Field(description="是否达到承诺（能耗、排放以不高于承诺为达标）")


class LandOut(Schema):
    project_id: int
    certificate_on: datetime.date | None
    area_mu: str | None
    is_standard: bool
    sold_on: datetime.date | None
    checked_on: datetime.date | None
    indicators: list[GapOut]
    permit_on: datetime.date | None = Field(description="取得施工许可证日期（前期手续）")
    started_on: datetime.date | None = Field(description="实际开工日期")
    workdays_to_permit: int | None
    workdays_to_start: int | None
    land_to_start: bool = Field(description="达到“拿地即开工”目标（工作日）")


def _plain(value: Any) -> str | None:
    return None if value is None else str(value)


def land_out(project: Project, land: ProjectLand) -> dict[str, Any]:
    row = None
    if land.certificate_on:
        target = FundingSettings.load().land_to_start_target
        row = figures.land_row(project, land, figures.permit_dates([project.pk]).get(project.pk), target)
    return {
        "project_id": project.pk, "certificate_on": land.certificate_on, "area_mu": _plain(land.area_mu),
        "is_standard": land.is_standard, "sold_on": land.sold_on, "checked_on": land.checked_on,
        "indicators": [{"key": g.key, "label": g.label, "unit": g.unit, "promised": _plain(g.promised),
                        "checked": _plain(g.checked), "gap": _plain(g.gap), "met": g.met}
                       for g in figures.indicator_gaps(land)] if land.is_standard else [],
        "permit_on": row.permit_on if row else None, "started_on": project.actual_start,
        "workdays_to_permit": row.to_permit if row else None, "workdays_to_start": row.to_start if row else None,
        "land_to_start": bool(row and row.on_target),
    }  # fmt: skip


@router.get(
    "/projects/{project_id}/land",
    response={200: LandOut, 401: Message, 404: Message, 422: ValidationErrors},
    summary="项目用地与标准地",
    operation_id="get_project_land",
)
def get_project_land(request, project_id: int):
    """不动产权证、标准地承诺和复核指标（含差距），以及“拿地即开工”的工作日。尚未登记时 404。"""
    project = access.get_project(request.auth, project_id)
    land = ProjectLand.objects.filter(project=project).first()
    if land is None:
        raise HttpError(404, _("该项目尚未登记用地信息。"))
    return land_out(project, land)


@router.put(
    "/projects/{project_id}/land",
    response={200: LandOut, 400: Message, 401: Message, 403: Message, 404: Message, 422: ValidationErrors},
    summary="登记项目用地与标准地",
    operation_id="put_project_land",
)
def put_project_land(request, project_id: int, payload: LandIO):
    """整体替换。标准地须填写出让日期和五项承诺指标；复核指标须有达产复核日期。"""
    user = request.auth
    project = access.get_project(user, project_id, write=True)
    land = _run(lambda: domain.save_land(project, by=user, data=payload.model_dump()))
    return land_out(project, land)


class MeasuresIO(_Input):
    on_promise: bool = Field(False, description="信用承诺制办理")
    promise_content: Annotated[Text, Field(max_length=300)] = ""
    promise_deadline: Day | None = Field(None, description="承诺期限（信用承诺必填）")
    promise_outcome: Literal["pending", "kept", "broken"] = Field("pending", description="未到期 / 已兑现 / 未兑现")
    promise_checked_on: Day | None = Field(None, description="核查日期")
    agent_id: Id | None = Field(None, description="代办员（用户）id（全程代办）")
    agent_started_on: Day | None = Field(None, description="代办受理日期")


class MeasuresOut(Schema):
    item_id: int
    item: str
    status: str
    on_promise: bool
    promise_content: str
    promise_deadline: datetime.date | None
    promise_outcome: str
    promise_outcome_label: str
    promise_checked_on: datetime.date | None
    agent_id: int | None
    agent: str | None
    agent_started_on: datetime.date | None
    agent_workdays: int | None = Field(description="全程代办用时（工作日，至办结或今天）")


def measures_out(item, a: ApprovalAcceleration | None) -> dict[str, Any]:
    a = a or ApprovalAcceleration(item=item)
    days = (
        workdays_between(a.agent_started_on, item.actual_date or timezone.localdate()) if a.agent_started_on else None
    )
    return {
        "item_id": item.pk, "item": item.name, "status": item.status, "on_promise": a.on_promise,
        "promise_content": a.promise_content, "promise_deadline": a.promise_deadline,
        "promise_outcome": a.promise_outcome, "promise_outcome_label": str(PromiseOutcome(a.promise_outcome).label),
        "promise_checked_on": a.promise_checked_on, "agent_id": a.agent_id,
        "agent": str(a.agent) if a.agent_id else None, "agent_started_on": a.agent_started_on, "agent_workdays": days,
    }  # fmt: skip


@router.get(
    "/projects/{project_id}/approvals/{item_id}/measures",
    response={200: MeasuresOut, 401: Message, 404: Message, 422: ValidationErrors},
    summary="审批提速措施",
    operation_id="get_approval_measures",
)
def get_approval_measures(request, project_id: int, item_id: int):
    """前期手续事项的信用承诺和全程代办。"""
    item = access.get_acceleration_item(request.auth, project_id, item_id)
    return measures_out(item, access.acceleration_of(item))


@router.put(
    "/projects/{project_id}/approvals/{item_id}/measures",
    response={200: MeasuresOut, 400: Message, 401: Message, 403: Message, 404: Message, 422: ValidationErrors},
    summary="登记审批提速措施",
    operation_id="put_approval_measures",
)
def put_approval_measures(request, project_id: int, item_id: int, payload: MeasuresIO):
    """可办理该事项的人（调度员、责任单位、办理部门）。信用承诺须有承诺期限；代办须有代办员和受理日期。"""
    user = request.auth
    item = access.get_acceleration_item(user, project_id, item_id, write=True)
    values = payload.model_dump()
    current = access.acceleration_of(item)
    agent_id = values.pop("agent_id")
    if agent_id is None:
        values["agent"] = None
    elif current is not None and current.agent_id == agent_id:
        values["agent"] = current.agent  # kept as it is (the domain refuses it if it was deactivated)
    else:
        values["agent"] = _resolve(
            User.objects.filter(is_active=True), agent_id, "agent_id", _("代办员不存在或已停用。")
        )
    saved = _run(lambda: domain.save_acceleration(item, by=user, data=values))
    return measures_out(item, saved)


# ---------------------------------------------------------------------------------------------
# Service matters


class MatterOut(Schema):
    id: int
    code: str
    name: str
    category: str
    category_label: str
    department_id: int | None
    department: str
    at_most_once: bool
    on_the_spot: bool
    near_home: bool
    online: bool
    promised_days: int | None


class MatterCounts(Schema):
    total: int
    at_most_once: int
    on_the_spot: int
    near_home: int
    online: int


class MatterPage(Schema):
    count: int
    counts: MatterCounts = Field(description="整个目录（在用事项）的统计")
    items: list[MatterOut]


class MatterQuery(Schema):
    q: str | None = Field(None, max_length=100, description="名称或编码")
    department: str | None = Field(None, max_length=100, description="办理部门名称")
    flag: Literal["at_most_once", "on_the_spot", "near_home", "online", "offline"] | None = None
    limit: int = Field(100, ge=1, le=500)
    offset: int = Field(0, ge=0, le=1_000_000_000)


def matter_out(m: ServiceMatter) -> dict[str, Any]:
    return {
        "id": m.pk, "code": m.code, "name": m.name, "category": m.category, "category_label": m.get_category_display(),
        "department_id": m.department_id, "department": m.department_name, "at_most_once": m.at_most_once,
        "on_the_spot": m.on_the_spot, "near_home": m.near_home, "online": m.online, "promised_days": m.promised_days,
    }  # fmt: skip


@router.get(
    "/service-matters",
    response={200: MatterPage, 401: Message, 403: Message, 422: ValidationErrors},
    summary="政务服务事项",
    operation_id="list_service_matters",
)
def list_service_matters(request, params: Query[MatterQuery]):
    """在用的政务服务事项，按部门和编码排序；counts 为目录统计（事项数、即来即办、就近办、网上可办、最多跑一次）。"""
    access.ensure_registry_reader(request.auth)
    active = ServiceMatter.objects.filter(is_active=True)
    matters = active
    if params.q:
        matters = matters.filter(Q(name__icontains=params.q) | Q(code__icontains=params.q))
    if params.department:
        matters = matters.filter(department_name=params.department)
    if params.flag == "offline":
        matters = matters.filter(online=False)
    elif params.flag:
        matters = matters.filter(**{params.flag: True})
    matters = matters.order_by("department_name", "code")
    count = matters.count()
    rows = list(matters[params.offset : params.offset + params.limit]) if count > params.offset else []
    return {"count": count, "counts": figures.matter_counts(active), "items": [matter_out(m) for m in rows]}


@router.get(
    "/service-matters/{matter_id}",
    response={200: MatterOut, 401: Message, 403: Message, 404: Message, 422: ValidationErrors},
    summary="政务服务事项详情",
    operation_id="get_service_matter",
)
def get_service_matter(request, matter_id: int):
    access.ensure_registry_reader(request.auth)
    matter = ServiceMatter.objects.filter(pk=matter_id).first()
    if matter is None:
        raise HttpError(404, _("事项不存在。"))
    return matter_out(matter)


# ---------------------------------------------------------------------------------------------
# Industry chains


class ChainIn(_Input):
    name: Annotated[Text, Field(min_length=1, max_length=60)]
    leader_id: Id | None = Field(None, description="链长（领导）用户 id")
    lead_company_id: Id | None = Field(None, description="链主企业（企业类单位）id")
    description: Annotated[Text, Field(max_length=2000)] = ""
    position: int = Field(0, ge=0, le=32767)
    project_ids: list[Id] = Field(default_factory=list, max_length=1000, description="链上项目 id（本人可见的项目）")
    company_ids: list[Id] = Field(default_factory=list, max_length=1000, description="链上企业 id")


class ChainPatch(_Input):
    name: Annotated[Text, Field(min_length=1, max_length=60)] | None = None
    leader_id: Id | None = None
    lead_company_id: Id | None = None
    description: Annotated[Text, Field(max_length=2000)] | None = None
    position: int | None = Field(None, ge=0, le=32767)
    project_ids: list[Id] | None = Field(None, max_length=1000, description="替换本人可见的链上项目")
    company_ids: list[Id] | None = Field(None, max_length=1000)


class ChainProjectOut(Schema):
    id: int
    name: str
    total_investment: str


class ChainOut(Schema):
    id: int
    name: str
    leader_id: int | None
    leader: str | None
    lead_company_id: int | None
    lead_company: str | None
    description: str
    position: int
    projects: list[ChainProjectOut] = Field(description="本人可见的链上项目")
    project_count: int
    total_investment: str = Field(description="本人可见的链上项目总投资（万元）")
    company_ids: list[int]
    company_count: int


def chain_out(chain: IndustryChain, projects: list[Project], companies: list[int]) -> dict[str, Any]:
    return {
        "id": chain.pk, "name": chain.name, "leader_id": chain.leader_id,
        "leader": str(chain.leader) if chain.leader_id else None, "lead_company_id": chain.lead_company_id,
        "lead_company": str(chain.lead_company) if chain.lead_company_id else None,
        "description": chain.description, "position": chain.position,
        "projects": [{"id": p.pk, "name": p.name, "total_investment": _money(p.total_investment)} for p in projects],
        "project_count": len(projects),
        "total_investment": _money(sum((p.total_investment for p in projects), Decimal("0"))),
        "company_ids": companies, "company_count": len(companies),
    }  # fmt: skip


def _chains(user):
    visible = Project.objects.filter(pk__in=access.visible_projects(user).values("pk")).order_by("-total_investment")
    return IndustryChain.objects.select_related("leader", "lead_company").prefetch_related(
        Prefetch("projects", queryset=visible.only("pk", "name", "total_investment"), to_attr="seen"),
        Prefetch("companies", queryset=Unit.objects.only("pk"), to_attr="members"),
    )


def _chain_detail(user, pk: int) -> dict[str, Any]:
    chain = _chains(user).get(pk=pk)
    return chain_out(chain, chain.seen, [c.pk for c in chain.members])


@router.get(
    "/industry-chains",
    response={200: list[ChainOut], 401: Message, 403: Message},
    summary="产业链",
    operation_id="list_industry_chains",
)
def list_industry_chains(request):
    """产业链（双长制：链长、链主企业）、链上项目（本人可见的）和企业。"""
    user = request.auth
    access.ensure_registry_reader(user)
    return [chain_out(c, c.seen, [m.pk for m in c.members]) for c in _chains(user)]


@router.get(
    "/industry-chains/{chain_id}",
    response={200: ChainOut, 401: Message, 403: Message, 404: Message, 422: ValidationErrors},
    summary="产业链详情",
    operation_id="get_industry_chain",
)
def get_industry_chain(request, chain_id: int):
    chain = access.get_chain(request.auth, chain_id)
    return _chain_detail(request.auth, chain.pk)


def _chain_data(user, values: dict[str, Any], chain: IndustryChain | None) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for key in ("name", "description", "position"):
        if key in values and values[key] is not None:
            data[key] = values[key]
    leaders = User.objects.filter(is_active=True, roles__role=Role.LEADER).distinct()
    enterprises = Unit.objects.filter(kind=Unit.Kind.ENTERPRISE)
    if "leader_id" in values:
        data["leader"] = _resolve(leaders, values["leader_id"], "leader_id", _("链长须为在用的领导账号。"))
    if "lead_company_id" in values:
        data["lead_company"] = _resolve(enterprises, values["lead_company_id"], "lead_company_id",
                                        _("链主企业不存在（须为企业类单位）。"))  # fmt: skip
    if values.get("project_ids") is not None:
        visible = access.visible_projects(user)
        projects = _resolve_many(visible, values["project_ids"], "project_ids", _("项目不存在或无权查看：%(ids)s。"))
        if chain is not None:  # projects the user cannot see stay on the chain
            projects += list(chain.projects.exclude(pk__in=visible.values("pk")))
        data["projects"] = projects
    if values.get("company_ids") is not None:
        data["companies"] = _resolve_many(enterprises, values["company_ids"], "company_ids",
                                          _("企业不存在（须为企业类单位）：%(ids)s。"))  # fmt: skip
    return data


@router.post(
    "/industry-chains",
    response={201: ChainOut, 400: Message, 401: Message, 403: Message, 422: ValidationErrors},
    summary="新建产业链",
    operation_id="create_industry_chain",
)
def create_industry_chain(request, payload: ChainIn):
    """调度员。"""
    user = request.auth
    access.ensure_registry_manager(user)
    data = _chain_data(user, payload.model_dump(), None)
    chain = _run(lambda: domain.save_chain(None, by=user, data=data))
    return Status(201, _chain_detail(user, chain.pk))


@router.patch(
    "/industry-chains/{chain_id}",
    response={200: ChainOut, 400: Message, 401: Message, 403: Message, 404: Message, 422: ValidationErrors},
    summary="修改产业链",
    operation_id="update_industry_chain",
)
def update_industry_chain(request, chain_id: int, payload: ChainPatch):
    """调度员；只传要改的字段。"""
    user = request.auth
    chain = access.get_chain(user, chain_id, write=True)
    data = _chain_data(user, payload.model_dump(exclude_unset=True), chain)
    _run(lambda: domain.save_chain(chain, by=user, data=data))
    return _chain_detail(user, chain.pk)


# ---------------------------------------------------------------------------------------------
# Buildings


class BuildingIn(_Input):
    name: Annotated[Text, Field(min_length=1, max_length=100)]
    address: Annotated[Text, Field(max_length=200)] = ""
    town_id: Id | None = Field(None, description="所在乡镇街道 id")
    star_rating: int | None = Field(None, ge=1, le=5, description="星级 1–5")
    tax_band: Literal["", "yi", "half_yi", "ten_million", "below"] = Field(
        "", description="税收档次；填写年税收时自动确定"
    )
    annual_tax: Money | None = Field(None, description="年税收（万元）")
    floor_area: Money | None = Field(None, description="建筑面积（平方米）")
    tenant_count: int = Field(0, ge=0, le=1_000_000, description="入驻企业数")
    company_ids: list[Id] = Field(default_factory=list, max_length=1000, description="系统内入驻企业 id")
    note: Annotated[Text, Field(max_length=300)] = ""


class BuildingPatch(_Input):
    name: Annotated[Text, Field(min_length=1, max_length=100)] | None = None
    address: Annotated[Text, Field(max_length=200)] | None = None
    town_id: Id | None = None
    star_rating: int | None = Field(None, ge=1, le=5)
    tax_band: Literal["", "yi", "half_yi", "ten_million", "below"] | None = None
    annual_tax: Money | None = None
    floor_area: Money | None = None
    tenant_count: int | None = Field(None, ge=0, le=1_000_000)
    company_ids: list[Id] | None = Field(None, max_length=1000)
    note: Annotated[Text, Field(max_length=300)] | None = None


class BuildingOut(Schema):
    id: int
    name: str
    address: str
    town_id: int | None
    town: str | None
    star_rating: int | None
    tax_band: str
    tax_band_label: str
    annual_tax: str | None
    floor_area: str | None
    tenant_count: int
    company_ids: list[int]
    note: str


def building_out(b: Building, companies: list[int]) -> dict[str, Any]:
    return {
        "id": b.pk, "name": b.name, "address": b.address, "town_id": b.town_id,
        "town": str(b.town) if b.town_id else None, "star_rating": b.star_rating, "tax_band": b.tax_band,
        "tax_band_label": str(TaxBand(b.tax_band).label) if b.tax_band else "",
        "annual_tax": _money(b.annual_tax), "floor_area": _money(b.floor_area), "tenant_count": b.tenant_count,
        "company_ids": companies, "note": b.note,
    }  # fmt: skip


def _buildings():
    return Building.objects.select_related("town").prefetch_related(
        Prefetch("companies", queryset=Unit.objects.only("pk"), to_attr="members")
    )


@router.get(
    "/buildings",
    response={200: list[BuildingOut], 401: Message, 403: Message},
    summary="楼宇",
    operation_id="list_buildings",
)
def list_buildings(request):
    """重点楼宇：星级、税收档次、年税收和入驻企业。"""
    access.ensure_registry_reader(request.auth)
    return [building_out(b, [c.pk for c in b.members]) for b in _buildings()]


@router.get(
    "/buildings/{building_id}",
    response={200: BuildingOut, 401: Message, 403: Message, 404: Message, 422: ValidationErrors},
    summary="楼宇详情",
    operation_id="get_building",
)
def get_building(request, building_id: int):
    building = access.get_building(request.auth, building_id)
    b = _buildings().get(pk=building.pk)
    return building_out(b, [c.pk for c in b.members])


def _building_data(values: dict[str, Any]) -> dict[str, Any]:
    data = {k: v for k, v in values.items() if k not in ("town_id", "company_ids")}
    for key in ("name", "address", "note", "tax_band"):
        if key in data and data[key] is None:
            del data[key]
    if "tenant_count" in data and data["tenant_count"] is None:
        del data["tenant_count"]
    if "town_id" in values:
        data["town"] = _resolve(Unit.objects.filter(kind=Unit.Kind.TOWN), values["town_id"], "town_id",
                                _("乡镇街道不存在。"))  # fmt: skip
    if values.get("company_ids") is not None:
        data["companies"] = _resolve_many(Unit.objects.filter(kind=Unit.Kind.ENTERPRISE), values["company_ids"],
                                          "company_ids", _("企业不存在（须为企业类单位）：%(ids)s。"))  # fmt: skip
    return data


@router.post(
    "/buildings",
    response={201: BuildingOut, 400: Message, 401: Message, 403: Message, 422: ValidationErrors},
    summary="登记楼宇",
    operation_id="create_building",
)
def create_building(request, payload: BuildingIn):
    """调度员。填写年税收时税收档次自动确定（与之矛盾的档次 422）。"""
    user = request.auth
    access.ensure_registry_manager(user)
    building = _run(lambda: domain.save_building(None, by=user, data=_building_data(payload.model_dump())))
    return Status(201, get_building(request, building.pk))


@router.patch(
    "/buildings/{building_id}",
    response={200: BuildingOut, 400: Message, 401: Message, 403: Message, 404: Message, 422: ValidationErrors},
    summary="修改楼宇",
    operation_id="update_building",
)
def update_building(request, building_id: int, payload: BuildingPatch):
    """调度员；只传要改的字段。"""
    user = request.auth
    building = access.get_building(user, building_id, write=True)
    data = _building_data(payload.model_dump(exclude_unset=True))
    _run(lambda: domain.save_building(building, by=user, data=data))
    return get_building(request, building.pk)
