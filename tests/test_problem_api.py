"""The problem, calendar and notification endpoints of /api/v1/.

Same conventions as tests/test_api.py: every persona against every endpoint and action, the stored
state asserted after each call, the audit trail written with channel "api", one error shape, and
Chinese messages. Calendar answers are fixed dates around 国庆 2024, 春节 2025 and the end of the
last year the calendar package covers.
"""

from __future__ import annotations

import datetime
import os
from datetime import date

import pytest
from django.core.cache import cache
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keyprojects.audit.models import AuditRecord
from keyprojects.notify import delivery
from keyprojects.notify.models import Channel, Notification
from keyprojects.org.models import User
from keyprojects.problems.models import EscalationLevel, Problem, Rating, Severity, SolveLevel, Status
from keyprojects.workcal import calendar as wc
from keyprojects.workcal.models import CalendarOverride
from tests.conftest import PERSONAS
from tests.test_api import ApiClient, api_as, errors_at, has_chinese
from tests.test_problem_pages import (
    ACTION_CASES,
    ADMINS,
    DAY,
    SEES_PROBLEM,
    advance,
    many_problems,
    raise_one,
    state_of,
)
from tests.test_problem_pages import pw as pw  # noqa: F401 (fixtures)
from tests.test_problem_pages import states as states  # noqa: F401

ITEM_FIELDS = {
    "id", "project", "project_name", "source", "source_label", "category", "category_label", "title", "description",
    "severity", "severity_label", "lead_unit", "lead_unit_name", "helper_units", "helper_unit_names", "status",
    "status_label", "received_at", "deploy_due", "feedback_due", "resolve_due", "current_step", "current_due",
    "overdue", "escalation_level", "escalation_level_label", "light", "light_label", "supervised", "supervision_due",
    "version",
}  # fmt: skip


@pytest.fixture(autouse=True)
def _clean_cache():
    cache.clear()
    wc.clear_local_cache()
    yield
    cache.clear()
    wc.clear_local_cache()


@pytest.fixture
def as_user(states, client):
    return lambda persona: api_as(client, getattr(states, persona))


def api_audits(problem: Problem) -> list[AuditRecord]:
    return list(AuditRecord.objects.filter(object_type="problem", object_id=str(problem.pk), channel="api"))


# ---------------------------------------------------------------------------------------------
# Authentication

ENDPOINTS = [
    ("GET", "/problems"), ("POST", "/problems"), ("GET", "/problems/{p}"), ("PATCH", "/problems/{p}"),
    *(("POST", f"/problems/{{p}}/{a}") for a in ACTION_CASES),
    ("GET", "/calendar/workdays?start=2024-09-30&end=2024-10-10"),
    ("GET", "/calendar/add-workdays?date=2024-09-30&days=3"),
    ("GET", "/notifications"), ("POST", "/notifications/mark-read"),
]  # fmt: skip


@pytest.mark.parametrize("method,path", ENDPOINTS)
def test_every_endpoint_needs_a_token(states, client, method, path):
    p = states.problems[Status.NEW]
    before = state_of(p)
    url = path.format(p=p.pk)
    r = ApiClient(client).call(method, url, {} if method != "GET" else None, HTTP_AUTHORIZATION="Bearer nope")
    assert r.status_code == 401 and has_chinese(r.json()["detail"])
    assert state_of(p) == before


# ---------------------------------------------------------------------------------------------
# Reading


@pytest.mark.parametrize("persona", PERSONAS)
def test_list_and_detail_follow_the_scope(states, as_user, persona):
    api = as_user(persona)
    r = api.get("/problems")
    assert r.status_code == 200
    titles = {item["title"] for item in r.json()["items"]}
    assert ("问题-new" in titles) == ("a" in SEES_PROBLEM[persona])
    assert ("洪门镇用地指标" in titles) == ("b" in SEES_PROBLEM[persona])
    assert r.json()["count"] == len(titles)
    for key, problem in (("a", states.problems[Status.DEPLOYED]), ("b", states.problem_b)):
        r = api.get(f"/problems/{problem.pk}")
        if key in SEES_PROBLEM[persona]:
            assert r.status_code == 200 and r.json()["id"] == problem.pk
        else:
            assert r.status_code == 404 and r.json() == {"detail": "问题不存在或无权查看。"}


