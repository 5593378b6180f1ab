"""The pre-filled template a user downloads for (year, month, unit), and its file name."""

from __future__ import annotations

import datetime
import io
import re
from copy import copy
from decimal import Decimal
from typing import Any

import openpyxl
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from keyprojects.org.models import Role, Unit, User
from keyprojects.progress import domain, rates, rules
from keyprojects.progress.excel_common import (
    BORDER,
    CENTER,
    COUNT_FORMAT,
    HEADER_FILL,
    HEADER_FONT,
    LOCKED_FILL,
    MONEY_FORMAT,
    TEXT_FORMAT,
    TITLE_FONT,
    UNLOCKED,
    WRAP,
    month_refusal,
    set_text,
)
from keyprojects.progress.excel_import.common import (
    COL,
    COLUMNS,
    DATA_SHEET,
    FILING_REFUSAL,
    FIRST_ROW,
    HEADER_ROW,
    INPUTS,
    LETTER,
    META_SHEET,
    MONEY_INPUTS,
    NOTE_ROW,
    TEMPLATE_KIND,
    TEMPLATE_VERSION,
    TITLE_ROW,
    fileable_projects,
    may_file,
)
from keyprojects.progress.forecast import with_figures
from keyprojects.progress.models import COUNTED_STATUSES, MonthlyReport, ReportStatus
from keyprojects.projects.models import Project

# --- the template --------------------------------------------------------------------------------------------


def template_projects(user: User, year: int, month: int, unit: Unit | None = None) -> QuerySet[Project]:
    """The template's rows: projects the user may file for that owe a report for the month or have one."""
    mine = fileable_projects(user)
    if unit is not None:
        mine = mine.filter(Q(responsible_unit_id__in=unit.subtree_ids()) | Q(owner_unit_id=unit.pk))
    owing = rates.expected_reporters(mine, year, month).values("pk")
    has_report = MonthlyReport.objects.filter(project=OuterRef("pk"), year=year, month=month)
    return mine.filter(Q(pk__in=owing) | Exists(has_report))


def template_refusal(user: User, year: Any, month: Any, today: datetime.date | None = None) -> str | None:
    """Why no template can be made for (year, month): not a filer, invalid, future or locked month."""
    if not may_file(user):
        return FILING_REFUSAL
    message = month_refusal(year, month, today)
    if message:
        return message
    return rules.closed_month(year, month, domain.locked_through())


