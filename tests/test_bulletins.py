"""The rhythm's documents: snapshots, immutability, rankings, the Word file, the schedule and the worker."""

from __future__ import annotations

import datetime
import io
import zipfile
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import DatabaseError, transaction
from django.utils import timezone
from docx import Document

from keyprojects.audit.models import AuditRecord
from keyprojects.bulletins import charts, domain, files, schedule, snapshot, worker
from keyprojects.bulletins.models import DEFAULT_ISSUING_BODY, Bulletin, Kind, ReviewEvent, Status, content_hash
from keyprojects.bulletins.outline import outline
from keyprojects.problems import domain as problem_domain
from keyprojects.progress import domain as progress_domain
from keyprojects.progress import rates
from keyprojects.projects.models import Project, Stage, StageTransition

AS_OF = datetime.date(2026, 10, 12)  # 月点评 of September 2026


def at(day: datetime.date, hour: int = 10) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime(day.year, day.month, day.day, hour))


def file_report(w, project, month: int, amount: str) -> None:
    when = at(datetime.date(2026, month + 1, 2))
    report = progress_domain.create_report(project, by=w.dispatcher, year=2026, month=month,
                                           data={"investment": amount}, now=when)  # fmt: skip
    progress_domain.submit(report, by=w.dispatcher, explanation="按合同付款", now=at(datetime.date(2026, month + 1, 3)))


@pytest.fixture
def data(world):
    """Plans for both projects; September reports: project_a 4,500 of 6,000, project_b 400 of 2,000."""
    w = world
    for project, amount in ((w.project_a, "6000"), (w.project_b, "2000")):
        progress_domain.save_annual_plan(project, by=w.dispatcher, year=2026,
                                         data={"planned_investment": amount, "to_start": True},
                                         now=at(datetime.date(2026, 1, 10)))  # fmt: skip
    file_report(w, w.project_a, 9, "4500")
    file_report(w, w.project_b, 9, "400")
    return w


def town_row(bulletin: Bulletin, name: str) -> dict:
    return next(r for r in bulletin.figures["tables"]["town"]["rows"] if r["name"] == name)


def docx_tables(data: bytes) -> list[list[list[str]]]:
    doc = Document(io.BytesIO(data))
    return [[[c.text for c in row.cells] for row in t.rows] for t in doc.tables]


# --- snapshot and immutability --------------------------------------------------------------------------------


def test_monthly_figures_are_the_rates_of_the_month(data):
    w = data
    b = domain.create_draft(kind=Kind.MONTHLY, as_of=AS_OF, by=w.dispatcher)
    table = rates.completion_table(Project.objects.all(), 2026, 9, group_by="town")
    expected = {r.label: str(rates.as_percent(r.annual_rate)) for r in table.rows}
    assert town_row(b, "东街街道")["values"]["annual_rate"] == expected["东街街道"] == "75.0"
    assert town_row(b, "洪门镇")["values"]["annual_rate"] == expected["洪门镇"] == "20.0"
    assert b.figures["district"]["time_progress"] == "75.0"
    assert b.status == Status.DRAFT and b.title == "2026年9月份重点项目建设点评"
    assert (b.period_start, b.period_end) == (datetime.date(2026, 9, 1), datetime.date(2026, 9, 30))
    assert AuditRecord.objects.filter(object_type="bulletin", object_id=str(b.pk), action="create").exists()


def test_an_issued_document_never_changes_when_the_data_does(data):
    w = data
    b = domain.create_draft(kind=Kind.MONTHLY, as_of=AS_OF, by=w.dispatcher)
    domain.update_commentary(b, by=w.dispatcher, commentary={"overview": "总体平稳。"})
    domain.issue(b, by=w.leader)
    figures_before = Bulletin.objects.get(pk=b.pk).figures
    docx_before = docx_tables(files.docx_bytes(Bulletin.objects.get(pk=b.pk)))

    # The data changes afterwards: a bigger plan for project_a, a late report of project_b.
    later = at(datetime.date(2026, 10, 20))
    progress_domain.save_annual_plan(w.project_a, by=w.dispatcher, year=2026, data={"planned_investment": "9000"},
                                     reason="追加投资", effective_month=9, now=later)  # fmt: skip
    live = snapshot.build(Kind.MONTHLY, AS_OF)
    assert live["tables"]["town"]["rows"] != figures_before["tables"]["town"]["rows"]  # live figures moved on

    stored = Bulletin.objects.get(pk=b.pk)
    assert stored.figures == figures_before
    assert town_row(stored, "东街街道")["values"]["annual_rate"] == "75.0"
    assert stored.hash_matches()
    assert stored.content_hash == content_hash(figures_before, {**stored.commentary})
    assert docx_tables(files.docx_bytes(stored)) == docx_before  # regenerated from the snapshot: same document


