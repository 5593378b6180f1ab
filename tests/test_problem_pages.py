"""The problem pages (问题督办), the unit figures and the notification inbox.

Every persona of the `world` fixture goes through the list, the detail page and every action form;
what is allowed changes the stored problem, writes an event and a web audit record; what is refused
is 403 (404 outside the scope) and changes nothing. Problems are set up with fixed dates (March 2025,
no holiday); the light filter is checked against `clock.problem_light` on fixed days.
"""

from __future__ import annotations

import datetime
from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from keyprojects.audit.models import AuditRecord
from keyprojects.notify import delivery
from keyprojects.notify.models import Channel, Notification, NotificationPreference
from keyprojects.org.models import Role
from keyprojects.problems import access, clock, domain
from keyprojects.problems.forms import ProblemFilter, light_q, yellow_until
from keyprojects.problems.models import (
    Category,
    EscalationLevel,
    Problem,
    ProblemEvent,
    ProblemSettings,
    Rating,
    Severity,
    SolveLevel,
    Source,
    Status,
)
from keyprojects.workcal import calendar as wc
from tests.conftest import PERSONAS, SEES, make_user

Kind = ProblemEvent.Kind
ADMINS = [p for p in PERSONAS if not SEES[p]]
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
DAY = date(2025, 3, 3)  # a Monday; March 2025 has no holiday

# Who sees a problem of project_a led by 东街街道 with 自然资源局 helping, and one of project_b.
SEES_PROBLEM = {persona: {"a" if "project_a" in keys else None, "b" if "project_b" in keys else None} - {None}
                for persona, keys in SEES.items()}  # fmt: skip


def at(day: date, hour: int = 9, minute: int = 0) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour, minute)))


@pytest.fixture(autouse=True)
def _fresh_calendar_cache():
    wc.clear_local_cache()
    yield
    wc.clear_local_cache()


def raise_one(w, *, by=None, project=None, day: date = DAY, **kw) -> Problem:
    kw.setdefault("title", "施工用电增容迟迟未批")
    kw.setdefault("category", Category.UTILITIES)
    by = by or w.enterprise
    if "source" not in kw and by.has_role(Role.DISPATCHER, Role.LEADER, Role.UNIT_OFFICER):
        kw["source"] = Source.ENTERPRISE
    return domain.raise_problem(by=by, project=project or w.project_a, now=at(day), **kw)


def advance(w, problem: Problem, target: str, *, day: date = DAY, solve_level=SolveLevel.DISTRICT) -> Problem:
    """Take a new problem of project_a forward to `target` (lead 东街街道, helper 自然资源局)."""
    steps = {
        Status.ASSIGNED: lambda p: domain.assign(p, by=w.dispatcher, lead_unit=w.dongjie, helper_units=[w.resources],
                                                 solve_level=solve_level, now=at(day, 10)),
        Status.DEPLOYED: lambda p: domain.deploy(p, by=w.town_officer, note="已部署", now=at(day, 11)),
        Status.IN_PROGRESS: lambda p: domain.add_feedback(p, by=w.town_officer, text="正在协调", now=at(day, 12)),
        Status.RESOLVED: lambda p: domain.resolve(p, by=w.town_officer, evidence="已通电", now=at(day, 13)),
        Status.RATED: lambda p: domain.rate(p, by=w.enterprise, rating=Rating.SATISFIED, now=at(day, 14)),
        Status.CLOSED: lambda p: domain.close(p, by=w.dispatcher, now=at(day, 15)),
    }  # fmt: skip
    order = [Status.NEW, *steps]
    for status in order[order.index(problem.status) + 1 : order.index(target) + 1]:
        steps[status](problem)
        problem.refresh_from_db()
    assert problem.status == target
    return problem


def state_of(problem: Problem) -> tuple:
    problem.refresh_from_db()
    audits = AuditRecord.objects.filter(object_type="problem", object_id=str(problem.pk)).count()
    return (problem.status, problem.version, problem.events.count(), audits, problem.escalation_level,
            problem.supervised, problem.rating, problem.title)  # fmt: skip


@pytest.fixture
def pw(world):
    """The test district plus a principal leader (secretary)."""
    world.secretary = make_user("secretary", world.leadership, Role.LEADER)
    return world


@pytest.fixture
def states(pw):
    """One problem of project_a in each state, and a new one of project_b."""
    pw.problems = {}
    for status in [Status.NEW, Status.ASSIGNED, Status.DEPLOYED, Status.IN_PROGRESS, Status.RESOLVED, Status.RATED,
                   Status.CLOSED]:  # fmt: skip
        problem = raise_one(pw, title=f"问题-{status}")
        pw.problems[status] = advance(pw, problem, status)
    pw.problem_b = raise_one(pw, by=pw.dispatcher, project=pw.project_b, title="洪门镇用地指标")
    return pw


def login(client, world, persona: str):
    client.force_login(getattr(world, persona))
    return client


def web_audits(problem: Problem) -> list[AuditRecord]:
    return list(AuditRecord.objects.filter(object_type="problem", object_id=str(problem.pk), channel="web"))


# ---------------------------------------------------------------------------------------------
# Anonymous users and 三员


def test_anonymous_users_are_sent_to_login(client, states):
    p = states.problems[Status.NEW]
    urls = [
        reverse("problem-list"), reverse("problem-create"), reverse("problem-figures"),
        reverse("problem-detail", args=[p.pk]), reverse("problem-edit", args=[p.pk]),
        reverse("notification-list"),
    ]  # fmt: skip
    for url in urls:
        r = client.get(url)
        assert r.status_code == 302 and r["Location"].startswith(reverse("login")), url
    r = client.post(reverse("problem-assign", args=[p.pk]), {"assign-lead_unit": states.dongjie.pk})
    assert r.status_code == 302
    p.refresh_from_db()
    assert p.status == Status.NEW


@pytest.mark.parametrize("persona", ADMINS)
def test_admin_accounts_see_no_problem_page(client, states, persona):
    login(client, states, persona)
    p = states.problems[Status.NEW]
    for url in (reverse("problem-list"), reverse("problem-create"), reverse("problem-figures"),
                reverse("problem-detail", args=[p.pk])):  # fmt: skip
        assert client.get(url).status_code == 403, url
    assert client.post(reverse("problem-assign", args=[p.pk]), {}).status_code == 403
    # Their own inbox still works.
    assert client.get(reverse("notification-list")).status_code == 200


# ---------------------------------------------------------------------------------------------
# Reading


