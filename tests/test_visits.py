"""Site visits (马路办公), meetings and instructions: who may see and record them, demands becoming problems,
decisions becoming tasks on the 13710 clock, photos, bad input, and the API.

Domain tests pass `now` (fixed dates; March 2025 has no holiday, so working days are Monday–Friday).
Page and API tests run "today" and use dates relative to it.
"""

from __future__ import annotations

import datetime
import json
import re
import struct
import zlib
from datetime import date

import pytest
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from keyprojects.api.auth import issue_token
from keyprojects.audit.models import AuditRecord
from keyprojects.org.models import Role
from keyprojects.problems import domain as problems
from keyprojects.problems.models import Category, Problem, ProblemEvent, Source, Status, Step
from keyprojects.visits import domain
from keyprojects.visits.models import (
    ORIGIN_INSTRUCTION,
    ORIGIN_MEETING,
    ORIGIN_SITE_VISIT,
    Instruction,
    Meeting,
    OriginLink,
    Photo,
    SiteVisit,
)
from keyprojects.workcal import calendar as wc
from tests.conftest import PERSONAS, SEES, make_user

ADMINS = [p for p in PERSONAS if not SEES[p]]
RECORDERS = {"dispatcher", "leader"}
Kind = ProblemEvent.Kind


def at(day: date, hour: int = 9) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour)))


def png_bytes(width: int = 2, height: int = 1) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def jpeg_bytes(width: int = 3, height: int = 2) -> bytes:
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + app0 + sof + b"\xff\xd9"


