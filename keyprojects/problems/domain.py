"""Domain functions of problems and supervision. Every change goes through here.

Each function checks the actor's role and the problem's state, changes the row inside one
transaction (the row is re-read under `select_for_update`, never trusted from the caller), writes a
`ProblemEvent` (history and notification outbox) and an audit record, and recomputes the clock. On
refusal nothing is changed: `PermissionDenied` for the wrong person, `ValidationError` (Chinese
message, keyed by field where there is one) for bad input or a step out of order, `Http404` for a
problem outside the actor's scope.

`now` exists for tests, the worker and seed data: pages and the API never pass it. It fixes the
moment of the action and "today" (the local date of `now`).

The flow: raise_problem (待交办) → assign (已交办, the clock starts) → deploy (已部署) → add_feedback
(办理中; the lead unit's first feedback meets the 3-day step) → resolve (已办结, with evidence) → rate
(满意/基本满意: 已回访; 不满意: back to 办理中 with a new resolve deadline) → close (已销号).
Alongside: supervise (挂牌督办, leaders), escalate (the worker, or a dispatcher or leader by hand),
and `apply_clock_action` (the worker's reminders, overdue marks and escalations).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from keyprojects.audit.models import AuditRecord
from keyprojects.audit.trail import record, snapshot
from keyprojects.org.models import Role, Unit, User
from keyprojects.problems import access, clock
from keyprojects.problems.models import (
    DONE_STATUSES,
    GOOD_RATINGS,
    OPEN_STATUSES,
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
from keyprojects.projects.access import visible_projects
from keyprojects.projects.models import Project
from keyprojects.workcal import calendar

Kind = ProblemEvent.Kind

# No real problem was received before this date: an earlier one is a typing error.
EARLIEST_RECEIVED = datetime.date(2000, 1, 1)
MAX_TEXT = 5000

TRACKED = [
    "status", "severity", "solve_level", "lead_unit", "responsible_leader", "assigned_on", "deploy_due",
    "feedback_due", "resolve_due", "rating", "reopen_count", "escalation_level", "supervised", "supervisor",
    "supervision_due",
]  # fmt: skip


class ConflictError(Exception):
    """The problem changed since the user loaded it (optimistic locking on `version`)."""

    message = "该问题已被他人处理，请刷新后重试（您的操作未保存）。"


# --- helpers ---------------------------------------------------------------------------------------------


def _moment(now: datetime.datetime | None) -> datetime.datetime:
    if now is None:
        return timezone.now()
    return timezone.make_aware(now) if timezone.is_naive(now) else now


def _state_error(current: Problem, action: str, hint: str = "") -> ValidationError:
    message = _("当前状态为“%(status)s”，不能%(action)s。") % {"status": current.get_status_display(), "action": action}
    return ValidationError(message + hint, code="invalid_state")


def _lock(problem: Problem, expected_version: int | None = None) -> Problem:
    current = Problem.objects.select_for_update(of=("self",)).select_related("project", "lead_unit").get(pk=problem.pk)
    if expected_version is not None and current.version != expected_version:
        raise ConflictError()
    return current


def _sync(target: Problem, source: Problem) -> None:
    """Bring the caller's instance up to date with the saved row."""
    if target is source:
        return
    for field in Problem._meta.concrete_fields:
        setattr(target, field.attname, getattr(source, field.attname))
    target._state.fields_cache = {}
    if hasattr(target, "_prefetched_objects_cache"):
        target._prefetched_objects_cache = {}


def _snapshot(problem: Problem) -> dict[str, Any]:
    data = snapshot(problem, TRACKED)
    if problem.pk and problem.status != Status.NEW:
        data["helper_units"] = sorted(str(u) for u in problem.helper_units.all())
    return data


def _text(value: Any, field: str, label: str, errors: dict, *, required: bool = True, limit: int = MAX_TEXT) -> str:
    text = (value or "").strip() if isinstance(value, str) or value is None else None
    if text is None:
        errors.setdefault(field, []).append(_("%(label)s格式不正确。") % {"label": label})
        return ""
    if required and not text:
        errors.setdefault(field, []).append(_("请填写%(label)s。") % {"label": label})
    elif len(text) > limit:
        errors.setdefault(field, []).append(_("%(label)s不能超过 %(n)s 个字。") % {"label": label, "n": limit})
    return text


def _choice(value: Any, choices, field: str, label: str, errors: dict) -> str:
    if value is None or value == "":
        errors.setdefault(field, []).append(_("请选择%(label)s。") % {"label": label})
    elif value not in choices.values:
        errors.setdefault(field, []).append(_("无效的%(label)s：%(value)s。") % {"label": label, "value": value})
    return value