@pytest.mark.parametrize("persona", [p for p in PERSONAS if p not in ADMINS])
def test_list_follows_the_scope(client, states, persona):
    login(client, states, persona)
    r = client.get(reverse("problem-list"))
    assert r.status_code == 200
    body = r.content.decode()
    assert r.context["nav"] == "problems"
    assert ("问题-new" in body) == ("a" in SEES_PROBLEM[persona])
    assert ("洪门镇用地指标" in body) == ("b" in SEES_PROBLEM[persona])
    assert r.context["page"].paginator.count == 7 * ("a" in SEES_PROBLEM[persona]) + ("b" in SEES_PROBLEM[persona])


@pytest.mark.parametrize("persona", PERSONAS)
def test_detail_follows_the_scope(client, states, persona):
    login(client, states, persona)
    for key, problem in (("a", states.problems[Status.ASSIGNED]), ("b", states.problem_b)):
        r = client.get(reverse("problem-detail", args=[problem.pk]))
        expected = 403 if persona in ADMINS else 200 if key in SEES_PROBLEM[persona] else 404
        assert r.status_code == expected, (persona, key)
    assert client.get("/problems/999999/").status_code in (403, 404)


def test_a_unit_outside_the_project_sees_the_problems_it_leads(client, states):
    """洪门镇 does not see project_a, but sees a problem of it that 洪门镇 leads."""
    p = raise_one(states, title="跨镇协调事项")
    domain.assign(p, by=states.dispatcher, lead_unit=states.hongmen, now=at(DAY, 10))
    login(client, states, "other_town_officer")
    body = client.get(reverse("problem-list")).content.decode()
    assert "跨镇协调事项" in body and "问题-new" not in body
    r = client.get(reverse("problem-detail", args=[p.pk]))
    assert r.status_code == 200
    assert "deploy" in r.context["forms"]
    assert not r.context["project_visible"]  # the project name is shown without a link
    assert reverse("project-detail", args=[states.project_a.pk]) not in r.content.decode()


def test_detail_shows_facts_timeline_and_history(client, states):
    p = states.problems[Status.RESOLVED]
    login(client, states, "dispatcher")
    r = client.get(reverse("problem-detail", args=[p.pk]))
    body = r.content.decode()
    assert r.context["nav"] == "problems"
    for text in ("问题-resolved", "联东U谷红旗科创园", "东街街道", "自然资源局",
                 "13710 办理时限", "2025年3月3日", "已通电", "正在协调", "已部署"):  # fmt: skip
        assert text in body, text
    rows = {row["label"]: row for row in r.context["timeline"]}
    assert rows["部署"]["due"] == date(2025, 3, 3) and rows["部署"]["lamp"].light == clock.Light.DONE
    assert rows["首次反馈"]["due"] == date(2025, 3, 6) and rows["首次反馈"]["done_at"] is not None
    assert rows["办结"]["due"] == date(2025, 3, 12) and rows["办结"]["lamp"].light == clock.Light.DONE
    kinds = [e.kind for e in r.context["events"]]
    assert kinds == [Kind.RESOLVED, Kind.FEEDBACK, Kind.DEPLOYED, Kind.ASSIGNED, Kind.RAISED]
    # A resolved problem shows whether it was resolved on time.
    assert r.context["lamp"].label == "按期办结"


def test_detail_query_count_is_bounded(client, states, django_assert_max_num_queries):
    p = states.problems[Status.IN_PROGRESS]
    for i in range(15):
        domain.add_feedback(p, by=states.town_officer, text=f"第{i}次反馈", now=at(DAY, 16))
    login(client, states, "town_officer")
    with django_assert_max_num_queries(30):
        r = client.get(reverse("problem-detail", args=[p.pk]))
    assert r.status_code == 200 and len(r.context["events"]) == 19


# ---------------------------------------------------------------------------------------------
# Which action forms each persona sees on each state

ALL_FORMS = {"assign", "deploy", "feedback", "resolve", "rate", "close", "supervise", "escalate"}
SHOWN = {
    Status.NEW: {"dispatcher": {"assign"}, "leader": {"supervise"}},
    Status.ASSIGNED: {"dispatcher": {"escalate"}, "leader": {"supervise", "escalate"}, "town_officer": {"deploy"}},
    Status.DEPLOYED: {"dispatcher": {"escalate"}, "leader": {"supervise", "escalate"},
                      "town_officer": {"feedback", "resolve"}, "dept_officer": {"feedback"}},
    Status.IN_PROGRESS: {"dispatcher": {"escalate"}, "leader": {"supervise", "escalate"},
                         "town_officer": {"feedback", "resolve"}, "dept_officer": {"feedback"}},
    Status.RESOLVED: {"enterprise": {"rate"}},
    Status.RATED: {"dispatcher": {"close"}},
    Status.CLOSED: {},
}  # fmt: skip


@pytest.mark.parametrize("status", list(SHOWN))
@pytest.mark.parametrize("persona", [p for p in PERSONAS if "a" in SEES_PROBLEM[p]])
def test_action_forms_are_shown_only_to_who_may_act(client, states, persona, status):
    login(client, states, persona)
    p = states.problems[status]
    r = client.get(reverse("problem-detail", args=[p.pk]))
    assert r.status_code == 200
    expected = SHOWN[status].get(persona, set())
    assert set(r.context["forms"]) == expected
    body = r.content.decode()
    for action in ALL_FORMS:
        assert (f'id="action-{action}"' in body) == (action in expected), action
    # Editing what was raised: the raiser (the company) or a dispatcher, before assignment.
    assert r.context["can_edit"] == (status == Status.NEW and persona in ("enterprise", "dispatcher"))


# ---------------------------------------------------------------------------------------------
# Every action, every persona

