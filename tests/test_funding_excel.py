"""Excel: the service-matter catalogue import (good files, hostile and broken ones: nothing saved), the
catalogue export as its own template, and formula-like text exported as text."""

from __future__ import annotations

import io
import zipfile
from datetime import date

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from keyprojects.audit.models import AuditRecord
from keyprojects.funding import domain
from keyprojects.funding.excel import MATTER_HEADERS, MATTER_SHEET, import_matters, matters_file
from keyprojects.funding.models import ServiceMatter
from keyprojects.progress.excel_import import ImportRefused
from keyprojects.projects.models import Project
from tests.test_funding import TODAY, line_data

ROWS = [
    ["11410702MB0001", "食品经营许可", "行政许可", "区市场监管局", "是", "是", "否", "是", 0],
    ["11410702MB0002", "食品经营许可（变更）", "行政许可", "区市场监管局", "是", "否", "否", "是", 5],
    ["11410702MB0003", "最低生活保障审核确认", "行政给付", "区民政局", "√", "", "是", "✓", 10],
    ["11410702MB0004", "居民身份证申领", "公共服务", "公安红旗分局", "是", "是", "是", "是", None],
]


def workbook(rows=ROWS, *, headers=MATTER_HEADERS, sheet=MATTER_SHEET, title=True) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = sheet
    if title:
        ws.append(["政务服务事项目录"])
        ws.append(["填写说明"])
    ws.append(headers)
    for row in rows:
        ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def upload(data: bytes, name: str = "事项目录.xlsx") -> SimpleUploadedFile:
    return SimpleUploadedFile(
        name, data, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )


def refused(world, data: bytes) -> list:
    before = (ServiceMatter.objects.count(), AuditRecord.objects.count())
    with pytest.raises(ImportRefused) as exc:
        import_matters(world.dispatcher, upload(data))
    assert (ServiceMatter.objects.count(), AuditRecord.objects.count()) == before
    return exc.value.errors