def _date(value: Any, field: str, label: str, errors: dict) -> datetime.date | None:
    if isinstance(value, datetime.datetime):
        return calendar.as_date(value)
    if isinstance(value, datetime.date):
        return value
    errors.setdefault(field, []).append(_("%(label)s不是有效的日期。") % {"label": label})
    return None


def _raise(errors: dict) -> None:
    if errors:
        raise ValidationError(errors)


def _check_upload(upload) -> None:
    if upload is None:
        return
    from keyprojects.projects.forms import validate_upload  # the one upload rule (type, size, magic bytes)

    try:
        validate_upload(upload)
    except ValidationError as exc:
        raise ValidationError({"evidence": exc.messages}) from None


def _finish(
    current: Problem,
    *,
    by: User | None,
    before: dict[str, Any] | None,
    kind: str,
    at: datetime.datetime,
    from_status: str = "",
    text: str = "",
    step: str = "",
    level: int | None = None,
    upload=None,
    action: str = AuditRecord.Action.TRANSITION,
    reason: str = "",
    bump: bool = True,
    cfg: clock.ClockConfig | None = None,
) -> ProblemEvent:
    """Recompute the clock, save, write the event and the audit record."""
    clock.refresh(current, cfg or clock.load_config())
    if bump:
        current.version += 1
    current.save()
    event = ProblemEvent(
        problem=current, kind=kind, from_status=from_status,
        to_status=current.status if from_status and from_status != current.status else "",
        actor=by if by and by.pk else None, at=at, text=text, step=step, level=level,
    )  # fmt: skip
    if upload is not None:
        event.evidence.save(upload.name, upload, save=False)
        event.evidence_name = upload.name[:200]
    event.save()
    record(
        actor=by, action=action, obj=current, before=before, after=_snapshot(current), project_id=current.project_id,
        reason=reason,
    )  # fmt: skip
    return event


def _unit(value: Unit | int | str | None, field: str, label: str, errors: dict) -> Unit | None:
    if value is None or value == "":
        errors.setdefault(field, []).append(_("请选择%(label)s。") % {"label": label})
        return None
    if isinstance(value, Unit):
        unit = Unit.objects.filter(pk=value.pk).first()
    else:
        try:
            unit = Unit.objects.filter(pk=int(value)).first()
        except (TypeError, ValueError, OverflowError):
            unit = None
    if unit is None:
        errors.setdefault(field, []).append(_("%(label)s不存在（编号 %(id)s）。") % {"label": label, "id": value})
        return None
    if not unit.is_active:
        errors.setdefault(field, []).append(_("%(label)s“%(unit)s”已停用。") % {"label": label, "unit": unit})
    elif unit.kind == Unit.Kind.ENTERPRISE:
        errors.setdefault(field, []).append(_("%(label)s不能是企业：“%(unit)s”。") % {"label": label, "unit": unit})
    return unit


def _leader(value: User | int | str, errors: dict) -> User | None:
    pk = value.pk if isinstance(value, User) else value
    try:
        user = User.objects.filter(pk=int(pk), is_active=True).first()
    except (TypeError, ValueError, OverflowError):
        user = None
    if user is None or not user.has_role(Role.LEADER):
        errors.setdefault("responsible_leader", []).append(
            _("分管领导必须是在职的领导账号（编号 %(id)s）。") % {"id": pk}
        )
        return None
    return user


def _not_before(day: datetime.date, limit: datetime.date | None, field: str, message: str, errors: dict) -> None:
    if limit is not None and day < limit:
        errors.setdefault(field, []).append(message % {"date": limit.isoformat()})


# --- raising and assigning --------------------------------------------------------------------------------


STAFF_ROLES = (Role.DISPATCHER, Role.LEADER, Role.UNIT_OFFICER)
# Problems that are tasks (任务): decisions of site visits and meetings, leaders' instructions. They may
# be assigned with their own 办结 deadline (`assign(resolve_due=...)`), also by a leader.
TASK_SOURCES = (Source.SITE_VISIT, Source.WEEKLY_MEETING, Source.LEADER_INSTRUCTION)


def _default_source(by: User) -> str | None:
    if by.has_role(*STAFF_ROLES):
        return Source.LEADER_INSTRUCTION if by.has_role(Role.LEADER) and not by.has_role(Role.DISPATCHER) else None
    if by.has_role(Role.ENTERPRISE):
        return Source.ENTERPRISE
    if by.has_role(Role.SERVICE_OFFICER):
        return Source.SERVICE_OFFICER
    return None