GOOD_POST = {
    "assign": lambda w: {"assign-lead_unit": w.dongjie.pk, "assign-helper_units": [w.resources.pk],
                         "assign-severity": Severity.ORDINARY, "assign-solve_level": SolveLevel.CITY,
                         "assign-note": "请东街牵头"},
    "deploy": lambda w: {"deploy-note": "已召开专题会"},
    "feedback": lambda w: {"feedback-text": "已与供电公司对接"},
    "resolve": lambda w: {"resolve-evidence": "已完成增容送电"},
    "rate": lambda w: {"rate-rating": Rating.SATISFIED, "rate-comment": "很及时"},
    "close": lambda w: {"close-note": "同意销号"},
    "supervise": lambda w: {"supervise-supervision_due": str(timezone.localdate() + datetime.timedelta(days=10)),
                            "supervise-note": "月底前解决"},
    "escalate": lambda w: {"escalate-reason": "久拖不决"},
}  # fmt: skip
# The state each action is tried on, who may do it, and what it leads to.
ACTION_CASES = {
    "assign": (Status.NEW, {"dispatcher"}, Status.ASSIGNED, Kind.ASSIGNED),
    "deploy": (Status.ASSIGNED, {"town_officer"}, Status.DEPLOYED, Kind.DEPLOYED),
    "feedback": (Status.DEPLOYED, {"town_officer", "dept_officer"}, None, Kind.FEEDBACK),
    "resolve": (Status.IN_PROGRESS, {"town_officer"}, Status.RESOLVED, Kind.RESOLVED),
    "rate": (Status.RESOLVED, {"enterprise"}, Status.RATED, Kind.RATED),
    "close": (Status.RATED, {"dispatcher"}, Status.CLOSED, Kind.CLOSED),
    "supervise": (Status.ASSIGNED, {"leader"}, Status.ASSIGNED, Kind.SUPERVISED),
    "escalate": (Status.ASSIGNED, {"dispatcher", "leader"}, Status.ASSIGNED, Kind.ESCALATED),
}


@pytest.mark.parametrize("action", list(ACTION_CASES))
@pytest.mark.parametrize("persona", PERSONAS)
def test_action_matrix(client, states, persona, action):
    status, allowed, target, kind = ACTION_CASES[action]
    p = states.problems[status]
    before = state_of(p)
    login(client, states, persona)
    r = client.post(reverse(f"problem-{action}", args=[p.pk]), GOOD_POST[action](states))
    if persona in allowed:
        assert r.status_code == 302, (r.status_code, r.content.decode()[:2000])
        assert r["Location"] == reverse("problem-detail", args=[p.pk])
        p.refresh_from_db()
        if target is not None:
            assert p.status == target
        event = p.events.order_by("-id").first()
        assert event.kind == kind and event.actor == getattr(states, persona)
        audit = web_audits(p)[-1]
        assert audit.actor == getattr(states, persona) and audit.channel == "web" and audit.request_id
        if action == "assign":
            assert p.lead_unit == states.dongjie and list(p.helper_units.all()) == [states.resources]
            assert p.solve_level == SolveLevel.CITY and p.deploy_due is not None
        if action == "escalate":
            assert p.escalation_level == EscalationLevel.CHARGE_LEADER
        if action == "supervise":
            assert p.supervised and p.supervisor == states.leader
        follow = client.get(r["Location"])
        assert any("已" in str(m) for m in follow.context["messages"])
    else:
        expected = 403 if persona in ADMINS or "a" in SEES_PROBLEM[persona] else 404
        assert r.status_code == expected, (persona, action, r.status_code)
        assert state_of(p) == before


def test_out_of_order_is_refused_with_a_clear_message_and_nothing_changes(client, states):
    login(client, states, "town_officer")
    p = states.problems[Status.ASSIGNED]
    before = state_of(p)
    r = client.post(reverse("problem-resolve", args=[p.pk]), GOOD_POST["resolve"](states))
    assert r.status_code == 409
    assert "当前状态为“已交办”，不能办结。请先部署。" in r.content.decode()
    assert state_of(p) == before
    # The dispatcher closes a problem the company has not rated yet.
    login(client, states, "dispatcher")
    p = states.problems[Status.RESOLVED]
    before = state_of(p)
    r = client.post(reverse("problem-close", args=[p.pk]), GOOD_POST["close"](states))
    assert r.status_code == 409
    assert "不能销号" in r.content.decode() and "满意" in r.content.decode()
    assert state_of(p) == before
    # Assigning twice.
    p = states.problems[Status.ASSIGNED]
    before = state_of(p)
    r = client.post(reverse("problem-assign", args=[p.pk]), GOOD_POST["assign"](states))
    assert r.status_code == 409 and "不能交办" in r.content.decode()
    assert state_of(p) == before


@pytest.mark.parametrize("persona", ["dispatcher", "leader", "town_officer", "officer"])
def test_only_the_company_rates(client, states, persona):
    p = states.problems[Status.RESOLVED]
    before = state_of(p)
    login(client, states, persona)
    r = client.post(reverse("problem-rate", args=[p.pk]), GOOD_POST["rate"](states))
    assert r.status_code == 403
    assert state_of(p) == before


def test_the_dispatcher_rates_for_a_company_without_an_account(client, states):
    states.enterprise.is_active = False
    states.enterprise.save()
    p = states.problems[Status.RESOLVED]
    login(client, states, "dispatcher")
    r = client.get(reverse("problem-detail", args=[p.pk]))
    assert "rate" in r.context["forms"]
    r = client.post(reverse("problem-rate", args=[p.pk]), GOOD_POST["rate"](states))
    assert r.status_code == 302
    p.refresh_from_db()
    assert p.status == Status.RATED
    assert web_audits(p)[-1].reason == "调度员代企业评价"


def test_dissatisfied_needs_a_reason_and_reopens(client, states):
    p = states.problems[Status.RESOLVED]
    login(client, states, "enterprise")
    before = state_of(p)
    r = client.post(reverse("problem-rate", args=[p.pk]), {"rate-rating": Rating.DISSATISFIED})
    assert r.status_code == 400
    assert r.context["forms"]["rate"].errors["comment"] == ["请填写评价意见。"]
    assert state_of(p) == before
    data = {"rate-rating": Rating.DISSATISFIED, "rate-comment": "仍未通电"}
    r = client.post(reverse("problem-rate", args=[p.pk]), data)
    assert r.status_code == 302
    p.refresh_from_db()
    assert p.status == Status.IN_PROGRESS and p.reopen_count == 1 and p.rating == Rating.DISSATISFIED


@pytest.mark.parametrize(
    "data,field,message",
    [
        ({"assign-lead_unit": "999999"}, "lead_unit", "选择一个有效的选项"),
        ({"assign-lead_unit": "abc"}, "lead_unit", "选择一个有效的选项"),
        ({"assign-helper_units": ["999999"]}, "helper_units", "选择一个有效的选项"),
        ({"assign-helper_units": ["{dongjie}"]}, "helper_units", "主办单位不能同时是协办单位。"),
        ({"assign-assigned_on": "2025-03-02"}, "assigned_on", "交办日期不能早于收到日期（2025-03-03）。"),
        ({"assign-assigned_on": "2999-01-01"}, "assigned_on", "交办日期不能晚于今天。"),
        ({"assign-assigned_on": "2025-02-30"}, "assigned_on", "输入一个有效的日期。"),
        ({"assign-severity": "huge"}, "severity", "选择一个有效的选项"),
        ({"assign-lead_unit": "{company_a}"}, "lead_unit", "选择一个有效的选项"),
    ],
)
def test_assign_bad_input_is_shown_at_the_field(client, states, data, field, message):
    p = states.problems[Status.NEW]
    before = state_of(p)
    post = {**GOOD_POST["assign"](states), **data}
    ids = {"dongjie": states.dongjie.pk, "company_a": states.company_a.pk}
    post = {k: [str(x).format(**ids) for x in v] if isinstance(v, list) else str(v).format(**ids)
            for k, v in post.items()}  # fmt: skip
    login(client, states, "dispatcher")
    r = client.post(reverse("problem-assign", args=[p.pk]), post)
    assert r.status_code == 400
    errors = r.context["forms"]["assign"].errors
    assert any(message in e for e in errors[field]), errors
    assert f'id="id_assign-{field}_errors"' in r.content.decode()
    assert state_of(p) == before


