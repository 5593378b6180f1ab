"""Service officers (首席服务员): pairing rules, the visit log, relayed demands, policy pushes, the monthly
figures against a hand-computed fixture, the "no visit this month" list, pages, API and query counts.

Domain calls pass `now` (March 2025: no holiday, working days are Monday–Friday); pages run today.
"""

from __future__ import annotations

import datetime
import json
from datetime import date
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from keyprojects.api.auth import issue_token
from keyprojects.audit.models import AuditRecord
from keyprojects.org.models import Role
from keyprojects.problems import domain as problems
from keyprojects.problems.models import Category, Problem, Rating, Source, Status
from keyprojects.projects.access import visible_projects
from keyprojects.projects.models import Level, Project
from keyprojects.visits import domain
from keyprojects.visits.figures import Month, officer_figures
from keyprojects.visits.models import (
    ORIGIN_OFFICER_VISIT,
    OfficerPairing,
    OfficerVisit,
    OriginLink,
    PolicyPush,
    ServiceRole,
)
from keyprojects.workcal import calendar as wc
from tests.conftest import PERSONAS, SEES, make_user

ADMINS = [p for p in PERSONAS if not SEES[p]]


def at(day: date, hour: int = 9) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour)))


@pytest.fixture(autouse=True)
def _fresh_caches():
    wc.clear_local_cache()
    cache.clear()
    yield
    wc.clear_local_cache()


def roles() -> list[ServiceRole]:
    return list(ServiceRole.objects.all())


def make_key(project: Project, level: str = Level.CITY) -> Project:
    Project.objects.filter(pk=project.pk).update(level=level)
    project.refresh_from_db()
    return project


def pair(w, officer, project, *, start: date = date(2025, 1, 2), **kw) -> OfficerPairing:
    return domain.pair_officer(by=w.dispatcher, officer=officer, project=project, roles=roles(), started_on=start,
                               now=at(start), **kw)  # fmt: skip


@pytest.fixture
def paired(world):
    """project_a becomes 市重点 and `officer` is paired with it since 2025-01-02."""
    make_key(world.project_a)
    world.pairing = pair(world, world.officer, world.project_a)
    return world


def test_the_four_roles_are_configured_by_default(db):
    assert [r.name for r in ServiceRole.objects.order_by("position")] == [
        "建设情况调研员", "惠企政策宣传员", "涉政事务协调员", "行政执法监测员",
    ]  # fmt: skip


# --- pairing -----------------------------------------------------------------------------------------------------


def test_pairing_keeps_the_project_in_sync_and_the_scope_follows(world):
    project = make_key(world.project_b, Level.PROVINCE)
    newcomer = make_user("newcomer", world.center, Role.SERVICE_OFFICER)
    assert not visible_projects(newcomer).filter(pk=project.pk).exists()
    pairing = pair(world, newcomer, project)
    project.refresh_from_db()
    assert project.service_officer == newcomer and pairing.ended_on is None
    assert set(pairing.roles.values_list("name", flat=True)) == {r.name for r in roles()}
    assert visible_projects(newcomer).filter(pk=project.pk).exists()
    assert AuditRecord.objects.filter(object_type="officerpairing", action="create", project_id=project.pk).exists()
    update = AuditRecord.objects.filter(object_type="project", object_id=str(project.pk), action="update").last()
    assert update.after == {"service_officer": "newcomer"}
    domain.end_pairing(pairing, by=world.dispatcher, ended_on=date(2025, 3, 31), now=at(date(2025, 4, 1)))
    project.refresh_from_db()
    assert project.service_officer is None
    assert not visible_projects(newcomer).filter(pk=project.pk).exists()
    # Now the project can be paired again.
    again = pair(world, world.officer, project, start=date(2025, 4, 1))
    project.refresh_from_db()
    assert project.service_officer == world.officer and again.is_active_on(date(2025, 4, 1))