@transaction.atomic
def raise_problem(
    *,
    by: User,
    project: Project | int,
    title: str,
    category: str,
    description: str = "",
    source: str | None = None,
    severity: str = Severity.ORDINARY,
    received_on: datetime.date | None = None,
    origin_type: str = "",
    origin_id: int | None = None,
    upload=None,
    now: datetime.datetime | None = None,
) -> Problem:
    """Record a problem or demand (待交办), with an optional attachment kept on the 提出 event.

    Who: an enterprise reporter for its own company's projects (source 企业反映), a service officer for
    the projects they serve (source 首席服务员收集), a dispatcher, a leader or a unit officer for projects
    in their scope (any source). The received date is today; only a dispatcher may back-enter a problem
    with its real, earlier received date; no one may enter a future one.
    """
    at = _moment(now)
    today = timezone.localdate(at)
    errors: dict[str, list] = {}
    project_id = project.pk if isinstance(project, Project) else project
    try:
        target = visible_projects(by).filter(pk=int(project_id)).first()
    except (TypeError, ValueError, OverflowError):
        target = None
    if target is None:
        raise ValidationError({"project": _("项目不存在或无权查看。")})
    refusal = access.raise_refusal(by, target)
    if refusal:
        raise PermissionDenied(refusal)

    title = _text(title, "title", _("问题标题"), errors, limit=200)
    description = _text(description, "description", _("问题描述"), errors, required=False)
    _choice(category, Category, "category", _("问题类别"), errors)
    _choice(severity, Severity, "severity", _("问题性质"), errors)
    source = source or _default_source(by)
    if not source:
        errors.setdefault("source", []).append(_("请选择问题来源。"))
    else:
        _choice(source, Source, "source", _("问题来源"), errors)
        if not by.has_role(*STAFF_ROLES):
            own = {Source.ENTERPRISE} if by.has_role(Role.ENTERPRISE) else set()
            if by.has_role(Role.SERVICE_OFFICER):
                own.add(Source.SERVICE_OFFICER)
            if source not in own:
                errors.setdefault("source", []).append(_("您只能以“%(label)s”的来源提出问题。") % {
                    "label": "、".join(str(Source(s).label) for s in sorted(own))
                })  # fmt: skip

    if received_on is None:
        received_on = today
    received_on = _date(received_on, "received_on", _("收到日期"), errors)
    if received_on is not None:
        if received_on > today:
            errors.setdefault("received_on", []).append(_("收到日期不能晚于今天。"))
        elif received_on < EARLIEST_RECEIVED:
            errors.setdefault("received_on", []).append(_("收到日期不合理，请核对。"))
        elif received_on < today and not by.has_role(Role.DISPATCHER):
            errors.setdefault("received_on", []).append(
                _("只有调度员可以补录以往收到的问题；其他人员的收到日期为当天。")
            )
    _raise(errors)
    _check_upload(upload)

    problem = Problem(
        project=target, source=source, category=category, title=title, description=description, severity=severity,
        raised_by=by, received_on=received_on, status=Status.NEW, origin_type=origin_type[:40], origin_id=origin_id,
    )  # fmt: skip
    problem.save()  # no clock before assignment: every clock column stays empty
    event = ProblemEvent(problem=problem, kind=Kind.RAISED, to_status=Status.NEW, actor=by, at=at, text=description)
    if upload is not None:
        event.evidence.save(upload.name, upload, save=False)
        event.evidence_name = upload.name[:200]
    event.save()
    reason = _("补录，收到日期 %(date)s") % {"date": received_on.isoformat()} if received_on < today else ""
    record(actor=by, action=AuditRecord.Action.CREATE, obj=problem, after=snapshot(problem),
           project_id=problem.project_id, reason=reason)  # fmt: skip
    return problem