def test_item_shape_and_values(states, as_user):
    p = states.problems[Status.DEPLOYED]
    r = as_user("dispatcher").get("/problems", params={"status": "deployed"})
    (item,) = r.json()["items"]
    assert set(item) == ITEM_FIELDS
    assert item == item | {
        "id": p.pk, "project": states.project_a.pk, "project_name": "联东U谷红旗科创园", "source": "enterprise",
        "source_label": "企业反映", "category": "utilities", "category_label": "水电气暖", "title": "问题-deployed",
        "severity": "ordinary", "severity_label": "一般问题", "lead_unit": states.dongjie.pk,
        "lead_unit_name": "东街街道", "helper_units": [states.resources.pk], "helper_unit_names": ["自然资源局"],
        "status": "deployed", "status_label": "已部署", "received_at": "2025-03-03", "deploy_due": "2025-03-03",
        "feedback_due": "2025-03-06", "resolve_due": "2025-03-12", "current_step": "feedback",
        "current_due": "2025-03-06", "overdue": True, "escalation_level": 0, "escalation_level_label": "主办单位",
        "light": "red", "light_label": "逾期", "supervised": False, "supervision_due": None, "version": p.version,
    }  # fmt: skip
    new = as_user("dispatcher").get(f"/problems/{states.problems[Status.NEW].pk}").json()
    assert new["lead_unit"] is None and new["deploy_due"] is None and new["light"] == "none"
    assert new["overdue"] is False and new["allowed_actions"] == ["assign", "edit"]


def test_detail_has_events_and_allowed_actions(states, as_user):
    p = states.problems[Status.IN_PROGRESS]
    body = as_user("town_officer").get(f"/problems/{p.pk}").json()
    assert [e["kind"] for e in body["events"]] == ["raised", "assigned", "deployed", "feedback"]
    assert body["events"][-1]["text"] == "正在协调" and body["events"][-1]["actor_name"] == "town_officer"
    assert body["allowed_actions"] == ["feedback", "resolve"]
    assert body["responsible_leader"] == states.leader.pk and body["solve_level"] == "district"
    assert as_user("dept_officer").get(f"/problems/{p.pk}").json()["allowed_actions"] == ["feedback"]


def test_detail_names_the_people_as_their_str(states, as_user):
    """The raiser, the leader and the supervisor are read as subqueries: the same names as str(user)
    (full name, else username), None when unset."""
    p = states.problems[Status.IN_PROGRESS]
    User.objects.filter(pk=p.raised_by_id).update(full_name="张提出")
    Problem.objects.filter(pk=p.pk).update(supervisor=None)
    body = as_user("dispatcher").get(f"/problems/{p.pk}").json()
    p.refresh_from_db()
    assert body["raised_by_name"] == "张提出" == str(p.raised_by)
    assert body["responsible_leader_name"] == str(p.responsible_leader) and body["responsible_leader_name"]
    assert body["supervisor"] is None and body["supervisor_name"] is None


def test_list_filters_are_the_pages(states, as_user):
    api = as_user("dispatcher")

    def titles(**params) -> set[str]:
        r = api.get("/problems", params=params)
        assert r.status_code == 200, r.content
        return {i["title"] for i in r.json()["items"]}

    assert titles(status="resolved") == {"问题-resolved"}
    assert titles(overdue="true") == {"问题-assigned", "问题-deployed", "问题-in_progress"}
    assert titles(light="red") == titles(overdue="1")
    assert titles(project=str(states.project_b.pk)) == {"洪门镇用地指标"}
    assert titles(supervised="true") == set()
    assert titles(q="洪门") == {"洪门镇用地指标"}
    r = api.get("/problems", params={"status": "nope", "lead_unit": "abc", "light": "blue", "sort": "x"})
    assert set(errors_at(r)) == {"status", "lead_unit", "light", "sort"}
    assert all(item["loc"][0] == "query" for item in r.json()["detail"])
    # A project outside the scope is an invalid filter, not an empty list that confirms it exists.
    r = as_user("enterprise").get("/problems", params={"project": str(states.project_b.pk)})
    assert "project" in errors_at(r)
    assert errors_at(api.get("/problems", params={"limit": "0"}))["limit"]


def test_list_paging_and_query_count(states, as_user, django_assert_max_num_queries):
    many_problems(states, 150)
    api = as_user("dispatcher")
    seen = []
    for offset in (0, 100):
        with django_assert_max_num_queries(12):
            r = api.get("/problems", params={"limit": "100", "offset": str(offset), "sort": "due"})
        seen += [i["id"] for i in r.json()["items"]]
        assert r.json()["count"] == 158
    assert len(seen) == len(set(seen)) == 158
    assert api.get("/problems", params={"offset": "5000"}).json()["items"] == []
    town = as_user("town_officer")  # issuing the token (an audited write) is not part of the list's budget
    with django_assert_max_num_queries(12):
        r = town.get("/problems", params={"limit": "100", "light": "yellow"})
    assert r.status_code == 200