def build_template(
    user: User,
    year: int,
    month: int,
    *,
    unit: Unit | None = None,
    projects: QuerySet[Project] | None = None,
    now: datetime.datetime | None = None,
) -> bytes:
    """The pre-filled template for (year, month) as xlsx bytes.

    `projects` (optional) narrows the rows further (benchmarks); they stay within the user's scope.
    Caller checks `template_refusal()` first. Five queries.
    """
    rows_qs = template_projects(user, year, month, unit)
    if projects is not None:
        rows_qs = rows_qs.filter(pk__in=projects.values("pk"))
    previous = (year, month - 1) if month > 1 else None
    figures = with_figures(rows_qs, year, month)
    values = list(
        figures.order_by("responsible_unit__path", "responsible_unit_id", "pk").values(
            "pk",
            "code",
            "name",
            "owner_name",
            "owner_unit_id",
            "responsible_unit__short_name",
            "responsible_unit__name",
            "fig_plan",
        )
    )
    ids = [v["pk"] for v in values]
    before: dict[int, Decimal] = {}
    if previous and ids:
        before = dict(
            with_figures(Project.objects.filter(pk__in=rows_qs.values("pk")), *previous).values_list("pk", "fig_ytd")
        )
    existing = {
        r.project_id: r for r in MonthlyReport.objects.filter(project__in=rows_qs.values("pk"), year=year, month=month)
    }
    unit = unit or (user.unit if user.unit_id else None)

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = DATA_SHEET
    title = f"{year}年{month}月重点项目投资月报（{unit.name if unit else '全部项目'}）"
    set_text(ws.cell(TITLE_ROW, 1), title)
    ws.cell(TITLE_ROW, 1).font = TITLE_FONT
    ws.merge_cells(start_row=TITLE_ROW, start_column=1, end_row=TITLE_ROW, end_column=len(COLUMNS))
    note = (
        "填报说明：灰色单元格不可修改；金额单位为万元，最多两位小数，没有投资请填0；请勿输入公式。"
        "本月完成投资留空的行不导入。有异常提示时须填写情况说明。导入后月报即提交给责任单位审核。"
    )
    set_text(ws.cell(NOTE_ROW, 1), note)
    ws.cell(NOTE_ROW, 1).alignment = WRAP
    ws.merge_cells(start_row=NOTE_ROW, start_column=1, end_row=NOTE_ROW, end_column=len(COLUMNS))
    ws.row_dimensions[NOTE_ROW].height = 32
    for i, column in enumerate(COLUMNS, start=1):
        cell = ws.cell(HEADER_ROW, i)
        set_text(cell, column.header)
        cell.font, cell.fill, cell.alignment, cell.border = HEADER_FONT, HEADER_FILL, CENTER, BORDER
        ws.column_dimensions[get_column_letter(i)].width = column.width
    ws.row_dimensions[HEADER_ROW].height = 30

    styles = _cell_styles(wb)
    for n, v in enumerate(values, start=1):
        row = HEADER_ROW + n
        report = existing.get(v["pk"])
        locked_row = report is not None and report.status in COUNTED_STATUSES
        data: dict[str, Any] = {
            "seq": n, "project_id": v["pk"], "code": v["code"] or "", "name": v["name"], "owner": v["owner_name"],
            "unit": v["responsible_unit__short_name"] or v["responsible_unit__name"], "plan": v["fig_plan"],
            "ytd_before": before.get(v["pk"]) if previous else Decimal("0"),
            "status": report.get_status_display() if report else "未填报", "note": "",
        }  # fmt: skip
        if report is not None:
            for key in INPUTS:
                data[key] = getattr(report, key)
            if report.status == ReportStatus.RETURNED:
                data["note"] = f"退回理由：{report.return_reason}"
            elif locked_row:
                data["note"] = "已提交，不能通过导入修改；如需修改请由责任单位退回。"
            elif not report.on_behalf and not (user.has_role(Role.ENTERPRISE) and user.unit_id == v["owner_unit_id"]):
                data["note"] = "企业自行填报的草稿，只能由企业提交。"
        for i, column in enumerate(COLUMNS, start=1):
            cell = ws.cell(row, i)
            value = data.get(column.key)
            cell._style = copy(styles[(column.key, column.editable and not locked_row)]._style)
            if column.kind == "text":
                set_text(cell, value or "")
            elif value is not None:
                cell.value = value
    last = HEADER_ROW + max(len(values), 1)
    if values:
        _validations(ws, last)
    ws.freeze_panes = ws.cell(FIRST_ROW, COL["investment"] + 1)
    ws.auto_filter.ref = f"A{HEADER_ROW}:{get_column_letter(len(COLUMNS))}{last}"
    ws.protection.sheet = True
    ws.protection.formatColumns = False
    ws.protection.formatRows = False
    ws.protection.autoFilter = False
    ws.protection.sort = False

    meta = wb.create_sheet(META_SHEET)
    moment = now or timezone.now()
    for r, (key, value) in enumerate(
        [("模板类型", TEMPLATE_KIND), ("模板版本", TEMPLATE_VERSION), ("年", year), ("月", month),
         ("单位ID", unit.pk if unit else ""), ("单位", unit.name if unit else "全部项目"),
         ("生成时间", timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S")), ("生成人", user.get_username())],
        start=1,
    ):  # fmt: skip
        set_text(meta.cell(r, 1), key)
        if isinstance(value, int):
            meta.cell(r, 2).value = value
        else:
            set_text(meta.cell(r, 2), str(value))
    meta.protection.sheet = True
    meta.sheet_state = "veryHidden"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _cell_styles(wb) -> dict[tuple[str, bool], Any]:
    """A styled scratch cell per (column, unlocked) whose style the data cells copy (much faster than
    setting number format, border, fill and protection on each of tens of thousands of cells)."""
    scratch = wb.create_sheet("_styles")
    styles = {}
    for i, column in enumerate(COLUMNS, start=1):
        for n, unlocked in enumerate((False, True), start=1):
            cell = scratch.cell(n, i)
            cell.border = BORDER
            if column.kind == "text":
                cell.number_format = TEXT_FORMAT
                if column.width >= 30:
                    cell.alignment = WRAP
            elif column.kind == "money":
                cell.number_format = MONEY_FORMAT
            elif column.kind == "count":
                cell.number_format = COUNT_FORMAT
            if unlocked:
                cell.protection = UNLOCKED
            else:
                cell.fill = LOCKED_FILL
            styles[(column.key, unlocked)] = cell
    wb.remove(scratch)
    return styles


def _validations(ws, last: int) -> None:
    money = DataValidation(type="decimal", operator="greaterThanOrEqual", formula1="0", allow_blank=True,
                           showErrorMessage=True, errorTitle="输入有误",
                           error="请输入不小于0的数字（万元，最多两位小数）。")  # fmt: skip
    count = DataValidation(type="whole", operator="between", formula1="0", formula2="1000000", allow_blank=True,
                           showErrorMessage=True, errorTitle="输入有误",
                           error="请输入0到1000000之间的整数。")  # fmt: skip
    for key in MONEY_INPUTS:
        money.add(f"{LETTER[key]}{FIRST_ROW}:{LETTER[key]}{last}")
    count.add(f"{LETTER['workers_on_site']}{FIRST_ROW}:{LETTER['workers_on_site']}{last}")
    ws.add_data_validation(money)
    ws.add_data_validation(count)


SAFE_NAME = re.compile(r"[^0-9A-Za-z\u4e00-\u9fff_-]+")


def template_filename(year: int, month: int, unit: Unit | None) -> str:
    label = SAFE_NAME.sub("", unit.short_name or unit.name) if unit else "全部"
    return f"月报模板_{year}年{month:02d}月_{label}.xlsx"
