"""Problems and supervision: who may do what in which state, back-entry, reopen, 督办, unit figures.

Dates are fixed (never today's): every domain call passes `now`, which also fixes "today".
March 2025 has no holiday, so working days there are plain Monday–Friday.
"""

from __future__ import annotations

import datetime
from datetime import date

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import Http404
from django.utils import timezone

from keyprojects.audit.models import AuditRecord
from keyprojects.org.models import Role
from keyprojects.problems import access, clock, domain, figures
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
    Step,
)
from keyprojects.workcal import calendar as wc
from tests.conftest import make_user

REFUSED = (PermissionDenied, ValidationError, Http404)
Kind = ProblemEvent.Kind


def at(day: date, hour: int = 9, minute: int = 0) -> datetime.datetime:
    """An aware moment on `day` (Asia/Shanghai)."""
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour, minute)))


@pytest.fixture(autouse=True)
def _fresh_calendar_cache():
    wc.clear_local_cache()
    yield
    wc.clear_local_cache()


def problem_world(world):
    """The test district plus a 主要领导 (secretary) and an officer of 东街街道经济办."""
    world.secretary = make_user("secretary", world.leadership, Role.LEADER)
    world.office_officer = make_user("office_officer", world.dongjie_office, Role.UNIT_OFFICER)
    return world


@pytest.fixture
def pw(world):
    return problem_world(world)


def new_problem(w, *, day: date = date(2025, 3, 3), by=None, project=None, **kw) -> Problem:
    kw.setdefault("title", "施工用电增容迟迟未批")
    kw.setdefault("category", Category.UTILITIES)
    kw.setdefault("source", Source.ENTERPRISE)
    return domain.raise_problem(by=by or w.dispatcher, project=project or w.project_a, now=at(day), **kw)


def assigned_problem(w, *, day: date = date(2025, 3, 3), severity=Severity.ORDINARY, solve_level=SolveLevel.DISTRICT,
                     project=None, lead=None, helpers=None) -> Problem:  # fmt: skip
    problem = new_problem(w, day=day, project=project)
    return domain.assign(
        problem, by=w.dispatcher, lead_unit=lead or w.dongjie,
        helper_units=[w.resources] if helpers is None else helpers, severity=severity, solve_level=solve_level,
        now=at(day, 10),
    )  # fmt: skip


def advance(w, problem: Problem, target: str, *, day: date = date(2025, 3, 3)) -> Problem:
    """Take an assigned problem (project_a, lead 东街) forward to `target` with the right people."""
    order = [Status.ASSIGNED, Status.DEPLOYED, Status.IN_PROGRESS, Status.RESOLVED, Status.RATED, Status.CLOSED]
    steps = {
        Status.DEPLOYED: lambda p: domain.deploy(p, by=w.town_officer, note="已部署", now=at(day, 11)),
        Status.IN_PROGRESS: lambda p: domain.add_feedback(p, by=w.town_officer, text="正在协调", now=at(day, 12)),
        Status.RESOLVED: lambda p: domain.resolve(p, by=w.town_officer, evidence="已通电", now=at(day, 13)),
        Status.RATED: lambda p: domain.rate(p, by=w.enterprise, rating=Rating.SATISFIED, now=at(day, 14)),
        Status.CLOSED: lambda p: domain.close(p, by=w.dispatcher, now=at(day, 15)),
    }
    for status in order[order.index(problem.status) + 1 : order.index(target) + 1]:
        steps[status](problem)
        problem.refresh_from_db()
    assert problem.status == target
    return problem


def state_of(problem: Problem) -> tuple:
    problem.refresh_from_db()
    return (problem.status, problem.version, problem.events.count(),
            AuditRecord.objects.filter(object_type="problem", object_id=str(problem.pk)).count())  # fmt: skip


# --- raising ------------------------------------------------------------------------------------------------


RAISE_ON_A = {
    "dispatcher": True, "leader": True, "town_officer": True, "dept_officer": True, "other_town_officer": False,
    "officer": True, "enterprise": True, "sysadmin": False, "secadmin": False, "auditor": False,
}  # fmt: skip


@pytest.mark.parametrize("persona", list(RAISE_ON_A))
def test_who_may_raise_a_problem_about_project_a(pw, persona):
    user = getattr(pw, persona)
    source = {"officer": Source.SERVICE_OFFICER, "leader": Source.LEADER_INSTRUCTION}.get(persona, Source.ENTERPRISE)
    if RAISE_ON_A[persona]:
        problem = new_problem(pw, by=user, source=source)
        assert problem.status == Status.NEW and problem.raised_by == user
        assert problem.received_on == date(2025, 3, 3)
        assert list(problem.events.values_list("kind", flat=True)) == [Kind.RAISED]
        created = AuditRecord.objects.get(object_type="problem", object_id=str(problem.pk))
        assert created.action == "create" and created.actor == user
    else:
        with pytest.raises(REFUSED):
            new_problem(pw, by=user, source=source)
        assert Problem.objects.count() == 0