def test_a_second_active_pairing_is_refused(paired):
    w = paired
    other = make_user("other_officer", w.center, Role.SERVICE_OFFICER)
    before = (OfficerPairing.objects.count(), AuditRecord.objects.count())
    with pytest.raises(ValidationError) as exc:
        pair(w, other, w.project_a, start=date(2025, 3, 1))
    message = exc.value.message_dict["project"][0]
    assert "该项目已有首席服务员“officer”（2025-01-02 起结对）" in message and "请先结束现有结对" in message
    # A period overlapping an ended pairing is refused as well; a later one is not.
    domain.end_pairing(w.pairing, by=w.dispatcher, ended_on=date(2025, 2, 28), now=at(date(2025, 3, 3)))
    with pytest.raises(ValidationError):
        pair(w, other, w.project_a, start=date(2025, 2, 1))
    assert (OfficerPairing.objects.count(), w.project_a.officer_pairings.filter(officer=other).exists()) == (1, False)
    pair(w, other, w.project_a, start=date(2025, 3, 3))
    assert OfficerPairing.objects.count() == before[0] + 1


def test_a_district_project_cannot_be_paired(world):
    before = (OfficerPairing.objects.count(), AuditRecord.objects.count())
    with pytest.raises(ValidationError) as exc:
        pair(world, world.officer, world.project_b)
    assert exc.value.message_dict["project"] == [
        "只能为省重点、市重点项目结对首席服务员（“洪门镇智能传感器产业园”为区重点项目）。"
    ]
    assert (OfficerPairing.objects.count(), AuditRecord.objects.count()) == before


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"officer": "leader"}, "officer"),
        ({"roles": []}, "roles"),
        ({"started_on": date(2025, 1, 3)}, "started_on"),  # after "today"
        ({"ended_on": date(2025, 1, 1)}, "ended_on"),
    ],
)
def test_bad_pairings_are_refused(world, changes, field):
    make_key(world.project_a)
    kwargs = {"by": world.dispatcher, "officer": world.officer, "project": world.project_a, "roles": roles(),
              "started_on": date(2025, 1, 2), "now": at(date(2025, 1, 2))}  # fmt: skip
    kwargs.update(changes)
    if kwargs["officer"] == "leader":
        kwargs["officer"] = world.leader
    with pytest.raises(ValidationError) as exc:
        domain.pair_officer(**kwargs)
    assert field in exc.value.message_dict
    assert not OfficerPairing.objects.exists()


@pytest.mark.parametrize("persona", [p for p in PERSONAS if p != "dispatcher"])
def test_only_dispatchers_pair_officers(world, persona):
    make_key(world.project_a)
    with pytest.raises(PermissionDenied):
        domain.pair_officer(by=getattr(world, persona), officer=world.officer, project=world.project_a,
                            roles=roles(), started_on=date(2025, 1, 2), now=at(date(2025, 1, 2)))  # fmt: skip
    assert not OfficerPairing.objects.exists()


# --- the log -------------------------------------------------------------------------------------------------------


def test_an_officer_logs_a_visit_and_relays_a_demand_in_one_step(paired):
    w = paired
    visit = domain.log_officer_visit(
        by=w.officer, project=w.project_a, visited_on=date(2025, 3, 3), kind=OfficerVisit.Kind.ON_SITE,
        content="了解施工进度，企业反映用电问题。",
        demand={"title": "施工用电增容迟迟未批", "category": Category.UTILITIES}, now=at(date(2025, 3, 3), 16),
    )  # fmt: skip
    problem = Problem.objects.get()
    assert (problem.source, problem.raised_by, problem.status) == (Source.SERVICE_OFFICER, w.officer, Status.NEW)
    assert (problem.origin_type, problem.origin_id) == (ORIGIN_OFFICER_VISIT, visit.pk)
    assert OriginLink.objects.get().officer_visit == visit
    assert AuditRecord.objects.filter(object_type="officervisit", object_id=str(visit.pk)).exists()