# ---------------------------------------------------------------------------------------------
# Raising

RAISES = {"dispatcher", "leader", "town_officer", "dept_officer", "officer", "enterprise"}


@pytest.mark.parametrize("persona", PERSONAS)
def test_raise_matrix(states, as_user, persona):
    count = Problem.objects.count()
    body = {"project": states.project_a.pk, "title": "施工许可卡在图审", "category": "approval",
            "description": "图审意见反复", "severity": "major"}  # fmt: skip
    if persona in ("dispatcher", "town_officer", "dept_officer"):
        body["source"] = "enterprise"
    r = as_user(persona).post("/problems", body)
    if persona in RAISES:
        assert r.status_code == 201, r.content
        data = r.json()
        problem = Problem.objects.get(pk=data["id"])
        assert problem.raised_by == getattr(states, persona) and problem.status == Status.NEW
        assert data["received_at"] == timezone.localdate().isoformat() and data["severity"] == "major"
        expected_source = {"officer": "service_officer", "leader": "leader_instruction"}.get(persona, "enterprise")
        assert data["source"] == expected_source
        assert api_audits(problem)[0].action == AuditRecord.Action.CREATE
        assert [e["kind"] for e in data["events"]] == ["raised"]
    else:
        assert r.status_code == 422  # outside the scope: the project "does not exist" for them
        assert errors_at(r) == {"project": ["项目不存在或无权查看。"]}
        assert Problem.objects.count() == count


@pytest.mark.parametrize(
    "change,field,message",
    [
        ({"project": 999999}, "project", "项目不存在或无权查看。"),
        ({"project": "abc"}, "project", "请输入整数。"),
        ({"title": "  "}, "title", "请填写问题标题。"),
        ({"title": "长" * 201}, "title", "问题标题不能超过 200 个字。"),
        ({"category": "weather"}, "category", "无效的选项"),
        ({"severity": None}, "severity", "请输入文本。"),
        ({"source": "rumour"}, "source", "无效的选项"),
        ({"received_at": "2999-01-01"}, "received_at", "收到日期不能晚于今天。"),
        ({"received_at": "2025-02-30"}, "received_at", "请输入有效的日期"),
        ({"received_at": "1999-12-31"}, "received_at", "收到日期不合理，请核对。"),
        ({"unknown": 1}, "unknown", "不支持该字段"),
    ],
)
def test_raise_bad_input(states, as_user, change, field, message):
    count = Problem.objects.count()
    body = {"project": states.project_a.pk, "title": "用地", "category": "land", "source": "enterprise", **change}
    errors = errors_at(as_user("dispatcher").post("/problems", body))
    assert any(message in m for m in errors[field]), errors
    assert Problem.objects.count() == count


def test_raise_back_entry_and_source_rules(states, as_user):
    body = {"project": states.project_a.pk, "title": "补录", "category": "land"}
    r = as_user("enterprise").post("/problems", {**body, "received_at": "2025-02-20"})
    assert "只有调度员可以补录" in errors_at(r)["received_at"][0]
    r = as_user("enterprise").post("/problems", {**body, "source": "leader_instruction"})
    assert "企业反映" in errors_at(r)["source"][0]
    r = as_user("dispatcher").post("/problems", body)
    assert errors_at(r) == {"source": ["请选择问题来源。"]}
    r = as_user("dispatcher").post("/problems", {**body, "source": "weekly_meeting", "received_at": "2025-02-20"})
    assert r.status_code == 201 and r.json()["received_at"] == "2025-02-20"
    assert "补录" in api_audits(Problem.objects.get(pk=r.json()["id"]))[0].reason
    r = as_user("dispatcher").post("/problems", raw="{not json")
    assert r.status_code == 400 and has_chinese(r.json()["detail"])


# ---------------------------------------------------------------------------------------------
# Correcting (PATCH)


@pytest.mark.parametrize("persona", PERSONAS)
def test_patch_matrix(states, as_user, persona):
    p = states.problems[Status.NEW]  # raised by the company
    before = state_of(p)
    r = as_user(persona).patch(f"/problems/{p.pk}", {"title": "更正后的标题", "severity": "major"})
    if persona in ("enterprise", "dispatcher"):
        assert r.status_code == 200, r.content
        assert r.json()["title"] == "更正后的标题" and r.json()["version"] == before[1] + 1
        p.refresh_from_db()
        assert p.title == "更正后的标题" and p.severity == Severity.MAJOR
        audit = api_audits(p)[-1]
        assert audit.action == AuditRecord.Action.UPDATE
        assert audit.before == {"title": "问题-new", "severity": "一般问题"}
    else:
        assert r.status_code == (404 if persona in ADMINS or "a" not in SEES_PROBLEM[persona] else 403)
        assert has_chinese(r.json()["detail"])
        assert state_of(p) == before