def test_enterprise_and_officer_only_for_their_own_projects(pw):
    for user in (pw.enterprise, pw.officer):
        with pytest.raises(ValidationError) as exc:
            new_problem(pw, by=user, project=pw.project_b)
        assert exc.value.message_dict["project"] == ["项目不存在或无权查看。"]
    assert Problem.objects.count() == 0


def test_a_problem_may_carry_an_attachment(pw):
    photo = SimpleUploadedFile("现场.png", b"\x89PNG\r\n\x1a\n....", content_type="image/png")
    problem = new_problem(pw, by=pw.enterprise, upload=photo)
    raised = problem.events.get(kind=Kind.RAISED)
    assert raised.evidence_name == "现场.png" and raised.evidence.name.endswith(".png")
    fake = SimpleUploadedFile("伪装.pdf", b"not a pdf", content_type="application/pdf")
    with pytest.raises(ValidationError) as exc:
        new_problem(pw, by=pw.enterprise, upload=fake)
    assert "文件内容与扩展名" in exc.value.message_dict["evidence"][0]
    assert Problem.objects.count() == 1


def test_source_defaults_by_role_and_is_fixed_for_companies(pw):
    assert new_problem(pw, by=pw.enterprise, source=None).source == Source.ENTERPRISE
    assert new_problem(pw, by=pw.officer, source=None).source == Source.SERVICE_OFFICER
    assert new_problem(pw, by=pw.leader, source=None).source == Source.LEADER_INSTRUCTION
    with pytest.raises(ValidationError) as exc:
        new_problem(pw, by=pw.enterprise, source=Source.LEADER_INSTRUCTION)
    assert "企业反映" in exc.value.message_dict["source"][0]
    with pytest.raises(ValidationError) as exc:
        new_problem(pw, by=pw.dispatcher, source=None)
    assert exc.value.message_dict["source"] == ["请选择问题来源。"]


def test_raise_validates_every_field_at_once(pw):
    with pytest.raises(ValidationError) as exc:
        new_problem(pw, title="  ", category="nonsense", severity="huge", source="rumour")
    errors = exc.value.message_dict
    assert errors["title"] == ["请填写问题标题。"]
    assert "无效的问题类别" in errors["category"][0]
    assert "无效的问题性质" in errors["severity"][0]
    assert "无效的问题来源" in errors["source"][0]
    assert Problem.objects.count() == 0


def test_back_entry_only_by_the_dispatcher_and_never_in_the_future(pw):
    received = date(2025, 2, 20)
    problem = new_problem(pw, by=pw.dispatcher, received_on=received)
    assert problem.received_on == received
    rec = AuditRecord.objects.get(object_type="problem", object_id=str(problem.pk))
    assert "补录" in rec.reason
    for user in (pw.enterprise, pw.town_officer, pw.leader, pw.officer):
        source = Source.SERVICE_OFFICER if user == pw.officer else Source.ENTERPRISE
        with pytest.raises(ValidationError) as exc:
            new_problem(pw, by=user, received_on=received, source=source)
        assert "只有调度员可以补录" in exc.value.message_dict["received_on"][0]
    for user in (pw.dispatcher, pw.enterprise):
        with pytest.raises(ValidationError) as exc:
            new_problem(pw, by=user, received_on=date(2025, 3, 4))
        assert exc.value.message_dict["received_on"] == ["收到日期不能晚于今天。"]
    with pytest.raises(ValidationError):
        new_problem(pw, by=pw.dispatcher, received_on=date(1999, 12, 31))
    assert Problem.objects.count() == 1


# --- assigning ----------------------------------------------------------------------------------------------


