"""A refused upload handed back with each bad cell filled red and commented, and a sheet listing the
errors.
"""

from __future__ import annotations

import io
import warnings

import openpyxl
from openpyxl.comments import Comment

from keyprojects.progress.excel_common import ERROR_FILL, HEADER_FILL, HEADER_FONT, set_text
from keyprojects.progress.excel_import.common import DATA_SHEET, ERRORS_SHEET, CellError

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
