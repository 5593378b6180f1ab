"""Monthly reports in from Excel: the template, the upload (all or nothing), hostile files, the marked workbook.

Every refusal is checked for its Chinese message and for leaving no trace (no report, no audit record).
"""

from __future__ import annotations

import datetime
import io
import time
import zipfile
from decimal import Decimal
from typing import Any

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import HttpRequest
from django.utils import timezone

from keyprojects.api.auth import issue_token
from keyprojects.audit.models import AuditRecord
from keyprojects.progress import domain, excel_import, rules
from keyprojects.progress.excel_import import COL, FIRST_ROW, ImportRefused
from keyprojects.progress.models import AnnualPlan, MonthlyReport, ReportStatus
from keyprojects.projects import domain as project_domain
from keyprojects.projects.models import Project, ProjectType, Stage
from tests.conftest import PASSWORD

D = Decimal
YEAR, MONTH = 2026, 10
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def at(year: int, month: int, day: int = 3, hour: int = 10) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime(year, month, day, hour))


NOW = at(2026, 11, 3)  # before the due day (the 5th): not late


def filed(year: int, month: int) -> datetime.datetime:
    return at(year + month // 12, month % 12 + 1)


def plan(w, project, amount="12000", year=YEAR):
    return domain.save_annual_plan(project, by=w.dispatcher, year=year, data={"planned_investment": amount},
                                   now=at(year, 1, 10))  # fmt: skip


@pytest.fixture
def w(world):
    """project_a (东街, company_a) and project_b (洪门) under construction since 2025, both in the 2026 plan."""
    Project.objects.filter(pk=world.project_a.pk).update(
        stage=Stage.CONSTRUCTION, actual_start=datetime.date(2025, 6, 1)
    )
    Project.objects.filter(pk=world.project_b.pk).update(
        stage=Stage.CONSTRUCTION, actual_start=datetime.date(2025, 3, 1)
    )
    world.project_a.refresh_from_db()
    world.project_b.refresh_from_db()
    plan(world, world.project_a)
    plan(world, world.project_b, "3000")
    return world


def report(w, project, month, investment, *, by=None, year=YEAR, status="submitted", explanation=None):
    by = by or w.dispatcher
    r = domain.create_report(project, by=by, year=year, month=month, data={"investment": investment},
                             now=filed(year, month))  # fmt: skip
    if status == "draft":
        return r
    domain.submit(r, by=by, explanation=explanation, now=filed(year, month))
    if status == "returned":
        domain.return_report(r, by=w.dispatcher, reason="数据与形象进度不符", now=filed(year, month))
    return r


def history(w, project, months=range(1, MONTH), amount=None):
    """Counted reports for `months`: `amount`, or 1000 + 10 × month (no repeated figures)."""
    for m in months:
        report(w, project, m, amount or str(1000 + 10 * m), explanation="已核实")


def template(user, year=YEAR, month=MONTH, **kw) -> bytes:
    return excel_import.build_template(user, year, month, **kw)


def edit(data: bytes, change) -> bytes:
    wb = openpyxl.load_workbook(io.BytesIO(data))
    change(wb)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def fill(data: bytes, values: dict[int, dict[str, Any]]) -> bytes:
    """Set input cells of the rows whose project id is a key of `values`."""

    def change(wb):
        ws = wb["月报"]
        for row in range(FIRST_ROW, ws.max_row + 1):
            pid = ws.cell(row, COL["project_id"] + 1).value
            for key, value in values.get(pid, {}).items():
                ws.cell(row, COL[key] + 1).value = value

    return edit(data, change)


def upload(data: bytes, name: str = "月报.xlsx") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=XLSX)


def run(user, data: bytes, now=NOW):
    return excel_import.import_reports(user, upload(data), now=now)


def trace() -> tuple[int, int, list]:
    rows = list(MonthlyReport.objects.order_by("pk").values_list("pk", "status", "investment", "version"))
    return MonthlyReport.objects.count(), AuditRecord.objects.count(), rows


def refused(user, data: bytes, now=NOW) -> list[excel_import.CellError]:
    before = trace()
    with pytest.raises(ImportRefused) as caught:
        run(user, data, now)
    assert trace() == before, "a refused upload must leave no trace"
    for error in caught.value.errors:
        assert any("\u4e00" <= ch <= "\u9fff" for ch in error.message), error
    return caught.value.errors


def messages(errors) -> str:
    return " | ".join(e.message for e in errors)