def test_an_officer_logs_only_for_their_own_pairing_and_dates(paired):
    w = paired
    cases = [
        dict(project=w.project_b, visited_on=date(2025, 3, 3)),  # not paired (and not even visible)
        dict(project=w.project_a, visited_on=date(2024, 12, 31)),  # before the pairing
        dict(project=w.project_a, visited_on=date(2025, 3, 4)),  # after "today"
    ]
    for case in cases:
        with pytest.raises(ValidationError):
            domain.log_officer_visit(by=w.officer, kind="on_site", content="走访", now=at(date(2025, 3, 3)), **case)
        with pytest.raises(ValidationError):
            domain.push_policy(by=w.officer, project=case["project"], pushed_on=case["visited_on"], title="政策",
                               now=at(date(2025, 3, 3)))  # fmt: skip
    with pytest.raises(PermissionDenied):
        domain.log_officer_visit(by=w.dispatcher, project=w.project_a, visited_on=date(2025, 3, 3), kind="phone",
                                 content="电话", now=at(date(2025, 3, 3)))  # fmt: skip
    assert not OfficerVisit.objects.exists() and not PolicyPush.objects.exists()


# --- figures ------------------------------------------------------------------------------------------------------


def relay(w, day: date, title: str) -> Problem:
    return problems.raise_problem(by=w.officer, project=w.project_a, title=title, category=Category.POLICY,
                                  source=Source.SERVICE_OFFICER, now=at(day))  # fmt: skip


def handle(w, problem: Problem, day: date, resolve_on: date | None) -> Problem:
    problems.assign(problem, by=w.dispatcher, lead_unit=w.dongjie, now=at(day, 10))
    if resolve_on is not None:
        problems.deploy(problem, by=w.town_officer, now=at(day, 11))
        problems.resolve(problem, by=w.town_officer, evidence="已办结", now=at(resolve_on, 15))
    problem.refresh_from_db()
    return problem


@pytest.fixture
def march(paired):
    """The hand-computed month (March 2025) of `officer`:

    visits: 3/3 on site, 3/12 phone, 3/31 on site (and 2/28, outside the month) → 3 visits, 2 on site, 1 phone;
    demands relayed in March (P5, received 2/27, is outside):
      P1 3/3, resolved 3/5 (due 3/12: on time), rated 满意, closed;
      P2 3/4, resolved 3/20 (due 3/13: late), rated 基本满意;
      P3 3/10, resolved 3/11 (on time), rated 不满意 → reopened (办理中, not resolved any more);
      P4 3/12, not assigned;
    → relayed 4, resolved 2 (P1, P2), on time 1 (P1), rated 3, satisfied 2;
      办结率 2/4 = 50.0 %, 按期办结率 1/2 = 50.0 %, 满意率 2/3 = 66.7 %; policy pushes 1 (3/20).
    """
    w = paired
    for day, kind in [(date(2025, 2, 28), "on_site"), (date(2025, 3, 3), "on_site"), (date(2025, 3, 12), "phone"),
                      (date(2025, 3, 31), "on_site")]:  # fmt: skip
        domain.log_officer_visit(by=w.officer, project=w.project_a, visited_on=day, kind=kind, content="走访",
                                 now=at(day, 18))  # fmt: skip
    p1 = handle(w, relay(w, date(2025, 3, 3), "P1"), date(2025, 3, 3), date(2025, 3, 5))
    problems.rate(p1, by=w.enterprise, rating=Rating.SATISFIED, now=at(date(2025, 3, 6)))
    problems.close(p1, by=w.dispatcher, now=at(date(2025, 3, 7)))
    p2 = handle(w, relay(w, date(2025, 3, 4), "P2"), date(2025, 3, 4), date(2025, 3, 20))
    problems.rate(p2, by=w.enterprise, rating=Rating.BASIC, now=at(date(2025, 3, 21)))
    p3 = handle(w, relay(w, date(2025, 3, 10), "P3"), date(2025, 3, 10), date(2025, 3, 11))
    problems.rate(p3, by=w.enterprise, rating=Rating.DISSATISFIED, comment="没有解决", now=at(date(2025, 3, 12)))
    relay(w, date(2025, 3, 12), "P4")
    handle(w, relay(w, date(2025, 2, 27), "P5"), date(2025, 2, 27), date(2025, 2, 28))
    domain.push_policy(by=w.officer, project=w.project_a, pushed_on=date(2025, 3, 20), title="新乡市稳增长若干政策措施",
                       now=at(date(2025, 3, 20)))  # fmt: skip
    domain.push_policy(by=w.officer, project=w.project_a, pushed_on=date(2025, 4, 1), title="四月政策",
                       now=at(date(2025, 4, 1)))  # fmt: skip
    return w