@transaction.atomic
def assign(
    problem: Problem,
    *,
    by: User,
    lead_unit: Unit | int,
    helper_units: Iterable[Unit | int] = (),
    responsible_leader: User | int | None = None,
    solve_level: str | None = None,
    severity: str | None = None,
    assigned_on: datetime.date | None = None,
    note: str = "",
    now: datetime.datetime | None = None,
    expected_version: int | None = None,
    resolve_due: datetime.date | None = None,
) -> Problem:
    """交办: the dispatcher names the lead unit, helper units and 分管领导; the 13710 clock starts.

    The lead and helper units must be active, not companies, and distinct. The 分管领导 defaults to
    the project's. The assignment date is today, or an earlier date for a back-entered problem
    (never before the received date). Due dates come from `clock.deadlines`.

    `resolve_due` makes the problem a task (任务: a decision of a site visit or a meeting, a leader's
    instruction; source in TASK_SOURCES) with its own 办结 deadline, not before the assignment date;
    leaders may assign such tasks too. Deploy and first-feedback deadlines stay on the clock, never
    later than the task's own deadline.
    """
    task = resolve_due is not None
    if not by.has_role(Role.DISPATCHER) and not (task and by.has_role(Role.LEADER)):
        raise PermissionDenied(_("只有调度员可以交办问题。"))
    access.ensure_visible(by, problem)
    at = _moment(now)
    today = timezone.localdate(at)
    current = _lock(problem, expected_version)
    if current.status != Status.NEW:
        raise _state_error(current, _("交办"))
    if task and current.source not in TASK_SOURCES:
        raise ValidationError({"resolve_due": _("只有现场办公、周调度会和领导批示形成的任务可以自定办结期限。")})

    errors: dict[str, list] = {}
    lead = _unit(lead_unit, "lead_unit", _("主办单位"), errors)
    helpers: dict[int, Unit] = {}
    for value in helper_units or ():
        unit = _unit(value, "helper_units", _("协办单位"), errors)
        if unit is not None:
            helpers[unit.pk] = unit
    if lead is not None and lead.pk in helpers:
        errors.setdefault("helper_units", []).append(_("主办单位不能同时是协办单位。"))
    leader = _leader(responsible_leader, errors) if responsible_leader not in (None, "") else None
    if leader is None and "responsible_leader" not in errors and current.project.responsible_leader_id:
        leader = current.project.responsible_leader
    solve_level = solve_level or current.solve_level
    _choice(solve_level, SolveLevel, "solve_level", _("需协调层级"), errors)
    severity = severity or current.severity
    _choice(severity, Severity, "severity", _("问题性质"), errors)
    note = _text(note, "note", _("交办意见"), errors, required=False)
    start = _date(assigned_on if assigned_on is not None else today, "assigned_on", _("交办日期"), errors)
    if start is not None:
        if start > today:
            errors.setdefault("assigned_on", []).append(_("交办日期不能晚于今天。"))
        _not_before(start, current.received_on, "assigned_on", _("交办日期不能早于收到日期（%(date)s）。"), errors)
    if task:
        resolve_due = _date(resolve_due, "resolve_due", _("办结期限"), errors)
        if resolve_due is not None and start is not None:
            _not_before(resolve_due, start, "resolve_due", _("办结期限不能早于交办日期（%(date)s）。"), errors)
    _raise(errors)

    cfg = clock.load_config()
    due = clock.deadlines(start, severity, cfg)
    if None in (due.deploy, due.feedback, due.resolve):
        raise ValidationError({"assigned_on": _("无法从该交办日期计算办理期限，请核对日期。")})
    if task:
        due = clock.Deadlines(
            deploy=min(due.deploy, resolve_due), feedback=min(due.feedback, resolve_due), resolve=resolve_due
        )

    before = _snapshot(current)
    current.lead_unit, current.responsible_leader = lead, leader
    current.solve_level, current.severity = solve_level, severity
    current.status = Status.ASSIGNED
    current.assigned_on, current.assigned_at, current.clock_start = start, at, start
    current.deploy_due, current.feedback_due, current.resolve_due = due.deploy, due.feedback, due.resolve
    current.clock_marks = []
    current.helper_units.set(list(helpers.values()))
    summary = _("主办：%(lead)s；协办：%(helpers)s；部署期限 %(d)s，首次反馈期限 %(f)s，办结期限 %(r)s。") % {
        "lead": lead, "helpers": "、".join(str(u) for u in helpers.values()) or _("无"),
        "d": due.deploy.isoformat(), "f": due.feedback.isoformat(), "r": due.resolve.isoformat(),
    }  # fmt: skip
    _finish(current, by=by, before=before, kind=Kind.ASSIGNED, at=at, from_status=Status.NEW,
            text=f"{note}\n{summary}".strip(), reason=note[:200], cfg=cfg)  # fmt: skip
    _sync(problem, current)
    return current


# --- the unit's work ----------------------------------------------------------------------------------------


def _not_before_assignment(current: Problem, at: datetime.datetime) -> None:
    if current.assigned_on and timezone.localdate(at) < current.assigned_on:
        raise ValidationError(_("办理时间不能早于交办日期（%(date)s）。") % {"date": current.assigned_on.isoformat()})