def row_of(data: bytes, project_id: int) -> int:
    ws = openpyxl.load_workbook(io.BytesIO(data))["月报"]
    for row in range(FIRST_ROW, ws.max_row + 1):
        if ws.cell(row, COL["project_id"] + 1).value == project_id:
            return row
    raise AssertionError("project not in the template")


# --- the template -----------------------------------------------------------------------------------------


def test_template_is_prefilled_locked_and_marked(w):
    history(w, w.project_a, months=[1, 2])  # 1010 + 1020
    data = template(w.enterprise)
    wb = openpyxl.load_workbook(io.BytesIO(data))
    assert wb.sheetnames == ["月报", "_meta"]
    meta = wb["_meta"]
    assert meta.sheet_state == "veryHidden"
    values = {meta.cell(r, 1).value: meta.cell(r, 2).value for r in range(1, 9)}
    assert values["模板类型"] == excel_import.TEMPLATE_KIND
    assert values["模板版本"] == excel_import.TEMPLATE_VERSION
    assert (values["年"], values["月"], values["单位ID"]) == (YEAR, MONTH, w.company_a.pk)
    ws = wb["月报"]
    assert "2026年10月" in ws["A1"].value
    assert [ws.cell(3, i + 1).value for i in range(len(excel_import.COLUMNS))] == [
        c.header for c in excel_import.COLUMNS
    ]
    assert ws.protection.sheet
    rows = [r for r in range(FIRST_ROW, ws.max_row + 1) if ws.cell(r, 2).value]
    assert [ws.cell(r, 2).value for r in rows] == [w.project_a.pk]  # only the company's own project
    r = rows[0]
    assert ws.cell(r, COL["name"] + 1).value == w.project_a.name
    assert ws.cell(r, COL["plan"] + 1).value == D("12000.00")
    assert ws.cell(r, COL["ytd_before"] + 1).value == D("2030.00")
    for key in ("project_id", "code", "name", "plan", "status"):
        assert ws.cell(r, COL[key] + 1).protection.locked, key
    for key in excel_import.INPUTS:
        assert not ws.cell(r, COL[key] + 1).protection.locked, key
    assert ws.cell(r, COL["investment"] + 1).number_format == "#,##0.00"
    assert ws.cell(r, COL["status"] + 1).value == "未填报"


@pytest.mark.parametrize(
    ("persona", "expected"),
    [("dispatcher", {"project_a", "project_b"}), ("town_officer", {"project_a"}),
     ("other_town_officer", {"project_b"}), ("enterprise", {"project_a"})],
)  # fmt: skip
def test_template_holds_the_projects_the_user_may_file_for(w, persona, expected):
    ws = openpyxl.load_workbook(io.BytesIO(template(getattr(w, persona))))["月报"]
    ids = {ws.cell(r, 2).value for r in range(FIRST_ROW, ws.max_row + 1)} - {None}
    assert ids == {getattr(w, p).pk for p in expected}


def test_template_is_refused_to_non_filers_and_for_locked_or_future_months(w):
    for user in (w.leader, w.officer, w.dept_officer.__class__.objects.get(pk=w.sysadmin.pk)):
        assert excel_import.template_refusal(user, YEAR, MONTH) == excel_import.FILING_REFUSAL
    assert "尚未到来" in excel_import.template_refusal(w.dispatcher, 2099, 1)
    domain.lock_month(2026, 9, by=w.dispatcher, now=NOW)
    assert "已锁定" in excel_import.template_refusal(w.dispatcher, 2026, 9)
    assert excel_import.template_refusal(w.dispatcher, YEAR, MONTH) is None


def test_submitted_reports_are_shown_locked(w):
    report(w, w.project_a, MONTH, "800")
    ws = openpyxl.load_workbook(io.BytesIO(template(w.dispatcher)))["月报"]
    r = next(r for r in range(FIRST_ROW, ws.max_row + 1) if ws.cell(r, 2).value == w.project_a.pk)
    assert ws.cell(r, COL["status"] + 1).value == "已提交"
    assert ws.cell(r, COL["investment"] + 1).value == D("800.00")
    assert ws.cell(r, COL["investment"] + 1).protection.locked


# --- a good upload -----------------------------------------------------------------------------------------


