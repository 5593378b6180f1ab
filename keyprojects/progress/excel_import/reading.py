"""Reading an upload: the limits, `screen()` before any XML parser sees the file, `open_workbook()`
(defusedxml, read-only, formulas kept as formulas), then the meta sheet and the data rows.
"""

from __future__ import annotations

import io
import warnings
import zipfile
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import openpyxl
from defusedxml import DefusedXmlException
from django.core.exceptions import ValidationError

from keyprojects.progress import rules
from keyprojects.progress.excel_import.common import (
    COLUMNS,
    DATA_SHEET,
    FIRST_ROW,
    HEADER_ROW,
    INPUTS,
    LABELS,
    META_SHEET,
    MONEY_INPUTS,
    TEMPLATE_KIND,
    TEMPLATE_VERSION,
    TEXT_INPUTS,
    CellError,
    ImportRefused,
    _cell_error,
    _refuse,
)

# Limits (the upload is refused before parsing when one is exceeded).
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_ENTRIES = 300
MAX_UNCOMPRESSED = 150 * 1024 * 1024
MAX_RATIO = 100  # per entry, checked for entries above RATIO_FLOOR bytes uncompressed
RATIO_FLOOR = 1024 * 1024
MAX_XML_PART = 100 * 1024 * 1024
MAX_ROWS = 20_000

XLSX_MAIN = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
NESTED_ARCHIVES = (".zip", ".xlsx", ".xlsm", ".xlsb", ".xls", ".docx", ".docm", ".jar", ".7z", ".rar", ".gz", ".cab")
XML_SUFFIXES = (".xml", ".rels", ".vml")
DANGEROUS_XML = (b"<!doctype", b"<!entity")


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