@transaction.atomic
def deploy(
    problem: Problem, *, by: User, note: str = "", now: datetime.datetime | None = None,
    expected_version: int | None = None,
) -> Problem:  # fmt: skip
    """部署 (已交办 → 已部署): the lead unit's officer confirms the task is deployed."""
    access.ensure_visible(by, problem)
    at = _moment(now)
    current = _lock(problem, expected_version)
    if current.status != Status.ASSIGNED:
        raise _state_error(current, _("部署"))
    if not access.is_lead_officer(by, current):
        raise PermissionDenied(_("只有主办单位的经办人可以部署。"))
    errors: dict[str, list] = {}
    note = _text(note, "note", _("部署情况"), errors, required=False)
    _raise(errors)
    _not_before_assignment(current, at)
    before = _snapshot(current)
    current.status, current.deployed_at = Status.DEPLOYED, at
    _finish(current, by=by, before=before, kind=Kind.DEPLOYED, at=at, from_status=Status.ASSIGNED, text=note,
            step=Step.DEPLOY)  # fmt: skip
    _sync(problem, current)
    return current


@transaction.atomic
def add_feedback(
    problem: Problem, *, by: User, text: str, upload=None, now: datetime.datetime | None = None
) -> ProblemEvent:
    """A dated feedback entry (反馈办理情况) by the lead or a helper unit's officer.

    Allowed once deployed. The lead unit's first feedback meets the 3-day step and moves the problem
    to 办理中; a helper unit's feedback is recorded without changing the state.
    """
    access.ensure_visible(by, problem)
    at = _moment(now)
    current = _lock(problem)
    if current.status not in (Status.DEPLOYED, Status.IN_PROGRESS):
        hint = _("请先部署。") if current.status == Status.ASSIGNED else ""
        raise _state_error(current, _("反馈办理情况"), hint)
    lead = access.is_lead_officer(by, current)
    if not lead and not access.is_helper_officer(by, current):
        raise PermissionDenied(_("只有主办或协办单位的经办人可以反馈办理情况。"))
    errors: dict[str, list] = {}
    text = _text(text, "text", _("办理情况"), errors)
    _raise(errors)
    _check_upload(upload)
    _not_before_assignment(current, at)
    before = _snapshot(current)
    from_status = current.status
    if lead:
        current.status = Status.IN_PROGRESS
        if current.first_feedback_at is None:
            current.first_feedback_at = at
    event = _finish(
        current, by=by, before=before, kind=Kind.FEEDBACK, at=at, from_status=from_status, text=text,
        step=Step.FEEDBACK if from_status == Status.DEPLOYED and lead else "", upload=upload,
        action=AuditRecord.Action.TRANSITION if from_status != current.status else AuditRecord.Action.UPDATE,
        reason=text[:200], bump=from_status != current.status,
    )  # fmt: skip
    _sync(problem, current)
    return event


@transaction.atomic
def resolve(
    problem: Problem, *, by: User, evidence: str, upload=None, now: datetime.datetime | None = None,
    expected_version: int | None = None,
) -> Problem:  # fmt: skip
    """办结 (已部署/办理中 → 已办结) by the lead unit's officer, with evidence text and an optional file.

    Resolving straight from 已部署 is allowed: the resolution is then also the first feedback.
    Stores the working days from assignment and whether it was on time (against the resolve deadline
    in force), for the unit figures.
    """
    access.ensure_visible(by, problem)
    at = _moment(now)
    current = _lock(problem, expected_version)
    if current.status not in (Status.DEPLOYED, Status.IN_PROGRESS):
        hint = _("请先部署。") if current.status == Status.ASSIGNED else ""
        raise _state_error(current, _("办结"), hint)
    if not access.is_lead_officer(by, current):
        raise PermissionDenied(_("只有主办单位的经办人可以办结。"))
    errors: dict[str, list] = {}
    evidence = _text(evidence, "evidence", _("办结情况及佐证"), errors)
    _raise(errors)
    _check_upload(upload)
    _not_before_assignment(current, at)
    before = _snapshot(current)
    from_status = current.status
    day = timezone.localdate(at)
    current.status, current.resolved_at = Status.RESOLVED, at
    if current.first_feedback_at is None:
        current.first_feedback_at = at
    try:
        current.resolve_workdays = calendar.workdays_between(current.assigned_on, day)
    except (ValueError, TypeError):
        current.resolve_workdays = None
    current.resolved_on_time = current.resolve_due is not None and day <= current.resolve_due
    _finish(current, by=by, before=before, kind=Kind.RESOLVED, at=at, from_status=from_status, text=evidence,
            step=Step.RESOLVE, upload=upload, reason=evidence[:200])  # fmt: skip
    _sync(problem, current)
    return current


# --- the company's rating and closing ---------------------------------------------------------------------