def test_import_submits_reports_like_the_domain(w):
    history(w, w.project_a)  # 1000 a month, January to September
    data = fill(template(w.dispatcher), {
        w.project_a.pk: {"investment": 1500.5, "progress_text": "主体结构封顶", "workers_on_site": 120,
                         "problems_text": "@外电接入待协调"},
        w.project_b.pk: {"investment": "300", "output_value": None},
    })  # fmt: skip
    audits = AuditRecord.objects.count()
    result = run(w.dispatcher, data)
    assert (result.created, result.updated, result.submitted, result.skipped) == (2, 0, 2, 0)
    a = MonthlyReport.objects.get(project=w.project_a, year=YEAR, month=MONTH)
    assert a.status == ReportStatus.SUBMITTED and a.on_behalf
    assert a.investment == D("1500.50")
    assert a.ytd_investment == D("10950.50") and a.since_start_investment == D("10950.50")
    assert a.problems_text == "@外电接入待协调" and a.workers_on_site == 120
    assert not a.submitted_late and a.submitted_by == w.dispatcher
    # The same digest, warnings and totals the domain would have stored.
    assert a.submission_hash == domain._submission_hash(a)
    assert a.warnings == rules.soft_warnings(domain._context(a, a.project))
    assert domain.recompute_totals(w.project_a) == []
    b = MonthlyReport.objects.get(project=w.project_b, year=YEAR, month=MONTH)
    assert b.ytd_investment == D("300.00")
    new = AuditRecord.objects.order_by("id")[audits:]
    assert {r.channel for r in new} == {"import"}
    assert [r.object_id for r in new if r.action == "create"].count("import") == 1
    assert {str(a.pk), str(b.pk)} <= {r.object_id for r in new}


def test_late_upload_is_flagged(w):
    data = fill(template(w.dispatcher), {w.project_a.pk: {"investment": 100}})
    result = run(w.dispatcher, data, now=at(2026, 11, 20))
    assert result.late
    assert MonthlyReport.objects.get(project=w.project_a, year=YEAR, month=MONTH).submitted_late


def test_blank_rows_are_skipped_and_unchanged_submitted_rows_pass(w):
    report(w, w.project_b, MONTH, "700")
    data = fill(template(w.dispatcher), {})
    result = run(w.dispatcher, data)
    assert (result.submitted, result.skipped, result.unchanged) == (0, 1, 1)
    assert MonthlyReport.objects.filter(year=YEAR, month=MONTH).count() == 1


def test_a_changed_submitted_report_is_refused(w):
    report(w, w.project_b, MONTH, "700")
    data = template(w.dispatcher)
    data = edit(data, lambda wb: None)  # an ordinary re-save by Excel-like software

    def change(wb):
        ws = wb["月报"]
        r = next(r for r in range(FIRST_ROW, ws.max_row + 1) if ws.cell(r, 2).value == w.project_b.pk)
        ws.cell(r, COL["investment"] + 1).value = 900

    errors = refused(w.dispatcher, edit(data, change))
    assert "已提交" in messages(errors) and "退回" in messages(errors)


def test_a_returned_report_is_updated_and_resubmitted(w):
    history(w, w.project_a, months=[9], amount="500")
    returned = report(w, w.project_a, MONTH, "9999", status="returned")
    later = None
    data = fill(template(w.dispatcher), {w.project_a.pk: {"investment": "600"}})
    result = run(w.dispatcher, data)
    assert (result.created, result.updated) == (0, 1)
    returned.refresh_from_db()
    assert returned.status == ReportStatus.SUBMITTED and returned.investment == D("600.00")
    assert returned.ytd_investment == D("1100.00") and returned.return_reason
    assert later is None


def test_resubmitting_an_earlier_month_recomputes_later_totals(w):
    report(w, w.project_a, 8, "100")
    september = report(w, w.project_a, 9, "200", status="returned")
    october = report(w, w.project_a, MONTH, "300")
    assert october.ytd_investment == D("400.00")  # September does not count while returned
    data = fill(template(w.dispatcher, month=9), {w.project_a.pk: {"investment": "250"}})
    run(w.dispatcher, data)
    september.refresh_from_db()
    october.refresh_from_db()
    assert september.ytd_investment == D("350.00")
    assert october.ytd_investment == D("650.00") and october.since_start_investment == D("650.00")