def test_assign_computes_the_13710_dates_and_records_everything(pw):
    problem = new_problem(pw)
    domain.assign(problem, by=pw.dispatcher, lead_unit=pw.dongjie, helper_units=[pw.resources, pw.housing],
                  note="请东街牵头", now=at(date(2025, 3, 3), 10))  # fmt: skip
    problem.refresh_from_db()
    assert problem.status == Status.ASSIGNED
    assert problem.lead_unit == pw.dongjie
    assert set(problem.helper_units.all()) == {pw.resources, pw.housing}
    assert problem.responsible_leader == pw.leader  # the project's 分包领导 by default
    assert (problem.deploy_due, problem.feedback_due, problem.resolve_due) == (
        date(2025, 3, 3), date(2025, 3, 6), date(2025, 3, 12),
    )  # fmt: skip
    assert (problem.current_step, problem.current_due) == (Step.DEPLOY, date(2025, 3, 3))
    # 部署 is due the same day: no reminder, the next action is the overdue mark at midnight.
    assert problem.next_action_at == at(date(2025, 3, 4), 0)
    event = problem.events.get(kind=Kind.ASSIGNED)
    assert (event.from_status, event.to_status, event.actor) == (Status.NEW, Status.ASSIGNED, pw.dispatcher)
    assert "主办：东街街道" in event.text and "办结期限 2025-03-12" in event.text
    rec = AuditRecord.objects.filter(object_type="problem", object_id=str(problem.pk), action="transition").get()
    assert rec.before["status"] == "待交办" and rec.after["status"] == "已交办"
    assert rec.after["helper_units"] == sorted(["自然资源局", "城乡建设局"])


def test_major_problem_gets_one_month(pw):
    problem = assigned_problem(pw, severity=Severity.MAJOR)
    assert problem.resolve_due == date(2025, 4, 3)


@pytest.mark.parametrize(
    "change, field, message",
    [
        ({"lead_unit": None}, "lead_unit", "请选择主办单位。"),
        ({"lead_unit": 999999}, "lead_unit", "主办单位不存在（编号 999999）。"),
        ({"lead_unit": "company_a"}, "lead_unit", "主办单位不能是企业"),
        ({"lead_unit": "inactive"}, "lead_unit", "已停用"),
        ({"helper_units": ["dongjie"]}, "helper_units", "主办单位不能同时是协办单位。"),
        ({"helper_units": [424242]}, "helper_units", "协办单位不存在"),
        ({"responsible_leader": "town_officer"}, "responsible_leader", "分管领导必须是在职的领导账号"),
        ({"solve_level": "nation"}, "solve_level", "无效的需协调层级"),
        ({"assigned_on": date(2025, 3, 4)}, "assigned_on", "交办日期不能晚于今天。"),
        ({"assigned_on": date(2025, 3, 2)}, "assigned_on", "交办日期不能早于收到日期（2025-03-03）。"),
    ],
)
def test_assign_refuses_bad_input_and_changes_nothing(pw, change, field, message):
    from keyprojects.org.models import Unit

    Unit.objects.create(name="已撤销的指挥部", kind=Unit.Kind.DEPARTMENT, parent=pw.leadership, is_active=False)
    named = {"company_a": pw.company_a, "dongjie": pw.dongjie, "town_officer": pw.town_officer,
             "inactive": Unit.objects.get(name="已撤销的指挥部")}  # fmt: skip

    def resolve_names(value):
        if isinstance(value, list):
            return [resolve_names(v) for v in value]
        return named.get(value, value) if isinstance(value, str) else value

    problem = new_problem(pw)
    before = state_of(problem)
    kwargs = {"lead_unit": pw.dongjie, "helper_units": [pw.resources]}
    kwargs.update({k: resolve_names(v) for k, v in change.items()})
    with pytest.raises(ValidationError) as exc:
        domain.assign(problem, by=pw.dispatcher, now=at(date(2025, 3, 3), 10), **kwargs)
    assert message in " ".join(exc.value.message_dict[field])
    assert state_of(problem) == before
    assert problem.helper_units.count() == 0


# --- the role × transition matrix ------------------------------------------------------------------------------


def _do(w, action: str, problem: Problem, user):
    day = date(2025, 3, 3)
    calls = {
        "assign": lambda: domain.assign(
            problem, by=user, lead_unit=w.dongjie, helper_units=[w.resources], now=at(day, 16)
        ),  # fmt: skip
        "deploy": lambda: domain.deploy(problem, by=user, now=at(day, 16)),
        "feedback": lambda: domain.add_feedback(problem, by=user, text="进展", now=at(day, 16)),
        "resolve": lambda: domain.resolve(problem, by=user, evidence="已解决", now=at(day, 16)),
        "rate": lambda: domain.rate(problem, by=user, rating=Rating.BASIC, now=at(day, 16)),
        "close": lambda: domain.close(problem, by=user, now=at(day, 16)),
        "supervise": lambda: domain.supervise(problem, by=user, due=date(2025, 3, 10), now=at(day, 16)),
        "escalate": lambda: domain.escalate(problem, by=user, to_level=1, now=at(day, 16)),
    }
    return calls[action]()