@transaction.atomic
def rate(
    problem: Problem, *, by: User, rating: str, comment: str = "", now: datetime.datetime | None = None,
    expected_version: int | None = None,
) -> Problem:  # fmt: skip
    """回访评价 by the company (or a dispatcher on its behalf when the project has no enterprise account).

    满意 / 基本满意: 已办结 → 已回访. 不满意 (a reason is required): back to 办理中 with a new resolve
    deadline counted from today, as for a fresh assignment of the same severity.
    """
    access.ensure_visible(by, problem)
    at = _moment(now)
    today = timezone.localdate(at)
    current = _lock(problem, expected_version)
    if current.status != Status.RESOLVED:
        raise _state_error(current, _("评价"))
    refusal, on_behalf = access.rating_refusal(by, current)
    if refusal:
        raise PermissionDenied(refusal)
    errors: dict[str, list] = {}
    _choice(rating, Rating, "rating", _("评价"), errors)
    comment = _text(comment, "comment", _("评价意见"), errors, required=rating == Rating.DISSATISFIED)
    _raise(errors)
    before = _snapshot(current)
    current.rating, current.rated_at = rating, at
    reason = _("调度员代企业评价") if on_behalf else ""
    label = Rating(rating).label
    if rating in GOOD_RATINGS:
        current.status = Status.RATED
        text = _("评价：%(rating)s。%(comment)s") % {"rating": label, "comment": comment}
        _finish(current, by=by, before=before, kind=Kind.RATED, at=at, from_status=Status.RESOLVED, text=text.strip(),
                reason=reason)  # fmt: skip
    else:
        cfg = clock.load_config()
        due = clock.resolve_due_for(today, current.severity, cfg)
        if due is None:
            raise ValidationError(_("无法计算新的办结期限，请联系管理员。"))
        current.status = Status.IN_PROGRESS
        current.reopen_count += 1
        current.resolved_at, current.resolve_workdays, current.resolved_on_time = None, None, None
        current.clock_start, current.resolve_due = today, due
        text = _("评价：不满意（%(comment)s）。重新办理，办结期限 %(due)s。") % {
            "comment": comment, "due": due.isoformat()
        }  # fmt: skip
        _finish(current, by=by, before=before, kind=Kind.REOPENED, at=at, from_status=Status.RESOLVED, text=text,
                step=Step.RESOLVE, reason=reason or comment[:200], cfg=cfg)  # fmt: skip
    _sync(problem, current)
    return current


@transaction.atomic
def close(
    problem: Problem, *, by: User, note: str = "", now: datetime.datetime | None = None,
    expected_version: int | None = None,
) -> Problem:  # fmt: skip
    """销号 (已回访 → 已销号) by a dispatcher, once the company rated 满意 or 基本满意."""
    if not by.has_role(Role.DISPATCHER):
        raise PermissionDenied(_("只有调度员可以销号。"))
    access.ensure_visible(by, problem)
    at = _moment(now)
    current = _lock(problem, expected_version)
    if current.status != Status.RATED or current.rating not in GOOD_RATINGS:
        raise _state_error(current, _("销号"), _("须企业评价“满意”或“基本满意”后方可销号。"))
    errors: dict[str, list] = {}
    note = _text(note, "note", _("销号说明"), errors, required=False)
    _raise(errors)
    before = _snapshot(current)
    current.status, current.closed_at = Status.CLOSED, at
    _finish(current, by=by, before=before, kind=Kind.CLOSED, at=at, from_status=Status.RATED, text=note)
    _sync(problem, current)
    return current


# --- supervision and the ladder -----------------------------------------------------------------------------


@transaction.atomic
def supervise(
    problem: Problem, *, by: User, due: datetime.date, note: str = "", now: datetime.datetime | None = None
) -> Problem:
    """挂牌督办: a leader puts an unresolved problem under named supervision with their own deadline.

    The deadline may not be before the problem's received date, nor before today. Supervising again
    replaces the supervisor and the deadline.
    """
    if not by.has_role(Role.LEADER):
        raise PermissionDenied(_("只有领导可以挂牌督办。"))
    access.ensure_visible(by, problem)
    at = _moment(now)
    today = timezone.localdate(at)
    current = _lock(problem)
    if current.status in DONE_STATUSES:
        raise _state_error(current, _("挂牌督办"))
    errors: dict[str, list] = {}
    note = _text(note, "note", _("督办要求"), errors, required=False)
    due = _date(due, "supervision_due", _("督办期限"), errors)
    if due is not None:
        _not_before(
            due, current.received_on, "supervision_due", _("督办期限不能早于问题收到日期（%(date)s）。"), errors
        )
        if "supervision_due" not in errors:
            _not_before(due, today, "supervision_due", _("督办期限不能早于今天（%(date)s）。"), errors)
    _raise(errors)
    before = _snapshot(current)
    current.supervised, current.supervisor, current.supervision_due, current.supervised_at = True, by, due, at
    text = _("挂牌督办，督办期限 %(due)s。%(note)s") % {"due": due.isoformat(), "note": note}
    _finish(current, by=by, before=before, kind=Kind.SUPERVISED, at=at, text=text.strip(), step=Step.SUPERVISION,
            action=AuditRecord.Action.UPDATE, reason=note[:200])  # fmt: skip
    _sync(problem, current)
    return current