def test_patch_only_before_assignment_and_with_valid_values(states, as_user):
    api = as_user("dispatcher")
    p = states.problems[Status.ASSIGNED]
    before = state_of(p)
    r = api.patch(f"/problems/{p.pk}", {"title": "晚了"})
    assert r.status_code == 409
    assert r.json() == {"detail": "当前状态为“已交办”，不能修改问题内容。交办后不能再修改问题内容。"}
    assert state_of(p) == before
    p = states.problems[Status.NEW]
    before = state_of(p)
    assert "status" in errors_at(api.patch(f"/problems/{p.pk}", {"status": "closed"}))
    assert "category" in errors_at(api.patch(f"/problems/{p.pk}", {"category": "weather"}))
    assert errors_at(api.patch(f"/problems/{p.pk}", {"title": ""})) == {"title": ["请填写问题标题。"]}
    assert errors_at(api.patch(f"/problems/{p.pk}", {"title": None})) == {"title": ["不能为空。"]}
    assert api.patch(f"/problems/{p.pk}", {"title": "x", "version": p.version + 5}).status_code == 409
    assert state_of(p) == before
    # Nothing to change: 200, nothing written.
    assert api.patch(f"/problems/{p.pk}", {"title": p.title}).status_code == 200
    assert state_of(p) == before


# ---------------------------------------------------------------------------------------------
# The actions

GOOD_BODY = {
    "assign": lambda w: {"lead_unit": w.dongjie.pk, "helper_units": [w.resources.pk], "solve_level": "city",
                         "note": "请东街牵头"},
    "deploy": lambda w: {"note": "已召开专题会"},
    "feedback": lambda w: {"text": "已与供电公司对接"},
    "resolve": lambda w: {"evidence": "已完成增容送电"},
    "rate": lambda w: {"rating": "satisfied", "comment": "很及时"},
    "close": lambda w: {"note": "同意销号"},
    "supervise": lambda w: {"supervision_due": (timezone.localdate() + datetime.timedelta(days=10)).isoformat()},
    "escalate": lambda w: {"reason": "久拖不决"},
}  # fmt: skip


@pytest.mark.parametrize("action", list(ACTION_CASES))
@pytest.mark.parametrize("persona", PERSONAS)
def test_action_matrix(states, as_user, persona, action):
    status, allowed, target, kind = ACTION_CASES[action]
    p = states.problems[status]
    before = state_of(p)
    r = as_user(persona).post(f"/problems/{p.pk}/{action}", GOOD_BODY[action](states))
    if persona in allowed:
        assert r.status_code == 200, r.content
        data = r.json()
        p.refresh_from_db()
        if target is not None:
            assert p.status == target and data["status"] == target
        assert data["events"][-1]["kind"] == kind
        assert p.events.order_by("-id").first().actor == getattr(states, persona)
        audit = api_audits(p)[-1]
        assert audit.actor == getattr(states, persona) and audit.request_id
        if action == "assign":
            assert data["lead_unit"] == states.dongjie.pk and data["helper_units"] == [states.resources.pk]
            assert data["deploy_due"] is not None and p.solve_level == SolveLevel.CITY
        if action == "escalate":
            assert data["escalation_level"] == EscalationLevel.CHARGE_LEADER
    else:
        expected = 404 if persona in ADMINS or "a" not in SEES_PROBLEM[persona] else 403
        assert r.status_code == expected, (persona, action, r.content)
        assert has_chinese(r.json()["detail"])
        assert state_of(p) == before


