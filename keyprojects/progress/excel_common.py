"""What the Excel import and export share: safe cell writing, styles, the month parameter, responses.

**Formula safety.** openpyxl turns any assigned string that starts with "=" into a live formula
(data type "f"), and Excel itself treats text starting with "=", "+", "-" or "@" (and tab or CR in
CSV) as a formula when a user edits the cell. Every text this module writes goes through
`text_value()`: characters XML cannot hold are dropped, and text that starts with a trigger is written
as a string cell (data type "s") with Excel's hidden apostrophe (`quotePrefix`), never as a formula.
Numbers (Decimal 万元) and dates stay numbers and dates. The large exports written with
`keyprojects.lib.xlsx_stream` get the same guarantees from that writer (it has no formulas at all, and
gives text starting with a `FORMULA_TRIGGERS` character the quote prefix); their styles are the
`STREAM_*` values, derived from the openpyxl style constants here.
"""

from __future__ import annotations

import datetime
import tempfile
from copy import copy
from decimal import Decimal
from typing import Any

from django.http import FileResponse
from django.utils import timezone
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Border, Font, PatternFill, Protection, Side

from keyprojects.lib import xlsx_stream
from keyprojects.progress import rules
from keyprojects.progress.models import period_of

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Text starting with one of these is a formula to Excel (or to a CSV reader): written as plain text.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\x00")

MONEY_FORMAT = "#,##0.00"
PERCENT_FORMAT = "0.0%"
DATE_FORMAT = "yyyy-mm-dd"
COUNT_FORMAT = "0"
TEXT_FORMAT = "@"

THIN = Side(style="thin", color="BFBFBF")
BORDER = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
TITLE_FONT = Font(name="宋体", size=14, bold=True)
HEADER_FONT = Font(name="宋体", size=10, bold=True)
HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
LOCKED_FILL = PatternFill("solid", fgColor="F2F2F2")
ERROR_FILL = PatternFill("solid", fgColor="FFC7CE")
RESTATED_FILL = PatternFill("solid", fgColor="FFF2CC")
WRAP = Alignment(wrap_text=True, vertical="top")
CENTER = Alignment(horizontal="center", vertical="center", wrap_text=True)
UNLOCKED = Protection(locked=False)


def stream_style(*, number_format: str | None = None, font=None, fill=None, alignment=None, border=None):
    """The streaming writer's (`keyprojects.lib.xlsx_stream`) style for the same openpyxl style objects.

    The openpyxl constants above stay the one definition of fonts and colours; the large exports that
    write with `xlsx_stream` take theirs from here (a border: a thin line of the left side's colour).
    """
    return xlsx_stream.Style(
        number_format=number_format,
        font=xlsx_stream.Font(font.name, font.sz, bool(font.b)) if font is not None else None,
        fill=fill.fgColor.rgb[-6:] if fill is not None else None,
        border=border.left.color.rgb[-6:] if border is not None else None,
        horizontal=alignment.horizontal if alignment is not None else None,
        vertical=alignment.vertical if alignment is not None else None,
        wrap=bool(alignment.wrap_text) if alignment is not None else False,
    )


STREAM_TITLE = stream_style(font=TITLE_FONT)
STREAM_HEADER = stream_style(font=HEADER_FONT, fill=HEADER_FILL, alignment=CENTER, border=BORDER)
STREAM_RESTATED = stream_style(fill=RESTATED_FILL)
STREAM_MONEY = stream_style(number_format=MONEY_FORMAT)
STREAM_PERCENT = stream_style(number_format=PERCENT_FORMAT)
STREAM_DATE = stream_style(number_format=DATE_FORMAT)


def clean_text(value: str) -> str:
    """Text without the control characters an XML part cannot hold (openpyxl would refuse them)."""
    return ILLEGAL_CHARACTERS_RE.sub("", value)


def is_trigger(text: str) -> bool:
    return text.startswith(FORMULA_TRIGGERS)


def text_value(ws, value: str, proto=None):
    """A string for `ws.append`: the plain string, or a string cell when it could read as a formula."""
    text = clean_text(value)
    if not is_trigger(text) and proto is None:
        return text
    cell = WriteOnlyCell(ws)
    if proto is not None:
        cell._style = copy(proto._style)
    cell.value = text
    cell.data_type = "s"  # never "f", whatever the text starts with
    if is_trigger(text):
        cell.quotePrefix = True
    return cell


def set_text(cell, value: str | None) -> None:
    """Write text into a cell of a normal (not write-only) worksheet, never as a formula."""
    text = clean_text(value or "")
    cell.value = text
    cell.data_type = "s"
    if is_trigger(text):
        cell.quotePrefix = True


def prototype(ws, *, number_format: str | None = None, font=None, fill=None, alignment=None, border=None):
    """A styled cell whose style later cells copy (cheaper than setting each attribute per cell)."""
    cell = WriteOnlyCell(ws)
    if number_format:
        cell.number_format = number_format
    if font is not None:
        cell.font = font
    if fill is not None:
        cell.fill = fill
    if alignment is not None:
        cell.alignment = alignment
    if border is not None:
        cell.border = border
    return cell


def styled(ws, value: Any, proto):
    """A write-only cell holding `value` with the prototype's style (text goes through `text_value`)."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return text_value(ws, value, proto)
    cell = WriteOnlyCell(ws, value=value)
    cell._style = copy(proto._style)
    return cell


def last_month(today: datetime.date | None = None) -> tuple[int, int]:
    today = today or timezone.localdate()
    return (today.year, today.month - 1) if today.month > 1 else (today.year - 1, 12)


def month_refusal(year: Any, month: Any, today: datetime.date | None = None) -> str | None:
    """Why (year, month) cannot be asked for (invalid or in the future), or None."""
    message = rules.invalid_month(year, month)
    if message:
        return message
    today = today or timezone.localdate()
    if period_of(year, month) > period_of(today.year, today.month):
        return f"{year}年{month}月尚未到来。"
    return None


def ratio(numerator: Decimal | None, denominator: Decimal | None) -> Decimal | None:
    if numerator is None or not denominator:
        return None
    return (Decimal(numerator) / Decimal(denominator)).quantize(Decimal("0.0001"))


def temp_workbook_file():
    """A temporary file for a workbook: deleted when closed (FileResponse closes it when sent)."""
    return tempfile.TemporaryFile(prefix="kp-", suffix=".xlsx")


def xlsx_response(fileobj, filename: str) -> FileResponse:
    fileobj.seek(0)
    response = FileResponse(fileobj, as_attachment=True, filename=filename, content_type=XLSX_CONTENT_TYPE)
    response["Cache-Control"] = "no-store"
    return response
