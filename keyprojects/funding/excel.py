"""Excel in and out for funding and the service-matter catalogue.

**Out** (bounded memory, like `progress.excel_export`): the district view through the ledger's
`StreamSheet` (`lib.xlsx_stream`: no formula can be written, formula-like texts get Excel's quote
prefix), the catalogue through openpyxl write-only with `excel_common.text_value`; both into a
temporary file that the response streams; lines read in chunks with one query per chunk for their steps.

- `district_file`: sheet "资金汇总" (per fund type and year: projects and amounts at each step, the
  rates) and sheet "资金明细" (every line of the visible projects with its steps and rates).
- `matters_file`: the catalogue in the import layout (it is also the template to fill in).

**In** (`import_matters`): the upload goes through the monthly-report import's checks
(`excel_import.read_upload`, `screen`, `open_workbook`: size, zip structure, macros, external
links, zip and XML bombs, defusedxml, read-only parse with formulas kept as formulas). Then the sheet
"政务服务事项" is read: the header row must hold the template's columns; every row and cell is checked
(formulas refused, codes unique and well formed, the category one of the list, flags 是/否, the
promised days an integer 0–365, lengths); errors come back by row and column in Chinese and nothing is
saved. Otherwise, in one transaction, matters are created or updated by 事项编码 (unchanged rows
untouched), each change audited under the "import" channel, plus one summary record for the file.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from openpyxl import Workbook
from openpyxl.utils import get_column_letter

from keyprojects.audit.models import AuditRecord
from keyprojects.audit.trail import record, snapshot
from keyprojects.funding import figures
from keyprojects.funding.models import (
    STEP_ORDER,
    FundingLine,
    FundingStep,
    FundType,
    MatterCategory,
    ServiceMatter,
    Step,
)
from keyprojects.lib import context
from keyprojects.org.models import Unit, User
from keyprojects.progress.excel_common import (
    BORDER,
    CENTER,
    HEADER_FILL,
    HEADER_FONT,
    TITLE_FONT,
    prototype,
    styled,
    temp_workbook_file,
    text_value,
)
from keyprojects.progress.excel_export import StreamSheet, workbook_file
from keyprojects.progress.excel_import import MAX_ROWS, CellError, ImportRefused, open_workbook, read_upload, screen
from keyprojects.projects.models import Project
from keyprojects.rollups.cache import bump

CHUNK = 2000
MATTER_SHEET = "政务服务事项"


def _stamp(user: User, description: str) -> str:
    now = timezone.localtime()
    return f"{description}；导出：{user}，{now:%Y-%m-%d %H:%M}；金额单位：万元"


# --- the district funding workbook -----------------------------------------------------------------------

SUMMARY_COLUMNS = [
    ("资金类型", 18, "text"), ("年度", 7, "int"),
    ("储备项目数", 8, "int"), ("储备金额（万元）", 14, "money"),
    ("申报项目数", 8, "int"), ("申报金额（万元）", 14, "money"),
    ("审核通过项目数", 8, "int"), ("审核通过金额（万元）", 14, "money"),
    ("下达项目数", 8, "int"), ("下达金额（万元）", 14, "money"),
    ("发行项目数", 8, "int"), ("发行金额（万元）", 14, "money"),
    ("拨付项目数", 8, "int"), ("拨付到位金额（万元）", 14, "money"),
    ("支出项目数", 8, "int"), ("支出金额（万元）", 14, "money"),
    ("下达率", 9, "percent"), ("支出进度", 9, "percent"), ("资金到位率", 9, "percent"),
]  # fmt: skip


def detail_columns() -> list[tuple[str, int, str]]:
    columns = [("序号", 6, "int"), ("项目代码", 24, "text"), ("项目名称", 32, "wide"), ("责任单位", 14, "text"),
               ("资金类型", 16, "text"), ("年度", 7, "int"), ("批次", 10, "text"), ("当前环节", 10, "text"),
               ("审核未通过", 8, "text")]  # fmt: skip
    for step in STEP_ORDER:
        label = Step(step).label
        columns += [(f"{label}金额（万元）", 14, "money"), (f"{label}日期", 11, "date"), (f"{label}文号", 18, "text")]
    columns += [("债券名称", 24, "text"), ("期限（年）", 8, "int"), ("票面利率（%）", 9, "text"),
                ("下达率", 9, "percent"), ("支出进度", 9, "percent"), ("资金到位率", 9, "percent"),
                ("备注", 24, "wide")]  # fmt: skip
    return columns


def _chunks(items: Iterator, size: int) -> Iterator[list]:
    chunk: list = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def detail_rows(lines: QuerySet[FundingLine], *, chunk_size: int = CHUNK) -> Iterator[list[Any]]:
    """One row per line: 1 query per chunk of lines plus 1 per chunk for their steps and bonds."""
    n = 0
    rows = lines.select_related("project__responsible_unit", "fund_type", "bond").order_by(
        "fund_type__position", "-year", "project_id", "id"
    )
    for chunk in _chunks(rows.iterator(chunk_size=chunk_size), chunk_size):
        steps: dict[int, dict[str, Any]] = {}
        for s in FundingStep.objects.filter(line_id__in=[line.pk for line in chunk]):
            steps.setdefault(s.line_id, {})[s.step] = s
        for line in chunk:
            n += 1
            mine = steps.get(line.pk, {})
            amounts = figures.Amounts()
            amounts.add_line({k: s.amount for k, s in mine.items()})
            bond = getattr(line, "bond", None)
            unit = line.project.responsible_unit
            values: list[Any] = [n, line.project.code or "", line.project.name, unit.short_name or unit.name,
                                 line.fund_type.name, line.year, line.batch, line.get_stage_display(),
                                 "是" if line.rejected else ""]  # fmt: skip
            for step in STEP_ORDER:
                s = mine.get(step)
                values += [s.amount, s.date, s.document_number] if s else [None, None, ""]
            values += [bond.name if bond else "", bond.term_years if bond else None, str(bond.rate) if bond else ""]
            values += [amounts.allocation_rate, amounts.spending_progress, amounts.in_place_rate, line.note]
            yield values


def district_file(user: User, projects: QuerySet[Project], *, year: int | None = None,
                  fund_type: FundType | None = None, chunk_size: int = CHUNK):  # fmt: skip
    """The district funding view as a temporary xlsx file (caller streams and closes it)."""
    parts = [f"{year}年" if year else "全部年度", fund_type.name if fund_type else "全部资金类型"]
    stamp = _stamp(user, "范围：" + "，".join(parts) + "（本人可见的项目；审核未通过的资金不计入汇总）")
    lines = FundingLine.objects.filter(project__in=projects.values("pk"))
    if year:
        lines = lines.filter(year=year)
    if fund_type is not None:
        lines = lines.filter(fund_type=fund_type)

    def write(book) -> None:
        summary = StreamSheet(book, "资金汇总", SUMMARY_COLUMNS, freeze="C4")
        summary.heading("重点项目资金争取和使用情况汇总", stamp)
        for row in figures.district_rows(projects, year=year, fund_type=fund_type):
            values: list[Any] = [row.fund_type.name, row.year]
            for key in figures.ROW_KEYS:
                f = row.figure(key)
                values += [f.projects, f.amount]
            values += [row.allocation_rate, row.spending_progress, row.in_place_rate]
            summary.row(values)
        detail = StreamSheet(book, "资金明细", detail_columns())
        detail.heading("重点项目资金明细", stamp)
        for values in detail_rows(lines, chunk_size=chunk_size):
            detail.row(values)

    return workbook_file(write)


# --- the service-matter catalogue ------------------------------------------------------------------------


@dataclass(frozen=True)
class MatterColumn:
    key: str
    header: str
    width: int
    kind: str  # text, flag, int, choice


MATTER_COLUMNS = [
    MatterColumn("code", "事项编码", 30, "text"),
    MatterColumn("name", "事项名称", 40, "text"),
    MatterColumn("category", "事项类型", 14, "choice"),
    MatterColumn("department_name", "办理部门", 28, "text"),
    MatterColumn("at_most_once", "最多跑一次", 10, "flag"),
    MatterColumn("on_the_spot", "即来即办", 10, "flag"),
    MatterColumn("near_home", "就近办", 10, "flag"),
    MatterColumn("online", "网上可办", 10, "flag"),
    MatterColumn("promised_days", "承诺时限（工作日）", 12, "int"),
]
MATTER_HEADERS = [c.header for c in MATTER_COLUMNS]
CATEGORY_BY_LABEL = {str(label): value for value, label in MatterCategory.choices}
TRUE_WORDS = {"是", "√", "✓", "✔", "y", "yes", "true", "1", "可", "有"}
FALSE_WORDS = {"否", "×", "✗", "n", "no", "false", "0", "", "无", "不"}
CODE_RE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._-]{0,63}$")
MATTER_FIELDS = [c.key for c in MATTER_COLUMNS] + ["department"]
NOTE = ("填写说明：每行一个事项，按事项编码新增或更新；标志列填“是”或“否”；事项类型从下列中选择："
        + "、".join(CATEGORY_BY_LABEL) + "；请勿输入公式。")  # fmt: skip


def matters_file(matters: QuerySet[ServiceMatter]):
    """The catalogue in the import layout: title, note, header, one row per matter."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(MATTER_SHEET)
    for i, column in enumerate(MATTER_COLUMNS, start=1):
        ws.column_dimensions[get_column_letter(i)].width = column.width
    ws.freeze_panes = "C4"
    title = prototype(ws, font=TITLE_FONT)
    header = prototype(ws, font=HEADER_FONT, fill=HEADER_FILL, alignment=CENTER, border=BORDER)
    ws.append([styled(ws, "政务服务事项目录", title)])
    ws.append([text_value(ws, NOTE)])
    ws.append([styled(ws, h, header) for h in MATTER_HEADERS])
    labels = dict(MatterCategory.choices)
    for m in matters.order_by("department_name", "code").iterator(chunk_size=CHUNK):
        ws.append([
            text_value(ws, m.code), text_value(ws, m.name), text_value(ws, str(labels.get(m.category, m.category))),
            text_value(ws, m.department_name), *("是" if v else "否" for v in (m.at_most_once, m.on_the_spot,
                                                                             m.near_home, m.online)),
            m.promised_days,
        ])  # fmt: skip
    out = temp_workbook_file()
    wb.save(out)
    out.seek(0)
    return out