def test_soft_warnings_need_the_explanation_column(w):
    history(w, w.project_a, months=[7, 8, 9], amount="100")
    data = fill(template(w.dispatcher), {w.project_a.pk: {"investment": "5000"}})
    errors = refused(w.dispatcher, data)
    assert errors[0].column == excel_import.LETTER["explanation"]
    assert "情况说明" in errors[0].message and "中位数" in errors[0].message
    data = fill(data, {w.project_a.pk: {"explanation": "本月设备集中到货安装"}})
    result = run(w.dispatcher, data)
    assert result.flagged == 1
    r = MonthlyReport.objects.get(project=w.project_a, year=YEAR, month=MONTH)
    assert [x["code"] for x in r.warnings] == ["spike"] and r.explanation == "本月设备集中到货安装"
    assert AuditRecord.objects.filter(object_id=str(r.pk), action="override").exists()


def test_hard_rules_are_applied(w):
    Project.objects.filter(pk=w.project_b.pk).update(total_investment=D("8000"))
    history(w, w.project_b, months=[9], amount="7000")
    data = fill(template(w.dispatcher), {w.project_b.pk: {"investment": "1500"}})
    errors = refused(w.dispatcher, data)
    assert "超过项目总投资" in messages(errors)


def test_a_company_draft_cannot_be_submitted_by_the_unit(w):
    report(w, w.project_a, MONTH, "100", by=w.enterprise, status="draft")
    data = fill(template(w.town_officer), {w.project_a.pk: {"investment": "150"}})
    assert "只能由企业" in messages(refused(w.town_officer, data))
    result = run(w.enterprise, fill(template(w.enterprise), {w.project_a.pk: {"investment": "150"}}))
    assert result.updated == 1
    assert not MonthlyReport.objects.get(project=w.project_a, year=YEAR, month=MONTH).on_behalf


def test_non_filers_cannot_import(w):
    from django.core.exceptions import PermissionDenied

    data = fill(template(w.dispatcher), {w.project_a.pk: {"investment": "1"}})
    for user in (w.leader, w.officer, w.auditor):
        with pytest.raises(PermissionDenied):
            run(user, data)


# --- all or nothing ------------------------------------------------------------------------------------------


def test_one_bad_row_among_many_saves_nothing(w):
    projects = []
    for i in range(30):
        p = project_domain.create_project(by=w.dispatcher, data=dict(
            name=f"东街测试项目{i}", owner_name=f"测试公司{i}", industry=w.industry, project_type=ProjectType.FILING,
            total_investment=D("50000"), town=w.dongjie, responsible_unit=w.dongjie,
            actual_start=datetime.date(2025, 1, 5)), stage=Stage.CONSTRUCTION,
            stage_on=datetime.date(2025, 1, 5))  # fmt: skip
        plan(w, p, "6000")
        projects.append(p)
    values = {p.pk: {"investment": 400 + i, "progress_text": "施工中"} for i, p in enumerate(projects)}
    values[projects[17].pk] = {"investment": "四百"}
    data = fill(template(w.town_officer), values)
    errors = refused(w.town_officer, data)
    assert len(errors) == 1
    error = errors[0]
    assert (error.sheet, error.row, error.column) == ("月报", row_of(data, projects[17].pk), "I")
    assert "必须是数字" in error.message and "四百" in error.message
    values[projects[17].pk] = {"investment": "400"}
    assert run(w.town_officer, fill(template(w.town_officer), values)).submitted == 30


# --- bad cells -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "column", "expected"),
    [
        (123.456, "investment", "最多保留两位小数"),
        ("12.345", "investment", "最多保留两位小数"),
        ("一百万", "investment", "必须是数字"),
        (-5, "investment", "不能为负数"),
        ("-5", "output_value", "不能为负数"),
        (True, "investment", "必须是数字"),
        (datetime.datetime(2026, 10, 1), "investment", "必须是数字"),
        (12.5, "workers_on_site", "必须是整数"),
        ("十人", "workers_on_site", "必须是数字"),
        ("=1+1", "investment", "公式"),
        ("=HYPERLINK(\"http://x\")", "progress_text", "公式"),
    ],
)  # fmt: skip
def test_bad_cells_are_refused_with_their_place(w, value, column, expected):
    inputs = {"investment": 100, column: value} if column != "investment" else {"investment": value}
    data = fill(template(w.dispatcher), {w.project_a.pk: inputs})
    errors = refused(w.dispatcher, data)
    assert len(errors) == 1, messages(errors)
    assert errors[0].column == excel_import.LETTER[column]
    assert errors[0].row == row_of(data, w.project_a.pk)
    assert expected in errors[0].message