def upload(name: str, content: bytes, content_type: str = "image/jpeg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type=content_type)


@pytest.fixture(autouse=True)
def _fresh_calendar_cache():
    wc.clear_local_cache()
    cache.clear()
    yield
    wc.clear_local_cache()


def visit_on(w, project, *, by=None, day: date = date(2025, 3, 3), **kw) -> SiteVisit:
    kw.setdefault("leaders", [w.leader])
    return domain.create_site_visit(
        by=by or w.dispatcher, visited_on=day, place="东街街道联东U谷工地", projects=[project], now=at(day, 17), **kw
    )


def stored() -> tuple:
    return (SiteVisit.objects.count(), Meeting.objects.count(), Instruction.objects.count(), Problem.objects.count(),
            OriginLink.objects.count(), Photo.objects.count())  # fmt: skip


# --- demands and decisions (domain) ---------------------------------------------------------------------------


def test_a_demand_becomes_a_problem_in_one_step_linked_to_the_visit(world):
    visit = visit_on(
        world, world.project_a,
        demands=[{"project": world.project_a.pk, "title": "施工用电增容未批", "category": Category.UTILITIES,
                  "description": "需要增容 2000 千伏安"}],
    )  # fmt: skip
    problem = Problem.objects.get()
    assert problem.status == Status.NEW and problem.source == Source.SITE_VISIT
    assert (problem.origin_type, problem.origin_id) == (ORIGIN_SITE_VISIT, visit.pk)
    assert problem.title == "施工用电增容未批" and problem.category == Category.UTILITIES
    assert "需要增容" in problem.description and "现场办公：2025-03-03" in problem.description
    assert problem.raised_by == world.dispatcher and problem.project == world.project_a
    assert problem.received_on == date(2025, 3, 3)
    link = OriginLink.objects.get()
    assert (link.problem, link.kind, link.site_visit) == (problem, OriginLink.Kind.DEMAND, visit)
    assert list(problem.events.values_list("kind", flat=True)) == [Kind.RAISED]
    assert AuditRecord.objects.filter(object_type="sitevisit", object_id=str(visit.pk), action="create").exists()
    assert list(visit.leaders.all()) == [world.leader] and list(visit.projects.all()) == [world.project_a]
    # The dispatcher then assigns it like any other problem.
    problems.assign(problem, by=world.dispatcher, lead_unit=world.dongjie, now=at(date(2025, 3, 4)))
    problem.refresh_from_db()
    assert problem.status == Status.ASSIGNED and problem.resolve_due == date(2025, 3, 13)


def test_a_decision_becomes_a_task_on_the_13710_clock_with_its_due_date(world):
    visit = visit_on(
        world, world.project_a,
        decisions=[{"project": world.project_a.pk, "text": "区城建局负责协调施工便道\n两周内打通",
                    "lead_unit": world.housing.pk, "due": date(2025, 3, 21)}],
    )  # fmt: skip
    task = Problem.objects.get()
    assert task.status == Status.ASSIGNED and task.source == Source.SITE_VISIT
    assert (task.origin_type, task.origin_id) == (ORIGIN_SITE_VISIT, visit.pk)
    assert task.title == "区城建局负责协调施工便道" and "两周内打通" in task.description
    assert task.lead_unit == world.housing
    assert task.responsible_leader == world.leader  # the project's 分包领导
    assert task.assigned_on == date(2025, 3, 3)
    # Deploy the same day, first feedback in 3 working days, 办结 by the decision's own date.
    assert (task.deploy_due, task.feedback_due, task.resolve_due) == (date(2025, 3, 3), date(2025, 3, 6),
                                                                       date(2025, 3, 21))  # fmt: skip
    assert task.current_step == Step.DEPLOY and task.current_due == date(2025, 3, 3)
    assert task.next_action_at is not None
    assert OriginLink.objects.get().kind == OriginLink.Kind.DECISION
    assert list(task.events.values_list("kind", flat=True)) == [Kind.RAISED, Kind.ASSIGNED]
    # Tracked like a problem until closed: the unit deploys, resolves; the clock judges it against its own date.
    housing_officer = make_user("housing_officer", world.housing, Role.UNIT_OFFICER)
    problems.deploy(task, by=housing_officer, now=at(date(2025, 3, 3), 16))
    task.refresh_from_db()
    assert task.status == Status.DEPLOYED and task.current_step == Step.FEEDBACK


def test_a_short_decision_pulls_the_feedback_deadline_in(world):
    visit_on(world, world.project_a, decisions=[{"project": world.project_a.pk, "text": "明天前清理渣土",
                                                 "lead_unit": world.housing.pk, "due": date(2025, 3, 4)}])  # fmt: skip
    task = Problem.objects.get()
    assert (task.deploy_due, task.feedback_due, task.resolve_due) == (date(2025, 3, 3), date(2025, 3, 4),
                                                                       date(2025, 3, 4))  # fmt: skip


def test_a_leader_records_a_visit_and_assigns_its_decisions_today(world):
    visit = domain.create_site_visit(
        by=world.leader, visited_on=date(2025, 3, 3), place="洪门镇", projects=[world.project_b],
        decisions=[{"project": world.project_b.pk, "text": "协调供水", "lead_unit": world.hongmen.pk,
                    "due": date(2025, 3, 14)}],
        demands=[{"project": world.project_b.pk, "title": "希望减免城市配套费"}],
        now=at(date(2025, 3, 5)),
    )  # fmt: skip
    assert list(visit.leaders.all()) == [world.leader]  # defaults to the leader who records it
    task = Problem.objects.get(origin_link__kind=OriginLink.Kind.DECISION)
    demand = Problem.objects.get(origin_link__kind=OriginLink.Kind.DEMAND)
    # Leaders do not back-enter: received and assigned on the day they record it.
    assert task.assigned_on == date(2025, 3, 5) and task.resolve_due == date(2025, 3, 14)
    assert demand.received_on == date(2025, 3, 5) and demand.category == Category.OTHER
    # A leader may assign tasks, never an ordinary problem.
    raised = problems.raise_problem(by=world.dispatcher, project=world.project_b, title="企业诉求", category="land",
                                    source=Source.ENTERPRISE, now=at(date(2025, 3, 5)))  # fmt: skip
    with pytest.raises(PermissionDenied):
        problems.assign(raised, by=world.leader, lead_unit=world.hongmen, now=at(date(2025, 3, 5)))
    with pytest.raises(ValidationError) as exc:
        problems.assign(raised, by=world.leader, lead_unit=world.hongmen, resolve_due=date(2025, 3, 20),
                        now=at(date(2025, 3, 5)))  # fmt: skip
    assert "resolve_due" in exc.value.message_dict
    raised.refresh_from_db()
    assert raised.status == Status.NEW


@pytest.mark.parametrize("persona", [p for p in PERSONAS if p not in RECORDERS])
def test_only_leaders_and_dispatchers_record_visits(world, persona):
    before = stored()
    with pytest.raises(PermissionDenied):
        visit_on(world, world.project_a, by=getattr(world, persona), demands=[{"project": world.project_a.pk,
                                                                               "title": "诉求"}])  # fmt: skip
    assert stored() == before


def decision(w, **changes) -> dict:
    return {
        "project": w.project_a.pk,
        "text": "协调便道",
        "lead_unit": w.housing.pk,
        "due": date(2025, 3, 9),
        **changes,
    }


def demand(w, **changes) -> dict:
    return {"project": w.project_a.pk, "title": "诉求", **changes}


BAD_INPUT = {
    "decisions.0.due": lambda w: {"decisions": [decision(w, due=date(2025, 3, 2))]},
    "decisions.0.text": lambda w: {"decisions": [decision(w, text=" ")]},
    "decisions.0.lead_unit": lambda w: {"decisions": [decision(w, lead_unit=w.company_a.pk)]},
    "decisions.1.project": lambda w: {"decisions": [decision(w), decision(w, project="abc")]},
    "demands.0.project": lambda w: {"demands": [demand(w, project=999999)]},
    "demands.0.title": lambda w: {"demands": [demand(w, title="")]},
    "demands.0.category": lambda w: {"demands": [demand(w, category="weather")]},
    "leaders": lambda w: {"leaders": [w.officer.pk]},
    "place": lambda w: {"place": ""},
    "visited_on": lambda w: {"visited_on": date(2025, 3, 4)},  # after "today"
}


@pytest.mark.parametrize("key", list(BAD_INPUT))
def test_bad_input_is_refused_with_nothing_saved(world, key):
    kwargs = {"by": world.dispatcher, "visited_on": date(2025, 3, 3), "place": "工地", "leaders": [world.leader],
              "projects": [world.project_a], "now": at(date(2025, 3, 3))}  # fmt: skip
    kwargs.update(BAD_INPUT[key](world))
    before = stored()
    with pytest.raises(ValidationError) as exc:
        domain.create_site_visit(**kwargs)
    assert key in exc.value.message_dict, exc.value.message_dict
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in m) for m in exc.value.messages)
    assert stored() == before


