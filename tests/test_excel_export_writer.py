"""The streaming xlsx writer behind the ledger and the monthly table: values, styles, text safety, bounded heap."""

from __future__ import annotations

import datetime
import enum
import io
import tracemalloc
import zipfile
from decimal import Decimal

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from keyprojects.lib.xlsx_stream import Book, Style
from keyprojects.progress import excel_export
from keyprojects.progress.excel_common import FORMULA_TRIGGERS, STREAM_HEADER, is_trigger

D = Decimal


def written(fill, **book_options) -> bytes:
    out = io.BytesIO()
    with Book(out, **book_options) as book:
        fill(book)
    return out.getvalue()


def load(data: bytes):
    return openpyxl.load_workbook(io.BytesIO(data))


def test_values_and_number_formats_read_back():
    def fill(book):
        money = book.style(Style(number_format="#,##0.00"))
        percent = book.style(Style(number_format="0.0%"))
        points = book.style(Style(number_format="0.0"))
        sheet = book.sheet("数据")
        sheet.append([1, D("12345.67"), D("0.4567"), D("-1.5"), 2.5, True, False, "文字"],
                     [0, money, percent, points, 0, 0, 0, 0])  # fmt: skip
        sheet.append([datetime.date(2026, 10, 3), datetime.datetime(2026, 10, 3, 14, 30), datetime.date(1900, 1, 1),
                      D("NaN"), float("inf"), None, "", D("1E+3")])  # fmt: skip

    ws = load(written(fill))["数据"]
    row1 = list(ws.iter_rows(min_row=1, max_row=1))[0]
    assert [c.value for c in row1] == [1, 12345.67, 0.4567, -1.5, 2.5, True, False, "文字"]
    assert [c.number_format for c in row1[:4]] == ["General", "#,##0.00", "0.0%", "0.0"]
    assert [c.data_type for c in row1] == ["n", "n", "n", "n", "n", "b", "b", "s"]
    a2, b2, c2, d2, e2, f2, g2, h2 = list(ws.iter_rows(min_row=2, max_row=2))[0]
    assert a2.value == datetime.datetime(2026, 10, 3) and a2.number_format == "yyyy-mm-dd"
    assert b2.value == datetime.datetime(2026, 10, 3, 14, 30) and b2.number_format == "yyyy-mm-dd hh:mm:ss"
    assert c2.value == datetime.datetime(1900, 1, 1)  # Excel's 1900 leap-year quirk
    assert d2.value is e2.value is f2.value is g2.value is None  # not-a-number, infinite, None and "" stay empty
    assert h2.value == 1000


def test_other_values_are_written_by_what_they_are():
    class Grade(enum.IntEnum):
        A = 3

    class Label:
        def __str__(self):
            return "=标签"

    def fill(book):
        book.sheet("s", quote_prefixes=("=",)).append([Grade.A, Label(), datetime.time(8, 30)])

    a, b, c = load(written(fill))["s"][1]
    assert a.value == 3 and a.data_type == "n"
    assert b.value == "=标签" and b.data_type == "s" and b.quotePrefix
    assert c.value == "08:30:00" and c.data_type == "s"


def test_an_unknown_style_id_is_refused():
    with Book(io.BytesIO()) as book, pytest.raises(ValueError, match="style"):
        book.sheet("s").append([1], [99])


def test_an_aware_datetime_is_refused():
    def fill(book):
        book.sheet("s").append([datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)])

    with pytest.raises(TypeError, match="time zones"):
        written(fill)