@dataclass
class MatterImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rows: int = 0
    counts: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "created": self.created, "updated": self.updated, "unchanged": self.unchanged}


def _error(row: int | None, key: str | None, message: str) -> CellError:
    if key is None:
        return CellError(message, sheet=MATTER_SHEET, row=row)
    index = [c.key for c in MATTER_COLUMNS].index(key)
    return CellError(message, sheet=MATTER_SHEET, row=row, column=get_column_letter(index + 1),
                     header=MATTER_COLUMNS[index].header)  # fmt: skip


def _formula(cell) -> bool:
    # openpyxl keeps formulas as formulas here (data_only=False): data type "f" or a leading "=".
    value = getattr(cell, "value", None)
    return getattr(cell, "data_type", None) == "f" or (isinstance(value, str) and value.startswith("="))


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        raise ValueError
    if isinstance(value, float):
        value = int(value) if value.is_integer() else Decimal(format(value, ".15g"))
    if isinstance(value, (int, Decimal)):
        return str(value)
    if not isinstance(value, str):
        raise ValueError
    return value.strip()


def _parse(column: MatterColumn, value: Any) -> Any:
    """The cell's value for the model, or ValueError with a Chinese message."""
    header = column.header
    if column.kind == "flag":
        if isinstance(value, bool):
            return value
        try:
            text = _cell_text(value).lower()
        except ValueError:
            raise ValueError(f"{header}应填“是”或“否”。") from None
        if text in TRUE_WORDS:
            return True
        if text in FALSE_WORDS:
            return False
        raise ValueError(f"{header}应填“是”或“否”（现为“{text[:20]}”）。")
    if column.kind == "int":
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if isinstance(value, bool):
            raise ValueError(f"{header}应为0到365之间的整数。")
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value.strip())
        if not isinstance(value, int) or not 0 <= value <= 365:
            raise ValueError(f"{header}应为0到365之间的整数。")
        return value
    try:
        text = _cell_text(value)
    except ValueError:
        raise ValueError(f"{header}应为文字。") from None
    if column.kind == "choice":
        if text not in CATEGORY_BY_LABEL:
            raise ValueError(f"事项类型“{text[:20]}”无效，应为：{'、'.join(CATEGORY_BY_LABEL)}。" if text
                             else "请填写事项类型。")  # fmt: skip
        return CATEGORY_BY_LABEL[text]
    limits = {"code": 64, "name": 200, "department_name": 100}
    if not text:
        raise ValueError(f"请填写{header}。")
    if len(text) > limits[column.key]:
        raise ValueError(f"{header}不能超过{limits[column.key]}个字。")
    if column.key == "code" and not CODE_RE.match(text):
        raise ValueError("事项编码只能由字母、数字、点、横线和下划线组成（最多64位）。")
    return text