def test_a_project_outside_the_scope_is_refused(world):
    world.dispatcher.data_scope = "unit"  # the service center has no projects of its own
    world.dispatcher.save()
    before = stored()
    with pytest.raises(ValidationError) as exc:
        visit_on(world, world.project_a)
    assert "projects" in exc.value.message_dict
    assert stored() == before


# --- photos --------------------------------------------------------------------------------------------------


def test_photos_are_checked_by_content_and_stored_under_a_random_name(world):
    before = stored()
    with pytest.raises(ValidationError) as exc:
        visit_on(world, world.project_a, uploads=[upload("现场.jpg", b"%PDF-1.4 not a picture")])
    assert "不是有效的 JPG 或 PNG 图片" in exc.value.message_dict["photos"][0]
    assert stored() == before
    with pytest.raises(ValidationError):
        visit_on(world, world.project_a, uploads=[upload("a.png", b"<script>alert(1)</script>", "image/png")])
    with pytest.raises(ValidationError):
        visit_on(world, world.project_a, uploads=[upload("empty.jpg", b"")])
    with pytest.raises(ValidationError):  # truncated: no frame header
        visit_on(world, world.project_a, uploads=[upload("cut.jpg", jpeg_bytes()[:20])])
    assert stored() == before
    visit = visit_on(world, world.project_a, uploads=[upload("工地全景.jpg", jpeg_bytes(640, 480)),
                                                      upload("x.jpeg", png_bytes(), "image/jpeg")])  # fmt: skip
    first, second = visit.photos.order_by("id")
    assert (first.image_type, first.width, first.height, first.original_name) == ("jpg", 640, 480, "工地全景.jpg")
    assert second.image_type == "png"  # the content decides, not the name
    assert first.file.name.startswith("visit-photos/") and "工地" not in first.file.name
    assert second.file.name.endswith(".png")


def test_photos_are_size_limited(world, settings):
    settings.VISIT_PHOTO_MAX_BYTES = 100
    with pytest.raises(ValidationError) as exc:
        visit_on(world, world.project_a, uploads=[upload("big.png", png_bytes(200, 50), "image/png")])
    assert "超过" in exc.value.messages[0]
    assert not Photo.objects.exists()