# The state each action starts from, and the state it leads to.
ACTIONS = {
    "assign": (Status.NEW, Status.ASSIGNED),
    "deploy": (Status.ASSIGNED, Status.DEPLOYED),
    "feedback": (Status.DEPLOYED, Status.IN_PROGRESS),
    "resolve": (Status.IN_PROGRESS, Status.RESOLVED),
    "rate": (Status.RESOLVED, Status.RATED),
    "close": (Status.RATED, Status.CLOSED),
    "supervise": (Status.IN_PROGRESS, Status.IN_PROGRESS),
    "escalate": (Status.IN_PROGRESS, Status.IN_PROGRESS),
}
# Who may do each action on a problem of project_a led by 东街 with 自然资源局 helping.
ALLOWED = {
    "assign": {"dispatcher"},
    "deploy": {"town_officer"},
    "feedback": {"town_officer", "dept_officer"},
    "resolve": {"town_officer"},
    "rate": {"enterprise"},
    "close": {"dispatcher"},
    "supervise": {"leader"},
    "escalate": {"dispatcher", "leader"},
}
PERSONAS = ["dispatcher", "leader", "town_officer", "dept_officer", "other_town_officer", "officer", "enterprise",
            "sysadmin", "auditor"]  # fmt: skip


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("action", list(ACTIONS))
def test_role_transition_matrix(pw, action, persona):
    start, end = ACTIONS[action]
    problem = new_problem(pw)
    if start != Status.NEW:
        problem = domain.assign(problem, by=pw.dispatcher, lead_unit=pw.dongjie, helper_units=[pw.resources],
                                now=at(date(2025, 3, 3), 10))  # fmt: skip
        problem = advance(pw, problem, start)
    before = state_of(problem)
    user = getattr(pw, persona)
    if action == "feedback" and persona == "dept_officer":
        end = Status.DEPLOYED  # a helper unit's feedback is recorded without moving the state
    if persona in ALLOWED[action]:
        _do(pw, action, problem, user)
        problem.refresh_from_db()
        assert problem.status == end
        assert problem.events.count() == before[2] + 1
        last = problem.events.order_by("-id").first()
        assert last.actor == user
        audits = AuditRecord.objects.filter(object_type="problem", object_id=str(problem.pk))
        assert audits.count() == before[3] + 1
        assert audits.order_by("-id").first().actor == user
    else:
        with pytest.raises(REFUSED):
            _do(pw, action, problem, user)
        assert state_of(problem) == before


@pytest.mark.parametrize("action", list(ACTIONS))
@pytest.mark.parametrize("state", [Status.NEW, Status.ASSIGNED, Status.DEPLOYED, Status.IN_PROGRESS,
                                   Status.RESOLVED, Status.RATED, Status.CLOSED])  # fmt: skip
def test_out_of_order_transitions_are_refused(pw, action, state):
    allowed_from = {
        "assign": {Status.NEW},
        "deploy": {Status.ASSIGNED},
        "feedback": {Status.DEPLOYED, Status.IN_PROGRESS},
        "resolve": {Status.DEPLOYED, Status.IN_PROGRESS},
        "rate": {Status.RESOLVED},
        "close": {Status.RATED},
        "supervise": {Status.NEW, Status.ASSIGNED, Status.DEPLOYED, Status.IN_PROGRESS},
        "escalate": {Status.ASSIGNED, Status.DEPLOYED, Status.IN_PROGRESS},
    }[action]
    if state in allowed_from:
        return
    problem = new_problem(pw)
    if state != Status.NEW:
        problem = domain.assign(problem, by=pw.dispatcher, lead_unit=pw.dongjie, helper_units=[pw.resources],
                                now=at(date(2025, 3, 3), 10))  # fmt: skip
        problem = advance(pw, problem, state)
    actor = getattr(pw, sorted(ALLOWED[action])[-1] if action != "feedback" else "town_officer")
    before = state_of(problem)
    with pytest.raises(ValidationError) as exc:
        _do(pw, action, problem, actor)
    assert "当前状态为" in exc.value.messages[0]
    assert state_of(problem) == before


def test_a_parent_unit_officer_acts_for_its_subunit(pw):
    problem = assigned_problem(pw, lead=pw.dongjie_office, helpers=[])
    domain.deploy(problem, by=pw.town_officer, now=at(date(2025, 3, 3), 11))  # 东街 officer, scope 本单位及下级
    assert Problem.objects.get(pk=problem.pk).status == Status.DEPLOYED
    other = assigned_problem(pw, lead=pw.dongjie, helpers=[])
    with pytest.raises(REFUSED):  # but not upwards: the 经济办 officer does not act for 东街
        domain.deploy(other, by=pw.office_officer, now=at(date(2025, 3, 3), 11))
    assert Problem.objects.get(pk=other.pk).status == Status.ASSIGNED


