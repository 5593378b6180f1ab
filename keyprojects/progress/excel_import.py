"""Monthly reports in from Excel: the pre-filled template per unit and month, and its upload.

**Template.** One sheet "月报" with a row per project the user may file for (the company's own projects
for a 企业填报员, the responsible unit's for a 责任单位经办人, every visible one for a 调度员) that owes a
report for the month (it has an annual plan, see `rates.expected_reporters`) or already has one.
Project id, code, name and the reference figures are in locked cells (sheet protection without a
password; the input cells are unlocked); a very hidden sheet "_meta" holds the template kind, its
version and the (year, month, unit) it was made for. Reports already submitted are shown and locked.

**Upload.** The file is screened before openpyxl parses anything (`screen()`): size; zip magic bytes;
`[Content_Types].xml` and `xl/workbook.xml` present with the xlsx main content type; no macros
(`vbaProject.bin`, macro-enabled content types), external links, embedded objects or nested archives;
entry count, total uncompressed size and per-entry compression ratio within limits (a zip bomb is
refused from its directory, before decompressing anything); every XML part scanned for `<!DOCTYPE` and
`<!ENTITY` (entity bombs, XXE) and for UTF-16/32 encodings that would hide them. openpyxl then parses
with defusedxml (`openpyxl.DEFUSEDXML` must be true) in read-only mode with `data_only=False`, so a
formula is seen as a formula: any cell holding one is refused.

Every row and cell is then checked, and either everything is saved or nothing: template kind and
version, the month (not invalid, not in the future, not locked), each project inside the uploader's
filing scope and matching its locked name, amounts (numbers ≥ 0 with at most two decimals, never
text), counts, text lengths, duplicate rows, and for each report the domain's rules: the month before
the project's baseline, a report already submitted (changed figures are refused: it must be returned
first), a company's own draft touched by someone else, the hard plausibility rules, and the soft ones
(they need the 情况说明 column). Errors come back as a list of (sheet, row, column, message) in Chinese;
`marked_workbook()` gives back the uploaded workbook with the bad cells filled red and commented.

**What an upload does.** Each filled row becomes a submitted report, like `domain.create_report` (or
`update_report` for a draft or a returned report) followed by `domain.submit`: same rules (`rules`),
same derived totals, late flag, submission hash, warnings and explanation, and one audit record per
report (plus the override record for explained warnings, as `submit` writes) and one summary record
for the file, under the "import" channel. For speed it does this in bulk (a 10,000-row file must load
in seconds) rather than calling those functions row by row; tests compare the two paths. Rows with an
empty 本月完成投资 and no other input are left alone (not reported by this file); rows of reports
already submitted and unchanged are skipped.
"""

from __future__ import annotations