@pytest.mark.parametrize(
    "persona,action,status,message",
    [
        ("town_officer", "resolve", Status.ASSIGNED, "当前状态为“已交办”，不能办结。请先部署。"),
        ("town_officer", "deploy", Status.DEPLOYED, "当前状态为“已部署”，不能部署。"),
        ("town_officer", "feedback", Status.RESOLVED, "当前状态为“已办结”，不能反馈办理情况。"),
        ("enterprise", "rate", Status.IN_PROGRESS, "当前状态为“办理中”，不能评价。"),
        ("dispatcher", "close", Status.RESOLVED, "须企业评价“满意”或“基本满意”后方可销号。"),
        ("dispatcher", "assign", Status.CLOSED, "当前状态为“已销号”，不能交办。"),
        ("leader", "supervise", Status.CLOSED, "当前状态为“已销号”，不能挂牌督办。"),
        ("dispatcher", "escalate", Status.NEW, "当前状态为“待交办”，不能升级督办。"),
    ],
)
def test_out_of_order_is_409_and_changes_nothing(states, as_user, persona, action, status, message):
    p = states.problems[status]
    before = state_of(p)
    r = as_user(persona).post(f"/problems/{p.pk}/{action}", GOOD_BODY[action](states))
    assert r.status_code == 409, r.content
    assert message in r.json()["detail"]
    assert state_of(p) == before


@pytest.mark.parametrize(
    "change,field,message",
    [
        ({"lead_unit": 999999}, "lead_unit", "主办单位不存在（编号 999999）。"),
        ({"lead_unit": None}, "lead_unit", "请选择主办单位。"),
        ({"helper_units": [999998]}, "helper_units", "协办单位不存在（编号 999998）。"),
        ({"helper_units": ["{dongjie}"]}, "helper_units", "主办单位不能同时是协办单位。"),
        ({"lead_unit": "{company_a}"}, "lead_unit", "主办单位不能是企业"),
        ({"responsible_leader": "{town_officer}"}, "responsible_leader", "分管领导必须是在职的领导账号"),
        ({"assigned_on": "2025-03-02"}, "assigned_on", "交办日期不能早于收到日期（2025-03-03）。"),
        ({"assigned_on": "2999-01-01"}, "assigned_on", "交办日期不能晚于今天。"),
        ({"solve_level": "country"}, "solve_level", "无效的选项"),
        ({"lead_unit": "abc"}, "lead_unit", "请输入整数。"),
        ({"resolve_due": "2025-04-01"}, "resolve_due", "只有现场办公、周调度会和领导批示形成的任务可以自定办结期限。"),
    ],
)
def test_assign_bad_input_is_422_at_the_field(states, as_user, change, field, message):
    ids = {"dongjie": states.dongjie.pk, "company_a": states.company_a.pk, "town_officer": states.town_officer.pk}

    def fill(v):
        if isinstance(v, list):
            return [fill(x) for x in v]
        return int(v.format(**ids)) if isinstance(v, str) and v.startswith("{") else v

    p = states.problems[Status.NEW]
    before = state_of(p)
    body = {**GOOD_BODY["assign"](states), **{k: fill(v) for k, v in change.items()}}
    r = as_user("dispatcher").post(f"/problems/{p.pk}/assign", body)
    errors = errors_at(r)
    assert any(message in m for m in errors[field]), errors
    assert r.json()["detail"][0]["loc"][0] == "body"
    assert state_of(p) == before


def test_assign_back_dated_and_major(states, as_user):
    p = raise_one(states, by=states.dispatcher, received_on=date(2025, 2, 20), day=DAY)
    r = as_user("dispatcher").post(f"/problems/{p.pk}/assign", {"lead_unit": states.housing.pk, "severity": "major",
                                                                 "assigned_on": "2025-02-21"})  # fmt: skip
    assert r.status_code == 200, r.content
    data = r.json()
    # Friday 21 February 2025: deploy the same day, feedback in 3 working days, major: one month.
    assert (data["deploy_due"], data["feedback_due"], data["resolve_due"]) == ("2025-02-21", "2025-02-26", "2025-03-21")
    assert data["severity"] == "major" and data["responsible_leader"] == states.leader.pk


def test_rating_rules(states, as_user):
    p = states.problems[Status.RESOLVED]
    before = state_of(p)
    for persona in ("dispatcher", "leader", "town_officer", "officer"):
        r = as_user(persona).post(f"/problems/{p.pk}/rate", {"rating": "satisfied"})
        assert r.status_code == 403 and has_chinese(r.json()["detail"])
    assert as_user("dispatcher").post(f"/problems/{p.pk}/rate", {"rating": "satisfied"}).json() == {
        "detail": "该项目有企业账号，须由企业本人评价。"
    }
    api = as_user("enterprise")
    r = api.post(f"/problems/{p.pk}/rate", {"rating": "dissatisfied"})
    assert errors_at(r) == {"comment": ["请填写评价意见。"]}
    assert "rating" in errors_at(api.post(f"/problems/{p.pk}/rate", {"rating": "meh"}))
    assert state_of(p) == before
    r = api.post(f"/problems/{p.pk}/rate", {"rating": "dissatisfied", "comment": "仍未通电", "version": p.version})
    assert r.status_code == 200
    assert r.json()["status"] == "in_progress" and r.json()["events"][-1]["kind"] == "reopened"
    p.refresh_from_db()
    assert p.reopen_count == 1 and p.rating == Rating.DISSATISFIED