def _find_header(ws) -> int:
    for number, row in enumerate(ws.iter_rows(min_row=1, max_row=10, values_only=True), start=1):
        cells = [str(v).strip() if v is not None else "" for v in row]
        if "事项编码" in cells:
            if cells[: len(MATTER_HEADERS)] != MATTER_HEADERS:
                raise ImportRefused([_error(number, None, "表头与模板不一致（列被增删、移动或改名），应为："
                                                          + "、".join(MATTER_HEADERS) + "。")])  # fmt: skip
            return number
    raise ImportRefused([_error(None, None, "找不到表头（“事项编码”等列），请使用系统下载的模板。")])


def read_matters(ws, errors: list[CellError]) -> list[tuple[int, dict[str, Any]]]:
    """Parse the data rows below the header, collecting cell errors."""
    ws.reset_dimensions()  # do not trust the file's declared dimension
    header = _find_header(ws)
    rows: list[tuple[int, dict[str, Any]]] = []
    seen: dict[str, int] = {}
    width = len(MATTER_COLUMNS)
    for offset, cells in enumerate(ws.iter_rows(min_row=header + 1, max_col=width)):
        number = header + 1 + offset
        if offset >= MAX_ROWS:
            raise ImportRefused([_error(None, None, f"数据超过{MAX_ROWS}行，请分批导入。")])
        cells = list(cells) + [None] * (width - len(cells))
        raw = [getattr(c, "value", None) for c in cells]
        if all(v is None or (isinstance(v, str) and not v.strip()) for v in raw):
            continue
        values: dict[str, Any] = {}
        bad = False
        for column, cell, value in zip(MATTER_COLUMNS, cells, raw, strict=True):
            if cell is not None and _formula(cell):
                errors.append(_error(number, column.key, f"单元格含有公式（{str(value)[:30]}），只能填写数值或文字。"))
                bad = True
                continue
            try:
                values[column.key] = _parse(column, value)
            except ValueError as exc:
                errors.append(_error(number, column.key, str(exc)))
                bad = True
        if bad:
            continue
        code = values["code"]
        if code in seen:
            errors.append(_error(number, "code", f"事项编码重复（与第{seen[code]}行相同）。"))
            continue
        seen[code] = number
        if values["on_the_spot"] and values["promised_days"]:
            errors.append(_error(number, "promised_days", "即来即办事项的承诺时限应为0或留空。"))
            continue
        rows.append((number, values))
    if not rows and not errors:
        errors.append(_error(header + 1, None, "文件中没有事项。"))
    return rows