import datetime
import hashlib
import io
import json
import re
import warnings
import zipfile
from copy import copy
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import openpyxl
from defusedxml import DefusedXmlException
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from openpyxl.comments import Comment
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from keyprojects.audit.models import AuditRecord
from keyprojects.audit.trail import snapshot
from keyprojects.lib import context
from keyprojects.org.models import Role, Unit, User
from keyprojects.progress import access, domain, rates, rules
from keyprojects.progress.excel_common import (
    BORDER,
    CENTER,
    COUNT_FORMAT,
    ERROR_FILL,
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
from keyprojects.progress.forecast import with_figures
from keyprojects.progress.models import (
    COUNTED_STATUSES,
    EDITABLE_STATUSES,
    FIGURE_FIELDS,
    InvestmentBaseline,
    MonthlyReport,
    ProgressSettings,
    ReportPhoto,
    ReportStatus,
    period_of,
)
from keyprojects.projects.access import scope_unit_ids, visible_projects
from keyprojects.projects.models import Project
from keyprojects.rollups.cache import bump

TEMPLATE_KIND = "keyprojects.monthly_report"
TEMPLATE_VERSION = "1"
DATA_SHEET = "月报"
META_SHEET = "_meta"
ERRORS_SHEET = "错误清单"
TITLE_ROW, NOTE_ROW, HEADER_ROW, FIRST_ROW = 1, 2, 3, 4

# Limits (the upload is refused before parsing when one is exceeded).
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_ENTRIES = 300
MAX_UNCOMPRESSED = 150 * 1024 * 1024
MAX_RATIO = 100  # per entry, checked for entries above RATIO_FLOOR bytes uncompressed
RATIO_FLOOR = 1024 * 1024
MAX_XML_PART = 100 * 1024 * 1024
MAX_ROWS = 20_000
MAX_TEXT = domain.MAX_TEXT
MAX_EXPLANATION = 2000

XLSX_MAIN = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
NESTED_ARCHIVES = (".zip", ".xlsx", ".xlsm", ".xlsb", ".xls", ".docx", ".docm", ".jar", ".7z", ".rar", ".gz", ".cab")
XML_SUFFIXES = (".xml", ".rels", ".vml")
DANGEROUS_XML = (b"<!doctype", b"<!entity")


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    kind: str  # id, text, money, count, int
    width: int
    editable: bool = False


COLUMNS = [
    Column("seq", "序号", "int", 6),
    Column("project_id", "项目ID", "id", 9),
    Column("code", "项目代码", "text", 26),
    Column("name", "项目名称", "text", 36),
    Column("owner", "建设单位", "text", 26),
    Column("unit", "责任单位", "text", 16),
    Column("plan", "年度计划投资（万元）", "money", 14),
    Column("ytd_before", "截至上月年度累计（万元）", "money", 14),
    Column("investment", "本月完成投资（万元）", "money", 14, True),
    Column("progress_text", "形象进度", "text", 40, True),
    Column("workers_on_site", "在岗工人数", "count", 10, True),
    Column("output_value", "本月产值（万元）", "money", 13, True),
    Column("tax", "本月税收（万元）", "money", 13, True),
    Column("problems_text", "存在问题及建议", "text", 30, True),
    Column("explanation", "情况说明（有异常提示时必填）", "text", 30, True),
    Column("status", "月报状态", "text", 12),
    Column("note", "提示", "text", 32),
]
COL = {c.key: i for i, c in enumerate(COLUMNS)}
LETTER = {c.key: get_column_letter(i + 1) for i, c in enumerate(COLUMNS)}
INPUTS = [c.key for c in COLUMNS if c.editable]
TEXT_INPUTS = {"progress_text": MAX_TEXT, "problems_text": MAX_TEXT, "explanation": MAX_EXPLANATION}
MONEY_INPUTS = ("investment", "output_value", "tax")
LABELS = {"investment": "本月完成投资", "output_value": "本月产值", "tax": "本月税收", "workers_on_site": "在岗工人数",
          "progress_text": "形象进度", "problems_text": "存在问题及建议", "explanation": "情况说明"}  # fmt: skip
# Domain error keys -> the column where the message goes.
FIELD_COLUMN = {"investment": "investment", "ytd_investment": "investment", "explanation": "explanation",
                "month": "investment", "workers_on_site": "workers_on_site", "output_value": "output_value",
                "tax": "tax", "progress_text": "progress_text", "problems_text": "problems_text"}  # fmt: skip


# --- errors ------------------------------------------------------------------------------------------------


@dataclass
class CellError:
    """One problem in the uploaded file: where (sheet, row, column letter) and what, in Chinese."""

    message: str
    sheet: str | None = DATA_SHEET
    row: int | None = None
    column: str | None = None
    header: str = ""

    @property
    def cell(self) -> str | None:
        return f"{self.column}{self.row}" if self.column and self.row else None

    def as_dict(self) -> dict[str, Any]:
        return {"sheet": self.sheet, "row": self.row, "column": self.column, "cell": self.cell,
                "header": self.header, "message": self.message}  # fmt: skip

    def location(self) -> str:
        parts = [self.sheet or "文件"]
        if self.row:
            parts.append(f"第{self.row}行")
        if self.column:
            parts.append(f"{self.column}列" + (f"（{self.header}）" if self.header else ""))
        return " ".join(parts)


class ImportRefused(Exception):
    """The upload was refused: nothing was saved. `errors` lists where and why.

    `markable` is true when the file is a readable template, so that `marked_workbook()` can return it
    with the bad cells marked; false for a file refused as a whole (not xlsx, a bomb, a macro…).
    """

    def __init__(self, errors: list[CellError], *, markable: bool = False):
        self.errors = errors
        self.markable = markable
        super().__init__("; ".join(e.message for e in errors[:5]))


def _refuse(message: str) -> ImportRefused:
    return ImportRefused([CellError(message, sheet=None)])


def _cell_error(row: int, key: str, message: str) -> CellError:
    return CellError(message, row=row, column=LETTER[key], header=COLUMNS[COL[key]].header)


# --- who files for which projects -----------------------------------------------------------------------


def fileable_projects(user: User) -> QuerySet[Project]:
    """The projects the user may file monthly reports for (as `access.filing_refusal` decides)."""
    projects = visible_projects(user)
    if not user.is_authenticated or not user.is_active:
        return projects.none()
    if access.is_dispatcher(user):
        return projects
    allowed = Q(pk__in=[])
    if user.has_role(Role.ENTERPRISE) and user.unit_id:
        allowed |= Q(owner_unit_id=user.unit_id)
    if user.has_role(Role.UNIT_OFFICER) and user.unit_id:
        allowed |= Q(responsible_unit_id__in=scope_unit_ids(user))
    return projects.filter(allowed)


def may_file(user: User) -> bool:
    return user.is_authenticated and (
        access.is_dispatcher(user) or (bool(user.unit_id) and user.has_role(Role.ENTERPRISE, Role.UNIT_OFFICER))
    )


FILING_REFUSAL = "只有项目企业、责任单位或项目服务中心可以填报月报。"


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


# --- screening the upload --------------------------------------------------------------------------------


def read_upload(upload) -> bytes:
    """The uploaded file's bytes, refusing an empty or oversized one without reading it all."""
    limit_mb = MAX_UPLOAD_BYTES // (1024 * 1024)
    if getattr(upload, "size", None) is not None and upload.size > MAX_UPLOAD_BYTES:
        raise _refuse(f"文件超过{limit_mb}MB，请分批导入。")
    if hasattr(upload, "seek"):
        upload.seek(0)
    data = upload.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        raise _refuse(f"文件超过{limit_mb}MB，请分批导入。")
    if not data:
        raise _refuse("文件为空。")
    return data


def _scan_xml(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> str | None:
    """Refuse a DOCTYPE or ENTITY declaration (entity bombs, XXE) or a UTF-16/32 XML part."""
    with zf.open(info) as stream:
        head = stream.read(4)
        if head[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in head:
            return f"文件中的{info.filename}使用了不支持的编码，已拒绝。"
        tail = head.lower()
        while True:
            chunk = stream.read(1024 * 1024)
            if not chunk:
                break
            window = tail + chunk.lower()
            if any(marker in window for marker in DANGEROUS_XML):
                return "文件包含XML实体或文档类型声明（可能是XML炸弹或外部实体攻击），已拒绝。"
            tail = window[-16:]
        if any(marker in tail for marker in DANGEROUS_XML):
            return "文件包含XML实体或文档类型声明（可能是XML炸弹或外部实体攻击），已拒绝。"
    return None


def screen(data: bytes) -> None:
    """Refuse anything but a plain xlsx within the limits, before any XML parser sees it."""
    if not openpyxl.DEFUSEDXML:  # the settings module asserts it too; never parse without it
        raise _refuse("服务器未启用安全的XML解析（defusedxml），暂不能导入Excel。")
    if data.startswith(OLE_MAGIC):
        raise _refuse("文件是旧版Excel（.xls）格式或设置了打开密码，请另存为不加密的.xlsx文件后上传。")
    if not data.startswith(b"PK\x03\x04"):
        raise _refuse("文件不是Excel工作簿（.xlsx），请使用系统下载的模板。")
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        raise _refuse("文件已损坏或不是Excel工作簿（.xlsx）。") from None
    with zf:
        if len(infos) > MAX_ENTRIES:
            raise _refuse("文件内部结构异常（条目过多），已拒绝。")
        names = [i.filename for i in infos]
        if len(set(names)) != len(names):
            raise _refuse("文件内部结构异常（重复条目），已拒绝。")
        total = 0
        for info in infos:
            name = info.filename.lower()
            if name.endswith("vbaproject.bin") or "vbaproject" in name:
                raise _refuse("文件包含宏（VBA），不允许导入。请另存为不含宏的.xlsx文件。")
            if "externallink" in name:
                raise _refuse("文件包含外部链接，不允许导入。")
            if "/embeddings/" in name or "/activex/" in name or name.endswith(".bin"):
                raise _refuse("文件包含嵌入对象或控件，不允许导入。")
            if name.endswith(NESTED_ARCHIVES):
                raise _refuse("文件中嵌套了其他压缩文件，不允许导入。")
            if info.flag_bits & 0x1:
                raise _refuse("文件已加密，请另存为不加密的.xlsx文件后上传。")
            if info.file_size < 0 or info.compress_size < 0:
                raise _refuse("文件已损坏。")
            total += info.file_size
            if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
                raise _refuse("文件压缩比异常（可能是压缩炸弹），已拒绝。")
            if name.endswith(XML_SUFFIXES) and info.file_size > MAX_XML_PART:
                raise _refuse("文件中的工作表过大，请分批导入。")
        if total > MAX_UNCOMPRESSED:
            raise _refuse("文件解压后过大（可能是压缩炸弹），请分批导入。")
        if "[Content_Types].xml" not in names or "xl/workbook.xml" not in names:
            raise _refuse("文件不是Excel工作簿（.xlsx），请使用系统下载的模板。")
        for info in infos:
            if info.filename.lower().endswith(XML_SUFFIXES):
                message = _scan_xml(zf, info)
                if message:
                    raise _refuse(message)
        types = zf.read("[Content_Types].xml").decode("utf-8", "replace")
    lowered = types.lower()
    if "macroenabled" in lowered or "vbaproject" in lowered:
        raise _refuse("文件包含宏（.xlsm），不允许导入。请另存为不含宏的.xlsx文件。")
    if XLSX_MAIN not in types:
        raise _refuse("文件不是Excel工作簿（.xlsx），请使用系统下载的模板。")


def _unreadable(exc: BaseException) -> ImportRefused:
    """The refusal for a parse failure: an XML attack when defusedxml stopped it, else a damaged file."""
    seen = exc
    while seen is not None:
        if isinstance(seen, DefusedXmlException):
            return _refuse("文件包含XML实体或文档类型声明（可能是XML炸弹或外部实体攻击），已拒绝。")
        seen = seen.__cause__ or seen.__context__
    return _refuse("文件无法读取（格式已损坏），请使用系统下载的模板。")


def open_workbook(data: bytes):
    """Parse a screened file (read-only, formulas kept as formulas, defusedxml)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=False, keep_links=False)
    except Exception as exc:  # openpyxl raises many kinds on a malformed file (KeyError, ValueError…)
        raise _unreadable(exc) from None


# --- reading the sheet -----------------------------------------------------------------------------------


@dataclass
class Row:
    number: int  # the Excel row
    project_id: int | None
    name: str
    values: dict[str, Any] = field(default_factory=dict)
    given: bool = False  # any input cell filled


def read_meta(wb) -> tuple[int, int, int | None]:
    """(year, month, unit id) from the template's hidden sheet; refuses another kind or version."""
    if META_SHEET not in wb.sheetnames or DATA_SHEET not in wb.sheetnames:
        raise _refuse("这不是本系统的月报模板（缺少模板标识），请先下载模板再填报。")
    meta: dict[str, Any] = {}
    for row in wb[META_SHEET].iter_rows(min_row=1, max_row=20, max_col=2, values_only=True):
        if row and isinstance(row[0], str):
            meta[row[0].strip()] = row[1]
    if meta.get("模板类型") != TEMPLATE_KIND:
        raise _refuse("这不是本系统的月报模板（模板标识不符），请先下载模板再填报。")
    version = str(meta.get("模板版本") or "").strip()
    if version != TEMPLATE_VERSION:
        raise _refuse(
            f"模板版本不符（文件为“{version or '无'}”版，当前为“{TEMPLATE_VERSION}”版），请重新下载模板后填报。"
        )
    year, month = meta.get("年"), meta.get("月")
    if not isinstance(year, int) or not isinstance(month, int) or isinstance(year, bool):
        raise _refuse("模板中的年月标识已损坏，请重新下载模板。")
    unit = meta.get("单位ID")
    return year, month, unit if isinstance(unit, int) and not isinstance(unit, bool) else None


def _is_formula(cell) -> bool:
    if getattr(cell, "data_type", None) == "f":
        return True
    value = getattr(cell, "value", None)
    return isinstance(value, str) and value.startswith("=")


def _number(raw: Any) -> Any:
    """Excel keeps 15 significant digits: 1234.5600000000002 (a float artefact) is 1234.56."""
    if isinstance(raw, float) and raw == raw and raw not in (float("inf"), float("-inf")):
        try:
            return Decimal(format(raw, ".15g"))
        except InvalidOperation:  # pragma: no cover
            return raw
    return raw


def _text(raw: Any, key: str) -> str:
    if raw is None:
        return ""
    if isinstance(raw, bool):
        raise ValidationError(f"{LABELS[key]}格式不正确。")
    if isinstance(raw, (int, float, Decimal)):
        raw = format(_number(raw), "f") if isinstance(raw, float) else str(raw)
    if not isinstance(raw, str):
        raise ValidationError(f"{LABELS[key]}应为文字。")
    text = raw.strip()
    limit = TEXT_INPUTS[key]
    if len(text) > limit:
        raise ValidationError(f"{LABELS[key]}不能超过{limit}个字。")
    return text


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def read_rows(ws, errors: list[CellError]) -> list[Row]:
    """Parse the data rows, collecting cell errors (formulas, types, decimals, lengths, duplicates)."""
    ws.reset_dimensions()  # do not trust the file's declared dimension: read every row there is
    header = next(ws.iter_rows(min_row=HEADER_ROW, max_row=HEADER_ROW, max_col=len(COLUMNS), values_only=True), ())
    expected = [c.header for c in COLUMNS]
    found = [str(v).strip() if v is not None else "" for v in header]
    if found != expected:
        raise ImportRefused([CellError("表头与模板不一致（列被增删、移动或改名），请使用系统下载的模板。",
                                       row=HEADER_ROW, column="A")], markable=True)  # fmt: skip
    rows: list[Row] = []
    seen: dict[int, int] = {}
    for offset, cells in enumerate(ws.iter_rows(min_row=FIRST_ROW, max_col=len(COLUMNS))):
        number = FIRST_ROW + offset
        if offset >= MAX_ROWS:
            raise _refuse(f"数据超过{MAX_ROWS}行，请分批导入。")
        cells = list(cells) + [None] * (len(COLUMNS) - len(cells))
        raw = {c.key: getattr(cells[i], "value", None) for i, c in enumerate(COLUMNS)}
        if all(_empty(v) for v in raw.values()):
            continue
        formula = False
        for i, c in enumerate(COLUMNS):
            if cells[i] is not None and _is_formula(cells[i]):
                text = str(raw[c.key])[:30]
                errors.append(_cell_error(number, c.key, f"单元格含有公式（{text}），只能填写数值或文字。"))
                formula = True
        if formula:
            continue
        pid = raw["project_id"]
        if isinstance(pid, float) and pid.is_integer():
            pid = int(pid)
        if not isinstance(pid, int) or isinstance(pid, bool):
            message = "缺少或无效的项目ID（锁定列不能修改），请使用系统下载的模板。"
            errors.append(_cell_error(number, "project_id", message))
            continue
        row = Row(number=number, project_id=pid, name=str(raw["name"] or "").strip())
        if pid in seen:
            errors.append(_cell_error(number, "project_id", f"项目ID重复（与第{seen[pid]}行相同），每个项目只填一行。"))
            continue
        seen[pid] = number
        row.given = any(not _empty(raw[key]) for key in INPUTS)
        if not row.given:
            rows.append(row)
            continue
        for key in MONEY_INPUTS:
            try:
                row.values[key] = rules.parse_amount(_number(raw[key]), LABELS[key])
            except ValidationError as exc:
                errors.append(_cell_error(number, key, exc.messages[0]))
        try:
            workers = _number(raw["workers_on_site"])
            row.values["workers_on_site"] = rules.parse_count(workers, LABELS["workers_on_site"])
        except ValidationError as exc:
            errors.append(_cell_error(number, "workers_on_site", exc.messages[0]))
        for key in TEXT_INPUTS:
            try:
                row.values[key] = _text(raw[key], key)
            except ValidationError as exc:
                errors.append(_cell_error(number, key, exc.messages[0]))
        if _empty(raw["investment"]) and "investment" in row.values:
            errors.append(_cell_error(number, "investment", rules.investment_missing(None)))
        rows.append(row)
    return rows


# --- applying --------------------------------------------------------------------------------------------


@dataclass
class ImportResult:
    year: int
    month: int
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    flagged: int = 0
    late: bool = False
    report_ids: list[int] = field(default_factory=list)

    @property
    def submitted(self) -> int:
        return self.created + self.updated

    def as_dict(self) -> dict[str, Any]:
        return {"year": self.year, "month": self.month, "submitted": self.submitted, "created": self.created,
                "updated": self.updated, "unchanged": self.unchanged, "skipped": self.skipped,
                "flagged": self.flagged, "late": self.late}  # fmt: skip


def submission_hash(report: MonthlyReport, photos: list[str]) -> str:
    """The digest `domain.submit` stores (same content, same encoding); `photos` are their sha256s."""
    fields = (*FIGURE_FIELDS, "progress_text", "problems_text", "explanation")
    content = {
        "project": report.project_id, "year": report.year, "month": report.month,
        **{f: rules.plain(getattr(report, f)) for f in fields},
        "photos": sorted(photos),
    }  # fmt: skip
    return hashlib.sha256(json.dumps(content, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _chunks(items: list, size: int = 900):
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _same(report: MonthlyReport, values: dict[str, Any]) -> bool:
    for key, value in values.items():
        current = getattr(report, key)
        if key in TEXT_INPUTS:
            current = (current or "").strip()
        if current != value:
            return False
    return True


def _audit(user: User, action: str, report: MonthlyReport, *, before=None, after=None, reason: str = ""):
    ctx = context.current()
    return AuditRecord(
        actor=user if user and user.pk else None, actor_name=user.get_username() if user else "system",
        actor_unit=str(user.unit) if user and user.unit_id else "", channel=ctx.channel, request_id=ctx.request_id,
        object_type="monthlyreport", object_id=str(report.pk), object_repr=str(report)[:200],
        project_id=report.project_id, action=action, before=before, after=after, reason=reason[:200],
    )  # fmt: skip


def import_reports(user: User, upload, *, now: datetime.datetime | None = None, filename: str = "") -> ImportResult:
    """Check an uploaded template and submit its reports: all of them, or none (`ImportRefused`)."""
    if not may_file(user):
        raise PermissionDenied(FILING_REFUSAL)
    data = read_upload(upload)
    screen(data)
    wb = open_workbook(data)
    try:
        year, month, _unit = read_meta(wb)
        moment = now or timezone.now()
        if timezone.is_naive(moment):
            moment = timezone.make_aware(moment)
        today = timezone.localdate(moment)
        message = month_refusal(year, month, today) or rules.closed_month(year, month, domain.locked_through())
        if message:
            raise ImportRefused([CellError(message, row=TITLE_ROW, column="A")], markable=True)
        errors: list[CellError] = []
        try:
            rows = read_rows(wb[DATA_SHEET], errors)
        except ImportRefused:
            raise
        except Exception as exc:  # the sheet is parsed lazily: a malformed one fails here
            raise _unreadable(exc) from None
    finally:
        wb.close()
    name = (filename or getattr(upload, "name", "") or "").replace("\\", "/").rsplit("/", 1)[-1][:100]
    with context.bind(request_id=context.current().request_id or None, channel="import"), transaction.atomic():
        result = _apply(user, rows, errors, year, month, moment, today)
        if errors:
            errors.sort(key=lambda e: (e.row or 0, e.column or ""))
            raise ImportRefused(errors, markable=True)
        _summary(user, result, name, hashlib.sha256(data).hexdigest())
    return result


def _apply(user: User, rows: list[Row], errors: list[CellError], year: int, month: int,
           moment: datetime.datetime, today: datetime.date) -> ImportResult:  # fmt: skip
    result = ImportResult(year=year, month=month)
    period = period_of(year, month)
    ids = sorted({r.project_id for r in rows if r.given})
    allowed = fileable_projects(user)
    projects: dict[int, Project] = {}
    fields = ("id", "name", "code", "total_investment", "stage", "actual_start", "actual_end", "owner_unit_id",
              "responsible_unit_id", "owner_name")  # fmt: skip
    for chunk in _chunks(ids):
        found = list(allowed.filter(pk__in=chunk).values_list("pk", flat=True))
        # Serialise with other writers of these projects' reports (PostgreSQL row locks; SQLite's
        # IMMEDIATE transaction already holds the write lock).
        for p in Project.objects.select_for_update().filter(pk__in=found).only(*fields).order_by("pk"):
            projects[p.pk] = p
    baselines = {}
    existing: dict[int, MonthlyReport] = {}
    history: dict[int, dict[int, Decimal]] = {pid: {} for pid in projects}
    photos: dict[int, list[str]] = {}
    known = sorted(projects)
    for chunk in _chunks(known):
        for b in InvestmentBaseline.objects.filter(project_id__in=chunk):
            baselines[b.project_id] = b
        for r in MonthlyReport.objects.filter(project_id__in=chunk, year=year, month=month):
            r.project = projects[r.project_id]
            existing[r.project_id] = r
        counted = (
            MonthlyReport.objects.filter(project_id__in=chunk, status__in=COUNTED_STATUSES)
            .exclude(period=period)
            .values_list("project_id", "period", "investment")
        )
        for pid, p, inv in counted:
            history[pid][p] = inv or Decimal("0")
    editable_ids = [r.pk for r in existing.values() if r.status in EDITABLE_STATUSES]
    for chunk in _chunks(editable_ids):
        for rid, sha in ReportPhoto.objects.filter(report_id__in=chunk).values_list("report_id", "sha256"):
            photos.setdefault(rid, []).append(sha)
    settings = ProgressSettings.load()
    late = today > domain.due_date(year, month, settings)
    result.late = late
    company = {pid for pid, p in projects.items() if access.is_company_reporter(user, p)}

    creates: list[MonthlyReport] = []
    updates: list[tuple[MonthlyReport, dict]] = []
    flagged: list[MonthlyReport] = []
    failed_rows = {e.row for e in errors}
    for row in rows:
        if not row.given:
            result.skipped += 1  # left empty: not reported by this file (whoever's project it is)
            continue
        project = projects.get(row.project_id)
        if project is None:
            errors.append(_cell_error(row.number, "project_id",
                                      f"项目（ID {row.project_id}）不存在或不在您的填报范围内。"))  # fmt: skip
            continue
        if row.name and row.name != project.name.strip():
            errors.append(_cell_error(row.number, "name", f"项目名称与系统不一致（系统中为“{project.name}”），"
                                                          "请重新下载模板。"))  # fmt: skip
            continue
        if row.number in failed_rows:
            continue
        baseline = baselines.get(project.pk)
        message = rules.before_baseline(year, month, baseline.first_period if baseline else None)
        if message:
            errors.append(_cell_error(row.number, "investment", message))
            continue
        report = existing.get(project.pk)
        values = row.values
        if report is not None and report.status not in EDITABLE_STATUSES:
            if _same(report, {k: v for k, v in values.items() if k != "explanation"}):
                result.unchanged += 1
            else:
                errors.append(_cell_error(row.number, "investment",
                    f"该项目{year}年{month}月的月报已{report.get_status_display()}，不能通过导入修改；"
                    "如需修改，请由责任单位退回后重新填报。"))  # fmt: skip
            continue
        if report is not None:
            refusal = access.filing_refusal(user, project, report)
            if refusal:
                errors.append(_cell_error(row.number, "investment", refusal))
                continue
        ctx = rules.Context(
            year=year, month=month, investment=values["investment"], output_value=values["output_value"],
            tax=values["tax"], total_investment=project.total_investment, stage=project.stage,
            actual_start=project.actual_start, actual_end=project.actual_end, history=history[project.pk],
            baseline_amount=baseline.amount if baseline else Decimal("0"),
            baseline_ytd=baseline.ytd_amount if baseline else Decimal("0"),
            baseline_first_period=baseline.first_period if baseline else None, settings=settings,
        )  # fmt: skip
        hard = rules.hard_errors(ctx)
        if hard:
            for key, messages in hard.items():
                for text in messages:
                    errors.append(_cell_error(row.number, FIELD_COLUMN.get(key, "investment"), text))
            continue
        found = rules.soft_warnings(ctx)
        missing = rules.explanation_missing(found, values["explanation"])
        if missing:
            errors.append(_cell_error(row.number, "explanation", missing))
            continue
        fields_now = {**values, "warnings": found, "ytd_investment": ctx.ytd(), "since_start_investment":
                      ctx.since_start()}  # fmt: skip
        if report is None:
            new = MonthlyReport(project=project, year=year, month=month, created_by=user,
                                on_behalf=project.pk not in company, **fields_now)  # fmt: skip
            creates.append(new)
        else:
            updates.append((report, fields_now))
    if errors:
        return result

    for new in creates:
        new.status = ReportStatus.SUBMITTED
        new.submitted_by, new.submitted_at, new.submitted_late = user, moment, late
        new.submission_hash = submission_hash(new, [])
        new.version = 2  # as create (1) then submit (2)
    MonthlyReport.objects.bulk_create(creates, batch_size=500)
    records: list[AuditRecord] = []
    for new in creates:
        reason = "Excel导入并提交" + ("（代企业填报）" if new.on_behalf else "")
        records.append(_audit(user, AuditRecord.Action.CREATE, new, after=snapshot(new, domain.TRACKED), reason=reason))
    changed: list[MonthlyReport] = []
    for report, values in updates:
        before = snapshot(report, domain.TRACKED)
        first_submission = not report.submission_hash
        for key, value in values.items():
            setattr(report, key, value)
        report.status = ReportStatus.SUBMITTED
        report.submitted_by, report.submitted_at = user, moment
        if first_submission:
            report.submitted_late = late
        report.submission_hash = submission_hash(report, photos.get(report.pk, []))
        report.version += 1
        report.updated_at = moment
        changed.append(report)
        records.append(_audit(user, AuditRecord.Action.TRANSITION, report, before=before,
                              after=snapshot(report, domain.TRACKED),
                              reason="Excel导入并提交" + ("（代企业提交）" if report.on_behalf else "")))  # fmt: skip
    if changed:
        MonthlyReport.objects.bulk_update(
            changed,
            [*INPUTS, "warnings", "ytd_investment", "since_start_investment", "status", "submitted_by",
             "submitted_at", "submitted_late", "submission_hash", "version", "updated_at"],
            batch_size=500,
        )  # fmt: skip
    for report in [*creates, *changed]:
        if report.warnings:
            flagged.append(report)
            records.append(_audit(user, AuditRecord.Action.OVERRIDE, report,
                                  after={"warnings": [w["code"] for w in report.warnings]},
                                  reason=report.explanation))  # fmt: skip
    AuditRecord.objects.bulk_create(records, batch_size=500)
    bump("progress")  # bulk writes send no save signal: cached rates are recomputed after the commit
    # Later months' stored totals change when an earlier month is (re)submitted: recompute those projects.
    touched = sorted({r.project_id for r in [*creates, *changed]})
    for chunk in _chunks(touched):
        later = (
            MonthlyReport.objects.filter(project_id__in=chunk, period__gt=period, status__in=COUNTED_STATUSES)
            .values_list("project_id", flat=True)
            .distinct()
        )
        for pid in sorted(set(later)):
            domain.recompute_totals(projects[pid], by=user, reason=f"Excel导入{year}年{month}月月报后重算累计数")
    result.created, result.updated, result.flagged = len(creates), len(changed), len(flagged)
    result.report_ids = [r.pk for r in [*creates, *changed]]
    return result


def _summary(user: User, result: ImportResult, filename: str, digest: str) -> None:
    if not result.submitted:
        return
    ctx = context.current()
    AuditRecord.objects.create(
        actor=user, actor_name=user.get_username(), actor_unit=str(user.unit) if user.unit_id else "",
        channel=ctx.channel, request_id=ctx.request_id, object_type="monthlyreport", object_id="import",
        object_repr=f"Excel导入{result.year}年{result.month}月月报 {result.submitted} 份"[:200],
        action=AuditRecord.Action.CREATE,
        after={"文件": filename, "sha256": digest, **result.as_dict()},
        reason="Excel导入月报",
    )  # fmt: skip


# --- the marked workbook --------------------------------------------------------------------------------


def marked_workbook(data: bytes, errors: list[CellError]) -> bytes:
    """The uploaded workbook with each bad cell filled red and commented, and a sheet listing the errors.

    Only for files that passed `screen()` (`ImportRefused.markable`).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wb = openpyxl.load_workbook(io.BytesIO(data), data_only=False, keep_links=False)
    ws = wb[DATA_SHEET] if DATA_SHEET in wb.sheetnames else wb.worksheets[0]
    by_cell: dict[str, list[str]] = {}
    for error in errors:
        coordinate = error.cell or "A1"
        by_cell.setdefault(coordinate, []).append(error.message)
    for coordinate, messages in by_cell.items():
        cell = ws[coordinate]
        if type(cell).__name__ == "MergedCell":
            cell = ws["A1"]
        cell.fill = ERROR_FILL
        comment = Comment("\n".join(messages), "系统校验")
        comment.width, comment.height = 320, 40 + 40 * len(messages)
        cell.comment = comment
    if ERRORS_SHEET in wb.sheetnames:
        del wb[ERRORS_SHEET]
    sheet = wb.create_sheet(ERRORS_SHEET, 0)
    for i, header in enumerate(["序号", "工作表", "行", "列", "字段", "错误信息"], start=1):
        cell = sheet.cell(1, i)
        set_text(cell, header)
        cell.font, cell.fill = HEADER_FONT, HEADER_FILL
    for n, error in enumerate(errors, start=1):
        sheet.cell(n + 1, 1).value = n
        set_text(sheet.cell(n + 1, 2), error.sheet or "")
        if error.row:
            sheet.cell(n + 1, 3).value = error.row
        set_text(sheet.cell(n + 1, 4), error.column or "")
        set_text(sheet.cell(n + 1, 5), error.header)
        set_text(sheet.cell(n + 1, 6), error.message)
    for letter, width in zip("ABCDEF", (6, 10, 8, 6, 24, 90), strict=True):
        sheet.column_dimensions[letter].width = width
    wb.active = 0
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


SAFE_NAME = re.compile(r"[^0-9A-Za-z\u4e00-\u9fff_-]+")


def template_filename(year: int, month: int, unit: Unit | None) -> str:
    label = SAFE_NAME.sub("", unit.short_name or unit.name) if unit else "全部"
    return f"月报模板_{year}年{month:02d}月_{label}.xlsx"