def test_supervise_due_rules(states, as_user):
    p = states.problems[Status.ASSIGNED]
    before = state_of(p)
    api = as_user("leader")
    r = api.post(f"/problems/{p.pk}/supervise", {"supervision_due": "2025-03-01"})
    assert errors_at(r) == {"supervision_due": ["督办期限不能早于问题收到日期（2025-03-03）。"]}
    r = api.post(f"/problems/{p.pk}/supervise", {"supervision_due": "2025-03-20"})
    assert "督办期限不能早于今天" in errors_at(r)["supervision_due"][0]
    assert errors_at(api.post(f"/problems/{p.pk}/supervise", {}))["supervision_due"] == ["此字段为必填项。"]
    assert state_of(p) == before


def test_escalation_rules(states, as_user):
    p = advance(states, raise_one(states, title="区内问题"), Status.ASSIGNED)
    api = as_user("leader")
    assert errors_at(api.post(f"/problems/{p.pk}/escalate", {"reason": ""})) == {"reason": ["请填写升级理由。"]}
    assert api.post(f"/problems/{p.pk}/escalate", {"reason": "一"}).json()["escalation_level"] == 1
    assert api.post(f"/problems/{p.pk}/escalate", {"reason": "二"}).json()["escalation_level"] == 2
    before = state_of(p)
    r = api.post(f"/problems/{p.pk}/escalate", {"reason": "三"})
    assert errors_at(r) == {"escalation_level": ["只有需市级或省级协调的问题才能上报。"]}
    assert state_of(p) == before
    city = advance(states, raise_one(states, title="市级问题"), Status.ASSIGNED, solve_level=SolveLevel.CITY)
    for level in (1, 2, 3):
        assert api.post(f"/problems/{city.pk}/escalate", {"reason": "逾期"}).json()["escalation_level"] == level
    r = api.post(f"/problems/{city.pk}/escalate", {"reason": "再"})
    assert "只能逐级上升" in errors_at(r)["escalation_level"][0]


def test_version_conflict_is_409(states, as_user):
    p = states.problems[Status.ASSIGNED]
    before = state_of(p)
    r = as_user("town_officer").post(f"/problems/{p.pk}/deploy", {"version": p.version - 1})
    assert r.status_code == 409 and "该问题已被他人处理" in r.json()["detail"]
    assert state_of(p) == before


def test_the_whole_flow_over_the_api(states, as_user):
    body = {"project": states.project_a.pk, "title": "接水", "category": "utilities"}
    r = as_user("enterprise").post("/problems", body)
    pid = r.json()["id"]
    steps = [
        ("dispatcher", "assign", {"lead_unit": states.dongjie.pk, "helper_units": [states.resources.pk]}, "assigned"),
        ("town_officer", "deploy", {}, "deployed"),
        ("dept_officer", "feedback", {"text": "协办意见"}, "deployed"),
        ("town_officer", "feedback", {"text": "主办反馈"}, "in_progress"),
        ("town_officer", "resolve", {"evidence": "已接通"}, "resolved"),
        ("enterprise", "rate", {"rating": "basic"}, "rated"),
        ("dispatcher", "close", {}, "closed"),
    ]
    for persona, action, body, status in steps:
        r = as_user(persona).post(f"/problems/{pid}/{action}", body)
        assert r.status_code == 200, (action, r.content)
        assert r.json()["status"] == status
    data = r.json()
    assert data["light"] == "none" and data["rating"] == "basic" and data["resolved_on_time"] is True
    assert data["allowed_actions"] == []
    kinds = [e["kind"] for e in data["events"]]
    assert kinds == ["raised", "assigned", "deployed", "feedback", "feedback", "resolved", "rated", "closed"]
    assert all(a.channel == "api" for a in AuditRecord.objects.filter(object_type="problem", object_id=str(pid)))


# ---------------------------------------------------------------------------------------------
# Calendar