def test_officer_figures_match_the_hand_computed_month(march):
    w = march
    p = {x.title: x for x in Problem.objects.all()}
    assert (p["P1"].status, p["P1"].resolved_on_time) == (Status.CLOSED, True)
    assert (p["P2"].status, p["P2"].resolved_on_time, p["P2"].resolve_due) == (Status.RATED, False, date(2025, 3, 13))
    assert (p["P3"].status, p["P3"].rating) == (Status.IN_PROGRESS, Rating.DISSATISFIED)
    fig = officer_figures([w.officer.pk], Month(2025, 3))[w.officer.pk]
    assert (fig.visits, fig.on_site, fig.by_phone) == (3, 2, 1)
    assert (fig.relayed, fig.resolved, fig.on_time, fig.rated, fig.satisfied, fig.pushes) == (4, 2, 1, 3, 2, 1)
    assert (fig.closure_rate, fig.on_time_rate, fig.satisfaction_rate) == (Decimal("50.0"), Decimal("50.0"),
                                                                             Decimal("66.7"))  # fmt: skip
    feb = officer_figures([w.officer.pk], Month(2025, 2))[w.officer.pk]
    assert (feb.visits, feb.relayed, feb.resolved, feb.on_time, feb.rated, feb.pushes) == (1, 1, 1, 1, 0, 0)
    assert feb.satisfaction_rate is None
    empty = officer_figures([w.officer.pk], Month(2025, 5))[w.officer.pk]
    assert (empty.visits, empty.relayed, empty.closure_rate) == (0, 0, None)


def test_the_officer_list_shows_the_figures_and_who_made_no_visit(client, march):
    w = march
    idle = make_user("idle_officer", w.center, Role.SERVICE_OFFICER)
    make_key(w.project_b, Level.PROVINCE)
    pair(w, idle, w.project_b, start=date(2025, 1, 2))
    unpaired = make_user("unpaired_officer", w.center, Role.SERVICE_OFFICER)
    client.force_login(w.dispatcher)
    r = client.get(reverse("officer-list"), {"month": "2025-03"})
    assert r.status_code == 200
    ctx = r.context
    assert [o.pk for o in ctx["idle"]] == [idle.pk]  # paired, no visit; the unpaired officer is not expected to visit
    assert unpaired.pk in [o.pk for o in ctx["officers"]]
    body = r.content.decode()
    assert "2025年3月" in body and "50.0%" in body and "66.7%" in body
    idle_section = body[body.index("kp-idle") : body.index("</section>", body.index("kp-idle"))]
    assert "idle_officer" in idle_section and ">officer<" not in idle_section
    r = client.get(reverse("officer-list"), {"month": "2025-02"})
    assert [o.pk for o in r.context["idle"]] == [idle.pk]
    r = client.get(reverse("officer-list"), {"month": "2025-13"})
    assert r.status_code == 200 and "月份格式应为 YYYY-MM" in r.content.decode()