def _departments() -> dict[str, Unit]:
    units = Unit.objects.exclude(kind=Unit.Kind.ENTERPRISE).filter(is_active=True)
    out: dict[str, Unit] = {}
    for unit in units:
        for name in (unit.short_name, unit.name):
            if name:
                out.setdefault(name, unit)
    return out


def import_matters(user: User, upload, *, filename: str = "") -> MatterImportResult:
    """Check an uploaded catalogue and save it: every row, or nothing (`ImportRefused`)."""
    data = read_upload(upload)
    screen(data)
    wb = open_workbook(data)
    errors: list[CellError] = []
    try:
        if MATTER_SHEET not in wb.sheetnames:
            raise ImportRefused([CellError(f"找不到工作表“{MATTER_SHEET}”，请使用系统下载的模板。", sheet=None)])
        try:
            rows = read_matters(wb[MATTER_SHEET], errors)
        except ImportRefused:
            raise
        except Exception:  # the sheet is parsed lazily: a malformed one fails here
            raise ImportRefused([CellError("文件无法读取（格式已损坏），请使用系统下载的模板。", sheet=None)]) from None
    finally:
        wb.close()
    if errors:
        raise ImportRefused(errors)
    name = (filename or getattr(upload, "name", "") or "").replace("\\", "/").rsplit("/", 1)[-1][:100]
    with context.bind(request_id=context.current().request_id or None, channel="import"), transaction.atomic():
        result = _apply_matters(user, rows)
        ctx = context.current()
        AuditRecord.objects.create(  # one summary record for the file, as the monthly-report import writes
            actor=user,
            actor_name=user.get_username(),
            actor_unit=str(user.unit) if user.unit_id else "",
            channel=ctx.channel,
            request_id=ctx.request_id,
            object_type="servicematter",
            object_id="import",
            object_repr=f"政务服务事项目录导入 {name}"[:200],
            action=AuditRecord.Action.UPDATE,
            after={
                "文件": name,
                "行数": result.rows,
                "新增": result.created,
                "更新": result.updated,
                "未变": result.unchanged,
                "SHA-256": hashlib.sha256(data).hexdigest(),
            },
            reason="政务服务事项目录Excel导入",
        )
    return result