def with_entry(data: bytes, name: str, content: bytes, *, compress=zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            dst.writestr(item, src.read(item.filename))
        dst.writestr(zipfile.ZipInfo(name), content, compress_type=compress)
    return out.getvalue()


def replaced(data: bytes, name: str, change) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            content = src.read(item.filename)
            dst.writestr(item, change(content) if item.filename == name else content)
    return out.getvalue()


# ---------------------------------------------------------------------------------------------
# Good files


def test_a_catalogue_is_imported_counted_and_audited(world):
    world.resources.short_name = "区民政局"  # a unit the department name resolves to
    world.resources.save()
    result = import_matters(world.dispatcher, upload(workbook()), filename="事项目录.xlsx")
    assert (result.rows, result.created, result.updated, result.unchanged) == (4, 4, 0, 0)
    assert result.counts == {"total": 4, "at_most_once": 4, "on_the_spot": 2, "near_home": 2, "online": 4}
    welfare = ServiceMatter.objects.get(code="11410702MB0003")
    assert (
        welfare.category == "payment" and welfare.near_home and not welfare.on_the_spot and welfare.promised_days == 10
    )
    assert welfare.department == world.resources and welfare.department_name == "区民政局"
    assert ServiceMatter.objects.get(code="11410702MB0004").promised_days is None
    records = AuditRecord.objects.filter(object_type="servicematter")
    assert records.count() == 5 and {r.channel for r in records} == {"import"}
    summary = records.get(object_id="import")
    assert (
        summary.after["新增"] == 4 and summary.after["文件"] == "事项目录.xlsx" and len(summary.after["SHA-256"]) == 64
    )


def test_a_second_import_updates_by_code_and_leaves_the_rest(world):
    import_matters(world.dispatcher, upload(workbook()))
    changed = [list(r) for r in ROWS[:2]]
    changed[1][5] = "是"  # now on the spot
    changed[1][8] = 0
    result = import_matters(world.dispatcher, upload(workbook(changed)))
    assert (result.created, result.updated, result.unchanged) == (0, 1, 1)
    assert ServiceMatter.objects.count() == 4 and ServiceMatter.objects.get(code="11410702MB0002").on_the_spot
    record = AuditRecord.objects.get(object_type="servicematter", action="update", object_id__regex=r"^\d+$")
    assert record.before == {"on_the_spot": False, "promised_days": 5} and record.after["on_the_spot"] is True


def test_the_export_is_the_template_and_round_trips(world):
    import_matters(world.dispatcher, upload(workbook()))
    ServiceMatter.objects.filter(code="11410702MB0001").update(name='=HYPERLINK("http://x")')
    out = matters_file(ServiceMatter.objects.all())
    data = out.read()
    wb = openpyxl.load_workbook(io.BytesIO(data))
    ws = wb[MATTER_SHEET]
    assert [c.value for c in ws[3]] == MATTER_HEADERS
    cells = {row[0].value: row for row in ws.iter_rows(min_row=4)}
    hostile = cells["11410702MB0001"][1]
    assert hostile.data_type == "s" and hostile.value.startswith("=") and hostile.quotePrefix
    # The hostile name is refused on the way back in (it reads as a formula): put a plain name back.
    ServiceMatter.objects.filter(code="11410702MB0001").update(name="食品经营许可")
    result = import_matters(world.dispatcher, upload(matters_file(ServiceMatter.objects.all()).read()))
    assert (result.created, result.updated, result.unchanged) == (0, 0, 4)


def test_the_import_page(client, world):
    client.force_login(world.dispatcher)
    r = client.post(reverse("matter-import"), {"file": upload(workbook())})
    assert r.status_code == 302 and r["Location"] == reverse("matter-list")
    body = client.get(r["Location"]).content.decode()
    assert "导入成功：共 4 项，新增 4 项" in body and "最低生活保障审核确认" in body
    bad = [list(ROWS[0]), ["11410702MB0009", "某事项", "行政许可", "区市场监管局", "也许", "否", "否", "是", 0]]
    r = client.post(reverse("matter-import"), {"file": upload(workbook(bad))})
    body = r.content.decode()
    assert r.status_code == 422 and "所有数据均未保存" in body and "E5" in body and "最多跑一次应填“是”或“否”" in body
    assert ServiceMatter.objects.count() == 4
    assert client.post(reverse("matter-import"), {}).status_code == 400
    client.force_login(world.town_officer)
    assert client.post(reverse("matter-import"), {"file": upload(workbook())}).status_code == 403


# ---------------------------------------------------------------------------------------------
# Bad and hostile files: refused, nothing saved


@pytest.mark.parametrize(
    ("row", "column", "text"),
    [
        (["", "无编码事项", "行政许可", "区市场监管局", "是", "是", "否", "是", 0], "A", "请填写事项编码"),
        (["A B", "事项", "行政许可", "区市场监管局", "是", "是", "否", "是", 0], "A", "事项编码只能由"),
        (["X1", "", "行政许可", "区市场监管局", "是", "是", "否", "是", 0], "B", "请填写事项名称"),
        (["X1", "事项", "行政审批", "区市场监管局", "是", "是", "否", "是", 0], "C", "事项类型“行政审批”无效"),
        (["X1", "事项", "行政许可", "区市场监管局", "是", "是", "否", "是", 400], "I", "0到365之间的整数"),
        (["X1", "事项", "行政许可", "区市场监管局", "是", "是", "否", "是", 3], "I", "即来即办事项的承诺时限应为0"),
        (["X1", "事项", "行政许可", "区市场监管局", "是", "是", "否", "=1+1", 0], "H", "单元格含有公式"),
        (["X1", "事项" * 150, "行政许可", "区市场监管局", "是", "是", "否", "是", 0], "B", "不能超过200个字"),
        (
            ["11410702MB0001", "重复编码", "行政许可", "区市场监管局", "是", "是", "否", "是", 0],
            "A",
            "事项编码重复（与第4行相同）",
        ),
    ],
)
def test_cell_errors_are_located_and_nothing_is_saved(world, row, column, text):
    errors = refused(world, workbook([ROWS[0], row]))
    assert any(e.row == 5 and e.column == column and text in e.message for e in errors), [e.as_dict() for e in errors]


def test_every_bad_cell_is_reported_at_once(world):
    rows = [
        ["X1", "事项", "行政许可", "", "是", "x", "否", "是", "y"],
        ["X2", "事项", "", "部门", "是", "是", "否", "是", 0],
    ]
    errors = refused(world, workbook(rows))
    assert {(e.row, e.column) for e in errors} == {(4, "D"), (4, "F"), (4, "I"), (5, "C")}


@pytest.mark.parametrize(
    ("make", "text"),
    [
        (lambda: b"", "文件为空"),
        (lambda: b"%PDF-1.4 not a workbook", "不是Excel工作簿"),
        (lambda: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, "旧版Excel"),
        (lambda: b"PK\x03\x04 broken zip", "已损坏"),
        (lambda: with_entry(workbook(), "xl/vbaProject.bin", b"macro"), "宏"),
        (lambda: with_entry(workbook(), "xl/externalLinks/externalLink1.xml", b"<x/>"), "外部链接"),
        (lambda: with_entry(workbook(), "xl/embeddings/oleObject1.bin", b"ole"), "嵌入对象"),
        (lambda: with_entry(workbook(), "xl/media/bomb.xml", b"\0" * (3 * 1024 * 1024)), "压缩"),
        (
            lambda: replaced(
                workbook(),
                "xl/worksheets/sheet1.xml",
                lambda c: b'<!DOCTYPE x [<!ENTITY a "aaaa">]>' + c,
            ),
            "XML实体",
        ),  # fmt: skip
        (lambda: workbook(sheet="Sheet1"), "找不到工作表“政务服务事项”"),
        (lambda: workbook(headers=["事项编码", "事项名称", "办理部门"]), "表头与模板不一致"),
        (lambda: workbook(headers=["编码", "名称"], title=False), "找不到表头"),
        (lambda: workbook([]), "文件中没有事项"),
    ],
)
def test_hostile_and_broken_files_are_refused_whole(world, make, text):
    errors = refused(world, make())
    assert any(text in e.message for e in errors), [e.message for e in errors]


# ---------------------------------------------------------------------------------------------
# The district export writes formula-like text as text


def test_district_export_writes_formula_like_text_as_text(client, world):
    data = {**line_data(reserve=("300", date(2024, 10, 1))), "note": "=SUM(A1:A9)", "batch": "+第一批"}
    domain.create_line(by=world.dispatcher, project=world.project_a, today=TODAY, data=data)
    from keyprojects.funding.excel import district_file

    wb = openpyxl.load_workbook(district_file(world.dispatcher, Project.objects.all()))
    ws = wb["资金明细"]
    row = next(ws.iter_rows(min_row=4, max_row=4))
    texts = [c for c in row if isinstance(c.value, str) and c.value[:1] in "=+"]
    assert len(texts) == 2 and all(c.data_type == "s" and c.quotePrefix for c in texts)
    summary = wb["资金汇总"]
    assert [c.value for c in next(summary.iter_rows(min_row=4, max_row=4))][:4] == ["中央预算内投资", 2025, 1, 300]
