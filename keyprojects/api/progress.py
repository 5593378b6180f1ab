"""Monthly reports (月报), annual plans and completion rates over the API.

Reads go through `keyprojects.progress.access` / `keyprojects.projects.access` (outside the user's
scope: 404); every change goes through `keyprojects.progress.domain`, which checks the role (403),
validates with the plausibility rules (422, Chinese messages keyed by field) and audits.
A workflow step the report's state does not allow, a closed month for a workflow step, or a stale
`version` answer 409. Money travels as decimal strings ("1200.50", 万元); rates as percentage strings
with one decimal ("112.9"), never capped at 100.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Annotated, Any

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema, Status
from ninja.errors import HttpError
from pydantic import ConfigDict, Field

from keyprojects.api.errors import ApiValidationError
from keyprojects.api.schemas import Message, Money, Text, ValidationErrors
from keyprojects.progress import access, domain, rates
from keyprojects.progress.models import AnnualPlan, MonthlyReport
from keyprojects.projects import access as project_access
from keyprojects.projects.filters import ProjectFilter

router = Router(tags=["月报与投资"])

STATE_CODES = {"invalid_state", "locked", "not_locked", "pending"}


def _money(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


def _percent(ratio: Decimal | None) -> str | None:
    value = rates.as_percent(ratio)
    return None if value is None else str(value)


def _points(gap: Decimal | None) -> str | None:
    return None if gap is None else str(gap.quantize(Decimal("0.1")))


def _person(user) -> str | None:
    return str(user) if user is not None else None


def _run(call, field: str | None = None):
    """Call a domain function: stale version or a step out of order → 409; other refusals as they are.

    `field` names the input a refusal without a field is about (e.g. a missing reason).
    """
    try:
        return call()
    except domain.ConflictError as exc:
        raise HttpError(409, _(exc.message)) from None
    except ValidationError as exc:
        if hasattr(exc, "error_dict"):
            raise
        if getattr(exc, "code", None) in STATE_CODES:
            raise HttpError(409, " ".join(exc.messages)) from None
        if field:
            raise ApiValidationError.from_fields("body", {field: exc.messages}) from None
        raise


# ---------------------------------------------------------------------------------------------
# Shapes


class _Input(Schema):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class WarningOut(Schema):
    code: str = Field(description="规则代码，如 spike、repeated、zero_under_construction。")
    message: str


class RestatementOut(Schema):
    id: int
    changes: dict[str, dict[str, Any]] = Field(description='{字段: {"old": 原值, "new": 新值}}，金额为字符串。')
    reason: str
    restated_by: str | None
    restated_at: datetime.datetime


class ReportOut(Schema):
    id: int
    project_id: int
    year: int
    month: int
    investment: str | None = Field(description="本月完成投资（万元）。")
    ytd_investment: str | None = Field(description="年度累计完成投资（万元）；提交后由系统计算，草稿和退回的为 null。")
    since_start_investment: str | None = Field(description="开工累计完成投资（万元）；同上。")
    progress_text: str
    workers_on_site: int | None
    output_value: str | None
    tax: str | None
    problems_text: str
    status: str = Field(description="draft / submitted / returned / reviewed / confirmed")
    status_label: str
    on_behalf: bool = Field(description="由责任单位或服务中心代企业填报。")
    warnings: list[WarningOut] = Field(description="提交时触发的异常提示（软规则）。")
    explanation: str = Field(description="情况说明（有异常提示时提交必填）。")
    submitted_late: bool
    return_reason: str
    submitted_at: datetime.datetime | None
    returned_at: datetime.datetime | None
    reviewed_at: datetime.datetime | None
    confirmed_at: datetime.datetime | None
    locked: bool = Field(description="所在月份已锁定（关账）。")
    restated: bool = Field(description="锁定后经过更正（见 restatements）。")
    restatements: list[RestatementOut]
    version: int = Field(description="版本号；修改和流转时回传可防止覆盖他人的修改（409）。")


class ReportPage(Schema):
    count: int
    items: list[ReportOut]


class ReportCreate(_Input):
    """新建月报（草稿）。金额为万元，最多两位小数；年度累计可代替本月数填写（由此推算本月数）。"""

    year: int = Field(description="年度")
    month: int = Field(description="月份 1–12")
    investment: Money | None = Field(None, description='本月完成投资（万元），如 "1200.50"')
    ytd_investment: Money | None = Field(None, description="年度累计完成投资（万元）；与本月数同时填写时须一致")
    progress_text: Annotated[Text, Field(max_length=4000)] = ""
    workers_on_site: int | None = Field(None, description="在岗工人数")
    output_value: Money | None = None
    tax: Money | None = None
    problems_text: Annotated[Text, Field(max_length=4000)] = ""
    explanation: Annotated[Text, Field(max_length=2000)] = ""


class ReportPatch(_Input):
    """修改草稿或退回的月报：只传要修改的字段。"""

    investment: Money | None = None
    ytd_investment: Money | None = None
    progress_text: Annotated[Text, Field(max_length=4000)] | None = None
    workers_on_site: int | None = None
    output_value: Money | None = None
    tax: Money | None = None
    problems_text: Annotated[Text, Field(max_length=4000)] | None = None
    explanation: Annotated[Text, Field(max_length=2000)] | None = None
    version: int | None = Field(None, description="读取时的版本号")


class VersionIn(_Input):
    """流转操作的请求体（可为空对象 {}）。"""

    version: int | None = Field(None, description="读取时的版本号；已被他人修改时返回 409")


class SubmitIn(VersionIn):
    explanation: Annotated[Text, Field(max_length=2000)] | None = Field(
        None, description="情况说明；有异常提示时必填（否则 422，loc 为 explanation，信息中列出各项提示）"
    )


class ReturnIn(VersionIn):
    reason: Annotated[Text, Field(max_length=500)] = Field(description="退回理由（必填）")


class ReportListQuery(Schema):
    year: int | None = Field(None, ge=2000, le=2100, description="只列该年度")
    limit: int = Field(100, ge=1, le=500)
    offset: int = Field(0, ge=0, le=1_000_000_000)


class RevisionOut(Schema):
    number: int
    effective_month: int
    planned_investment: str
    to_start: bool
    to_complete: bool
    to_commission: bool
    monthly_plan: list[str]
    changes: dict[str, Any]
    reason: str
    created_by: str | None
    created_at: datetime.datetime


class PlanOut(Schema):
    project_id: int
    year: int
    planned_investment: str = Field(description="现行年度计划投资（万元）。")
    original_planned_investment: str = Field(description="年初计划投资（万元）。")
    to_start: bool
    to_complete: bool
    to_commission: bool
    monthly_plan: list[str] = Field(description="分月计划（12个字符串）或空列表。")
    revision_count: int
    effective_month: int = Field(description="现行版本自几月起执行。")
    revisions: list[RevisionOut]
    version: int


class PlanIn(_Input):
    """制定或调整年度计划。调整已有计划时须填写 reason；effective_month 默认为当月。"""

    planned_investment: Money = Field(description='年度计划投资（万元），如 "6000.00"')
    to_start: bool = False
    to_complete: bool = False
    to_commission: bool = False
    monthly_plan: list[Money] | None = Field(None, description="12个月的计划投资，合计须等于年度计划；或留空")
    reason: Annotated[Text, Field(max_length=500)] = ""
    effective_month: int | None = Field(None, description="调整自几月起执行（1–12）")
    version: int | None = Field(None, description="读取时的版本号")


class RateOut(Schema):
    key: str | None = Field(description="分组键：单位/乡镇/行业 id，级别值，规模档次名称；合计行为 total。")
    label: str
    projects: int
    plan_projects: int
    total_investment: str
    planned: str = Field(description="本月执行的年度计划合计（万元）。")
    original_planned: str = Field(description="年初计划合计（万元）。")
    ytd: str = Field(description="年度累计完成（万元，全部项目）。")
    ytd_in_plan: str = Field(description="有年度计划项目的年度累计完成（万元），年度投资完成率的分子。")
    since_start: str
    reports: int = Field(description="本月已计入的月报数。")
    annual_rate: str | None = Field(description="年度投资完成率（%），不封顶；无计划为 null。")
    original_plan_rate: str | None
    total_rate: str | None = Field(description="总投资完成率（%）。")
    time_progress: str = Field(description="时序进度（%）。")
    gap_points: str | None = Field(description="年度投资完成率 − 时序进度（百分点，负数为落后）。")
    start_target: int
    started: int
    start_rate: str | None
    complete_target: int
    completed: int
    complete_rate: str | None
    commission_target: int
    commissioned: int
    commission_rate: str | None


class CompletionOut(Schema):
    year: int
    month: int
    group_by: str
    time_progress: str
    rows: list[RateOut]
    total: RateOut


class CompletionQuery(Schema):
    year: int = Field(ge=2000, le=2100, description="年度")
    month: int = Field(ge=1, le=12, description="月份")
    group_by: str = Field(
        "unit", description="汇总方式", json_schema_extra={"enum": list(rates.GROUPINGS)}
    )  # also the project filters of the project list (q, stage, status, level, size_band, industry, town…)


# ---------------------------------------------------------------------------------------------
# Serialisers


def report_out(report: MonthlyReport, *, locked_through: int | None, restatements=None) -> dict[str, Any]:
    restatements = list(report.restatements.all()) if restatements is None else restatements
    return {
        "id": report.pk,
        "project_id": report.project_id,
        "year": report.year,
        "month": report.month,
        "investment": _money(report.investment),
        "ytd_investment": _money(report.ytd_investment),
        "since_start_investment": _money(report.since_start_investment),
        "progress_text": report.progress_text,
        "workers_on_site": report.workers_on_site,
        "output_value": _money(report.output_value),
        "tax": _money(report.tax),
        "problems_text": report.problems_text,
        "status": report.status,
        "status_label": report.get_status_display(),
        "on_behalf": report.on_behalf,
        "warnings": report.warnings or [],
        "explanation": report.explanation,
        "submitted_late": report.submitted_late,
        "return_reason": report.return_reason,
        "submitted_at": report.submitted_at,
        "returned_at": report.returned_at,
        "reviewed_at": report.reviewed_at,
        "confirmed_at": report.confirmed_at,
        "locked": locked_through is not None and report.period <= locked_through,
        "restated": report.is_restated,
        "restatements": [
            {
                "id": r.pk,
                "changes": r.changes,
                "reason": r.reason,
                "restated_by": _person(r.restated_by),
                "restated_at": r.restated_at,
            }
            for r in restatements
        ],  # fmt: skip
        "version": report.version,
    }


def _report(user, report_id: int) -> MonthlyReport:
    return access.get_report(user, report_id)


def _one(report: MonthlyReport) -> dict[str, Any]:
    report = MonthlyReport.objects.select_related("project").get(pk=report.pk)  # as saved
    restatements = list(report.restatements.select_related("restated_by").order_by("id"))
    return report_out(report, locked_through=domain.locked_through(), restatements=restatements)


def plan_out(plan: AnnualPlan) -> dict[str, Any]:
    return {
        "project_id": plan.project_id,
        "year": plan.year,
        "planned_investment": _money(plan.planned_investment),
        "original_planned_investment": _money(plan.original_planned_investment),
        "to_start": plan.to_start,
        "to_complete": plan.to_complete,
        "to_commission": plan.to_commission,
        "monthly_plan": [str(v) for v in plan.monthly_plan or []],
        "revision_count": plan.revision_count,
        "effective_month": plan.effective_month,
        "revisions": [
            {
                "number": r.number,
                "effective_month": r.effective_month,
                "planned_investment": _money(r.planned_investment),
                "to_start": r.to_start,
                "to_complete": r.to_complete,
                "to_commission": r.to_commission,
                "monthly_plan": [str(v) for v in r.monthly_plan or []],
                "changes": r.changes,
                "reason": r.reason,
                "created_by": _person(r.created_by),
                "created_at": r.created_at,
            }
            for r in plan.revisions.select_related("created_by").order_by("number")
        ],  # fmt: skip
        "version": plan.version,
    }


def rate_out(row: rates.RateRow) -> dict[str, Any]:
    return {
        "key": None if row.key is None else str(row.key),
        "label": row.label,
        "projects": row.projects,
        "plan_projects": row.plan_projects,
        "total_investment": _money(row.total_investment),
        "planned": _money(row.planned),
        "original_planned": _money(row.original_planned),
        "ytd": _money(row.ytd),
        "ytd_in_plan": _money(row.ytd_in_plan),
        "since_start": _money(row.since_start),
        "reports": row.reports,
        "annual_rate": _percent(row.annual_rate),
        "original_plan_rate": _percent(row.original_plan_rate),
        "total_rate": _percent(row.total_rate),
        "time_progress": _percent(row.time_progress),
        "gap_points": _points(row.gap_points),
        "start_target": row.start_target,
        "started": row.started,
        "start_rate": _percent(row.start_rate),
        "complete_target": row.complete_target,
        "completed": row.completed,
        "complete_rate": _percent(row.complete_rate),
        "commission_target": row.commission_target,
        "commissioned": row.commissioned,
        "commission_rate": _percent(row.commission_rate),
    }


# ---------------------------------------------------------------------------------------------
# Annual plans


@router.get(
    "/projects/{project_id}/annual-plans/{year}",
    response={200: PlanOut, 401: Message, 404: Message, 422: ValidationErrors},
    summary="年度计划",
    operation_id="get_annual_plan",
)
def get_annual_plan(request, project_id: int, year: int):
    """项目某年度的计划：现行计划、年初计划和每一次调整。项目不可见或尚无该年度计划时 404。"""
    project = project_access.get_project(request.auth, project_id)
    plan = AnnualPlan.objects.filter(project=project, year=year).first()
    if plan is None:
        raise HttpError(404, _("该项目没有%(y)s年度计划。") % {"y": year})
    return plan_out(plan)


@router.put(
    "/projects/{project_id}/annual-plans/{year}",
    response={200: PlanOut, 201: PlanOut, 400: Message, 401: Message, 403: Message, 404: Message, 409: Message,
              422: ValidationErrors},
    summary="制定或调整年度计划",
    operation_id="put_annual_plan",
)  # fmt: skip
def put_annual_plan(request, project_id: int, year: int, payload: PlanIn):
    """调度员或项目责任单位。尚无计划时制定（201）；已有计划时调整（200，保留每一版本，须填写 reason）。"""
    user = request.auth
    project = project_access.get_project(user, project_id)
    values = payload.model_dump()
    existed = AnnualPlan.objects.filter(project=project, year=year).exists()
    data = {
        "planned_investment": values["planned_investment"],
        "to_start": values["to_start"],
        "to_complete": values["to_complete"],
        "to_commission": values["to_commission"],
        "monthly_plan": values["monthly_plan"] or [],
    }
    plan = _run(
        lambda: domain.save_annual_plan(
            project,
            by=user,
            year=year,
            data=data,
            reason=values["reason"],
            effective_month=values["effective_month"],
            expected_version=values["version"],
        ),
        field="reason",
    )
    return Status(200 if existed else 201, plan_out(plan))


# ---------------------------------------------------------------------------------------------
# Monthly reports


@router.get(
    "/projects/{project_id}/monthly-reports",
    response={200: ReportPage, 401: Message, 404: Message, 422: ValidationErrors},
    summary="项目的月报",
    operation_id="list_monthly_reports",
)
def list_monthly_reports(request, project_id: int, params: Query[ReportListQuery]):
    """按月份从早到晚。"""
    project = project_access.get_project(request.auth, project_id)
    reports = MonthlyReport.objects.filter(project=project).order_by("period")
    if params.year:
        reports = reports.filter(year=params.year)
    count = reports.count()
    rows = list(reports[params.offset : params.offset + params.limit])
    restated: dict[int, list] = {}
    ids = [r.pk for r in rows if r.restatement_count]
    if ids:
        from keyprojects.progress.models import Restatement

        for r in Restatement.objects.filter(report_id__in=ids).select_related("restated_by").order_by("id"):
            restated.setdefault(r.report_id, []).append(r)
    through = domain.locked_through()
    return {"count": count, "items": [report_out(r, locked_through=through, restatements=restated.get(r.pk, []))
                                      for r in rows]}  # fmt: skip


@router.post(
    "/projects/{project_id}/monthly-reports",
    response={201: ReportOut, 400: Message, 401: Message, 403: Message, 404: Message, 409: Message,
              422: ValidationErrors},
    summary="新建月报（草稿）",
    operation_id="create_monthly_report",
)  # fmt: skip
def create_monthly_report(request, project_id: int, payload: ReportCreate):
    """项目企业填报员，或责任单位、服务中心代企业填报。创建草稿；提交请调用 /submit。
    未来月份、已锁定月份、重复月份、负数、超过两位小数均返回 422。"""
    user = request.auth
    project = project_access.get_project(user, project_id)
    values = payload.model_dump(exclude_unset=True)
    year, month = values.pop("year"), values.pop("month")
    report = _run(lambda: domain.create_report(project, by=user, year=year, month=month, data=values))
    return Status(201, _one(report))


@router.get(
    "/monthly-reports/{report_id}",
    response={200: ReportOut, 401: Message, 404: Message, 422: ValidationErrors},
    summary="月报详情",
    operation_id="get_monthly_report",
)
def get_monthly_report(request, report_id: int):
    return _one(_report(request.auth, report_id))


# What every change to one report can answer (the same conventions as the projects API).
REPORT_ACTION_RESPONSES = {
    200: ReportOut, 400: Message, 401: Message, 403: Message, 404: Message, 409: Message, 422: ValidationErrors,
}  # fmt: skip


@router.patch(
    "/monthly-reports/{report_id}",
    response=REPORT_ACTION_RESPONSES,
    summary="修改月报",
    operation_id="update_monthly_report",
)  # fmt: skip
def update_monthly_report(request, report_id: int, payload: ReportPatch):
    """只有草稿和退回的月报可以修改，且只能由填报方修改：审核人员不能修改企业填报的数据（403）。"""
    user = request.auth
    report = _report(user, report_id)
    values = payload.model_dump(exclude_unset=True)
    version = values.pop("version", None)
    if not values:
        raise ApiValidationError.from_fields("body", {"investment": [_("请至少填写一个要修改的字段。")]})
    _run(lambda: domain.update_report(report, by=user, data=values, expected_version=version))
    return _one(report)


@router.post(
    "/monthly-reports/{report_id}/submit",
    response=REPORT_ACTION_RESPONSES,
    summary="提交月报",
    operation_id="submit_monthly_report",
)  # fmt: skip
def submit_monthly_report(request, report_id: int, payload: SubmitIn):
    """硬性规则不通过时 422（不保存）；有异常提示而未填写 explanation 时 422（loc 为 explanation）。"""
    user = request.auth
    report = _report(user, report_id)
    _run(lambda: domain.submit(report, by=user, explanation=payload.explanation, expected_version=payload.version))
    return _one(report)


@router.post(
    "/monthly-reports/{report_id}/return",
    response=REPORT_ACTION_RESPONSES,
    summary="退回月报",
    operation_id="return_monthly_report",
)  # fmt: skip
def return_monthly_report(request, report_id: int, payload: ReturnIn):
    """责任单位（已提交、已审核的月报）或服务中心（也可退回已确认但未锁定的月报），须说明理由。"""
    user = request.auth
    report = _report(user, report_id)
    _run(lambda: domain.return_report(report, by=user, reason=payload.reason, expected_version=payload.version),
         field="reason")  # fmt: skip
    return _one(report)


@router.post(
    "/monthly-reports/{report_id}/review",
    response=REPORT_ACTION_RESPONSES,
    summary="审核月报",
    operation_id="review_monthly_report",
)  # fmt: skip
def review_monthly_report(request, report_id: int, payload: VersionIn):
    """项目责任单位审核已提交的月报（不能修改数据）。"""
    user = request.auth
    report = _report(user, report_id)
    version = payload.version
    _run(lambda: domain.review(report, by=user, expected_version=version))
    return _one(report)


@router.post(
    "/monthly-reports/{report_id}/confirm",
    response=REPORT_ACTION_RESPONSES,
    summary="确认月报",
    operation_id="confirm_monthly_report",
)  # fmt: skip
def confirm_monthly_report(request, report_id: int, payload: VersionIn):
    """项目服务中心（调度员）确认已审核的月报。"""
    user = request.auth
    report = _report(user, report_id)
    version = payload.version
    _run(lambda: domain.confirm(report, by=user, expected_version=version))
    return _one(report)


# ---------------------------------------------------------------------------------------------
# Completion rates


@router.get(
    "/stats/completion",
    response={200: CompletionOut, 401: Message, 422: ValidationErrors},
    summary="投资完成率汇总",
    operation_id="completion_stats",
)
def completion_stats(request, params: Query[CompletionQuery]):
    """本人可见项目在某月的年度投资完成率、总投资完成率、时序进度及差距、开工率/竣工率/投产率，
    按责任单位、乡镇街道、行业、级别、规模档次或全区汇总；可加项目库的筛选条件（q、stage、level、industry、town…）。
    完成率超过100%照实返回。"""
    if params.group_by not in rates.GROUPINGS:
        raise ApiValidationError.from_fields(
            "query", {"group_by": [_("汇总方式应为：%(v)s。") % {"v": "、".join(rates.GROUPINGS)}]}
        )
    today = timezone.localdate()
    if datetime.date(params.year, params.month, 1) > today:
        raise ApiValidationError.from_fields("query", {"month": [_("%(y)s年%(m)s月尚未到来。") % {
            "y": params.year, "m": params.month}]})  # fmt: skip
    query = request.GET.copy()
    query.pop("sort", None)
    form = ProjectFilter(query)
    if not form.is_valid():
        raise ApiValidationError.from_fields("query", {field: list(errs) for field, errs in form.errors.items()})
    table = rates.completion_table(
        form.filter(project_access.visible_projects(request.auth)), params.year, params.month, params.group_by
    )
    return {
        "year": table.year,
        "month": table.month,
        "group_by": table.group_by,
        "time_progress": _percent(rates.time_progress(table.month)),
        "rows": [rate_out(r) for r in table.rows],
        "total": rate_out(table.total),
    }