# --- meetings and instructions ----------------------------------------------------------------------------------


def test_meeting_decisions_are_tasks(world):
    meeting = domain.create_meeting(
        by=world.dispatcher, held_on=date(2025, 3, 10), chair=world.leader, projects=[world.project_a],
        minutes="调度联东U谷、洪门传感器项目进展。",
        decisions=[
            {"project": world.project_a.pk, "text": "自然资源局3月底前完成用地报批", "lead_unit": world.resources.pk,
             "due": date(2025, 3, 31)},
            {"project": world.project_b.pk, "text": "洪门镇协调征迁", "lead_unit": world.hongmen.pk,
             "due": date(2025, 4, 15)},
        ],
        now=at(date(2025, 3, 10), 18),
    )  # fmt: skip
    assert meeting.title == "2025年3月10日周调度会"
    assert set(meeting.projects.all()) == {world.project_a, world.project_b}  # decisions' projects join
    tasks = list(Problem.objects.order_by("id"))
    assert [t.source for t in tasks] == [Source.WEEKLY_MEETING] * 2
    assert [(t.origin_type, t.origin_id) for t in tasks] == [(ORIGIN_MEETING, meeting.pk)] * 2
    assert [t.resolve_due for t in tasks] == [date(2025, 3, 31), date(2025, 4, 15)]
    assert [t.lead_unit for t in tasks] == [world.resources, world.hongmen]
    assert all(t.status == Status.ASSIGNED for t in tasks)
    with pytest.raises(ValidationError):
        domain.create_meeting(by=world.dispatcher, held_on=date(2025, 3, 10), chair=world.officer,
                              now=at(date(2025, 3, 10)))  # fmt: skip


def test_an_instruction_gives_one_task_per_project(world):
    instruction = domain.create_instruction(
        by=world.leader, given_on=date(2025, 3, 3), text="加快推进，确保4月开工。",
        projects=[world.project_a, world.project_b], lead_unit=world.housing, due_on=date(2025, 3, 28),
        now=at(date(2025, 3, 3)),
    )  # fmt: skip
    assert instruction.leader == world.leader
    tasks = list(Problem.objects.order_by("project_id"))
    assert len(tasks) == 2 and {t.project for t in tasks} == {world.project_a, world.project_b}
    for task in tasks:
        assert (task.source, task.origin_type, task.origin_id) == (Source.LEADER_INSTRUCTION, ORIGIN_INSTRUCTION,
                                                                    instruction.pk)  # fmt: skip
        assert task.responsible_leader == world.leader and task.resolve_due == date(2025, 3, 28)
        assert task.title.startswith("leader批示：加快推进")
    other = make_user("secretary", world.leadership, Role.LEADER)
    with pytest.raises(ValidationError) as exc:
        domain.create_instruction(by=world.leader, leader=other, given_on=date(2025, 3, 3), text="x",
                                  projects=[world.project_a], lead_unit=world.housing, due_on=date(2025, 3, 28),
                                  now=at(date(2025, 3, 3)))  # fmt: skip
    assert "leader" in exc.value.message_dict
    # A dispatcher registers any leader's instruction.
    domain.create_instruction(by=world.dispatcher, leader=other, given_on=date(2025, 3, 3), text="x",
                              projects=[world.project_a], lead_unit=world.housing, due_on=date(2025, 3, 28),
                              now=at(date(2025, 3, 3)))  # fmt: skip
    with pytest.raises(ValidationError) as exc:
        domain.create_instruction(by=world.dispatcher, leader=other, given_on=date(2025, 3, 3), text="x",
                                  projects=[world.project_a], lead_unit=world.housing, due_on=date(2025, 3, 1),
                                  now=at(date(2025, 3, 3)))  # fmt: skip
    assert "due_on" in exc.value.message_dict


# --- pages: the permission matrix --------------------------------------------------------------------------------


def today_visit(w, project) -> SiteVisit:
    return domain.create_site_visit(
        by=w.dispatcher, visited_on=timezone.localdate(), place="现场", leaders=[w.leader], projects=[project],
        uploads=[upload("p.png", png_bytes(), "image/png")],
    )  # fmt: skip


