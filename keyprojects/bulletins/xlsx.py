"""The document's tables as an Excel workbook: a cover sheet, then one sheet per table.

Cells that read as plain numbers ("112.3", "1500.00") are written as numbers; every other text goes
through `progress.excel_common.set_text`, so a name starting with "=", "+", "-" or "@" stays text
(never a formula). Rendered from the outline (the snapshot) only.
"""

from __future__ import annotations

import io
import re
from decimal import Decimal

from openpyxl import Workbook
from openpyxl.utils import get_column_letter

from keyprojects.bulletins.outline import Outline
from keyprojects.progress.excel_common import BORDER, CENTER, HEADER_FILL, HEADER_FONT, TITLE_FONT, WRAP, set_text

NUMBER = re.compile(r"^-?\d+(\.\d+)?$")
BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")


def _sheet_name(title: str, taken: set[str]) -> str:
    base = BAD_SHEET_CHARS.sub("", title)[:28] or "表"
    name, n = base, 2
    while name in taken:
        name = f"{base[:26]}{n}"
        n += 1
    taken.add(name)
    return name


def _put(cell, value: str) -> None:
    if NUMBER.match(value or ""):
        cell.value = Decimal(value)
        cell.number_format = (
            "0.00" if "." in value and len(value.split(".")[1]) == 2 else "0.0" if "." in value else "0"
        )
    else:
        set_text(cell, value)


def render(outline: Outline) -> bytes:
    wb = Workbook()
    cover = wb.active
    cover.title = "说明"
    rows = [("发文机关", outline.issuing_body), ("文号", outline.number), ("标题", outline.title),
            ("日期", outline.date), ("状态", "草稿" if outline.draft else "已印发")]  # fmt: skip
    for i, (label, value) in enumerate(rows, start=1):
        set_text(cover.cell(i, 1), label)
        set_text(cover.cell(i, 2), value)
        cover.cell(i, 1).font = HEADER_FONT
    line = len(rows) + 2
    for s in outline.sections:
        set_text(cover.cell(line, 1), s.heading)
        cover.cell(line, 1).font = HEADER_FONT
        line += 1
        for text in s.paragraphs:
            set_text(cover.cell(line, 2), text)
            cover.cell(line, 2).alignment = WRAP
            line += 1
    cover.column_dimensions["A"].width = 24
    cover.column_dimensions["B"].width = 100
    taken = {"说明"}
    for s in outline.sections:
        for table in s.tables:
            ws = wb.create_sheet(_sheet_name(table.title, taken))
            set_text(ws.cell(1, 1), table.title)
            ws.cell(1, 1).font = TITLE_FONT
            for j, name in enumerate(table.header, start=1):
                cell = ws.cell(2, j)
                set_text(cell, name)
                cell.font, cell.fill, cell.alignment, cell.border = HEADER_FONT, HEADER_FILL, CENTER, BORDER
            for i, values in enumerate(table.rows, start=3):
                for j, value in enumerate(values, start=1):
                    cell = ws.cell(i, j)
                    _put(cell, str(value))
                    cell.border = BORDER
            for j, name in enumerate(table.header, start=1):
                longest = max([len(name), *(len(str(r[j - 1])) for r in table.rows[:200])])
                ws.column_dimensions[get_column_letter(j)].width = min(60, max(8, longest * 1.8))
            ws.freeze_panes = "A3"
            ws.print_title_rows = "2:2"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