def test_float_artefacts_count_as_excel_shows_them(w):
    data = fill(template(w.dispatcher), {w.project_a.pk: {"investment": 1234.5600000000002}})
    run(w.dispatcher, data)
    assert MonthlyReport.objects.get(project=w.project_a, year=YEAR, month=MONTH).investment == D("1234.56")


def test_missing_investment_with_other_input(w):
    data = fill(template(w.dispatcher), {w.project_a.pk: {"progress_text": "施工中"}})
    assert "请填写本月完成投资" in messages(refused(w.dispatcher, data))


def test_too_long_text(w):
    data = fill(template(w.dispatcher), {w.project_a.pk: {"investment": 1, "explanation": "说" * 2001}})
    assert "不能超过2000个字" in messages(refused(w.dispatcher, data))


def test_a_project_outside_the_scope_is_refused(w):
    data = template(w.town_officer)
    row = row_of(data, w.project_a.pk)

    def forge(wb):  # overwrite the locked cells with the other town's project
        ws = wb["月报"]
        ws.cell(row, COL["project_id"] + 1).value = w.project_b.pk
        ws.cell(row, COL["name"] + 1).value = w.project_b.name
        ws.cell(row, COL["investment"] + 1).value = 10

    errors = refused(w.town_officer, edit(data, forge))
    assert "不在您的填报范围内" in messages(errors)
    assert errors[0].column == "B"


def test_blank_rows_of_other_projects_are_ignored(w):
    """A unit fills only its own rows of the center's full template: the rest is not reported, not refused."""
    data = fill(template(w.dispatcher), {w.project_a.pk: {"investment": 10}})
    result = run(w.town_officer, data)
    assert (result.submitted, result.skipped) == (1, 1)
    data = fill(template(w.dispatcher), {w.project_b.pk: {"investment": 10}})
    assert "不在您的填报范围内" in messages(refused(w.town_officer, data))


def test_a_changed_name_or_a_duplicate_row_is_refused(w):
    data = template(w.dispatcher)
    row = row_of(data, w.project_a.pk)

    def rename(wb):
        wb["月报"].cell(row, COL["name"] + 1).value = "别的项目"
        wb["月报"].cell(row, COL["investment"] + 1).value = 10

    assert "项目名称与系统不一致" in messages(refused(w.dispatcher, edit(data, rename)))

    def duplicate(wb):
        ws = wb["月报"]
        for i in range(1, len(excel_import.COLUMNS) + 1):
            ws.cell(ws.max_row + 1 if i == 1 else ws.max_row, i).value = ws.cell(row, i).value

    assert "项目ID重复" in messages(refused(w.dispatcher, edit(data, duplicate)))


def test_changed_headers_are_refused(w):
    data = edit(
        template(w.dispatcher), lambda wb: wb["月报"].cell(3, COL["investment"] + 1).__setattr__("value", "本月")
    )
    assert "表头与模板不一致" in messages(refused(w.dispatcher, data))


# --- the month -------------------------------------------------------------------------------------------


def test_a_locked_month_is_refused(w):
    data = fill(template(w.dispatcher, month=9), {w.project_a.pk: {"investment": 10}})
    domain.lock_month(2026, 9, by=w.dispatcher, now=NOW)
    assert "已锁定" in messages(refused(w.dispatcher, data))


def test_a_future_month_is_refused(w):
    data = fill(template(w.dispatcher), {w.project_a.pk: {"investment": 10}})
    assert "尚未到来" in messages(refused(w.dispatcher, data, now=at(2026, 9, 20)))


def test_a_month_before_the_baseline_is_refused(w):
    data = fill(template(w.dispatcher), {w.project_a.pk: {"investment": 10}})
    domain.set_baseline(w.project_a, by=w.dispatcher, amount="5000", first_year=2026, first_month=11)
    assert "累计基数" in messages(refused(w.dispatcher, data))


# --- template identity -----------------------------------------------------------------------------------


def _meta(data: bytes, key: str, value) -> bytes:
    def change(wb):
        ws = wb["_meta"]
        for r in range(1, 10):
            if ws.cell(r, 1).value == key:
                ws.cell(r, 2).value = value

    return edit(data, change)


def test_a_wrong_template_version_is_refused(w):
    data = _meta(fill(template(w.dispatcher), {w.project_a.pk: {"investment": 10}}), "模板版本", "0")
    assert "模板版本不符" in messages(refused(w.dispatcher, data))