def test_helper_feedback_is_recorded_without_moving_the_state(pw):
    problem = advance(pw, assigned_problem(pw), Status.DEPLOYED)
    event = domain.add_feedback(problem, by=pw.dept_officer, text="用地指标已上报", now=at(date(2025, 3, 4)))
    problem.refresh_from_db()
    assert problem.status == Status.DEPLOYED and problem.first_feedback_at is None
    assert event.kind == Kind.FEEDBACK and event.to_status == ""
    domain.add_feedback(problem, by=pw.town_officer, text="主办反馈", now=at(date(2025, 3, 5)))
    problem.refresh_from_db()
    assert problem.status == Status.IN_PROGRESS and problem.first_feedback_at == at(date(2025, 3, 5))
    assert (problem.current_step, problem.current_due) == (Step.RESOLVE, date(2025, 3, 12))


def test_feedback_and_resolve_need_text_and_accept_a_file(pw):
    problem = advance(pw, assigned_problem(pw), Status.DEPLOYED)
    with pytest.raises(ValidationError) as exc:
        domain.resolve(problem, by=pw.town_officer, evidence="  ", now=at(date(2025, 3, 4)))
    assert exc.value.message_dict["evidence"] == ["请填写办结情况及佐证。"]
    bad = SimpleUploadedFile("evil.exe", b"MZ....", content_type="application/octet-stream")
    with pytest.raises(ValidationError) as exc:
        domain.resolve(problem, by=pw.town_officer, evidence="已通电", upload=bad, now=at(date(2025, 3, 4)))
    assert "只能上传" in exc.value.message_dict["evidence"][0]
    assert Problem.objects.get(pk=problem.pk).status == Status.DEPLOYED
    pdf = SimpleUploadedFile("通电证明.pdf", b"%PDF-1.4 test", content_type="application/pdf")
    domain.resolve(problem, by=pw.town_officer, evidence="已通电", upload=pdf, now=at(date(2025, 3, 4)))
    problem.refresh_from_db()
    event = problem.events.get(kind=Kind.RESOLVED)
    assert event.evidence_name == "通电证明.pdf" and event.evidence.name.startswith(f"problems/{problem.pk}/")
    # Resolving straight from 已部署 is also the first feedback; one working day from assignment.
    assert problem.first_feedback_at == problem.resolved_at
    assert (problem.resolve_workdays, problem.resolved_on_time) == (1, True)
    assert problem.next_action_at is None and problem.current_step == ""


def test_optimistic_version_conflict_changes_nothing(pw):
    problem = assigned_problem(pw)
    with pytest.raises(domain.ConflictError):
        domain.deploy(problem, by=pw.town_officer, expected_version=problem.version - 1, now=at(date(2025, 3, 3), 11))
    assert Problem.objects.get(pk=problem.pk).status == Status.ASSIGNED


# --- rating, reopening, closing -----------------------------------------------------------------------------


def test_dissatisfied_reopens_with_a_new_deadline(pw):
    problem = advance(pw, assigned_problem(pw), Status.RESOLVED)
    with pytest.raises(ValidationError) as exc:
        domain.rate(problem, by=pw.enterprise, rating=Rating.DISSATISFIED, now=at(date(2025, 3, 7)))
    assert exc.value.message_dict["comment"] == ["请填写评价意见。"]
    domain.rate(problem, by=pw.enterprise, rating=Rating.DISSATISFIED, comment="电压仍不稳", now=at(date(2025, 3, 7)))
    problem.refresh_from_db()
    assert problem.status == Status.IN_PROGRESS
    assert problem.rating == Rating.DISSATISFIED and problem.reopen_count == 1
    assert problem.resolved_at is None and problem.resolve_workdays is None
    # 7 working days from Friday 2025-03-07: Mon 10 … Tue 18.
    assert (problem.clock_start, problem.resolve_due) == (date(2025, 3, 7), date(2025, 3, 18))
    assert (problem.current_step, problem.current_due) == (Step.RESOLVE, date(2025, 3, 18))
    event = problem.events.order_by("-id").first()
    assert (event.kind, event.from_status, event.to_status) == (Kind.REOPENED, Status.RESOLVED, Status.IN_PROGRESS)
    assert "电压仍不稳" in event.text and "2025-03-18" in event.text
    with pytest.raises(ValidationError):  # cannot close a reopened problem
        domain.close(problem, by=pw.dispatcher, now=at(date(2025, 3, 7)))
    domain.resolve(problem, by=pw.town_officer, evidence="更换变压器", now=at(date(2025, 3, 14)))
    domain.rate(problem, by=pw.enterprise, rating=Rating.SATISFIED, now=at(date(2025, 3, 14), 15))
    domain.close(problem, by=pw.dispatcher, note="清零", now=at(date(2025, 3, 14), 16))
    problem.refresh_from_db()
    assert problem.status == Status.CLOSED and problem.rating == Rating.SATISFIED
    assert (problem.resolve_workdays, problem.resolved_on_time) == (9, True)  # Mar 3 → Mar 14, new deadline 18th
    kinds = list(problem.events.values_list("kind", flat=True))
    assert kinds == [Kind.RAISED, Kind.ASSIGNED, Kind.DEPLOYED, Kind.FEEDBACK, Kind.RESOLVED, Kind.REOPENED,
                     Kind.RESOLVED, Kind.RATED, Kind.CLOSED]  # fmt: skip