def test_supervision_due_before_received_or_today_is_refused(client, states):
    p = states.problems[Status.ASSIGNED]
    login(client, states, "leader")
    before = state_of(p)
    r = client.post(reverse("problem-supervise", args=[p.pk]), {"supervise-supervision_due": "2025-03-01"})
    assert r.status_code == 400
    assert r.context["forms"]["supervise"].errors["supervision_due"] == ["督办期限不能早于问题收到日期（2025-03-03）。"]
    assert r.context["open_action"] == "supervise"
    r = client.post(reverse("problem-supervise", args=[p.pk]), {"supervise-supervision_due": "2025-03-10"})
    assert r.status_code == 400
    assert "督办期限不能早于今天" in r.context["forms"]["supervise"].errors["supervision_due"][0]
    r = client.post(reverse("problem-supervise", args=[p.pk]), {"supervise-supervision_due": ""})
    assert r.status_code == 400
    assert state_of(p) == before


def test_escalation_to_the_city_only_for_problems_that_need_it(client, states):
    p = advance(states, raise_one(states, title="需省里协调"), Status.ASSIGNED)
    domain.escalate(p, to_level=1, by=states.dispatcher, reason="逾期", now=at(DAY, 16))
    domain.escalate(p, to_level=2, by=states.dispatcher, reason="逾期", now=at(DAY, 17))
    login(client, states, "dispatcher")
    r = client.get(reverse("problem-detail", args=[p.pk]))
    assert "escalate" not in r.context["forms"]  # a district problem stops at 主要领导
    before = state_of(p)
    r = client.post(reverse("problem-escalate", args=[p.pk]), {"escalate-reason": "再升级"})
    assert r.status_code == 400
    assert "只有需市级或省级协调的问题才能上报。" in r.content.decode()
    assert state_of(p) == before


def test_stale_version_is_a_conflict(client, states):
    p = states.problems[Status.ASSIGNED]
    login(client, states, "town_officer")
    before = state_of(p)
    r = client.post(reverse("problem-deploy", args=[p.pk]), {"deploy-note": "x", "deploy-version": p.version - 1})
    assert r.status_code == 409
    assert "该问题已被他人处理" in r.content.decode()
    assert state_of(p) == before


def test_feedback_and_resolve_with_files_and_download(client, states):
    p = states.problems[Status.DEPLOYED]
    login(client, states, "town_officer")
    upload = SimpleUploadedFile("协调会纪要.pdf", PDF, content_type="application/pdf")
    data = {"feedback-text": "已开协调会", "feedback-upload": upload}
    r = client.post(reverse("problem-feedback", args=[p.pk]), data)
    assert r.status_code == 302
    event = p.events.get(kind=Kind.FEEDBACK)
    assert event.evidence_name == "协调会纪要.pdf"
    # A file that is not what it claims is refused at the field, nothing saved.
    fake = SimpleUploadedFile("伪装.pdf", b"MZ not a pdf", content_type="application/pdf")
    before = state_of(p)
    r = client.post(reverse("problem-resolve", args=[p.pk]), {"resolve-evidence": "好了", "resolve-upload": fake})
    assert r.status_code == 400
    assert "文件内容与扩展名" in r.context["forms"]["resolve"].errors["upload"][0]
    assert state_of(p) == before
    photo = SimpleUploadedFile("现场.png", b"\x89PNG\r\n\x1a\n....", content_type="image/png")
    r = client.post(reverse("problem-resolve", args=[p.pk]), {"resolve-evidence": "已送电", "resolve-upload": photo})
    assert r.status_code == 302
    resolved = p.events.get(kind=Kind.RESOLVED)
    url = reverse("problem-evidence", args=[p.pk, event.pk])
    # Whoever sees the problem downloads; the file is never linked by its storage path.
    body = client.get(reverse("problem-detail", args=[p.pk])).content.decode()
    assert url in body and event.evidence.name not in body
    for persona, status in (("enterprise", 200), ("dept_officer", 200), ("other_town_officer", 404), ("auditor", 403)):
        login(client, states, persona)
        r = client.get(url)
        assert r.status_code == status, persona
        if status == 200:
            assert b"".join(r.streaming_content) == PDF
            assert "attachment" in r["Content-Disposition"]
    login(client, states, "dispatcher")
    assert client.get(reverse("problem-evidence", args=[p.pk, resolved.pk])).status_code == 200
    no_file = p.events.get(kind=Kind.DEPLOYED)
    assert client.get(reverse("problem-evidence", args=[p.pk, no_file.pk])).status_code == 404
    other = states.problems[Status.NEW]
    assert client.get(reverse("problem-evidence", args=[other.pk, event.pk])).status_code == 404


def test_garbage_posts_never_answer_500(client, states):
    login(client, states, "dispatcher")
    p = states.problems[Status.NEW]
    for action in ("assign", "close", "escalate", "supervise"):
        r = client.post(reverse(f"problem-{action}", args=[p.pk]),
                        {f"{action}-version": "abc", f"{action}-lead_unit": ["1", "2"], "x": "\x00"})  # fmt: skip
        assert r.status_code in (400, 403, 409), (action, r.status_code)
    assert client.get(reverse("problem-assign", args=[p.pk])).status_code == 405
    assert client.post("/problems/abc/assign/").status_code == 404
    assert state_of(p)[0] == Status.NEW


# ---------------------------------------------------------------------------------------------
# Raising a problem