def test_a_workbook_without_the_template_mark_is_refused(w):
    wb = openpyxl.Workbook()
    wb.active.title = "月报"
    out = io.BytesIO()
    wb.save(out)
    assert "不是本系统的月报模板" in messages(refused(w.dispatcher, out.getvalue()))
    data = _meta(template(w.dispatcher), "模板类型", "other")
    assert "模板标识不符" in messages(refused(w.dispatcher, data))


# --- hostile files -----------------------------------------------------------------------------------------


def rezip(data: bytes, replace: dict[str, bytes | None] | None = None, add: dict[str, bytes] | None = None) -> bytes:
    replace, add = replace or {}, add or {}
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            if info.filename in replace:
                if replace[info.filename] is not None:
                    zout.writestr(info.filename, replace[info.filename])
                continue
            zout.writestr(info, zin.read(info))
        for name, content in add.items():
            zout.writestr(name, content)
    return out.getvalue()


def filled(w) -> bytes:
    return fill(template(w.dispatcher), {w.project_a.pk: {"investment": 10}})


def test_an_oversized_file_is_refused(w, monkeypatch):
    monkeypatch.setattr("keyprojects.progress.excel_import.reading.MAX_UPLOAD_BYTES", 1000)
    assert "文件超过" in messages(refused(w.dispatcher, filled(w)))


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"%PDF-1.7 not a workbook", "不是Excel工作簿"),
        (b"", "文件为空"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 500, "旧版Excel"),
        (b"PK\x03\x04 broken", "已损坏"),
        ("序号,项目名称\n1,=HYPERLINK()".encode(), "不是Excel工作簿"),
    ],
)
def test_not_xlsx_content_is_refused(w, content, expected):
    assert expected in messages(refused(w.dispatcher, content))


def test_a_zip_that_is_not_a_workbook_is_refused(w):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("readme.txt", "hello")
    assert "不是Excel工作簿" in messages(refused(w.dispatcher, out.getvalue()))


def test_macro_workbooks_are_refused(w):
    data = filled(w)
    with_vba = rezip(data, add={"xl/vbaProject.bin": b"\xd0\xcf\x11\xe0 macro"})
    assert "宏" in messages(refused(w.dispatcher, with_vba))
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        types = zf.read("[Content_Types].xml")
    xlsm = types.replace(b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
                         b"application/vnd.ms-excel.sheet.macroEnabled.main+xml")  # fmt: skip
    assert "宏" in messages(refused(w.dispatcher, rezip(data, replace={"[Content_Types].xml": xlsm})))


def test_external_links_and_embedded_objects_are_refused(w):
    data = filled(w)
    assert "外部链接" in messages(
        refused(w.dispatcher, rezip(data, add={"xl/externalLinks/externalLink1.xml": b"<x/>"}))
    )
    assert "嵌入对象" in messages(refused(w.dispatcher, rezip(data, add={"xl/embeddings/oleObject1.bin": b"x"})))
    assert "嵌套" in messages(refused(w.dispatcher, rezip(data, add={"xl/media/inner.zip": b"PK"})))


def test_a_zip_bomb_is_refused_from_its_directory(w):
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(filled(w))) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            zout.writestr(info, zin.read(info))
        with zout.open("xl/worksheets/sheet3.xml", "w", force_zip64=True) as big:
            block = b"\x00" * (1024 * 1024)
            for _ in range(64):  # 64 MB of zeros, about 64 KB compressed
                big.write(block)
    data = out.getvalue()
    assert len(data) < 1024 * 1024
    started = time.monotonic()
    assert "压缩炸弹" in messages(refused(w.dispatcher, data))
    assert time.monotonic() - started < 2