def test_only_the_company_rates_or_the_dispatcher_when_it_has_no_account(pw):
    # project_b's company has no enterprise account: the dispatcher rates on its behalf.
    problem = assigned_problem(pw, project=pw.project_b, lead=pw.hongmen, helpers=[])
    domain.deploy(problem, by=pw.other_town_officer, now=at(date(2025, 3, 3), 11))
    domain.resolve(problem, by=pw.other_town_officer, evidence="已协调", now=at(date(2025, 3, 4)))
    for user in (pw.other_town_officer, pw.leader, pw.enterprise):
        with pytest.raises(REFUSED):
            domain.rate(problem, by=user, rating=Rating.SATISFIED, now=at(date(2025, 3, 5)))
    domain.rate(problem, by=pw.dispatcher, rating=Rating.BASIC, now=at(date(2025, 3, 5)))
    problem.refresh_from_db()
    assert problem.status == Status.RATED
    rec = AuditRecord.objects.filter(object_type="problem", object_id=str(problem.pk)).order_by("-id").first()
    assert rec.reason == "调度员代企业评价"
    # project_a has an enterprise account: the dispatcher may not rate for it.
    other = advance(pw, assigned_problem(pw), Status.RESOLVED)
    with pytest.raises(PermissionDenied) as exc:
        domain.rate(other, by=pw.dispatcher, rating=Rating.SATISFIED, now=at(date(2025, 3, 5)))
    assert "须由企业本人评价" in str(exc.value)


def test_close_needs_a_good_rating(pw):
    problem = advance(pw, assigned_problem(pw), Status.RESOLVED)
    with pytest.raises(ValidationError) as exc:
        domain.close(problem, by=pw.dispatcher, now=at(date(2025, 3, 4)))
    assert "须企业评价" in exc.value.messages[0]


# --- supervision and the ladder by hand ----------------------------------------------------------------------


def test_supervise_sets_a_named_deadline_and_refuses_bad_dates(pw):
    problem = new_problem(pw, by=pw.dispatcher, received_on=date(2025, 2, 20))
    with pytest.raises(ValidationError) as exc:
        domain.supervise(problem, by=pw.leader, due=date(2025, 2, 19), now=at(date(2025, 3, 3)))
    assert exc.value.message_dict["supervision_due"] == ["督办期限不能早于问题收到日期（2025-02-20）。"]
    with pytest.raises(ValidationError) as exc:
        domain.supervise(problem, by=pw.leader, due=date(2025, 2, 28), now=at(date(2025, 3, 3)))
    assert exc.value.message_dict["supervision_due"] == ["督办期限不能早于今天（2025-03-03）。"]
    with pytest.raises(PermissionDenied):
        domain.supervise(problem, by=pw.dispatcher, due=date(2025, 3, 10), now=at(date(2025, 3, 3)))
    assert not Problem.objects.get(pk=problem.pk).supervised
    domain.supervise(problem, by=pw.leader, due=date(2025, 3, 10), note="务必本周解决", now=at(date(2025, 3, 3)))
    problem.refresh_from_db()
    assert problem.supervised and problem.supervisor == pw.leader and problem.supervision_due == date(2025, 3, 10)
    # A supervised, not yet assigned problem still has its own clock: yellow on Friday the 7th.
    assert problem.next_action_at == at(date(2025, 3, 7), 0)
    assert clock.problem_light(problem, date(2025, 3, 7)) == clock.Light.YELLOW
    assert clock.problem_light(problem, date(2025, 3, 11)) == clock.Light.RED