@pytest.mark.parametrize(
    "persona,allowed",
    [("enterprise", True), ("officer", True), ("town_officer", True), ("dispatcher", True), ("leader", True),
     ("other_town_officer", False)],
)  # fmt: skip
def test_raise_form(client, states, persona, allowed):
    login(client, states, persona)
    r = client.get(reverse("problem-create"))
    assert r.status_code == 200
    form = r.context["form"]
    choices = set(form.fields["project"].queryset.values_list("pk", flat=True))
    assert (states.project_a.pk in choices) == allowed
    assert ("source" in form.fields) == (persona in ("town_officer", "dispatcher", "leader", "other_town_officer"))
    assert ("received_on" in form.fields) == (persona == "dispatcher")
    data = {"project": states.project_a.pk, "category": Category.LAND, "severity": Severity.MAJOR,
            "title": "土地证办理缓慢", "description": "已提交材料两个月", "source": Source.ENTERPRISE}  # fmt: skip
    count = Problem.objects.count()
    r = client.post(reverse("problem-create"), data)
    if allowed:
        assert r.status_code == 302
        problem = Problem.objects.latest("id")
        assert r["Location"] == reverse("problem-detail", args=[problem.pk])
        assert problem.raised_by == getattr(states, persona) and problem.status == Status.NEW
        assert problem.severity == Severity.MAJOR and problem.received_on == timezone.localdate()
        expected_source = {"officer": Source.SERVICE_OFFICER}.get(persona, Source.ENTERPRISE)
        assert problem.source == expected_source
        assert problem.events.get().kind == Kind.RAISED
        assert web_audits(problem)[0].action == AuditRecord.Action.CREATE
    else:
        assert r.status_code == 400
        assert "选择一个有效的选项" in r.context["form"].errors["project"][0]
        assert Problem.objects.count() == count


def test_raise_form_preselects_a_project_and_refuses_one_out_of_scope(client, states):
    login(client, states, "enterprise")
    r = client.get(reverse("problem-create") + f"?project={states.project_a.pk}")
    assert r.status_code == 200 and r.context["form"].initial["project"] == states.project_a.pk
    assert client.get(reverse("problem-create") + f"?project={states.project_b.pk}").status_code == 404
    assert client.get(reverse("problem-create") + "?project=abc").status_code == 200


def test_raise_form_bad_input_and_back_entry(client, states):
    login(client, states, "dispatcher")
    count = Problem.objects.count()
    r = client.post(reverse("problem-create"), {"project": states.project_b.pk, "category": "nonsense", "title": " ",
                                                "severity": Severity.ORDINARY})  # fmt: skip
    assert r.status_code == 400
    errors = r.context["form"].errors
    assert {"category", "title", "source"} <= set(errors)
    future = (timezone.localdate() + datetime.timedelta(days=3)).isoformat()
    data = {"project": states.project_b.pk, "category": Category.LAND, "title": "补录的问题",
            "severity": Severity.ORDINARY, "source": Source.WEEKLY_MEETING, "received_on": future}  # fmt: skip
    r = client.post(reverse("problem-create"), data)
    assert r.status_code == 400
    assert r.context["form"].errors["received_on"] == ["收到日期不能晚于今天。"]
    assert Problem.objects.count() == count
    r = client.post(reverse("problem-create"), {**data, "received_on": "2025-02-20"})
    assert r.status_code == 302
    problem = Problem.objects.latest("id")
    assert problem.received_on == date(2025, 2, 20) and problem.source == Source.WEEKLY_MEETING
    assert "补录" in web_audits(problem)[0].reason


def test_raise_with_attachment(client, states):
    login(client, states, "enterprise")
    upload = SimpleUploadedFile("现场照片.jpg", b"\xff\xd8\xff\xe0 jpeg", content_type="image/jpeg")
    data = {"project": states.project_a.pk, "category": Category.UTILITIES, "severity": Severity.ORDINARY,
            "title": "断电", "upload": upload}  # fmt: skip
    r = client.post(reverse("problem-create"), data)
    assert r.status_code == 302
    event = Problem.objects.latest("id").events.get()
    assert event.evidence_name == "现场照片.jpg"


# ---------------------------------------------------------------------------------------------
# Correcting what was raised


def test_edit_before_assignment_only(client, states):
    p = states.problems[Status.NEW]
    for persona, status in (("town_officer", 403), ("leader", 403), ("other_town_officer", 404)):
        login(client, states, persona)
        assert client.get(reverse("problem-edit", args=[p.pk])).status_code == status
        assert client.post(reverse("problem-edit", args=[p.pk]), {"title": "x"}).status_code == status
    login(client, states, "enterprise")
    data = {"category": Category.LAND, "severity": Severity.MAJOR, "title": "改后的标题", "description": "补充说明",
            "version": p.version}  # fmt: skip
    r = client.post(reverse("problem-edit", args=[p.pk]), {**data, "title": ""})
    assert r.status_code == 400 and r.context["form"].errors["title"]
    r = client.post(reverse("problem-edit", args=[p.pk]), data)
    assert r.status_code == 302
    p.refresh_from_db()
    assert (p.title, p.category, p.severity, p.version) == ("改后的标题", Category.LAND, Severity.MAJOR, 2)
    audit = web_audits(p)[-1]
    assert audit.action == AuditRecord.Action.UPDATE and audit.after["title"] == "改后的标题"
    r = client.post(reverse("problem-edit", args=[p.pk]), {**data, "title": "再改"})  # stale version
    assert r.status_code == 409
    assigned = states.problems[Status.ASSIGNED]
    r = client.post(reverse("problem-edit", args=[assigned.pk]), {**data, "version": assigned.version})
    assert r.status_code == 409 and "交办后不能再修改问题内容" in r.content.decode()


# ---------------------------------------------------------------------------------------------
# The list: filters, lights, query count


def test_list_filters(client, states):
    login(client, states, "dispatcher")

    def titles(query: str) -> set[str]:
        r = client.get(reverse("problem-list") + "?" + query)
        assert r.status_code == 200
        return {p.title for p in r.context["page"].object_list}

    assert titles(f"status={Status.RESOLVED}") == {"问题-resolved"}
    assert titles(f"project={states.project_b.pk}") == {"洪门镇用地指标"}
    assert titles(f"lead_unit={states.dongjie.pk}") == {f"问题-{s}" for s in Status if s != Status.NEW}
    assert titles("q=洪门") == {"洪门镇用地指标"}
    assert titles("q=联东U谷") == {f"问题-{s}" for s in Status}  # by project name
    # Every problem on the clock was assigned in March 2025: all overdue today.
    assert titles("overdue=on") == {"问题-assigned", "问题-deployed", "问题-in_progress"}
    assert titles("light=red") == {"问题-assigned", "问题-deployed", "问题-in_progress"}
    assert titles("supervised=on") == set()
    assert titles(f"source={Source.LEADER_INSTRUCTION}") == set()
    # Bad values are field errors, shown above the (unfiltered) results; never a 500.
    r = client.get(reverse("problem-list") + "?status=nope&lead_unit=abc&project=999999&sort=x&page=zz")
    assert r.status_code == 200
    assert set(r.context["filter_form"].errors) == {"status", "lead_unit", "project", "sort"}
    assert r.context["page"].paginator.count == 8
    assert "筛选条件有误" in r.content.decode()
    # htmx asks for the results only.
    r = client.get(reverse("problem-list") + "?status=new", HTTP_HX_REQUEST="true")
    assert r.templates[0].name == "problems/_results.html"