def test_styles_widths_and_frozen_panes():
    def fill(book):
        header = book.style(STREAM_HEADER)
        flag = book.style(Style(fill="FFF2CC"))
        sheet = book.sheet("表一", widths=[6, None, 40.5], freeze="D4")
        sheet.append(["标题", "表头", "=表头"], [0, header, header])
        sheet.append(["x"], [flag])
        book.sheet("表二", freeze="A2").append(["只冻结首行"])
        book.sheet("表三", freeze="B1").append(["只冻结首列"])
        assert book.style(Style(fill="FFF2CC")) == flag  # one id per style

    wb = load(written(fill))
    assert wb.sheetnames == ["表一", "表二", "表三"]
    ws = wb["表一"]
    assert ws.freeze_panes == "D4" and wb["表二"].freeze_panes == "A2" and wb["表三"].freeze_panes == "B1"
    assert ws.column_dimensions["A"].width == 6 and ws.column_dimensions["C"].width == 40.5
    b1, c1 = ws["B1"], ws["C1"]
    assert b1.font.name == "宋体" and b1.font.b and b1.font.sz == 10
    assert b1.fill.fill_type == "solid" and b1.fill.fgColor.rgb == "FFDDEBF7"
    assert b1.alignment.horizontal == "center" and b1.alignment.vertical == "center" and b1.alignment.wrap_text
    assert {b1.border.left.style, b1.border.right.style, b1.border.top.style, b1.border.bottom.style} == {"thin"}
    assert not b1.quotePrefix
    assert c1.quotePrefix is False  # no prefixes asked for this sheet: the style is kept as it is
    assert c1.font.b and c1.data_type == "s"
    assert ws["A2"].fill.fgColor.rgb == "FFFFF2CC" and ws["A1"].fill.fill_type is None


def test_every_part_is_well_formed_xml():
    def fill(book):
        book.sheet("一", freeze="C3").append(["a & b < c > d", "quote \" and ' apostrophe", D("1.00")])
        book.sheet("二 & <三>").append([1])

    data = written(fill)
    z = zipfile.ZipFile(io.BytesIO(data))
    assert z.testzip() is None
    assert set(z.namelist()) == {
        "[Content_Types].xml", "_rels/.rels", "xl/workbook.xml", "xl/_rels/workbook.xml.rels", "xl/styles.xml",
        "xl/worksheets/sheet1.xml", "xl/worksheets/sheet2.xml",
    }  # fmt: skip
    for name in z.namelist():
        etree.fromstring(z.read(name))
    assert load(data).sheetnames == ["一", "二 & <三>"]


def test_bad_sheet_names_and_shapes_are_refused():
    out = io.BytesIO()
    book = Book(out)
    for name in ("", "a" * 32, "a/b", "a[1]", "a:b"):
        with pytest.raises(ValueError):
            book.sheet(name)
    sheet = book.sheet("ok")
    with pytest.raises(ValueError):
        book.sheet("ok")
    with pytest.raises(ValueError):
        sheet.append([1, 2], [0])
    book.close()
    with pytest.raises(ValueError):
        sheet.append([1])
    with pytest.raises(ValueError):
        book.sheet("later")
    assert load(out.getvalue()).sheetnames == ["ok"]


def test_an_empty_book_still_opens():
    assert load(written(lambda book: None)).sheetnames == ["Sheet1"]


# --- text safety -------------------------------------------------------------------------------------------------


def test_text_is_kept_exactly_or_made_safe():
    texts = ["a & b <c> d", "  前后空格  ", "第一行\n第二行", "\r=1+1", "tab\tinside", "a\x01b\x0bc\x1fd", "x\ufffey",
             "lone \ud800 surrogate", "长" * 40000, "😀" * 20000]  # fmt: skip

    def fill(book):
        book.sheet("s", quote_prefixes=FORMULA_TRIGGERS).append(texts)

    data = written(fill)
    cells = list(load(data)["s"].iter_rows())[0]
    values = [c.value for c in cells]
    assert values[:5] == texts[:5]
    assert values[5] == "abcd" and values[6] == "xy" and values[7] == "lone  surrogate"
    assert values[8] == "长" * 32767  # Excel's limit
    assert values[9] == "😀" * 16383  # counted in UTF-16 units, a pair never split
    assert cells[3].quotePrefix and not cells[0].quotePrefix


def test_a_literal_excel_escape_is_shown_as_typed():
    """Excel reads `_x0041_` in a cell as "A"; the writer escapes the underscore so Excel shows the text."""
    data = written(lambda book: book.sheet("s").append(["代码_x0041_结尾"]))
    sheet_xml = zipfile.ZipFile(io.BytesIO(data)).read("xl/worksheets/sheet1.xml").decode()
    assert "代码_x005F_x0041_结尾" in sheet_xml