@pytest.mark.parametrize(
    "start,days,due",
    [
        ("2024-09-30", 3, "2024-10-10"),  # Monday before 国庆: 8, 9, 10 October
        ("2024-09-30", 0, "2024-09-30"),  # a working day: the same day
        ("2024-10-01", 0, "2024-10-08"),  # 国庆: the first working day after it
        ("2024-10-01", 1, "2024-10-08"),
        ("2024-09-27", 1, "2024-09-29"),  # Friday: the next working day is Sunday 29 September (调休)
        ("2024-09-28", 1, "2024-09-29"),  # a Saturday off: the receiving day never counts
        ("2025-01-24", 5, "2025-02-07"),  # 春节 2025: 26 and 27 January, then 5, 6, 7 February
        ("2026-12-30", 3, "2027-01-04"),  # past the package's last year: Monday–Friday
    ],
)
def test_add_workdays(states, as_user, start, days, due):
    r = as_user("enterprise").get("/calendar/add-workdays", params={"date": start, "days": str(days)})
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["due"] == due == wc.add_workdays(date.fromisoformat(start), days).isoformat()
    assert body["uncovered_years"] == ([2027] if due.startswith("2027") else [])


def test_add_workdays_follows_the_overrides(states, as_user):
    CalendarOverride.objects.create(date=date(2027, 1, 1), kind=CalendarOverride.Kind.HOLIDAY, note="元旦")
    wc.invalidate_cache()
    body = as_user("dispatcher").get("/calendar/add-workdays", params={"date": "2026-12-30", "days": "3"}).json()
    assert body["due"] == "2027-01-05" and body["uncovered_years"] == []


def test_workdays_around_national_day(states, as_user):
    r = as_user("leader").get("/calendar/workdays", params={"start": "2024-09-27", "end": "2024-10-12"})
    assert r.status_code == 200
    body = r.json()
    assert body["count"] == 7 == wc.workdays_between(date(2024, 9, 27), date(2024, 10, 12))
    assert body["workdays"] == ["2024-09-29", "2024-09-30", "2024-10-08", "2024-10-09", "2024-10-10", "2024-10-11",
                                "2024-10-12"]  # fmt: skip
    same = as_user("leader").get("/calendar/workdays", params={"start": "2024-10-01", "end": "2024-10-01"}).json()
    assert same["count"] == 0 and same["workdays"] == []
    year = as_user("leader").get("/calendar/workdays", params={"start": "2025-01-01", "end": "2026-01-01"}).json()
    assert year["count"] == len(year["workdays"]) == wc.workdays_between(date(2025, 1, 1), date(2026, 1, 1))


@pytest.mark.parametrize(
    "path,params,field,message",
    [
        ("/calendar/workdays", {"start": "2024-10-10", "end": "2024-10-01"}, "end", "截止日不能早于起算日。"),
        ("/calendar/workdays", {"start": "2024-01-01", "end": "2025-01-02"}, "end", "查询区间不能超过 366 天。"),
        ("/calendar/workdays", {"start": "2024-13-01", "end": "2024-10-01"}, "start", "请输入有效的日期"),
        ("/calendar/workdays", {"end": "2024-10-01"}, "start", "此字段为必填项。"),
        ("/calendar/add-workdays", {"date": "2024-09-30", "days": "-1"}, "days", "不能小于 0"),
        ("/calendar/add-workdays", {"date": "2024-09-30", "days": "367"}, "days", "不能大于 366"),
        ("/calendar/add-workdays", {"date": "2024-09-30", "days": "x"}, "days", "请输入整数。"),
        ("/calendar/add-workdays", {"date": "9999-12-30", "days": "5"}, "date", "期限超出可计算的日期范围。"),
        ("/calendar/add-workdays", {"date": "someday", "days": "1"}, "date", "请输入有效的日期"),
    ],
)
def test_calendar_bad_input(states, as_user, path, params, field, message):
    r = as_user("dispatcher").get(path, params=params)
    errors = errors_at(r)
    assert any(message in m for m in errors[field]), errors
    assert r.json()["detail"][0]["loc"][0] == "query"


# ---------------------------------------------------------------------------------------------
# Notifications