def test_project_filter_choices_do_not_leak_projects(client, states):
    login(client, states, "enterprise")
    r = client.get(reverse("problem-list"))
    assert "洪门镇智能传感器产业园" not in r.content.decode()
    r = client.get(reverse("problem-list") + f"?project={states.project_b.pk}")
    assert "project" in r.context["filter_form"].errors


def test_sorting_by_received_date_or_due_date(client, states):
    late = raise_one(states, by=states.dispatcher, title="较早收到", received_on=date(2025, 2, 1), day=DAY)
    advance(states, late, Status.ASSIGNED)
    login(client, states, "dispatcher")
    r = client.get(reverse("problem-list"))
    rows = [p.title for p in r.context["page"].object_list]
    assert rows[-1] == "较早收到"
    r = client.get(reverse("problem-list") + "?sort=due")
    rows = [p for p in r.context["page"].object_list]
    dues = [p.current_due for p in rows if p.current_due]
    assert dues == sorted(dues) and rows[-1].current_due is None


def test_rows_show_light_level_and_lead_unit(client, states):
    p = states.problems[Status.ASSIGNED]
    domain.escalate(p, to_level=1, by=states.dispatcher, reason="逾期", now=at(DAY, 16))
    login(client, states, "dispatcher")
    r = client.get(reverse("problem-list") + f"?status={Status.ASSIGNED}")
    row = r.context["page"].object_list[0]
    assert row.lamp.light == clock.Light.RED and row.lamp.due == date(2025, 3, 3)
    body = r.content.decode()
    assert "kp-light-red" in body and "逾期" in body and "2025年3月3日" in body
    assert "分管领导" in body and "东街街道" in body


def many_problems(w, n: int) -> None:
    """n problems in every state, spread over units, quickly (bulk insert of assigned rows)."""
    units = [w.dongjie, w.resources, w.housing, w.hongmen, w.dongjie_office]
    rows = []
    for i in range(n):
        unit = units[i % len(units)]
        assigned = i % 4 != 0
        status = [Status.ASSIGNED, Status.DEPLOYED, Status.IN_PROGRESS, Status.RESOLVED, Status.CLOSED][i % 5]
        rows.append(Problem(
            project=w.project_a if i % 2 else w.project_b, source=Source.ENTERPRISE, category=Category.OTHER,
            title=f"批量问题{i}", received_on=date(2025, 3, 1), raised_by=w.dispatcher,
            status=status if assigned else Status.NEW, lead_unit=unit if assigned else None,
            responsible_leader=w.leader if assigned and i % 3 else None,
            assigned_on=date(2025, 3, 3) if assigned else None, clock_start=date(2025, 3, 3) if assigned else None,
            current_due=date(2025, 3, 3 + i % 20) if assigned and status in (Status.ASSIGNED, Status.DEPLOYED,
                                                                                Status.IN_PROGRESS) else None,
            current_step="deploy" if assigned else "", resolve_due=date(2025, 3, 12) if assigned else None,
            resolve_workdays=(i % 9) if status in (Status.RESOLVED, Status.CLOSED) and assigned else None,
            resolved_on_time=(i % 2 == 0) if status in (Status.RESOLVED, Status.CLOSED) and assigned else None,
            rating=Rating.SATISFIED if status == Status.CLOSED and assigned else "",
            supervised=i % 7 == 0, supervision_due=date(2025, 3, 20) if i % 7 == 0 else None,
            escalation_level=i % 3 if assigned else 0,
        ))  # fmt: skip
    Problem.objects.bulk_create(rows)


def _queries(client, url: str) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize("persona", ["dispatcher", "town_officer", "enterprise"])
def test_list_query_count_does_not_grow_with_problems(client, states, persona, django_assert_max_num_queries):
    login(client, states, persona)
    many_problems(states, 15)  # every query below finds some rows
    queries = ["", "?light=red&sort=due", "?overdue=on&supervised=on&q=批量", f"?lead_unit={states.dongjie.pk}"]
    client.get(reverse("problem-list"))  # warm the calendar's year tables
    few = [_queries(client, reverse("problem-list") + q) for q in queries]
    many_problems(states, 150)
    many = [_queries(client, reverse("problem-list") + q) for q in queries]
    assert many == few, (few, many)
    for query in ("", "?page=3", "?light=red&sort=due"):
        with django_assert_max_num_queries(14):
            r = client.get(reverse("problem-list") + query)
        assert r.status_code == 200


# ---------------------------------------------------------------------------------------------
# The light filter agrees with the clock on every day


def _lights_problems(w) -> list[Problem]:
    """Problems with deadlines around 国庆 2024 and a weekend, some under named supervision."""
    problems = []
    days = [(9, 27), (9, 29), (9, 30), (10, 1), (10, 7), (10, 8), (10, 9), (10, 10), (10, 12), (10, 14)]
    dues = [date(2024, m, d) for m, d in days]
    for i, due in enumerate(dues):
        problems.append(Problem(
            project=w.project_a, source=Source.ENTERPRISE, category=Category.OTHER, title=f"灯{i}",
            received_on=date(2024, 9, 1), status=[Status.ASSIGNED, Status.DEPLOYED, Status.IN_PROGRESS][i % 3],
            current_due=due, deploy_due=due, feedback_due=due, resolve_due=due, lead_unit=w.dongjie,
            supervised=i % 4 == 0, supervision_due=dues[-1 - i] if i % 4 == 0 else None,
        ))  # fmt: skip
    problems.append(Problem(project=w.project_a, source=Source.ENTERPRISE, category=Category.OTHER, title="已办结",
                            received_on=date(2024, 9, 1), status=Status.RESOLVED, supervised=True,
                            supervision_due=date(2024, 9, 20)))  # fmt: skip
    problems.append(Problem(project=w.project_a, source=Source.ENTERPRISE, category=Category.OTHER, title="待交办",
                            received_on=date(2024, 9, 1), status=Status.NEW))  # fmt: skip
    return Problem.objects.bulk_create(problems)