def _apply_matters(user: User, rows: list[tuple[int, dict[str, Any]]]) -> MatterImportResult:
    result = MatterImportResult(rows=len(rows))
    departments = _departments()
    codes = [values["code"] for _n, values in rows]
    existing: dict[str, ServiceMatter] = {}
    for i in range(0, len(codes), 900):
        existing.update(
            {m.code: m for m in ServiceMatter.objects.select_for_update().filter(code__in=codes[i : i + 900])}
        )
    creates: list[ServiceMatter] = []
    for _number, values in rows:
        values = {**values, "department": departments.get(values["department_name"])}
        matter = existing.get(values["code"])
        if matter is None:
            creates.append(ServiceMatter(**values, is_active=True))
            continue
        before = snapshot(matter, MATTER_FIELDS + ["is_active"])
        for key, value in values.items():
            setattr(matter, key, value)
        matter.is_active = True
        after = snapshot(matter, MATTER_FIELDS + ["is_active"])
        if after == before:
            result.unchanged += 1
            continue
        matter.save()
        record(actor=user, action=AuditRecord.Action.UPDATE, obj=matter, before=before, after=after)
        result.updated += 1
    created = ServiceMatter.objects.bulk_create(creates, batch_size=500)
    bump("funding")  # bulk writes send no save signal
    if created and created[0].pk is None:  # backends that do not return ids: read them back
        created = list(ServiceMatter.objects.filter(code__in=[m.code for m in creates]))
    for m in created:
        record(actor=user, action=AuditRecord.Action.CREATE, obj=m, after=snapshot(m, MATTER_FIELDS + ["is_active"]))
    result.created = len(created)
    result.counts = figures.matter_counts(ServiceMatter.objects.filter(Q(is_active=True)))
    return result