def test_notifications_are_the_users_own(states, as_user):
    delivery.notify([states.town_officer, states.dispatcher], title="【交办】一", link="/problems/1/", source_key="n1")
    delivery.notify([states.town_officer], title="【逾期】二", source_key="n2")
    delivery.notify([states.town_officer], title="【提醒】三", source_key="n3")
    api = as_user("town_officer")
    body = api.get("/notifications").json()
    assert body["count"] == 3 and body["unread"] == 3
    assert [n["title"] for n in body["items"]] == ["【提醒】三", "【逾期】二", "【交办】一"]
    assert body["items"][2]["link"] == "/problems/1/" and body["items"][2]["read"] is False
    mine = {n["title"]: n["id"] for n in body["items"]}
    others = Notification.objects.get(recipient=states.dispatcher, channel=Channel.INBOX).pk
    r = api.post("/notifications/mark-read", {"ids": [mine["【逾期】二"], others]})
    assert r.json() == {"marked": 1, "unread": 2}
    assert delivery.unread_count(states.dispatcher) == 1
    unread = api.get("/notifications", params={"unread": "true"}).json()
    assert unread["count"] == 2 and {n["title"] for n in unread["items"]} == {"【提醒】三", "【交办】一"}
    assert api.post("/notifications/mark-read", {"all": True}).json() == {"marked": 2, "unread": 0}
    assert api.get("/notifications").json()["items"][0]["read_at"] is not None
    assert as_user("dispatcher").get("/notifications").json()["count"] == 1
    for bad in ({}, {"ids": [1], "all": True}, {"ids": "x"}, {"ids": [0]}, {"every": True}):
        assert errors_at(api.post("/notifications/mark-read", bad))
    assert errors_at(api.get("/notifications", params={"limit": "500"}))["limit"]


def test_openapi_documents_the_new_endpoints(states, client):
    doc = client.get("/api/v1/openapi.json").json()
    paths = [
        "/api/v1/problems",
        "/api/v1/problems/{problem_id}/assign",
        "/api/v1/calendar/workdays",
        "/api/v1/calendar/add-workdays",
        "/api/v1/notifications",
        "/api/v1/notifications/mark-read",
    ]
    for path in paths:
        assert path in doc["paths"], path
    assert doc["paths"]["/api/v1/problems"]["get"]["summary"] == "问题列表"


# ---------------------------------------------------------------------------------------------
# Fuzz: any JSON in any field of any write, any query string: never a 5xx, always a Chinese message.


FUZZ = settings(max_examples=int(os.environ.get("API_FUZZ_EXAMPLES", "40")), deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])  # fmt: skip
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8), st.sampled_from(["2025-03-03", "2025-02-30", "9999-12-31", "0001-01-01", "satisfied",
                                          "dissatisfied", "major", "city", "land", "1", "\x00"]),
)  # fmt: skip
values = st.one_of(scalars, st.lists(scalars, max_size=3))
FIELDS = ["lead_unit", "helper_units", "responsible_leader", "severity", "solve_level", "assigned_on", "resolve_due",
          "note", "text", "evidence", "rating", "comment", "supervision_due", "reason", "version", "title",
          "description", "category", "project", "source", "received_at", "bogus"]  # fmt: skip


@FUZZ
@given(data=st.data())
def test_write_bodies_never_fail(states, client, data):
    from keyprojects.api.auth import issue_token

    tokens = states.__dict__.setdefault("fuzz_tokens", {})
    persona = data.draw(st.sampled_from(["dispatcher", "leader", "town_officer", "enterprise"]), label="persona")
    if persona not in tokens:
        tokens[persona] = issue_token(getattr(states, persona))[0]
    api = ApiClient(client, tokens[persona])
    status = data.draw(st.sampled_from(list(states.problems)), label="status")
    action = data.draw(st.sampled_from([*ACTION_CASES, "", "create"]), label="action")
    body = data.draw(st.dictionaries(st.sampled_from(FIELDS), values, max_size=5), label="body")
    p = states.problems[status]
    if action == "create":
        r = api.post("/problems", body)
    elif action == "":
        r = api.patch(f"/problems/{p.pk}", body)
    else:
        r = api.post(f"/problems/{p.pk}/{action}", body)
    assert r.status_code < 500, (persona, action, body, r.content[:300])
    if r.status_code >= 400:
        detail = r.json()["detail"]
        assert has_chinese(detail if isinstance(detail, str) else detail[0]["msg"]), r.content


@FUZZ
@given(data=st.data())
def test_list_and_calendar_queries_never_fail(states, client, data):
    from keyprojects.api.auth import issue_token

    token = states.__dict__.setdefault("fuzz_token", issue_token(states.town_officer)[0])
    api = ApiClient(client, token)
    text = st.one_of(st.text(max_size=6), st.sampled_from(["1", "true", "red", "due", "2024-09-30", "-1", "400"]))
    names = ["q", "status", "category", "severity", "source", "lead_unit", "project", "light", "overdue",
             "supervised", "sort", "limit", "offset", "start", "end", "date", "days", "unread"]  # fmt: skip
    params = data.draw(st.dictionaries(st.sampled_from(names), text, max_size=4), label="params")
    path = data.draw(st.sampled_from(["/problems", "/calendar/workdays", "/calendar/add-workdays", "/notifications"]))
    r = api.get(path, params=params)
    assert r.status_code in (200, 422), (path, params, r.content[:300])