@pytest.mark.parametrize("basis,warn", [("workdays", 1), ("workdays", 0), ("workdays", 3), ("calendar", 2)])
def test_light_filter_matches_the_clock(world, basis, warn):
    ProblemSettings.objects.update_or_create(pk=1, defaults={"basis": basis, "warn_before_days": warn})
    cfg = clock.load_config()
    _lights_problems(world)
    for today in (date(2024, 9, 26), date(2024, 9, 27), date(2024, 9, 29), date(2024, 9, 30), date(2024, 10, 1),
                  date(2024, 10, 6), date(2024, 10, 8), date(2024, 10, 11), date(2024, 10, 13)):  # fmt: skip
        expected = {}
        for p in Problem.objects.all():
            expected.setdefault(clock.problem_light(p, today, cfg), set()).add(p.pk)
        for light in (clock.Light.RED, clock.Light.YELLOW, clock.Light.GREEN):
            got = set(Problem.objects.filter(light_q(light, today, cfg)).values_list("pk", flat=True))
            assert got == expected.get(light, set()), (basis, warn, today, light, got, expected)
        form = ProblemFilter({"light": "yellow"}, user=world.dispatcher)
        got = set(form.filter(Problem.objects.all(), today=today, cfg=cfg).values_list("pk", flat=True))
        assert got == expected.get(clock.Light.YELLOW, set())


def test_yellow_until_around_national_day(db):
    cfg = clock.ClockConfig(warn_before_days=1)
    # On Monday 30 September 2024 the next working day is 8 October (after 国庆): a deadline on that day
    # is one working day away, hence yellow; 9 October is two away.
    assert yellow_until(date(2024, 9, 30), cfg) == date(2024, 10, 8)
    # On Friday 27 September the next working day is Sunday 29 September (调休).
    assert yellow_until(date(2024, 9, 27), cfg) == date(2024, 9, 29)
    assert yellow_until(date.max, cfg) is None


# ---------------------------------------------------------------------------------------------
# Unit figures


@pytest.mark.parametrize("persona", PERSONAS)
def test_figures_page_follows_the_scope(client, states, persona):
    login(client, states, persona)
    r = client.get(reverse("problem-figures"))
    if persona in ADMINS:
        assert r.status_code == 403
        return
    assert r.status_code == 200 and r.context["nav"] == "problems"
    units = {f.name: f for f in r.context["units"]}
    if "a" in SEES_PROBLEM[persona]:
        dongjie = units["东街街道"]
        assert dongjie.assigned == 6 and dongjie.resolved == 3
        assert str(dongjie.closure_rate) == "50.0" and str(dongjie.on_time_rate) == "100.0"
        assert str(dongjie.satisfaction_rate) == "100.0" and dongjie.overdue == 3
        assert "东街街道" in r.content.decode() and "50.0%" in r.content.decode()
        leaders = {f.name: f for f in r.context["leaders"]}
        assert leaders["leader"].assigned == 6
    else:
        assert units == {}


def test_figures_sorting_and_period(client, states, django_assert_max_num_queries):
    many_problems(states, 200)
    login(client, states, "dispatcher")
    for sort in ("name", "-name", "closure_rate", "-closure_rate", "on_time_rate", "-satisfaction_rate",
                 "average_workdays", "-overdue", "open", "bogus"):  # fmt: skip
        with django_assert_max_num_queries(14):
            r = client.get(reverse("problem-figures") + f"?sort={sort}")
        assert r.status_code == 200
        rows = r.context["units"]
        key = sort.lstrip("-") if sort != "bogus" else "closure_rate"
        values = [getattr(f, key) for f in rows if getattr(f, key) is not None]
        descending = sort.startswith("-") or sort == "bogus"
        assert values == sorted(values, reverse=descending), sort
        assert [getattr(f, key) for f in rows][len(values) :] == [None] * (len(rows) - len(values))
    r = client.get(reverse("problem-figures") + "?sort=-overdue")
    assert 'aria-sort="descending"' in r.content.decode()
    r = client.get(reverse("problem-figures") + "?received_from=2025-03-02")
    assert r.context["total"].assigned == 6  # only the fixture's problems were received after 1 March
    r = client.get(reverse("problem-figures") + "?received_from=2025-03-05&received_to=2025-03-01")
    assert r.status_code == 200 and r.context["form"].errors["received_to"]
    r = client.get(reverse("problem-figures") + "?received_from=garbage")
    assert r.status_code == 200 and r.context["form"].errors["received_from"]


def test_page_figures_fold_one_query_into_the_same_unit_leader_and_total_figures(states):
    """The page folds one (unit, leader) aggregate; it must equal the separate unit, leader and total figures."""
    from keyprojects.problems import figures

    many_problems(states, 200)
    today = date(2025, 3, 10)
    with CaptureQueriesContext(connection) as captured:
        page = figures.scope_figures(Problem.objects.all(), today=today)
    assert sum("GROUP BY" in q["sql"] for q in captured.captured_queries) == 1
    by_unit = figures.unit_figures(today=today)
    assert {f.key: f.as_dict() for f in page.units} == {k: f.as_dict() for k, f in by_unit.items()}
    assert [f.as_dict() for f in page.leaders] == [f.as_dict() for f in figures.leader_figures(today=today).values()]
    assert page.total.as_dict() == figures.total_figures(today=today).as_dict()
    assert page.total.assigned == Problem.objects.exclude(status=Status.NEW).count() > 0
    assert page.leaders and page.total.assigned > sum(f.assigned for f in page.leaders)  # some have no leader


# ---------------------------------------------------------------------------------------------
# Notifications inbox


def _notes(w):
    delivery.notify([w.town_officer, w.dispatcher], title="【交办】问题一", body="请办理", link="/problems/1/",
                    source_key="t:1")  # fmt: skip
    delivery.notify([w.town_officer], title="【逾期】问题二", link="https://evil.example/", source_key="t:2")
    delivery.notify([w.town_officer], title="【提醒】问题三", source_key="t:3")
    return {n.title: n for n in Notification.objects.filter(recipient=w.town_officer, channel=Channel.INBOX)}


