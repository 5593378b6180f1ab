"""The Word document (.docx) in official-document form (党政机关公文格式, GB/T 9704 in spirit).

Red header with the issuing body, the 文号 over a red rule, the title (方正小标宋简体), the date, numbered
sections (黑体 headings, 仿宋_GB2312 body at 三号 with a fixed 28-point line), tables whose header row
repeats on every page (`w:tblHeader`), charts as PNG pictures (`charts.py`), and the page number in the
footer (a PAGE field, "— 1 —"). Every run names its Chinese font in `w:eastAsia` (WPS and Word read
that attribute for CJK text; without it they fall back to the Latin font), and the font table maps
each official font to the common one installed everywhere (仿宋_GB2312 → 仿宋, 方正小标宋简体 → 宋体)
through `w:altName`. Rendering reads only the outline (the snapshot), so it is reproducible.
"""

from __future__ import annotations

import datetime
import io
import zipfile
from xml.sax.saxutils import quoteattr

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt, RGBColor
from lxml import etree

from keyprojects.bulletins.charts import bar_chart
from keyprojects.bulletins.outline import Outline, Table
from keyprojects.lib.xmltext import xml_text

RED = RGBColor(0xC0, 0x00, 0x00)
FANGSONG = "仿宋_GB2312"
HEITI = "黑体"
XIAOBIAOSONG = "方正小标宋简体"
KAITI = "楷体_GB2312"
LATIN = "Times New Roman"
# Official font → the common font Word/WPS substitute when the official one is not installed.
ALT_NAMES = {FANGSONG: "仿宋", XIAOBIAOSONG: "宋体", KAITI: "楷体", HEITI: "SimHei"}
DOCX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def set_run_font(run, name: str, size: float | None = None, *, bold: bool = False, color: RGBColor | None = None):
    """Name the font for Latin and East Asian text alike (w:rFonts ascii/hAnsi/eastAsia)."""
    run.font.name = LATIN if name in (FANGSONG, KAITI) else name
    rpr = run._element.get_or_add_rPr()
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = OxmlElement("w:rFonts")
        rpr.insert(0, fonts)
    fonts.set(qn("w:eastAsia"), name)
    fonts.set(qn("w:hint"), "eastAsia")
    if size:
        run.font.size = Pt(size)
    run.font.bold = bold
    if color is not None:
        run.font.color.rgb = color
    return run


def _paragraph(doc, text: str, font: str = FANGSONG, size: float = 16, *, align=None, bold: bool = False,
               color: RGBColor | None = None, indent: bool = False, exact: float | None = 28):  # fmt: skip
    p = doc.add_paragraph()
    if align is not None:
        p.alignment = align
    fmt = p.paragraph_format
    fmt.space_before = fmt.space_after = Pt(0)
    if exact:
        fmt.line_spacing_rule = WD_LINE_SPACING.EXACTLY
        fmt.line_spacing = Pt(exact)
    if indent:
        fmt.first_line_indent = Pt(size * 2)
    set_run_font(p.add_run(text), font, size, bold=bold, color=color)
    return p


def _red_rule(paragraph) -> None:
    """A red bottom border under the paragraph (the rule under the 文号)."""
    ppr = paragraph._p.get_or_add_pPr()
    border = OxmlElement("w:pBdr")
    bottom = OxmlElement("w:bottom")
    for key, value in (("w:val", "single"), ("w:sz", "18"), ("w:space", "4"), ("w:color", "C00000")):
        bottom.set(qn(key), value)
    border.append(bottom)
    ppr.append(border)