def read_status(persona: str, key: str) -> int:
    if persona in ADMINS:
        return 403
    return 200 if key in SEES[persona] else 404


@pytest.mark.parametrize("persona", PERSONAS)
def test_visit_pages_follow_the_scope(client, world, persona):
    visits = {key: today_visit(world, getattr(world, key)) for key in ("project_a", "project_b")}
    meeting = domain.create_meeting(by=world.dispatcher, held_on=timezone.localdate(), chair=world.leader,
                                    projects=[world.project_a])  # fmt: skip
    instruction = domain.create_instruction(by=world.leader, given_on=timezone.localdate(), text="抓紧推进",
                                            projects=[world.project_b], lead_unit=world.hongmen,
                                            due_on=timezone.localdate() + datetime.timedelta(days=20))  # fmt: skip
    client.force_login(getattr(world, persona))
    for name in ("visit-list", "meeting-list", "instruction-list"):
        r = client.get(reverse(name))
        assert r.status_code == (403 if persona in ADMINS else 200), (persona, name)
    r = client.get(reverse("visit-list"))
    if persona not in ADMINS:
        body = r.content.decode()
        for key, visit in visits.items():
            assert (reverse("visit-detail", args=[visit.pk]) in body) == (key in SEES[persona]), (persona, key)
        assert ("登记现场办公" in body) == (persona in RECORDERS)
    for key, visit in visits.items():
        assert client.get(reverse("visit-detail", args=[visit.pk])).status_code == read_status(persona, key)
        photo = visit.photos.get()
        r = client.get(reverse("visit-photo", args=[photo.pk]))
        assert r.status_code == read_status(persona, key), (persona, key)
        if r.status_code == 200:
            assert r["Content-Type"] == "image/png" and r["X-Content-Type-Options"] == "nosniff"
            assert b"".join(r.streaming_content) == png_bytes()
    assert client.get(reverse("meeting-detail", args=[meeting.pk])).status_code == read_status(persona, "project_a")
    r = client.get(reverse("instruction-detail", args=[instruction.pk]))
    assert r.status_code == read_status(persona, "project_b")
    for name in ("visit-create", "meeting-create", "instruction-create"):
        r = client.get(reverse(name))
        assert r.status_code == (200 if persona in RECORDERS else 403), (persona, name)


def post_data(world, **changes) -> dict:
    due = (timezone.localdate() + datetime.timedelta(days=14)).isoformat()
    data = {
        "visited_on": timezone.localdate().isoformat(), "place": "联东U谷工地", "leaders": [str(world.leader.pk)],
        "projects": [str(world.project_a.pk)], "attendees": "区城建局、东街街道", "summary": "现场查看施工进度。",
        "demands-TOTAL_FORMS": "2", "demands-INITIAL_FORMS": "0", "demands-MIN_NUM_FORMS": "0",
        "demands-MAX_NUM_FORMS": "10",
        "demands-0-project": str(world.project_a.pk), "demands-0-category": "utilities",
        "demands-0-title": "用电增容", "demands-0-description": "", "demands-0-severity": "ordinary",
        "demands-1-project": "", "demands-1-category": "other", "demands-1-title": "", "demands-1-description": "",
        "demands-1-severity": "ordinary",
        "decisions-TOTAL_FORMS": "1", "decisions-INITIAL_FORMS": "0", "decisions-MIN_NUM_FORMS": "0",
        "decisions-MAX_NUM_FORMS": "10",
        "decisions-0-project": str(world.project_a.pk), "decisions-0-text": "城建局协调施工便道",
        "decisions-0-lead_unit": str(world.housing.pk), "decisions-0-due": due,
    }  # fmt: skip
    data.update(changes)
    return data