def test_too_many_entries_or_too_much_uncompressed_data_is_refused(w, monkeypatch):
    data = filled(w)
    monkeypatch.setattr("keyprojects.progress.excel_import.reading.MAX_ENTRIES", 5)
    assert "条目过多" in messages(refused(w.dispatcher, data))
    monkeypatch.setattr("keyprojects.progress.excel_import.reading.MAX_ENTRIES", 300)
    monkeypatch.setattr("keyprojects.progress.excel_import.reading.MAX_UNCOMPRESSED", 10_000)
    assert "解压后过大" in messages(refused(w.dispatcher, data))


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>
<row r="4"><c r="I4" t="inlineStr"><is><t>&lol4;</t></is></c></row></sheetData></worksheet>"""
XXE = b"""<?xml version="1.0"?>
<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>
<row r="4"><c r="J4" t="inlineStr"><is><t>&xxe;</t></is></c></row></sheetData></worksheet>"""


@pytest.mark.parametrize("payload", [BILLION_LAUGHS, XXE], ids=["billion-laughs", "xxe"])
def test_entity_bombs_and_xxe_are_refused(w, payload, monkeypatch):
    data = rezip(filled(w), replace={"xl/worksheets/sheet1.xml": payload})
    assert "XML" in messages(refused(w.dispatcher, data))
    # Without the scan, openpyxl's defusedxml refuses it too (the second line of defence).
    assert openpyxl.DEFUSEDXML
    monkeypatch.setattr("keyprojects.progress.excel_import.reading._scan_xml", lambda zf, info: None)
    assert "XML" in messages(refused(w.dispatcher, data))


def test_an_internal_entity_in_the_real_sheet_is_refused_by_defusedxml(w, monkeypatch):
    """Without the pre-scan, defusedxml refuses a DOCTYPE in the template's own sheet (at load or while reading)."""
    data = filled(w)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        sheet = zf.read("xl/worksheets/sheet1.xml").decode()
    head, rest = sheet.split("<worksheet", 1)
    bomb = head + '<!DOCTYPE x [<!ENTITY a "aaaa">]><worksheet' + rest.replace("<t>1</t>", "<t>&a;</t>", 1)
    monkeypatch.setattr("keyprojects.progress.excel_import.reading._scan_xml", lambda zf, info: None)
    assert "XML" in messages(refused(w.dispatcher, rezip(data, replace={"xl/worksheets/sheet1.xml": bomb.encode()})))


def test_utf16_xml_parts_are_refused(w):
    data = filled(w)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        sheet = zf.read("xl/worksheets/sheet1.xml").decode()
    utf16 = sheet.replace('encoding="utf-8"', 'encoding="utf-16"').encode("utf-16")
    assert "编码" in messages(refused(w.dispatcher, rezip(data, replace={"xl/worksheets/sheet1.xml": utf16})))


def test_a_formula_with_a_forged_cached_value_is_refused(w):
    data = filled(w)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        sheet = zf.read("xl/worksheets/sheet1.xml").decode()
    row = row_of(data, w.project_a.pk)
    forged = sheet.replace(f'<c r="I{row}" s=', f'<c r="I{row}" t="n" s=', 1)
    start = forged.index(f'<c r="I{row}"')
    end = forged.index("</c>", start) + len("</c>")
    cell = forged[start:end]
    style = cell.split('s="')[1].split('"')[0]
    forged = forged[:start] + f'<c r="I{row}" s="{style}"><f>SUM(1,2)</f><v>10</v></c>' + forged[end:]
    errors = refused(w.dispatcher, rezip(data, replace={"xl/worksheets/sheet1.xml": forged.encode()}))
    assert "公式" in messages(errors) and errors[0].cell == f"I{row}"


# --- the marked workbook ---------------------------------------------------------------------------------------


def test_the_marked_workbook_shows_each_bad_cell(w):
    data = fill(template(w.dispatcher), {w.project_a.pk: {"investment": -1, "workers_on_site": "很多"},
                                         w.project_b.pk: {"investment": 1.234}})  # fmt: skip
    with pytest.raises(ImportRefused) as caught:
        run(w.dispatcher, data)
    assert caught.value.markable
    marked = openpyxl.load_workbook(io.BytesIO(excel_import.marked_workbook(data, caught.value.errors)))
    assert marked.sheetnames[0] == "错误清单"
    listing = marked["错误清单"]
    assert listing.max_row == 1 + len(caught.value.errors) == 4
    ws = marked["月报"]
    for error in caught.value.errors:
        cell = ws[error.cell]
        assert cell.fill.fgColor.rgb.endswith("FFC7CE")
        assert error.message in cell.comment.text
    # Fixed and uploaded again, the marked workbook is accepted (the error sheet is ignored).
    out = io.BytesIO()
    a, b = row_of(data, w.project_a.pk), row_of(data, w.project_b.pk)
    ws.cell(a, COL["investment"] + 1).value = 1
    ws.cell(a, COL["workers_on_site"] + 1).value = 30
    ws.cell(b, COL["investment"] + 1).value = 1.23
    marked.save(out)
    assert run(w.dispatcher, out.getvalue()).submitted == 2


# --- the API and the page ------------------------------------------------------------------------------------