def test_regenerating_from_the_snapshot_gives_the_same_figures(data):
    b = domain.create_draft(kind=Kind.MONTHLY, as_of=AS_OF, by=data.dispatcher)
    first, second = outline(b), outline(Bulletin.objects.get(pk=b.pk))
    assert [t.rows for s in first.sections for t in s.tables] == [t.rows for s in second.sections for t in s.tables]
    assert docx_tables(files.docx_bytes(b)) == docx_tables(files.docx_bytes(Bulletin.objects.get(pk=b.pk)))


def test_issuing_twice_is_refused_and_changes_nothing(data):
    w = data
    b = domain.create_draft(kind=Kind.DAILY, as_of=AS_OF, by=w.dispatcher)
    domain.issue(b, by=w.dispatcher)
    assert b.document_number == f"区项推日〔{timezone.localdate().year}〕1号"
    with pytest.raises(ValidationError) as exc:
        domain.issue(Bulletin.objects.get(pk=b.pk), by=w.dispatcher)
    assert exc.value.code == "invalid_state" and "不能重复印发" in exc.value.messages[0]
    assert Bulletin.objects.get(pk=b.pk).number == 1


def test_an_issued_document_refuses_every_edit(data):
    w = data
    b = domain.create_draft(kind=Kind.DAILY, as_of=AS_OF, by=w.dispatcher)
    domain.issue(b, by=w.dispatcher)
    stored = Bulletin.objects.get(pk=b.pk)
    with pytest.raises(ValidationError) as exc:
        domain.update_commentary(stored, by=w.dispatcher, commentary={"summary": "改一下"})
    assert exc.value.code == "invalid_state" and "已印发归档" in exc.value.messages[0]
    stored.figures = {"tampered": True}
    with pytest.raises(ValidationError):
        stored.save()
    with pytest.raises(ValidationError):
        Bulletin.objects.get(pk=b.pk).delete()
    with pytest.raises(DatabaseError), transaction.atomic():  # the database trigger stops a bulk update too
        Bulletin.objects.filter(pk=b.pk).update(title="改过的标题")
    assert Bulletin.objects.get(pk=b.pk).title == b.title and Bulletin.objects.get(pk=b.pk).hash_matches()


def test_a_second_draft_of_the_same_kind_and_date_is_refused(data):
    domain.create_draft(kind=Kind.DAILY, as_of=AS_OF, by=data.dispatcher)
    with pytest.raises(ValidationError) as exc:
        domain.create_draft(kind=Kind.DAILY, as_of=AS_OF, by=data.dispatcher)
    assert "不能重复生成" in exc.value.message_dict["as_of"][0]
    with pytest.raises(ValidationError) as exc:
        domain.create_draft(
            kind=Kind.DAILY, as_of=timezone.localdate() + datetime.timedelta(days=1), by=data.dispatcher
        )
    assert "不能晚于今天" in exc.value.message_dict["as_of"][0]


def test_only_dispatchers_and_leaders_make_and_issue(data):
    from django.core.exceptions import PermissionDenied

    for user in (data.town_officer, data.officer, data.enterprise, data.auditor):
        with pytest.raises(PermissionDenied):
            domain.create_draft(kind=Kind.DAILY, as_of=AS_OF, by=user)
    b = domain.create_draft(kind=Kind.DAILY, as_of=AS_OF, by=data.leader)
    with pytest.raises(PermissionDenied):
        domain.issue(b, by=data.town_officer)
    assert Bulletin.objects.get(pk=b.pk).status == Status.DRAFT


# --- rankings --------------------------------------------------------------------------------------------------


