"""Excel in and out over the API, and the year-end forecast.

- `GET /monthly-reports/template?year=&month=[&unit_id=]`: the pre-filled monthly-report template
  (xlsx) with the projects the caller may file for (default month: last month).
- `POST /monthly-reports/import` (multipart `file`): 200 with counts, or 422 with the error list
  (`{"detail": [{"loc": ["file", sheet, cell], "msg", "type", "sheet", "row", "column", "cell",
  "header"}]}`); with `?marked=true` a 422 answers the uploaded workbook with the bad cells marked.
  Nothing is saved unless everything is valid.
- `GET /projects/export.xlsx`: the project ledger with the list filters (same parameters as
  `GET /projects`) for `year`/`month` (default last month).
- `GET /monthly-reports/export.xlsx`: the monthly table (roll-up by `group_by` and the projects).
- `GET /stats/forecast?year=&month=`: year-end projection per unit and the 滞后预警 list.

Scope: the access module decides (what the list shows is what is exported; the template only holds
projects the caller may file for). Register before the projects router: `/projects/export.xlsx`
must match before `/projects/{project_id}`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from ninja import File, Query, Router, Schema, UploadedFile
from ninja import Status as Answer
from pydantic import Field

from keyprojects.api.errors import ApiValidationError, error_item
from keyprojects.api.schemas import Message, ProjectFilterQuery, ValidationErrors
from keyprojects.org.models import Unit
from keyprojects.progress import excel_import, forecast, rates
from keyprojects.progress.excel_common import XLSX_CONTENT_TYPE, last_month, month_refusal, xlsx_response
from keyprojects.progress.excel_export import export_filename, ledger_file, monthly_file
from keyprojects.projects.access import can_see_projects, visible_projects
from keyprojects.projects.filters import SORTS, ProjectFilter

router = Router(tags=["月报Excel与预测"])

XLSX_RESPONSE = {
    "description": "Excel 工作簿（.xlsx）",
    "content": {XLSX_CONTENT_TYPE: {"schema": {"type": "string", "format": "binary"}}},
}
RATE = Decimal("0.0001")


class MonthQuery(Schema):
    year: int | None = Field(None, ge=2000, le=2100, description="年份，默认上个月所在年份")
    month: int | None = Field(None, ge=1, le=12, description="月份，默认上个月")


class TemplateQuery(MonthQuery):
    unit_id: int | None = Field(
        None, ge=1, description="只含该单位（及下级）负责或所属的项目；默认本人可填报的全部项目"
    )


class ImportQuery(Schema):
    marked: bool = Field(False, description="为 true 时，校验失败返回标注了错误单元格的工作簿（仍为 422）")


class LedgerQuery(MonthQuery, ProjectFilterQuery):
    sort: str | None = Field(None, description="排序", json_schema_extra={"enum": ["", *SORTS]})


class MonthlyTableQuery(LedgerQuery):
    group_by: str = Field("unit", description="汇总方式", json_schema_extra={"enum": list(rates.GROUPINGS)})


class ForecastQuery(MonthQuery):
    limit: int = Field(50, ge=1, le=1000, description="滞后预警清单最多返回的项目数")


class ImportCounts(Schema):
    year: int
    month: int
    submitted: int = Field(description="提交的月报数（新建 + 修改草稿或退回的月报）")
    created: int
    updated: int
    unchanged: int = Field(description="已提交且未改动的行（跳过）")
    skipped: int = Field(description="本月完成投资留空、未导入的行")
    flagged: int = Field(description="有异常提示（已填写情况说明）的月报数")
    late: bool = Field(description="是否已过报送截止日（迟报）")


class ImportErrorItem(Schema):
    loc: list[str | int] = Field(description='["file"] 或 ["file", 工作表, 单元格]')
    msg: str
    type: str
    sheet: str | None = None
    row: int | None = None
    column: str | None = None
    cell: str | None = None
    header: str = ""


class ImportErrors(Schema):
    detail: list[ImportErrorItem]


class ProfileOut(Schema):
    source: str = Field(description="history（往年月报）或 default（默认季节规律）")
    source_label: str
    years: list[int]
    cumulative: list[Decimal] = Field(description="截至各月末累计完成占全年的比重（12个）")
    monthly: list[Decimal]


class GroupOut(Schema):
    key: int | str
    label: str
    projects: int
    plan: Decimal
    ytd: Decimal
    projection: Decimal
    shortfall: Decimal
    annual_rate: Decimal | None
    projected_rate: Decimal | None
    high: int
    medium: int


# Not `WarningOut`: that is the monthly report's warning (progress.py), and the OpenAPI document keeps
# one schema per name, so the forecast's warnings were documented with the other's fields.
class ForecastWarningOut(Schema):
    project_id: int
    name: str
    code: str | None
    unit_id: int
    unit_name: str
    status: str
    status_label: str
    stage: str
    stage_label: str
    plan: Decimal
    original_plan: Decimal | None
    ytd: Decimal
    projection: Decimal
    shortfall: Decimal
    annual_rate: Decimal | None
    projected_rate: Decimal | None
    basis: str
    missing_months: list[int]
    open_problems: int
    score: int
    level: str
    level_label: str
    reasons: list[str]


class ForecastOut(Schema):
    year: int
    month: int
    time_progress: Decimal
    method: str
    profile: ProfileOut
    total: GroupOut
    units: list[GroupOut]
    warning_count: int
    warnings: list[ForecastWarningOut]


def _month(params: MonthQuery, *, source: str = "query") -> tuple[int, int]:
    default = last_month()
    year = params.year if params.year is not None else default[0]
    month = params.month if params.month is not None else (default[1] if params.year is None else 12)
    message = month_refusal(year, month)
    if message:
        raise ApiValidationError([error_item([source, "month"], message)])
    return year, month


def _filters(request) -> None:
    form = ProjectFilter(request.GET)
    if not form.is_valid():
        raise ApiValidationError.from_fields("query", {f: list(errs) for f, errs in form.errors.items()})


def _rates(data: dict[str, Any]) -> dict[str, Any]:
    for key in ("annual_rate", "projected_rate"):
        if data.get(key) is not None:
            data[key] = data[key].quantize(RATE)
    return data


@router.get(
    "/monthly-reports/template",
    response={401: Message, 403: Message, 422: ValidationErrors},
    openapi_extra={"responses": {"200": XLSX_RESPONSE}},
    summary="下载月报填报模板",
    operation_id="monthly_report_template",
)
def monthly_report_template(request, params: Query[TemplateQuery]):
    """预填本人可填报的项目（项目ID、代码、名称锁定），模板中标注版本和年月单位。已锁定或未到的月份返回 422。"""
    user = request.auth
    year, month = _month(params)
    if not excel_import.may_file(user):
        raise PermissionDenied(excel_import.FILING_REFUSAL)
    message = excel_import.template_refusal(user, year, month)
    if message:
        raise ApiValidationError([error_item(["query", "month"], message)])
    unit = None
    if params.unit_id is not None:
        unit = Unit.objects.filter(pk=params.unit_id).first()
        if unit is None:
            raise ApiValidationError([error_item(["query", "unit_id"], _("单位不存在。"), "not_found")])
    data = excel_import.build_template(user, year, month, unit=unit)
    response = HttpResponse(data, content_type=XLSX_CONTENT_TYPE)
    filename = excel_import.template_filename(year, month, unit or (user.unit if user.unit_id else None))
    response["Content-Disposition"] = content_disposition_header(True, filename)
    response["Cache-Control"] = "no-store"
    return response


@router.post(
    "/monthly-reports/import",
    response={200: ImportCounts, 401: Message, 403: Message, 422: ImportErrors},
    openapi_extra={"responses": {"422": {"description": "校验失败（marked=true 时为标注了错误的工作簿）"}}},
    summary="导入月报（Excel）",
    operation_id="import_monthly_reports",
)
def import_monthly_reports(request, file: File[UploadedFile], params: Query[ImportQuery]):
    """逐行逐格校验模板，全部通过才保存（每行新建或修改月报并提交）；否则一份也不保存，返回 422 和错误清单。"""
    user = request.auth
    if not excel_import.may_file(user):
        raise PermissionDenied(excel_import.FILING_REFUSAL)
    try:
        result = excel_import.import_reports(user, file, filename=file.name or "")
    except excel_import.ImportRefused as refused:
        if params.marked and refused.markable:
            data = excel_import.marked_workbook(excel_import.read_upload(file), refused.errors)
            response = HttpResponse(data, status=422, content_type=XLSX_CONTENT_TYPE)
            response["Content-Disposition"] = content_disposition_header(True, "月报导入错误标注.xlsx")
            return response
        items = []
        for e in refused.errors:
            loc = ["file", e.sheet, e.cell] if e.cell else ["file"]
            items.append({**error_item(loc, e.message), **e.as_dict()})
        return Answer(422, {"detail": items})
    return result.as_dict()


@router.get(
    "/projects/export.xlsx",
    response={401: Message, 403: Message, 422: ValidationErrors},
    openapi_extra={"responses": {"200": XLSX_RESPONSE}},
    summary="导出项目台账（Excel）",
    operation_id="export_project_ledger",
)
def export_project_ledger(request, params: Query[LedgerQuery]):
    """筛选条件与项目列表相同（无效的筛选值返回 422）；金额为所选月份（默认上月）的数据。"""
    user = request.auth
    if not can_see_projects(user):
        raise PermissionDenied(_("您的账号没有查看项目的权限。"))
    year, month = _month(params)
    _filters(request)
    return xlsx_response(ledger_file(user, request.GET, year, month), export_filename("项目台账", year, month))


@router.get(
    "/monthly-reports/export.xlsx",
    response={401: Message, 403: Message, 422: ValidationErrors},
    openapi_extra={"responses": {"200": XLSX_RESPONSE}},
    summary="导出月报表（Excel）",
    operation_id="export_monthly_table",
)
def export_monthly_table(request, params: Query[MonthlyTableQuery]):
    """完成情况汇总（按 group_by）和列入年度计划或有本月月报的项目明细，筛选条件与项目列表相同。"""
    user = request.auth
    if not can_see_projects(user):
        raise PermissionDenied(_("您的账号没有查看项目的权限。"))
    year, month = _month(params)
    if params.group_by not in rates.GROUPINGS:
        raise ApiValidationError([error_item(["query", "group_by"], _("无效的汇总方式。"))])
    _filters(request)
    out = monthly_file(user, request.GET, year, month, params.group_by)
    return xlsx_response(out, export_filename("月报表", year, month))


@router.get(
    "/stats/forecast",
    response={200: ForecastOut, 401: Message, 403: Message, 422: ValidationErrors},
    summary="全年投资预测与滞后预警",
    operation_id="investment_forecast",
)
def investment_forecast(request, params: Query[ForecastQuery]):
    """按往年月度规律外推全年完成额（方法见 docs/forecast.md），按单位汇总；滞后预警按风险从高到低排列并说明原因。"""
    user = request.auth
    if not can_see_projects(user):
        raise PermissionDenied(_("您的账号没有查看项目的权限。"))
    year, month = _month(params)
    result = forecast.warning_summary(visible_projects(user), year, month)
    data = result.as_dict(limit=params.limit)
    data["total"] = _rates(data["total"])
    data["units"] = [_rates(u) for u in data["units"]]
    data["warnings"] = [_rates(w) for w in data["warnings"]]
    data["time_progress"] = data["time_progress"].quantize(RATE)
    return data