def _auth(user) -> dict:
    raw, _ = issue_token(user, name="test")
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def test_api_template_and_import(w, client):
    headers = _auth(w.town_officer)
    r = client.get("/api/v1/monthly-reports/template", {"year": YEAR, "month": MONTH}, **headers)
    assert r.status_code == 200 and r["Content-Type"] == XLSX
    assert "attachment" in r["Content-Disposition"]
    data = fill(r.content, {w.project_a.pk: {"investment": "88"}})
    r = client.post("/api/v1/monthly-reports/import", {"file": upload(data)}, **headers)
    assert r.status_code == 200, r.content
    assert r.json()["submitted"] == 1 and r.json()["created"] == 1


def test_api_import_errors_are_422_with_places(w, client):
    headers = _auth(w.dispatcher)
    data = fill(template(w.dispatcher), {w.project_a.pk: {"investment": "abc"}})
    r = client.post("/api/v1/monthly-reports/import", {"file": upload(data)}, **headers)
    assert r.status_code == 422
    item = r.json()["detail"][0]
    row = row_of(data, w.project_a.pk)
    assert item["loc"] == ["file", "月报", f"I{row}"]
    assert (item["sheet"], item["row"], item["column"], item["cell"]) == ("月报", row, "I", f"I{row}")
    assert "必须是数字" in item["msg"]
    r = client.post("/api/v1/monthly-reports/import?marked=true", {"file": upload(data)}, **headers)
    assert r.status_code == 422 and r["Content-Type"] == XLSX
    assert "错误清单" in openpyxl.load_workbook(io.BytesIO(r.content)).sheetnames
    r = client.post("/api/v1/monthly-reports/import", {"file": upload(b"not a workbook")}, **headers)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["file"]
    assert not MonthlyReport.objects.exists()


def test_api_refusals(w, client):
    r = client.get("/api/v1/monthly-reports/template", {"year": 2099, "month": 1}, **_auth(w.dispatcher))
    assert r.status_code == 422 and "尚未到来" in r.json()["detail"][0]["msg"]
    r = client.get("/api/v1/monthly-reports/template", **_auth(w.leader))
    assert r.status_code == 403
    r = client.post("/api/v1/monthly-reports/import", {"file": upload(filled(w))}, **_auth(w.leader))
    assert r.status_code == 403
    r = client.post("/api/v1/monthly-reports/import", {"file": upload(filled(w))})
    assert r.status_code == 401
    r = client.post("/api/v1/monthly-reports/import", {}, **_auth(w.dispatcher))
    assert r.status_code == 422


def test_page_upload_shows_errors_and_the_marked_workbook(w, client):
    client.login(request=HttpRequest(), username="dispatcher", password=PASSWORD)
    r = client.get("/reports/excel/")
    assert r.status_code == 200 and "下载模板" in r.content.decode()
    r = client.get("/reports/excel/template.xlsx", {"period": "2026-10"})
    assert r.status_code == 200 and r["Content-Type"] == XLSX
    data = fill(b"".join(r.streaming_content) if r.streaming else r.content, {w.project_a.pk: {"investment": "x"}})
    r = client.post("/reports/excel/", {"file": upload(data)})
    assert r.status_code == 422
    body = r.content.decode()
    assert "所有数据均未保存" in body and "必须是数字" in body
    token = r.context["token"]
    marked = client.get(f"/reports/excel/errors/{token}.xlsx")
    assert marked.status_code == 200
    assert "错误清单" in openpyxl.load_workbook(io.BytesIO(marked.content)).sheetnames
    client.logout()
    client.login(request=HttpRequest(), username="town_officer", password=PASSWORD)
    assert client.get(f"/reports/excel/errors/{token}.xlsx").status_code == 404  # another session
    client.logout()
    client.login(request=HttpRequest(), username="dispatcher", password=PASSWORD)
    r = client.post("/reports/excel/", {"file": upload(fill(data, {w.project_a.pk: {"investment": "5"}}))})
    assert r.status_code == 302
    assert MonthlyReport.objects.filter(year=YEAR, month=MONTH).count() == 1


def test_page_refuses_non_filers(w, client):
    client.login(request=HttpRequest(), username="leader", password=PASSWORD)
    assert client.get("/reports/excel/").status_code == 200
    assert client.get("/reports/excel/template.xlsx", {"period": "2026-10"}).status_code == 403
    assert client.post("/reports/excel/", {"file": upload(filled(w))}).status_code == 403


def test_plans_fixture(w):
    assert AnnualPlan.objects.filter(year=YEAR).count() == 2