def test_manual_escalation_is_one_level_at_a_time_and_reporting_needs_city_or_province(pw):
    problem = assigned_problem(pw)
    with pytest.raises(ValidationError):
        domain.escalate(problem, by=pw.leader, to_level=2, now=at(date(2025, 3, 3), 12))
    domain.escalate(problem, by=pw.leader, to_level=1, now=at(date(2025, 3, 3), 12))
    domain.escalate(problem, by=pw.dispatcher, to_level=2, now=at(date(2025, 3, 3), 12))
    with pytest.raises(ValidationError) as exc:
        domain.escalate(problem, by=pw.dispatcher, to_level=3, now=at(date(2025, 3, 3), 12))
    assert exc.value.message_dict["escalation_level"] == ["只有需市级或省级协调的问题才能上报。"]
    assert Problem.objects.get(pk=problem.pk).escalation_level == EscalationLevel.PRINCIPAL_LEADER
    event = problem.events.filter(kind=Kind.ESCALATED).order_by("-id").first()
    assert event.level == 2 and "secretary" in event.text  # the 主要领导 by the fallback rule


def test_principal_leaders_rule(pw):
    problem = assigned_problem(pw)
    # Fallback: leaders of the nearest 领导机构 above the lead unit, without the 分管领导.
    assert domain.principal_leaders(problem) == [pw.secretary]
    settings_row = ProblemSettings.load()
    settings_row.save()
    mayor = make_user("mayor", pw.leadership, Role.LEADER)
    settings_row.principal_leaders.set([mayor])
    assert domain.principal_leaders(problem) == [mayor]
    assert domain.escalation_targets(problem, 1) == [pw.leader]
    assert set(domain.escalation_targets(problem, 3)) == {mayor, pw.dispatcher}


# --- seeing problems -----------------------------------------------------------------------------------------


def test_visibility_follows_projects_and_lead_or_helper_units(pw):
    on_a = assigned_problem(pw)  # lead 东街, helper 自然资源局
    on_b = assigned_problem(pw, project=pw.project_b, lead=pw.hongmen, helpers=[pw.housing])
    housing_officer = make_user("housing_officer", pw.housing, Role.UNIT_OFFICER)

    def seen(user):
        return set(access.visible_problems(user).values_list("pk", flat=True))

    assert seen(pw.dispatcher) == seen(pw.leader) == {on_a.pk, on_b.pk}
    assert seen(pw.town_officer) == {on_a.pk}
    assert seen(pw.other_town_officer) == {on_b.pk}
    assert seen(pw.enterprise) == seen(pw.officer) == {on_a.pk}
    assert seen(housing_officer) == {on_b.pk}  # a helper unit sees it without seeing the project
    assert seen(pw.sysadmin) == seen(pw.auditor) == set()
    with pytest.raises(Http404):
        access.get_problem(pw.town_officer, on_b.pk)
    with pytest.raises(Http404):
        access.get_problem(pw.town_officer, "abc")
    assert access.get_problem(housing_officer, on_b.pk) == on_b
    with pytest.raises(Http404):  # outside the scope: not found, and nothing changes
        domain.deploy(on_b, by=pw.town_officer, now=at(date(2025, 3, 3), 11))


# --- unit figures -----------------------------------------------------------------------------------------------


@pytest.fixture
def figures_world(pw):
    """Five assigned problems and one new, with outcomes computed by hand below (today 2025-03-25)."""
    d = date(2025, 3, 3)
    p1 = assigned_problem(pw)
    domain.deploy(p1, by=pw.town_officer, now=at(d, 11))
    domain.resolve(p1, by=pw.town_officer, evidence="ok", now=at(date(2025, 3, 5)))  # 2 working days
    domain.rate(p1, by=pw.enterprise, rating=Rating.SATISFIED, now=at(date(2025, 3, 5), 15))
    domain.close(p1, by=pw.dispatcher, now=at(date(2025, 3, 5), 16))
    p2 = assigned_problem(pw)
    domain.deploy(p2, by=pw.town_officer, now=at(d, 11))
    domain.resolve(p2, by=pw.town_officer, evidence="ok", now=at(date(2025, 3, 14)))  # 9 working days, late
    domain.rate(p2, by=pw.enterprise, rating=Rating.BASIC, now=at(date(2025, 3, 14), 15))
    p3 = assigned_problem(pw)
    domain.deploy(p3, by=pw.town_officer, now=at(d, 11))
    domain.resolve(p3, by=pw.town_officer, evidence="ok", now=at(date(2025, 3, 10)))
    domain.rate(p3, by=pw.enterprise, rating=Rating.DISSATISFIED, comment="没解决", now=at(date(2025, 3, 11)))
    p4 = assigned_problem(pw, lead=pw.dongjie_office, helpers=[])
    domain.deploy(p4, by=pw.office_officer, now=at(d, 11))  # no feedback: overdue since Mar 7
    assigned_problem(pw, day=date(2025, 3, 25), lead=pw.resources, helpers=[])  # due today: not overdue
    new_problem(pw)
    return pw