def test_the_officer_list_needs_a_bounded_number_of_queries(client, paired, django_assert_max_num_queries):
    w = paired
    client.force_login(w.dispatcher)
    today = timezone.localdate()

    def add_officers(n: int, start: int) -> None:
        for i in range(start, start + n):
            officer = make_user(f"fwy{i}", w.center, Role.SERVICE_OFFICER)
            project = Project.objects.create(
                name=f"项目{i}", owner_name="某公司", industry=w.industry, project_type="filing", level=Level.CITY,
                total_investment=Decimal("20000"), responsible_unit=w.dongjie,
            )  # fmt: skip
            OfficerPairing.objects.create(officer=officer, project=project, started_on=today)
            OfficerVisit.objects.create(officer=officer, project=project, visited_on=today, content="走访")

    add_officers(3, 0)
    with django_assert_max_num_queries(12) as few:
        assert client.get(reverse("officer-list")).status_code == 200
    add_officers(20, 3)
    with django_assert_max_num_queries(12) as many:
        assert client.get(reverse("officer-list")).status_code == 200
    assert len(many.captured_queries) == len(few.captured_queries)


# --- pages: the permission matrix -----------------------------------------------------------------------------------


def page_status(persona: str) -> int:
    """The officer of project_a: seen by whoever sees project_a."""
    if persona in ADMINS:
        return 403
    return 200 if "project_a" in SEES[persona] else 404


@pytest.mark.parametrize("persona", PERSONAS)
def test_officer_pages_follow_the_scope(client, paired, persona):
    w = paired
    domain.log_officer_visit(by=w.officer, project=w.project_a, visited_on=timezone.localdate(), kind="on_site",
                             content="今天实地走访了工地")  # fmt: skip
    client.force_login(getattr(w, persona))
    r = client.get(reverse("officer-list"))
    assert r.status_code == (403 if persona in ADMINS else 200)
    if r.status_code == 200:
        listed = [o.pk for o in r.context["officers"]]
        assert (w.officer.pk in listed) == ("project_a" in SEES[persona]), persona
    r = client.get(reverse("officer-detail", args=[w.officer.pk]))
    assert r.status_code == page_status(persona), persona
    if r.status_code == 200:
        body = r.content.decode()
        assert "今天实地走访了工地" in body
        assert ("登记走访" in body) == (persona == "officer")
        assert ("结束结对" in body) == (persona == "dispatcher")
    r = client.get(reverse("pairing-create"))
    assert r.status_code == (200 if persona == "dispatcher" else 403)


@pytest.mark.parametrize("persona", PERSONAS)
def test_only_the_officer_logs_visits_and_policies_on_the_page(client, paired, persona):
    w = paired
    client.force_login(getattr(w, persona))
    today = timezone.localdate().isoformat()
    r1 = client.post(reverse("officer-add-visit", args=[w.officer.pk]), {
        "visit-project": w.project_a.pk, "visit-visited_on": today, "visit-kind": "phone",
        "visit-content": "电话了解复工情况", "visit-demand_title": "希望协调员工宿舍", "visit-demand_category": "other",
    })  # fmt: skip
    r2 = client.post(reverse("officer-add-policy", args=[w.officer.pk]), {
        "push-project": w.project_a.pk, "push-pushed_on": today, "push-title": "新乡市支持先进制造业若干政策",
    })  # fmt: skip
    if persona == "officer":
        assert (r1.status_code, r2.status_code) == (302, 302)
        visit = OfficerVisit.objects.get()
        assert (visit.kind, visit.content, visit.officer) == ("phone", "电话了解复工情况", w.officer)
        assert Problem.objects.get().origin_link.officer_visit == visit
        assert PolicyPush.objects.get().title == "新乡市支持先进制造业若干政策"
    else:
        expected = 403 if page_status(persona) == 200 else page_status(persona)
        assert (r1.status_code, r2.status_code) == (expected, expected), persona
        assert not OfficerVisit.objects.exists() and not PolicyPush.objects.exists() and not Problem.objects.exists()