def _page_number_footer(section) -> None:
    """ "— PAGE —" centered in the footer, as a field Word and WPS update themselves."""
    p = section.footer.paragraphs[0]
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    set_run_font(p.add_run("— "), FANGSONG, 14)
    run = set_run_font(p.add_run(), FANGSONG, 14)
    begin, separate, end = OxmlElement("w:fldChar"), OxmlElement("w:fldChar"), OxmlElement("w:fldChar")
    instr, text = OxmlElement("w:instrText"), OxmlElement("w:t")
    begin.set(qn("w:fldCharType"), "begin")
    instr.set(qn("xml:space"), "preserve")
    instr.text = " PAGE "
    separate.set(qn("w:fldCharType"), "separate")
    text.text = "1"
    end.set(qn("w:fldCharType"), "end")
    run._r.append(begin)
    run._r.append(instr)
    run._r.append(separate)
    run._r.append(text)
    run._r.append(end)
    set_run_font(p.add_run(" —"), FANGSONG, 14)


def _run_props(font: str, size_half_points: int) -> str:
    """A run's font and size as WordprocessingML (w:rPr)."""
    latin = LATIN if font in (FANGSONG, KAITI) else font
    size = size_half_points
    return (
        f"<w:rPr><w:rFonts w:ascii={quoteattr(latin)} w:hAnsi={quoteattr(latin)} w:eastAsia={quoteattr(font)}"
        f' w:hint="eastAsia"/><w:sz w:val="{size}"/><w:szCs w:val="{size}"/></w:rPr>'
    )


def _row(values: list[str], props: str, *, numeric: set[int], header: bool = False) -> str:
    """One table row as WordprocessingML text.

    Rows are written as text and spliced into the saved document (`_splice`): python-docx's add_row/cells
    are quadratic on long tables, and one OxmlElement per node took 14 s for the 30,000 rows of a
    2,000-unit 年底总评.
    """
    cells = []
    for i, value in enumerate(values):
        align = '<w:jc w:val="center"/>' if header else '<w:jc w:val="right"/>' if i in numeric else ""
        text = xml_text(value)
        cells.append(
            f'<w:tc><w:tcPr><w:tcW w:w="0" w:type="auto"/></w:tcPr><w:p><w:pPr><w:spacing w:before="0" w:after="0"/>'
            f'{align}</w:pPr><w:r>{props}<w:t xml:space="preserve">{text}</w:t></w:r></w:p></w:tc>'
        )
    flag = '<w:trPr><w:tblHeader w:val="true"/></w:trPr>' if header else ""
    return f"<w:tr>{flag}{''.join(cells)}</w:tr>"


def _table(doc, table: Table, spliced: dict[str, str]) -> None:
    """A table: its frame through python-docx, its rows as text into `spliced` (see `_splice`)."""
    _paragraph(doc, table.title, HEITI, 12, align=WD_ALIGN_PARAGRAPH.CENTER, exact=None)
    t = doc.add_table(rows=0, cols=len(table.header))
    t.style = "Table Grid"
    t.alignment = WD_TABLE_ALIGNMENT.CENTER
    body, head = _run_props(FANGSONG, 21), _run_props(HEITI, 21)
    marker = f"kp-table-rows-{len(spliced)}"
    t._tbl.append(etree.Comment(marker))
    rows = [_row(table.header, head, numeric=set(), header=True)]
    rows.extend(_row(values, body, numeric=table.numeric) for values in table.rows)
    spliced[f"<!--{marker}-->"] = "".join(rows)
    doc.add_paragraph()


def _splice(data: bytes, spliced: dict[str, str]) -> bytes:
    """The saved document with each table's rows put in place of its marker.

    A 2,000-unit 年底总评 has 30,000 table rows: as lxml nodes (parsed, moved into the document and
    serialized again) they took 3 s; as text they are written once, here."""
    if not spliced:
        return data
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info)
            if info.filename == "word/document.xml":
                text = content.decode("utf-8")
                for marker, rows in spliced.items():
                    text = text.replace(marker, rows, 1)
                content = text.encode("utf-8")
            target.writestr(info, content, compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


def _font_table(doc) -> None:
    """Declare the official fonts with their common substitutes (w:altName) in word/fontTable.xml."""
    for rel in doc.part.rels.values():
        if rel.reltype.endswith("/fontTable"):
            part = rel.target_part
            from docx.oxml.parser import parse_xml

            root = parse_xml(part.blob)
            for name, alt in ALT_NAMES.items():
                font = OxmlElement("w:font")
                font.set(qn("w:name"), name)
                alt_name = OxmlElement("w:altName")
                alt_name.set(qn("w:val"), alt)
                charset = OxmlElement("w:charset")
                charset.set(qn("w:val"), "86")  # GB2312
                font.append(alt_name)
                font.append(charset)
                root.append(font)
            from lxml import etree

            part._blob = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)
            return