def test_ties_share_a_rank_and_the_next_rank_skips():
    assert snapshot.competition_ranks({"a": Decimal("90"), "b": Decimal("80"), "c": Decimal("80"),
                                       "d": Decimal("70")}) == {"a": 1, "b": 2, "c": 2, "d": 4}  # fmt: skip
    rows = [{"name": n, "values": {"annual_rate": v, "start_rate": s}, "ranks": {}}
            for n, v, s in [("甲", "90.0", "50.0"), ("乙", "80.0", None), ("丙", "80.0", "60.0"),
                            ("丁", "70.0", "10.0"), ("戊", None, "20.0")]]  # fmt: skip
    snapshot._rank_rows(rows, ["annual_rate", "start_rate"])
    assert [(r["name"], r["rank"]) for r in rows] == [("甲", 1), ("丙", 2), ("乙", 2), ("丁", 4), ("戊", None)]
    assert {r["name"]: r["ranks"]["start_rate"] for r in rows} == {"甲": 2, "乙": None, "丙": 1, "丁": 4, "戊": 3}
    red, black = snapshot.red_black(rows, ["annual_rate", "start_rate"], 2)
    assert [r["name"] for r in red] == ["甲", "丙", "乙"]  # the tie at the edge is kept
    assert [r["name"] for r in black] == ["丁"]
    assert red[0]["reason"].startswith("年度投资完成率90.0%") and "居第1位" in red[0]["reason"]


def test_red_and_black_lists_give_reasons_in_chinese(data):
    b = domain.create_draft(kind=Kind.MONTHLY, as_of=AS_OF, by=data.dispatcher)
    red, black = b.figures["red"]["town"], b.figures["black"]["town"]
    assert red == [{"name": "东街街道", "rank": 1, "reason": red[0]["reason"]}]
    assert "年度投资完成率75.0%" in red[0]["reason"] and "居第1位" in red[0]["reason"]
    assert black[0]["name"] == "洪门镇" and "低于时序进度55.0个百分点" in black[0]["reason"]


# --- the Word document ------------------------------------------------------------------------------------------


def test_the_docx_shows_the_database_figures_in_official_form(data):
    w = data
    b = domain.create_draft(kind=Kind.MONTHLY, as_of=AS_OF, by=w.dispatcher)
    domain.issue(b, by=w.dispatcher)
    raw = files.docx_bytes(b)
    doc = Document(io.BytesIO(raw))
    texts = [p.text for p in doc.paragraphs]
    assert texts[0] == DEFAULT_ISSUING_BODY == "项目推进服务中心"
    assert texts[1] == b.document_number and "〔" in texts[1]
    assert b.title in texts and any(t.startswith("一、全区总体情况") for t in texts)
    header_run = doc.paragraphs[0].runs[0]
    assert str(header_run.font.color.rgb) == "C00000"

    table = rates.completion_table(Project.objects.all(), 2026, 9, group_by="town")
    dongjie = next(r for r in table.rows if r.label == "东街街道")
    ranking = next(t for t in docx_tables(raw) if t[0][:2] == ["名次", "单位"])
    row = next(r for r in ranking if r[1] == "东街街道")
    assert row[0] == "1" and row[2].startswith(f"{rates.as_percent(dongjie.annual_rate)}（1）")
    assert row[-1] == str(dongjie.projects)

    with zipfile.ZipFile(io.BytesIO(raw)) as z:
        body = z.read("word/document.xml").decode()
        footers = "".join(z.read(n).decode() for n in z.namelist() if n.startswith("word/footer"))
        fonts = z.read("word/fontTable.xml").decode()
        media = [n for n in z.namelist() if n.startswith("word/media/")]
    assert body.count("<w:tblHeader") == len(doc.tables) >= 3  # every table repeats its header row
    assert 'w:eastAsia="仿宋_GB2312"' in body and 'w:eastAsia="黑体"' in body and 'w:eastAsia="方正小标宋简体"' in body
    assert "PAGE" in footers and 'w:fldCharType="begin"' in footers
    assert 'w:name="仿宋_GB2312"' in fonts and 'w:val="仿宋"' in fonts
    assert media and media[0].endswith(".png")  # the chart


def test_a_chart_is_drawn_without_a_cjk_font_too():
    spec = {"title": "各乡镇街道", "labels": ["东街街道", "洪门镇"], "values": ["75.0", None], "reference": "75.0"}
    png, named = charts.bar_chart(spec, font_path=None)
    assert png.startswith(b"\x89PNG") and named is False
    png, named = charts.bar_chart(spec, font_path="/nonexistent/font.ttc")
    assert png.startswith(b"\x89PNG")