def charge_leader(problem: Problem) -> User | None:
    """Level 1 (分管领导): the problem's responsible leader, else the project's."""
    if problem.responsible_leader_id:
        return problem.responsible_leader
    return problem.project.responsible_leader if problem.project.responsible_leader_id else None


def principal_leaders(problem: Problem) -> list[User]:
    """Level 2 (主要领导). The rule:

    1. the users named in `ProblemSettings.principal_leaders` whose unit is the lead unit or one of its
       ancestors (so one configuration serves several districts); if none of them is, all named users;
    2. when nobody is named: every active leader of the nearest 领导机构 (unit kind "leadership") above
       the lead unit, except the problem's 分管领导.
    """
    ancestors = [int(x) for x in (problem.lead_unit.path if problem.lead_unit_id else "").strip("/").split("/") if x]
    row = ProblemSettings.objects.filter(pk=1).first()
    if row is not None:
        named = list(row.principal_leaders.filter(is_active=True).order_by("id"))
        if named:
            inside = [u for u in named if u.unit_id in ancestors]
            return inside or named
    leadership = (
        Unit.objects.filter(pk__in=ancestors, kind=Unit.Kind.LEADERSHIP).order_by("-path").values_list("pk", flat=True)
    )
    nearest = leadership.first()
    if nearest is None:
        return []
    charge = charge_leader(problem)
    leaders = User.objects.filter(is_active=True, unit_id=nearest, roles__role=Role.LEADER).distinct().order_by("id")
    return [u for u in leaders if charge is None or u.pk != charge.pk]


def dispatchers() -> list[User]:
    return list(User.objects.filter(is_active=True, roles__role=Role.DISPATCHER).distinct().order_by("id"))


def escalation_targets(problem: Problem, level: int) -> list[User]:
    """Who the problem goes to at ladder level `level`: 1 the 分管领导, 2 the 主要领导, 3 (上报) the
    主要领导 and the dispatchers, who carry it to the city or province."""
    if level == EscalationLevel.CHARGE_LEADER:
        leader = charge_leader(problem)
        return [leader] if leader and leader.is_active else []
    if level == EscalationLevel.PRINCIPAL_LEADER:
        return principal_leaders(problem)
    if level == EscalationLevel.REPORTED:
        return [*principal_leaders(problem), *dispatchers()]
    return []


@transaction.atomic
def escalate(
    problem: Problem, *, to_level: int, by: User | None = None, reason: str = "", now: datetime.datetime | None = None,
    cfg: clock.ClockConfig | None = None,
) -> Problem:  # fmt: skip
    """Move a problem on the clock one rung up the ladder (升级督办).

    Used by the worker (`by` None) when a deadline has passed long enough; a dispatcher or a leader
    may also do it by hand. One level at a time; level 3 (上报) only for problems that need the city
    or the province.
    """
    if by is not None:
        if not by.has_role(Role.DISPATCHER, Role.LEADER):
            raise PermissionDenied(_("只有调度员或领导可以升级督办。"))
        access.ensure_visible(by, problem)
    at = _moment(now)
    current = _lock(problem)
    if current.status not in OPEN_STATUSES:
        raise _state_error(current, _("升级督办"))
    if to_level not in EscalationLevel.values or to_level != current.escalation_level + 1:
        raise ValidationError({"escalation_level": _("督办层级只能逐级上升（当前为“%(level)s”）。") % {
            "level": current.get_escalation_level_display()
        }})  # fmt: skip
    if to_level == EscalationLevel.REPORTED and current.solve_level == SolveLevel.DISTRICT:
        raise ValidationError({"escalation_level": _("只有需市级或省级协调的问题才能上报。")})
    before = _snapshot(current)
    current.escalation_level, current.escalated_at = to_level, at
    targets = escalation_targets(current, to_level)
    names = "、".join(str(u) for u in targets) or _("未找到对应领导，请调度员处理")
    label = EscalationLevel(to_level).label
    if to_level == EscalationLevel.REPORTED:
        text = _("升级督办：上报%(level)s协调（%(names)s）。") % {
            "level": current.get_solve_level_display(),
            "names": names,
        }
    else:
        text = _("升级督办：由%(level)s督办（%(names)s）。") % {"level": label, "names": names}
    if reason:
        text = f"{reason} {text}"
    _finish(current, by=by, before=before, kind=Kind.ESCALATED, at=at, text=text, level=to_level,
            step=current.current_step, action=AuditRecord.Action.UPDATE, reason=reason[:200], bump=by is not None,
            cfg=cfg)  # fmt: skip
    _sync(problem, current)
    return current