def _base_style(doc) -> None:
    style = doc.styles["Normal"]
    style.font.name = LATIN
    style.font.size = Pt(16)
    rpr = style.element.get_or_add_rPr()
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = OxmlElement("w:rFonts")
        rpr.insert(0, fonts)
    fonts.set(qn("w:eastAsia"), FANGSONG)


def render(outline: Outline, *, wide: bool = False, stamp: datetime.datetime | None = None) -> bytes:
    """The .docx bytes of an outline (`stamp`: the document's created/modified time, for reproducible files)."""
    doc = Document()
    _base_style(doc)
    _font_table(doc)
    section = doc.sections[0]
    if wide:
        section.orientation = WD_ORIENT.LANDSCAPE
        section.page_width, section.page_height = Cm(29.7), Cm(21.0)
    else:
        section.page_width, section.page_height = Cm(21.0), Cm(29.7)
    section.top_margin, section.bottom_margin = Cm(3.7), Cm(3.5)
    section.left_margin, section.right_margin = Cm(2.8), Cm(2.6)
    _page_number_footer(section)

    _paragraph(doc, outline.issuing_body, XIAOBIAOSONG, 26, align=WD_ALIGN_PARAGRAPH.CENTER, color=RED, exact=None)
    number = _paragraph(doc, outline.number + ("（草稿）" if outline.draft else ""), FANGSONG, 16,
                        align=WD_ALIGN_PARAGRAPH.CENTER)  # fmt: skip
    _red_rule(number)
    doc.add_paragraph()
    _paragraph(doc, outline.title, XIAOBIAOSONG, 22, align=WD_ALIGN_PARAGRAPH.CENTER, exact=None)
    _paragraph(doc, f"（{outline.date}）", KAITI, 16, align=WD_ALIGN_PARAGRAPH.CENTER)
    doc.add_paragraph()
    usable = section.page_width - section.left_margin - section.right_margin
    spliced: dict[str, str] = {}
    for s in outline.sections:
        _paragraph(doc, s.heading, HEITI, 16, indent=True)
        for text in s.paragraphs:
            _paragraph(doc, text, FANGSONG, 16, indent=True)
        if s.chart:
            png, named = bar_chart(s.chart)
            doc.add_picture(io.BytesIO(png), width=usable)
            doc.paragraphs[-1].alignment = WD_ALIGN_PARAGRAPH.CENTER
            if not named:  # no CJK font: the chart's bars are numbered; name them here
                key = "；".join(f"{i + 1}. {label}" for i, label in enumerate(s.chart.get("labels", [])))
                _paragraph(doc, key, FANGSONG, 10.5, exact=None)
        for table in s.tables:
            _table(doc, table, spliced)
    doc.add_paragraph()
    _paragraph(doc, outline.issuing_body, FANGSONG, 16, align=WD_ALIGN_PARAGRAPH.RIGHT)
    _paragraph(doc, outline.date, FANGSONG, 16, align=WD_ALIGN_PARAGRAPH.RIGHT)
    out = io.BytesIO()
    doc.core_properties.title = outline.title
    doc.core_properties.author = outline.issuing_body
    doc.core_properties.last_modified_by = outline.issuing_body
    if stamp is not None:
        doc.core_properties.created = doc.core_properties.modified = stamp.replace(microsecond=0, tzinfo=None)
    doc.save(out)
    return _splice(out.getvalue(), spliced)