def test_the_workbook_holds_the_tables_as_numbers_and_text(data):
    from openpyxl import load_workbook

    b = domain.create_draft(kind=Kind.MONTHLY, as_of=AS_OF, by=data.dispatcher)
    wb = load_workbook(io.BytesIO(files.xlsx_bytes(b)))
    assert wb.sheetnames[0] == "说明" and "乡镇街道排名" in wb.sheetnames
    ws = wb["乡镇街道排名"]
    assert [c.value for c in ws[2]][:2] == ["名次", "单位"]
    assert ws["A3"].value == 1 and ws["B3"].value == "东街街道"


def test_every_kind_makes_a_document(data):
    from keyprojects.evaluation.presets import ensure_presets

    ensure_presets()
    for kind in Kind.values:
        b = domain.create_draft(kind=kind, as_of=datetime.date(2026, 7, 20), by=data.dispatcher)
        doc = Document(io.BytesIO(files.docx_bytes(b)))
        assert doc.paragraphs[0].text == DEFAULT_ISSUING_BODY, kind
    half = Bulletin.objects.get(kind=Kind.HALF_YEAR)
    assert half.figures["period"]["code"] == "2026H1" and half.figures["rows"]


# --- 日通报 and 周调度 ---------------------------------------------------------------------------------------------


def test_the_daily_bulletin_lists_what_changed(data):
    w = data
    day = datetime.date(2026, 10, 14)  # a Wednesday: the period is that day only
    problem = problem_domain.raise_problem(by=w.dispatcher, project=w.project_a, title="施工用电未接通",
                                           category="utilities", source="leader_instruction", received_on=day,
                                           now=at(day))  # fmt: skip
    StageTransition.objects.create(project=w.project_b, from_stage=Stage.PLANNING, to_stage=Stage.SIGNED,
                                   happened_on=day)  # fmt: skip
    b = domain.create_draft(kind=Kind.DAILY, as_of=day, by=w.dispatcher, now=at(day, 17))
    f = b.figures
    assert f["period"]["start"] == f["period"]["end"] == "2026-10-14"
    assert f["problems"]["received"]["items"][0]["id"] == problem.pk
    assert [i["name"] for i in f["projects"]["signed"]["items"]] == [w.project_b.name]
    assert f["reports"]["year"] == 2026 and f["reports"]["month"] == 9 and f["reports"]["state"] == "late"
    assert f["tomorrow"]["date"] == "2026-10-15"
    nxt = domain.create_draft(kind=Kind.DAILY, as_of=datetime.date(2026, 10, 19), by=w.dispatcher)
    assert nxt.figures["period"]["start"] == "2026-10-15"  # since the last one


def test_the_weekly_pack_becomes_the_meeting_record(data):
    from keyprojects.visits.models import Meeting

    w = data
    b = domain.create_draft(kind=Kind.WEEKLY, as_of=datetime.date(2026, 10, 12), by=w.dispatcher)
    leaders = {r["name"]: r for r in b.figures["leaders"]}
    assert leaders[str(w.leader)]["projects"] == 1
    assert b.commentary["agenda"].startswith("1. ")
    domain.record_meeting(b, by=w.dispatcher, chair=w.leader)
    meeting = Meeting.objects.get(pk=b.meeting_id)
    assert meeting.minutes == b.commentary["agenda"] and meeting.held_on == b.as_of
    with pytest.raises(ValidationError):
        domain.record_meeting(b, by=w.dispatcher, chair=w.leader)


# --- the schedule and the worker --------------------------------------------------------------------------------


def test_the_default_schedule_follows_working_days(db):
    events = {e.kind: e for e in schedule.ensure_schedule(at(datetime.date(2026, 9, 28)))}
    daily = schedule.due_dates(events[Kind.DAILY], datetime.date(2026, 9, 28), datetime.date(2026, 10, 12))
    assert datetime.date(2026, 10, 1) not in daily  # 国庆
    assert datetime.date(2026, 10, 10) in daily  # a Saturday worked in exchange (调休), from workcal
    weekly = schedule.due_dates(events[Kind.WEEKLY], datetime.date(2026, 10, 1), datetime.date(2026, 10, 31))
    # Monday 5 October falls in the holiday: that week's meeting moves to the first working day after it.
    assert weekly == [datetime.date(2026, 10, d) for d in (8, 12, 19, 26)]
    monthly = schedule.due_dates(events[Kind.MONTHLY], datetime.date(2026, 10, 1), datetime.date(2026, 10, 31))
    assert monthly == [datetime.date(2026, 10, 8)]  # due day 5 + 3 days (a working day)
    half = schedule.due_dates(events[Kind.HALF_YEAR], datetime.date(2026, 1, 1), datetime.date(2026, 12, 31))
    assert half == [datetime.date(2026, 7, 15)]
    assert schedule.next_due_at(events[Kind.ANNUAL], at(datetime.date(2026, 2, 1))).date() == datetime.date(2027, 1, 20)