@pytest.mark.parametrize("persona", PERSONAS)
def test_creating_a_visit_on_the_page_follows_roles(client, world, persona):
    client.force_login(getattr(world, persona))
    before = stored()
    r = client.post(reverse("visit-create"), post_data(world, photos=upload("现场.png", png_bytes(), "image/png")))
    if persona not in RECORDERS:
        assert r.status_code == 403
        assert stored() == before
        return
    visit = SiteVisit.objects.get()
    assert r.status_code == 302 and r["Location"] == reverse("visit-detail", args=[visit.pk])
    assert visit.created_by == getattr(world, persona) and visit.place == "联东U谷工地"
    assert visit.photos.count() == 1
    demand = Problem.objects.get(origin_link__kind=OriginLink.Kind.DEMAND)
    task = Problem.objects.get(origin_link__kind=OriginLink.Kind.DECISION)
    assert demand.status == Status.NEW and demand.title == "用电增容"
    assert task.status == Status.ASSIGNED and task.lead_unit == world.housing
    assert task.resolve_due == timezone.localdate() + datetime.timedelta(days=14)
    assert AuditRecord.objects.filter(object_type="sitevisit", channel="web").exists()
    body = client.get(r["Location"]).content.decode()
    assert "用电增容" in body and "城建局协调施工便道" in body and "待交办" in body


def test_page_errors_land_on_the_row_and_nothing_is_saved(client, world):
    client.force_login(world.dispatcher)
    past = (timezone.localdate() - datetime.timedelta(days=1)).isoformat()
    r = client.post(reverse("visit-create"), post_data(world, **{"decisions-0-due": past}))
    assert r.status_code == 400
    body = r.content.decode()
    assert "办结期限不能早于" in body and 'aria-invalid="true"' in body
    assert stored() == (0, 0, 0, 0, 0, 0)
    r = client.post(reverse("visit-create"), post_data(world, photos=upload("a.jpg", b"GIF89a....")))
    assert r.status_code == 400 and "不是有效的 JPG 或 PNG 图片" in r.content.decode()
    assert stored() == (0, 0, 0, 0, 0, 0)
    r = client.post(reverse("visit-create"), post_data(world, **{"decisions-TOTAL_FORMS": "abc"}))
    assert r.status_code == 400 and stored() == (0, 0, 0, 0, 0, 0)
    r = client.post(reverse("visit-create"), post_data(world, place="工地\x00", **{"demands-0-title": "a\x00"}))
    assert r.status_code == 400 and stored() == (0, 0, 0, 0, 0, 0)


def test_the_visit_form_is_phone_friendly_and_without_inline_scripts(client, world):
    client.force_login(world.leader)
    r = client.get(reverse("visit-create"), {"project": world.project_a.pk})
    body = r.content.decode()
    assert 'name="viewport" content="width=device-width, initial-scale=1"' in body
    assert 'type="file"' in body and "multiple" in body and 'accept="image/jpeg,image/png' in body
    assert 'type="date"' in body and "<script>" not in body
    assert re.search(rf'name="leaders" value="{world.leader.pk}"[^>]*checked', body)  # the leader leads by default
    assert re.search(rf'<option value="{world.project_a.pk}" selected>', body)  # ?project= preselects it


@pytest.mark.parametrize("persona", PERSONAS)
def test_adding_to_a_visit_follows_roles(client, world, persona):
    visit = today_visit(world, world.project_a)
    client.force_login(getattr(world, persona))
    before = stored()
    due = (timezone.localdate() + datetime.timedelta(days=7)).isoformat()
    r1 = client.post(
        reverse("visit-add-demand", args=[visit.pk]),
        {"demand-project": world.project_a.pk, "demand-title": "补充诉求", "demand-category": "land"},
    )
    r2 = client.post(reverse("visit-add-decision", args=[visit.pk]),
                     {"decision-project": world.project_a.pk, "decision-text": "补充事项",
                      "decision-lead_unit": world.housing.pk, "decision-due": due})  # fmt: skip
    r3 = client.post(reverse("visit-add-photos", args=[visit.pk]), {"photos": upload("b.jpg", jpeg_bytes())})
    expected = 302 if persona in RECORDERS else read_status(persona, "project_a")
    if expected == 200:
        expected = 403  # sees it, may not record
    assert (r1.status_code, r2.status_code, r3.status_code) == (expected,) * 3, persona
    if expected == 302:
        assert stored()[3:] == (before[3] + 2, before[4] + 2, before[5] + 1)
    else:
        assert stored() == before


# --- the API -----------------------------------------------------------------------------------------------------


def api(client, user):
    raw, _token = issue_token(user, name="test")
    headers = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}

    class Api:
        def get(self, path, params=None):
            return client.get("/api/v1" + path, params or {}, **headers)

        def post(self, path, body):
            return client.post("/api/v1" + path, json.dumps(body), content_type="application/json", **headers)

    return Api()