def test_inbox_lists_own_messages_newest_first_with_unread_highlighted(client, states):
    notes = _notes(states)
    login(client, states, "town_officer")
    r = client.get(reverse("notification-list"))
    assert r.status_code == 200 and r.context["nav"] == "inbox"
    assert [n.title for n in r.context["page"].object_list] == ["【提醒】问题三", "【逾期】问题二", "【交办】问题一"]
    body = r.content.decode()
    assert body.count("kp-note-unread") == 3
    assert r.context["unread_notifications"] == 3
    # Opening a message marks it read and follows a local link only.
    r = client.get(reverse("notification-open", args=[notes["【交办】问题一"].pk]))
    assert r.status_code == 302 and r["Location"] == "/problems/1/"
    r = client.get(reverse("notification-open", args=[notes["【逾期】问题二"].pk]))
    assert r.status_code == 302 and r["Location"] == reverse("notification-list")
    assert delivery.unread_count(states.town_officer) == 1
    r = client.get(reverse("notification-list") + "?unread=1")
    assert [n.title for n in r.context["page"].object_list] == ["【提醒】问题三"]
    # Someone else's message is not found.
    login(client, states, "dispatcher")
    assert client.get(reverse("notification-open", args=[notes["【提醒】问题三"].pk])).status_code == 404
    assert client.post(reverse("notification-read", args=[notes["【提醒】问题三"].pk])).status_code == 404
    assert delivery.unread_count(states.town_officer) == 1


def test_mark_one_and_all_read(client, states):
    notes = _notes(states)
    login(client, states, "town_officer")
    assert client.get(reverse("notification-read", args=[notes["【提醒】问题三"].pk])).status_code == 405
    url = reverse("notification-read", args=[notes["【提醒】问题三"].pk])
    r = client.post(url, {"next": "/notifications/?unread=1"})
    assert r.status_code == 302 and r["Location"] == "/notifications/?unread=1"
    assert delivery.unread_count(states.town_officer) == 2
    r = client.post(reverse("notification-read-all"), {"next": "https://evil.example/"})
    assert r.status_code == 302 and r["Location"] == reverse("notification-list")
    assert delivery.unread_count(states.town_officer) == 0
    assert delivery.unread_count(states.dispatcher) == 1
    body = client.get(reverse("notification-list")).content.decode()
    assert "kp-note-unread" not in body


def test_preferences_are_the_users_own_and_audited(client, states):
    login(client, states, "town_officer")
    r = client.post(reverse("notification-preferences"), {"webhook_enabled": "on", "webhook_url": ""})
    assert r.status_code == 400
    assert r.context["form"].errors["webhook_url"] == ["开启群机器人通知时必须填写 Webhook 地址。"]
    r = client.post(reverse("notification-preferences"), {"webhook_enabled": "on", "webhook_url": "ftp://x"})
    assert r.status_code == 400 and "http://" in r.context["form"].errors["webhook_url"][0]
    assert not NotificationPreference.objects.exists()
    url = "https://oapi.dingtalk.example/robot/send?access_token=abc"
    r = client.post(reverse("notification-preferences"), {"webhook_enabled": "on", "webhook_url": url})
    assert r.status_code == 302
    pref = NotificationPreference.objects.get()
    assert pref.user == states.town_officer and not pref.email_enabled and pref.webhook_enabled
    assert pref.webhook_url == url
    audit = AuditRecord.objects.get(object_type="notificationpreference")
    assert audit.action == AuditRecord.Action.CREATE and audit.channel == "web" and audit.actor == states.town_officer
    r = client.post(reverse("notification-preferences"), {"email_enabled": "on", "webhook_url": url})
    pref.refresh_from_db()
    assert pref.email_enabled and not pref.webhook_enabled
    update = AuditRecord.objects.filter(object_type="notificationpreference").latest("id")
    assert update.action == AuditRecord.Action.UPDATE and set(update.after) == {"email_enabled", "webhook_enabled"}
    # The form shows the saved values; another user has their own.
    r = client.get(reverse("notification-list"))
    assert r.context["form"].instance == pref
    login(client, states, "dispatcher")
    assert client.get(reverse("notification-list")).context["form"].instance.pk is None


def test_worker_notifications_link_to_the_problem_page(client, states):
    from keyprojects.problems import worker

    p = states.problems[Status.ASSIGNED]
    worker.process_events(timezone.now())
    note = Notification.objects.filter(recipient=states.town_officer, channel=Channel.INBOX, object_id=str(p.pk))
    assert note.exists()
    login(client, states, "town_officer")
    r = client.get(reverse("notification-open", args=[note.first().pk]))
    assert r["Location"] == reverse("problem-detail", args=[p.pk])
    assert client.get(r["Location"]).status_code == 200


def test_menu_shows_problems_and_unread_badge(client, states):
    _notes(states)
    login(client, states, "town_officer")
    body = client.get(reverse("problem-list")).content.decode()
    assert 'href="/problems/"' in body and "问题督办" in body
    assert 'href="/notifications/"' in body and '<span class="badge text-bg-danger">3</span>' in body


def test_allowed_actions_agree_with_the_domain(states):
    """Every action `access.may` refuses is also refused by the domain (and the reverse, per state)."""
    for status, problem in states.problems.items():
        for persona in PERSONAS:
            user = getattr(states, persona)
            if not access.visible_problems(user).filter(pk=problem.pk).exists():
                continue
            allowed = access.allowed_actions(user, problem)
            assert allowed == SHOWN[status].get(persona, set()) | (
                {"edit"} if status == Status.NEW and persona in ("enterprise", "dispatcher") else set()
            ), (status, persona)


def test_a_leader_assigns_a_task_with_its_own_deadline(client, states):
    """A leader's instruction (领导批示) is a task: the leader may assign it, naming its 办结 deadline."""
    task = domain.raise_problem(by=states.leader, project=states.project_a, title="督促加快土地报批",
                                category=Category.LAND)  # fmt: skip
    assert task.source == Source.LEADER_INSTRUCTION
    login(client, states, "leader")
    r = client.get(reverse("problem-detail", args=[task.pk]))
    assert "assign" in r.context["forms"] and r.context["forms"]["assign"].fields["resolve_due"].required
    before = state_of(task)
    data = {"assign-lead_unit": states.resources.pk, "assign-severity": Severity.ORDINARY,
            "assign-solve_level": SolveLevel.DISTRICT}  # fmt: skip
    r = client.post(reverse("problem-assign", args=[task.pk]), data)
    assert r.status_code == 400 and r.context["forms"]["assign"].errors["resolve_due"]
    assert state_of(task) == before
    due = timezone.localdate() + datetime.timedelta(days=20)
    r = client.post(reverse("problem-assign", args=[task.pk]), {**data, "assign-resolve_due": due.isoformat()})
    assert r.status_code == 302
    task.refresh_from_db()
    assert task.status == Status.ASSIGNED and task.resolve_due == due and task.lead_unit == states.resources
    # The company's own demand stays the dispatcher's to assign.
    r = client.post(reverse("problem-assign", args=[states.problems[Status.NEW].pk]), data)
    assert r.status_code == 403