def test_the_officer_page_refuses_a_non_image_photo(client, paired):
    w = paired
    client.force_login(w.officer)
    from django.core.files.uploadedfile import SimpleUploadedFile

    r = client.post(reverse("officer-add-visit", args=[w.officer.pk]), {
        "visit-project": w.project_a.pk, "visit-visited_on": timezone.localdate().isoformat(), "visit-kind": "on_site",
        "visit-content": "走访", "visit-photos": SimpleUploadedFile("照片.jpg", b"MZ\x90\x00 an exe", "image/jpeg"),
    })  # fmt: skip
    assert r.status_code == 400 and "不是有效的 JPG 或 PNG 图片" in r.content.decode()
    assert not OfficerVisit.objects.exists()


def test_pairing_on_the_page(client, world):
    make_key(world.project_a)
    other = make_user("officer2", world.center, Role.SERVICE_OFFICER)
    client.force_login(world.dispatcher)
    data = {"officer": other.pk, "project": world.project_a.pk, "roles": [r.pk for r in roles()][:2],
            "started_on": timezone.localdate().isoformat()}  # fmt: skip
    r = client.post(reverse("pairing-create"), data)
    assert r.status_code == 302
    pairing = OfficerPairing.objects.get()
    world.project_a.refresh_from_db()
    assert world.project_a.service_officer == other and pairing.roles.count() == 2
    r = client.post(reverse("pairing-create"), {**data, "officer": world.officer.pk})
    assert r.status_code == 400 and "该项目已有首席服务员" in r.content.decode()
    assert OfficerPairing.objects.count() == 1
    r = client.post(reverse("pairing-create"), {**data, "project": world.project_b.pk})
    assert r.status_code == 400 and "只能为省重点、市重点项目结对" in r.content.decode()
    r = client.post(reverse("pairing-end", args=[pairing.pk]), {"end-ended_on": timezone.localdate().isoformat()})
    assert r.status_code == 302
    pairing.refresh_from_db()
    assert pairing.ended_on == timezone.localdate()
    client.force_login(world.leader)
    r = client.post(reverse("pairing-end", args=[pairing.pk]), {"end-ended_on": timezone.localdate().isoformat()})
    assert r.status_code == 403


# --- the API -----------------------------------------------------------------------------------------------------


def api_get(client, user, path: str, params=None):
    raw, _token = issue_token(user, name="test")
    return client.get("/api/v1" + path, params or {}, HTTP_AUTHORIZATION=f"Bearer {raw}")


@pytest.mark.parametrize("persona", PERSONAS)
def test_api_officers_and_pairings_follow_the_scope(client, march, persona):
    w = march
    user = getattr(w, persona)
    r = api_get(client, user, "/officers", {"month": "2025-03"})
    assert r.status_code == 200
    data = r.json()
    items = {i["id"]: i for i in data["items"]}
    assert (w.officer.pk in items) == ("project_a" in SEES[persona]), persona
    if w.officer.pk in items:
        fig = items[w.officer.pk]["figures"]
        assert (fig["visits"], fig["relayed"], fig["closure_rate"], fig["satisfaction_rate"]) == (3, 4, "50.0", "66.7")
        assert items[w.officer.pk]["project_ids"] == [w.project_a.pk] and data["without_visit"] == []
    r = api_get(client, user, "/officer-pairings", {"active": "true"})
    assert r.status_code == 200
    assert ([p["project_id"] for p in r.json()] == [w.project_a.pk]) == ("project_a" in SEES[persona])
    r = api_get(client, user, f"/officers/{w.officer.pk}", {"month": "2025-03"})
    assert r.status_code == (200 if "project_a" in SEES[persona] else 404)


def test_api_officers_bad_month(client, world):
    r = api_get(client, world.dispatcher, "/officers", {"month": "2025-13"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "month"]
    r = api_get(client, world.dispatcher, "/officers", {"month": "March"})
    assert r.status_code == 422
    assert json.loads(r.content)["detail"]