def test_the_worker_creates_each_due_draft_once(data):
    events = {e.kind: e for e in schedule.ensure_schedule(at(datetime.date(2026, 10, 1)))}
    due = at(datetime.date(2026, 10, 8), 8)
    ReviewEvent.objects.filter(kind=Kind.MONTHLY).update(next_due_at=due)
    ReviewEvent.objects.filter(kind=Kind.DAILY).update(next_due_at=at(datetime.date(2026, 10, 9), 17))
    ReviewEvent.objects.exclude(kind__in=[Kind.MONTHLY, Kind.DAILY]).update(next_due_at=at(datetime.date(2027, 1, 1)))
    now = at(datetime.date(2026, 10, 9), 18)
    first = worker.run_pass(now)
    second = worker.run_pass(now)
    assert sorted(b.kind for b in first) == [Kind.DAILY, Kind.MONTHLY] and second == []
    assert Bulletin.objects.filter(kind=Kind.MONTHLY, as_of=datetime.date(2026, 10, 8)).count() == 1
    assert Bulletin.objects.filter(kind=Kind.DAILY, as_of=datetime.date(2026, 10, 9)).count() == 1
    assert ReviewEvent.objects.get(kind=Kind.MONTHLY).next_due_at == at(datetime.date(2026, 11, 9), 8)
    assert ReviewEvent.objects.get(kind=Kind.DAILY).next_due_at > now
    assert AuditRecord.objects.filter(object_type="bulletin", channel="worker").count() == 2
    del events


def test_a_worker_that_lost_the_claim_does_nothing(data):
    schedule.ensure_schedule(at(datetime.date(2026, 10, 1)))
    seen = at(datetime.date(2026, 10, 8), 8)
    ReviewEvent.objects.exclude(kind=Kind.MONTHLY).update(next_due_at=None)
    ReviewEvent.objects.filter(kind=Kind.MONTHLY).update(next_due_at=seen)
    # Another worker claims it between our read and our update: our conditional UPDATE matches nothing.
    original = ReviewEvent.objects.filter

    def racing_filter(*args, **kwargs):
        qs = original(*args, **kwargs)
        if "next_due_at" in kwargs and "pk" in kwargs:
            original(pk=kwargs["pk"]).update(next_due_at=at(datetime.date(2026, 11, 9), 8))
        return qs

    ReviewEvent.objects.filter = racing_filter
    try:
        assert worker.run_pass(at(datetime.date(2026, 10, 9))) == []
    finally:
        del ReviewEvent.objects.filter
    assert not Bulletin.objects.exists()


# --- queries ----------------------------------------------------------------------------------------------------


def test_making_a_monthly_draft_takes_a_bounded_number_of_queries(data, django_assert_max_num_queries):
    with django_assert_max_num_queries(45):
        domain.create_draft(kind=Kind.MONTHLY, as_of=AS_OF, by=data.dispatcher)
    with django_assert_max_num_queries(40):
        domain.create_draft(kind=Kind.DAILY, as_of=AS_OF, by=data.dispatcher)
    b = Bulletin.objects.get(kind=Kind.MONTHLY)
    with django_assert_max_num_queries(2):
        files.docx_bytes(b)


def test_word_tables_keep_any_text_readable():
    """Table rows are written as XML text: markup characters stay text, XML-illegal ones are dropped."""
    from keyprojects.bulletins import docx as word
    from keyprojects.bulletins.outline import Outline, Section, Table

    table = Table(title="排名", header=["名次", "单位", "得分"], numeric={2},
                  rows=[["1", "东街<街道>&“办”", "98.5"], ["2", "西街\x07街道", "90"]])  # fmt: skip
    outline = Outline(issuing_body="红旗区", number="第1期", title="测试", date="2026年11月27日", kind="monthly",
                      sections=[Section(heading="一、排名", tables=[table])], draft=False)  # fmt: skip
    assert docx_tables(word.render(outline)) == [
        [["名次", "单位", "得分"], ["1", "东街<街道>&“办”", "98.5"], ["2", "西街街道", "90"]]
    ]