def api_body(world, **changes) -> dict:
    body = {
        "visited_on": timezone.localdate().isoformat(), "place": "洪门镇传感器产业园", "leader_ids": [world.leader.pk],
        "project_ids": [world.project_b.pk], "summary": "现场协调",
        "demands": [{"project_id": world.project_b.pk, "title": "希望协调天然气接入", "category": "utilities"}],
        "decisions": [{"project_id": world.project_b.pk, "text": "洪门镇两周内完成征迁扫尾",
                       "lead_unit_id": world.hongmen.pk,
                       "due": (timezone.localdate() + datetime.timedelta(days=14)).isoformat()}],
    }  # fmt: skip
    body.update(changes)
    return body


@pytest.mark.parametrize("persona", PERSONAS)
def test_api_visits_follow_the_scope_and_roles(client, world, persona):
    visit_a = today_visit(world, world.project_a)
    user = getattr(world, persona)
    r = api(client, user).get("/visits")
    assert r.status_code == 200
    ids = [item["id"] for item in r.json()["items"]]
    assert (visit_a.pk in ids) == ("project_a" in SEES[persona])
    assert api(client, user).get(f"/visits/{visit_a.pk}").status_code == (200 if "project_a" in SEES[persona] else 404)
    before = stored()
    r = api(client, user).post("/visits", api_body(world))
    if persona in RECORDERS:
        assert r.status_code == 201, r.content
        data = r.json()
        assert data["place"] == "洪门镇传感器产业园" and data["project_ids"] == [world.project_b.pk]
        assert [d["status"] for d in data["demands"]] == ["new"]
        assert [d["status"] for d in data["decisions"]] == ["assigned"]
        assert data["decisions"][0]["resolve_due"] == (timezone.localdate() + datetime.timedelta(days=14)).isoformat()
        assert AuditRecord.objects.filter(object_type="sitevisit", channel="api").exists()
    else:
        assert r.status_code == 403
        assert stored() == before


def test_api_bad_input_names_the_row_and_saves_nothing(client, world):
    body = api_body(world)
    body["decisions"][0]["due"] = "2000-01-01"
    before = stored()
    r = api(client, world.dispatcher).post("/visits", body)
    assert r.status_code == 422
    locs = [item["loc"] for item in r.json()["detail"]]
    assert ["body", "decisions", 0, "due"] in locs
    body = api_body(world, demands=[{"project_id": 99999, "title": "x"}])
    r = api(client, world.dispatcher).post("/visits", body)
    assert r.status_code == 422 and ["body", "demands", 0, "project_id"] in [i["loc"] for i in r.json()["detail"]]
    r = api(client, world.dispatcher).post("/visits", api_body(world, colour="red"))
    assert r.status_code == 422
    r = api(client, world.dispatcher).post("/visits", api_body(world, place="工地\x00"))
    assert r.status_code == 422 and ["body", "place"] in [i["loc"] for i in r.json()["detail"]]
    assert stored() == before
    r = api(client, world.dispatcher).get("/visits", {"limit": "0"})
    assert r.status_code == 422


def test_the_project_filter_shows_only_projects_in_scope(client, world):
    visit_b = today_visit(world, world.project_b)
    client.force_login(world.town_officer)
    for name in ("visit-list", "meeting-list", "instruction-list"):
        body = client.get(reverse(name), {"project": world.project_b.pk}).content.decode()
        assert world.project_b.name not in body, name
        assert client.get(reverse(name), {"project": "99999999999999999999"}).status_code == 200
    client.force_login(world.other_town_officer)
    body = client.get(reverse("visit-list"), {"project": world.project_b.pk}).content.decode()
    assert world.project_b.name in body and reverse("visit-detail", args=[visit_b.pk]) in body


def test_a_problem_links_back_to_where_it_came_from(world):
    from keyprojects.visits.origins import LABELS, origin_url

    visit = visit_on(world, world.project_a, demands=[demand(world)])
    problem = Problem.objects.get()
    assert origin_url(problem.origin_type, problem.origin_id) == reverse("visit-detail", args=[visit.pk])
    assert LABELS[problem.origin_type] == "现场办公"
    assert origin_url("", None) is None and origin_url("other", 1) is None