@settings(max_examples=60, deadline=None)
@given(
    prefix=st.sampled_from(["", *FORMULA_TRIGGERS]),
    rest=st.text(max_size=40),
)
def test_no_text_ever_becomes_a_formula(prefix, rest):
    text = prefix + rest

    def fill(book):
        sheet = book.sheet("s", quote_prefixes=FORMULA_TRIGGERS)
        sheet.append([text, text], [0, book.style(Style(number_format="#,##0.00"))])

    data = written(fill)
    assert b"<f>" not in zipfile.ZipFile(io.BytesIO(data)).read("xl/worksheets/sheet1.xml")
    ws = load(data)["s"]
    for cell in ws[1]:
        if cell.value is None:
            continue
        assert cell.data_type == "s"
        assert cell.quotePrefix == is_trigger(cell.value)


# --- the ledger sheet on the writer, and its memory ----------------------------------------------------------------

COLUMNS = excel_export.ledger_columns(2026, 10)


def synthetic_rows(n: int):
    """Rows shaped like `ledger_rows`: texts, Decimal amounts and rates, dates, a flag now and then."""
    for i in range(1, n + 1):
        flagged = 26 if i % 50 == 0 else None
        yield [
            i, f"2026-320100-48-01-{i:06d}", f"重点建设项目{i}", "某某投资发展有限公司", "新建厂房及配套设施" * 8,
            "东街", "区级", "先进制造业", D("50000.00"), D("6000.00"), D("6000.00"), D("500.00"), D("4500.00"),
            D("0.7500"), D("12000.00"), D("0.2400"), "主体结构施工", "=用地指标待落实" if i % 97 == 0 else "",
            "东街街道", "张三", "李四", "在建", "正常", datetime.date(2025, 1, 1), datetime.date(2027, 12, 31),
            "已确认", "本月数据已更正（1次）" if flagged else "",
        ], flagged  # fmt: skip


def write_ledger(out, n: int) -> None:
    with Book(out) as book:
        sheet = excel_export.StreamSheet(book, "项目台账", COLUMNS)
        sheet.heading("重点项目建设台账", "数据截至")
        for values, flagged in synthetic_rows(n):
            sheet.row(values, flagged=flagged)


def test_stream_sheet_writes_the_ledger_layout(tmp_path):
    path = tmp_path / "ledger.xlsx"
    with open(path, "w+b") as out:
        write_ledger(out, 120)
    ws = openpyxl.load_workbook(path)["项目台账"]
    assert ws.max_row == 3 + 120 and ws.freeze_panes == "D4"
    assert ws["I4"].number_format == "#,##0.00" and ws["N4"].number_format == "0.0%"
    assert ws["X4"].number_format == "yyyy-mm-dd"
    flagged = ws.cell(3 + 50, 27)
    assert flagged.value == "本月数据已更正（1次）" and flagged.fill.fgColor.rgb.endswith("FFF2CC")
    hostile = ws.cell(3 + 97, 18)
    assert hostile.value == "=用地指标待落实" and hostile.data_type == "s" and hostile.quotePrefix
    with Book(io.BytesIO()) as book, pytest.raises(ValueError):
        excel_export.StreamSheet(book, "x", COLUMNS).row([1, 2])


def test_a_failed_export_deletes_its_temporary_file():
    files = []

    def write(book):
        files.append(book._zip.fp)
        book.sheet("s").append([1])
        raise RuntimeError("query failed")

    with pytest.raises(RuntimeError):
        excel_export.workbook_file(write)
    assert files[0].closed


def _peak_bytes(n: int, tmp_path) -> int:
    with open(tmp_path / f"rows-{n}.xlsx", "w+b") as out:
        tracemalloc.start()
        try:
            write_ledger(out, n)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()


def test_heap_does_not_grow_with_rows(tmp_path):
    small, large = _peak_bytes(1000, tmp_path), _peak_bytes(6000, tmp_path)
    assert large - small < 1_000_000, (small, large)
    assert large < 8_000_000