@transaction.atomic
def apply_clock_action(
    problem: Problem, action: clock.Action, *, now: datetime.datetime, silent: bool = False,
    cfg: clock.ClockConfig | None = None,
) -> Problem:  # fmt: skip
    """Carry out one of the worker's clock actions: a yellow reminder, an overdue mark, an escalation.

    A reminder or overdue mark is remembered in `clock_marks` so it is never sent twice; `silent`
    records a reminder that is moot (its deadline already passed) without an event.
    """
    cfg = cfg or clock.load_config()
    if action.kind == "escalate":
        return escalate(problem, to_level=action.level, now=now, cfg=cfg,
                        reason=_("%(step)s期限 %(due)s 已过。") % {"step": Step(action.step).label,
                                                                   "due": action.due.isoformat()})  # fmt: skip
    current = _lock(problem)
    before = {"clock_marks": list(current.clock_marks or [])}
    current.clock_marks = [*before["clock_marks"], action.key]
    if silent:
        clock.refresh(current, cfg)
        current.save(update_fields=["clock_marks", "next_action_at", "current_step", "current_due", "updated_at"])
        _sync(problem, current)
        return current
    step = Step(action.step).label
    if action.kind == "warn":
        kind = Kind.REMINDER
        text = _("%(step)s期限 %(due)s 即将到期，请抓紧办理。") % {"step": step, "due": action.due.isoformat()}
    else:
        kind = Kind.OVERDUE
        text = _("%(step)s期限 %(due)s 已过，已逾期。") % {"step": step, "due": action.due.isoformat()}
    clock.refresh(current, cfg)
    current.save()
    ProblemEvent.objects.create(problem=current, kind=kind, at=now, text=text, step=action.step)
    record(actor=None, action=AuditRecord.Action.UPDATE, obj=current, before=before,
           after={"clock_marks": current.clock_marks}, project_id=current.project_id, reason=text[:200])  # fmt: skip
    _sync(problem, current)
    return current


# --- correcting what was raised ---------------------------------------------------------------------------

EDITABLE_FIELDS = ("title", "description", "category", "severity")


@transaction.atomic
def update_problem(problem: Problem, *, by: User, data: dict[str, Any], expected_version: int | None = None) -> Problem:
    """Correct what was raised (title, description, category, severity) while the problem is 待交办.

    Who: whoever raised it, or a dispatcher. Once assigned, the deadlines and the units depend on these
    facts, so they are no longer edited (a dispatcher sets the severity when assigning). Not a state
    change: an audit record, no event. Nothing changed when nothing differs.
    """
    access.ensure_visible(by, problem)
    current = _lock(problem, expected_version)
    if not (by.has_role(Role.DISPATCHER) or (current.raised_by_id and current.raised_by_id == by.pk)):
        raise PermissionDenied(_("只有提出人或调度员可以修改问题内容。"))
    if current.status != Status.NEW:
        raise _state_error(current, _("修改问题内容"), _("交办后不能再修改问题内容。"))
    errors: dict[str, list] = {}
    unknown = sorted(set(data) - set(EDITABLE_FIELDS))
    for name in unknown:
        errors.setdefault(name, []).append(_("该字段不能修改。"))
    values: dict[str, Any] = {}
    if "title" in data:
        values["title"] = _text(data["title"], "title", _("问题标题"), errors, limit=200)
    if "description" in data:
        values["description"] = _text(data["description"], "description", _("问题描述"), errors, required=False)
    if "category" in data:
        values["category"] = _choice(data["category"], Category, "category", _("问题类别"), errors)
    if "severity" in data:
        values["severity"] = _choice(data["severity"], Severity, "severity", _("问题性质"), errors)
    _raise(errors)
    changed = {name: value for name, value in values.items() if getattr(current, name) != value}
    if not changed:
        _sync(problem, current)
        return current
    before = snapshot(current, list(EDITABLE_FIELDS))
    for name, value in changed.items():
        setattr(current, name, value)
    current.version += 1
    current.save(update_fields=[*changed, "version", "updated_at"])
    record(actor=by, action=AuditRecord.Action.UPDATE, obj=current, before=before,
           after=snapshot(current, list(EDITABLE_FIELDS)), project_id=current.project_id)  # fmt: skip
    _sync(problem, current)
    return current