def test_unit_figures_against_a_hand_computed_fixture(figures_world):
    w = figures_world
    today = date(2025, 3, 25)
    result = figures.unit_figures([w.dongjie, w.resources, w.leadership], subtree=True, today=today)
    dongjie = result[w.dongjie.pk]
    assert (dongjie.assigned, dongjie.resolved, dongjie.on_time, dongjie.rated, dongjie.satisfied) == (4, 2, 1, 3, 2)
    assert (dongjie.overdue, dongjie.open) == (2, 2)
    assert dongjie.closure_rate == pytest.approx(50.0)
    assert dongjie.on_time_rate == pytest.approx(50.0)
    assert str(dongjie.satisfaction_rate) == "66.7"
    assert str(dongjie.average_workdays) == "5.5"  # (2 + 9) / 2
    resources = result[w.resources.pk]
    assert (resources.assigned, resources.resolved, resources.overdue, resources.open) == (1, 0, 0, 1)
    assert resources.closure_rate == 0 and resources.on_time_rate is None and resources.satisfaction_rate is None
    assert resources.average_workdays is None
    whole = result[w.leadership.pk]
    assert (whole.assigned, whole.resolved, whole.overdue) == (5, 2, 2)

    alone = figures.unit_figures([w.dongjie], subtree=False, today=today)[w.dongjie.pk]
    assert (alone.assigned, alone.resolved, alone.overdue) == (3, 2, 1)
    assert str(alone.closure_rate) == "66.7"

    per_lead = figures.unit_figures(today=today)
    assert set(per_lead) == {w.dongjie.pk, w.dongjie_office.pk, w.resources.pk}
    assert per_lead[w.dongjie_office.pk].overdue == 1

    leaders = figures.leader_figures(today=today)
    assert set(leaders) == {w.leader.pk}
    assert leaders[w.leader.pk].assigned == 5
    total = figures.total_figures(today=today)
    assert (total.assigned, total.resolved, total.overdue, total.satisfied) == (5, 2, 2, 2)
    assert total.as_dict()["closure_rate"] == 40


def test_unit_figures_respect_a_scope_and_a_period(figures_world):
    w = figures_world
    today = date(2025, 3, 25)
    scoped = figures.unit_figures(problems=access.visible_problems(w.dept_officer), today=today)
    # The 自然资源局 officer sees project_a (approval) and so every problem here.
    assert sum(f.assigned for f in scoped.values()) == 5
    recent = figures.unit_figures([w.leadership], today=today, received_from=date(2025, 3, 10))
    assert recent[w.leadership.pk].assigned == 1


def test_unit_figures_use_a_constant_number_of_queries(figures_world, django_assert_max_num_queries):
    from keyprojects.org.models import Unit

    units = list(Unit.objects.exclude(kind=Unit.Kind.ENTERPRISE))
    with django_assert_max_num_queries(2):
        figures.unit_figures(units, today=date(2025, 3, 25))
    with django_assert_max_num_queries(2):
        figures.unit_figures(today=date(2025, 3, 25))
    with django_assert_max_num_queries(2):
        figures.leader_figures(today=date(2025, 3, 25))


# --- admin ------------------------------------------------------------------------------------------------------


def test_admin_edits_the_settings_with_an_audit_and_shows_problems_read_only(pw, admin_client):
    problem = assigned_problem(pw)
    response = admin_client.get("/admin/problems/problemsettings/")
    assert response.status_code == 200  # no row yet: the (empty) list offers to add one
    response = admin_client.post(
        "/admin/problems/problemsettings/add/",
        {"basis": "workdays", "deploy_days": 0, "feedback_days": 3, "resolve_days_ordinary": 5,
         "resolve_months_major": 1, "warn_before_days": 1, "escalation_enabled": "on", "escalation_period_days": 2},
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:2000]
    assert clock.load_config().resolve_days_ordinary == 5
    assert AuditRecord.objects.filter(object_type="problemsettings", action="create").exists()
    assert admin_client.get("/admin/problems/problemsettings/").status_code == 302  # straight to the one row
    assert admin_client.get("/admin/problems/problemsettings/add/").status_code == 403
    assert admin_client.get(f"/admin/problems/problem/{problem.pk}/change/").status_code == 200
    assert admin_client.get("/admin/problems/problem/").status_code == 200
    assert admin_client.get("/admin/problems/problemevent/").status_code == 200
    assert admin_client.get("/admin/notify/notification/").status_code == 200
    assert admin_client.get("/admin/notify/notificationpreference/add/").status_code == 200
