"""Domain functions of site visits, meetings, instructions and service officers. Every change goes through here.

Each function checks the actor's role and scope, validates every input first (all messages at once, in
Chinese, keyed by field; rows as ``demands.0.title``), then writes inside one transaction with an audit
record. On refusal nothing is saved: `PermissionDenied` for the wrong person, `ValidationError` for bad
input, `Http404` for an object outside the actor's scope.

Demands and decisions become problems through `keyprojects.problems.domain`:

- a **demand** heard (企业诉求) is `raise_problem(source=..., origin_type=..., origin_id=...)`: a problem
  waiting to be assigned (待交办) by a dispatcher, as any other;
- a **decision** (议定事项) or an **instruction** (批示) is a *task*: `raise_problem` then at once
  `assign(lead_unit=<owner unit>, resolve_due=<its due date>)`, so it runs on the 13710 clock (deploy the
  same day, first feedback in 3 days, 办结 by its own date) and is handled, escalated and closed like a
  problem. An instruction about several projects gives one task per project.

A dispatcher back-enters what happened on an earlier day: the problems get the visit's (meeting's,
instruction's) date as received and assignment date, so the clock starts then. A leader's entries are
received and assigned today (the problems module lets only dispatchers back-enter).

`now` exists for tests and seed data; pages and the API never pass it.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.http import Http404
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from keyprojects.audit.models import AuditRecord
from keyprojects.audit.trail import record, snapshot
from keyprojects.org.models import Role, Unit, User
from keyprojects.problems import domain as problems
from keyprojects.problems.models import Category, Problem, Severity, Source
from keyprojects.projects import domain as projects_domain
from keyprojects.projects.access import visible_projects
from keyprojects.projects.models import Level, Project
from keyprojects.visits import access, photos
from keyprojects.visits.models import (
    ORIGIN_INSTRUCTION,
    ORIGIN_MEETING,
    ORIGIN_OFFICER_VISIT,
    ORIGIN_SITE_VISIT,
    Instruction,
    Meeting,
    OfficerPairing,
    OfficerVisit,
    OriginLink,
    Photo,
    PolicyPush,
    ServiceRole,
    SiteVisit,
)

EARLIEST = datetime.date(2000, 1, 1)
MAX_TEXT = 5000
MAX_ROWS = 30
# The longest a decision or instruction may run (its due date after its date).
MAX_TASK_DAYS = 3 * 366
KEY_LEVELS = (Level.PROVINCE, Level.CITY)


# --- helpers -------------------------------------------------------------------------------------------------


def _moment(now: datetime.datetime | None) -> datetime.datetime:
    if now is None:
        return timezone.now()
    return timezone.make_aware(now) if timezone.is_naive(now) else now


def _add(errors: dict, field: str, message: str) -> None:
    errors.setdefault(field, []).append(message)


def _raise(errors: dict) -> None:
    if errors:
        raise ValidationError(errors)


def _text(value: Any, field: str, label: str, errors: dict, *, required: bool = True, limit: int = MAX_TEXT) -> str:
    if value is not None and not isinstance(value, str):
        _add(errors, field, _("%(label)s格式不正确。") % {"label": label})
        return ""
    text = (value or "").strip()
    if required and not text:
        _add(errors, field, _("请填写%(label)s。") % {"label": label})
    elif len(text) > limit:
        _add(errors, field, _("%(label)s不能超过 %(n)s 个字。") % {"label": label, "n": limit})
    return text


def _day(
    value: Any, field: str, label: str, errors: dict, *, today: datetime.date | None = None
) -> datetime.date | None:
    if isinstance(value, datetime.datetime):
        value = timezone.localdate(value) if timezone.is_aware(value) else value.date()
    if not isinstance(value, datetime.date):
        _add(errors, field, _("请填写有效的%(label)s。") % {"label": label})
        return None
    if value < EARLIEST:
        _add(errors, field, _("%(label)s不合理，请核对。") % {"label": label})
        return None
    if today is not None and value > today:
        _add(errors, field, _("%(label)s不能晚于今天。") % {"label": label})
        return None
    return value


def _pk(value: Any) -> int | None:
    if isinstance(value, (Project, Unit, User, ServiceRole)):
        return value.pk
    if isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return None


class _Projects:
    """Projects the actor sees, looked up once per id."""

    def __init__(self, by: User):
        self.by = by
        self.cache: dict[int, Project | None] = {}

    def get(self, value: Any, field: str, errors: dict) -> Project | None:
        pk = _pk(value)
        if pk is None:
            _add(errors, field, _("请选择项目。") if value in (None, "") else _("项目编号无效：%(v)s。") % {"v": value})
            return None
        if pk not in self.cache:
            self.cache[pk] = visible_projects(self.by).filter(pk=pk).first() if 0 < pk < 2**63 else None
        project = self.cache[pk]
        if project is None:
            _add(errors, field, _("项目不存在或无权查看（编号 %(id)s）。") % {"id": pk})
        return project

    def many(self, values: Iterable, field: str, errors: dict) -> list[Project]:
        found: dict[int, Project] = {}
        for value in values or ():
            project = self.get(value, field, errors)
            if project is not None:
                found.setdefault(project.pk, project)
        return list(found.values())


def _unit(value: Any, field: str, label: str, errors: dict) -> Unit | None:
    pk = _pk(value)
    if pk is None:
        _add(errors, field, _("请选择%(label)s。") % {"label": label})
        return None
    unit = Unit.objects.filter(pk=pk).first() if 0 < pk < 2**63 else None
    if unit is None:
        _add(errors, field, _("%(label)s不存在（编号 %(id)s）。") % {"label": label, "id": pk})
    elif not unit.is_active:
        _add(errors, field, _("%(label)s“%(unit)s”已停用。") % {"label": label, "unit": unit})
    elif unit.kind == Unit.Kind.ENTERPRISE:
        _add(errors, field, _("%(label)s不能是企业：“%(unit)s”。") % {"label": label, "unit": unit})
    else:
        return unit
    return None


def _person(value: Any, role: str, field: str, label: str, errors: dict) -> User | None:
    pk = _pk(value)
    user = User.objects.filter(pk=pk, is_active=True).first() if pk and 0 < pk < 2**63 else None
    if user is None or not user.has_role(role):
        _add(errors, field, _("%(label)s必须是在职的%(role)s账号（编号 %(id)s）。") % {
            "label": label, "role": Role(role).label, "id": value
        })  # fmt: skip
        return None
    return user


def _rekey(exc: ValidationError, prefix: str, rename: dict[str, str] | None = None) -> ValidationError:
    """A problems-domain error on one row, keyed under the row (``demands.0.title``)."""
    rename = rename or {}
    if hasattr(exc, "error_dict"):
        errors = {}
        for key, messages in exc.message_dict.items():
            name = prefix if key == NON_FIELD_ERRORS else f"{prefix}.{rename.get(key, key)}"
            errors.setdefault(name, []).extend(messages)
        return ValidationError(errors)
    return ValidationError({prefix: exc.messages})


def _first_line(text: str, limit: int = 60) -> str:
    line = text.strip().splitlines()[0].strip() if text.strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _names(items: Iterable) -> list[str]:
    return [str(i) for i in items]


# --- rows: demands and decisions ------------------------------------------------------------------------------


def _check_demand(row: dict, prefix: str, projects: _Projects, errors: dict) -> dict:
    clean = {
        "project": projects.get(row.get("project"), f"{prefix}.project", errors),
        "title": _text(row.get("title"), f"{prefix}.title", _("诉求内容"), errors, limit=200),
        "description": _text(row.get("description"), f"{prefix}.description", _("详细说明"), errors, required=False),
        "category": row.get("category") or Category.OTHER,
        "severity": row.get("severity") or Severity.ORDINARY,
    }
    if clean["category"] not in Category.values:
        _add(errors, f"{prefix}.category", _("无效的问题类别：%(v)s。") % {"v": clean["category"]})
    if clean["severity"] not in Severity.values:
        _add(errors, f"{prefix}.severity", _("无效的问题性质：%(v)s。") % {"v": clean["severity"]})
    return clean


def _check_decision(row: dict, prefix: str, projects: _Projects, start: datetime.date | None, errors: dict) -> dict:
    clean = {
        "project": projects.get(row.get("project"), f"{prefix}.project", errors),
        "text": _text(row.get("text"), f"{prefix}.text", _("议定事项"), errors),
        "lead_unit": _unit(row.get("lead_unit"), f"{prefix}.lead_unit", _("责任单位"), errors),
        "due": _day(row.get("due"), f"{prefix}.due", _("办结期限"), errors),
    }
    _check_due(clean["due"], start, f"{prefix}.due", errors)
    return clean


def _check_due(due: datetime.date | None, start: datetime.date | None, field: str, errors: dict) -> None:
    if due is None or start is None:
        return
    if due < start:
        _add(errors, field, _("办结期限不能早于%(date)s。") % {"date": start.isoformat()})
    elif (due - start).days > MAX_TASK_DAYS:
        _add(errors, field, _("办结期限不能超过三年，请核对。"))


def _rows(values: Any, field: str, errors: dict) -> list[dict]:
    rows = list(values or ())
    if len(rows) > MAX_ROWS:
        _add(errors, field, _("一次最多登记 %(n)s 条。") % {"n": MAX_ROWS})
        return []
    if any(not isinstance(r, dict) for r in rows):
        _add(errors, field, _("格式不正确。"))
        return []
    return rows


def _back_entry(by: User, day: datetime.date, today: datetime.date) -> datetime.date:
    """The received/assignment date of the problems of something that happened on `day`."""
    return day if by.has_role(Role.DISPATCHER) and day <= today else today


def _raise_demand(
    by: User, clean: dict, *, source: str, origin_type: str, origin_id: int, received_on: datetime.date,
    at: datetime.datetime, context: str, prefix: str, link: dict,
) -> Problem:  # fmt: skip
    description = "\n\n".join(filter(None, [clean["description"], context]))
    try:
        problem = problems.raise_problem(
            by=by, project=clean["project"], title=clean["title"], category=clean["category"],
            description=description, source=source, severity=clean["severity"], received_on=received_on,
            origin_type=origin_type, origin_id=origin_id, now=at,
        )  # fmt: skip
    except ValidationError as exc:
        raise _rekey(exc, prefix) from None
    except PermissionDenied as exc:
        raise ValidationError({f"{prefix}.project": [str(exc)]}) from None
    OriginLink.objects.create(problem=problem, kind=OriginLink.Kind.DEMAND, **link)
    return problem


def _raise_task(
    by: User, clean: dict, *, source: str, kind: str, origin_type: str, origin_id: int, start: datetime.date,
    at: datetime.datetime, context: str, prefix: str, link: dict, title: str = "",
    responsible_leader: User | None = None,
) -> Problem:  # fmt: skip
    text = clean["text"]
    description = "\n\n".join(filter(None, [text, context]))
    try:
        problem = problems.raise_problem(
            by=by, project=clean["project"], title=title or _first_line(text), category=Category.OTHER,
            description=description, source=source, received_on=start, origin_type=origin_type, origin_id=origin_id,
            now=at,
        )  # fmt: skip
        problems.assign(
            problem, by=by, lead_unit=clean["lead_unit"], responsible_leader=responsible_leader, assigned_on=start,
            resolve_due=clean["due"], note=context, now=at,
        )  # fmt: skip
    except ValidationError as exc:
        raise _rekey(exc, prefix, {"title": "text", "description": "text", "resolve_due": "due"}) from None
    except PermissionDenied as exc:
        raise ValidationError({prefix: [str(exc)]}) from None
    OriginLink.objects.create(problem=problem, kind=kind, **link)
    return problem


def _save_photos(checked, *, by: User, **parent) -> list[Photo]:
    saved = []
    for upload, info in checked:
        photo = Photo(
            image_type=info.image_type, original_name=(upload.name or "")[:200], size=upload.size,
            width=info.width, height=info.height, uploaded_by=by, **parent,
        )  # fmt: skip
        photo.file.save(f"photo.{info.image_type}", upload, save=False)
        photo.save()
        saved.append(photo)
    return saved


def _check_photos(uploads, errors: dict) -> list:
    try:
        return photos.inspect_all(uploads)
    except ValidationError as exc:
        errors.setdefault("photos", []).extend(exc.messages)
        return []


# --- site visits ------------------------------------------------------------------------------------------------


def stored_language():
    """Text stored in the database (titles, contexts) is always in the platform's language, whatever
    the language of the user who caused it: other users read it."""
    return translation.override(settings.LANGUAGE_CODE)


def _visit_context(visit: SiteVisit) -> str:
    with stored_language():
        return _("现场办公：%(date)s %(place)s") % {"date": visit.visited_on.isoformat(), "place": visit.place}


@transaction.atomic
def create_site_visit(
    *,
    by: User,
    visited_on: datetime.date,
    place: str,
    leaders: Iterable = (),
    projects: Iterable = (),
    attendees: str = "",
    summary: str = "",
    demands: Iterable[dict] = (),
    decisions: Iterable[dict] = (),
    uploads: Iterable = (),
    now: datetime.datetime | None = None,
) -> SiteVisit:
    """Record a site visit with what the companies asked (each a problem) and what was decided (each a task).

    Who: leaders and dispatchers. Leaders default to the actor when they are a leader. The projects of
    the demands and decisions join the visit's projects. Photos: JPEG or PNG, checked by content.
    """
    access.ensure_can_record(by, _("现场办公"))
    at = _moment(now)
    today = timezone.localdate(at)
    errors: dict[str, list] = {}
    finder = _Projects(by)
    day = _day(visited_on, "visited_on", _("现场办公日期"), errors, today=today)
    place = _text(place, "place", _("地点"), errors, limit=200)
    attendees = _text(attendees, "attendees", _("参加人员"), errors, required=False)
    summary = _text(summary, "summary", _("现场办公情况"), errors, required=False)
    leader_values = list(leaders or ())
    if not leader_values and by.has_role(Role.LEADER):
        leader_values = [by]
    people = []
    for value in leader_values:
        person = _person(value, Role.LEADER, "leaders", _("带队领导"), errors)
        if person is not None and person not in people:
            people.append(person)
    if not leader_values:
        _add(errors, "leaders", _("请选择带队领导。"))
    chosen = finder.many(projects, "projects", errors)
    start = _back_entry(by, day, today) if day else None
    demand_rows = [
        _check_demand(r, f"demands.{i}", finder, errors) for i, r in enumerate(_rows(demands, "demands", errors))
    ]
    decision_rows = [
        _check_decision(r, f"decisions.{i}", finder, day, errors)
        for i, r in enumerate(_rows(decisions, "decisions", errors))
    ]
    for row in [*demand_rows, *decision_rows]:
        if row["project"] is not None and row["project"] not in chosen:
            chosen.append(row["project"])
    if not chosen and "projects" not in errors:
        _add(errors, "projects", _("请至少选择一个项目。"))
    checked = _check_photos(uploads, errors)
    _raise(errors)

    visit = SiteVisit.objects.create(visited_on=day, place=place, attendees=attendees, summary=summary, created_by=by)
    visit.leaders.set(people)
    visit.projects.set(chosen)
    after = {**snapshot(visit), "leaders": _names(people), "projects": _names(chosen)}
    record(actor=by, action=AuditRecord.Action.CREATE, obj=visit, after=after,
           project_id=chosen[0].pk if len(chosen) == 1 else None)  # fmt: skip
    context = _visit_context(visit)
    link = {"site_visit": visit}
    for i, clean in enumerate(demand_rows):
        _raise_demand(by, clean, source=Source.SITE_VISIT, origin_type=ORIGIN_SITE_VISIT, origin_id=visit.pk,
                      received_on=start, at=at, context=context, prefix=f"demands.{i}", link=link)  # fmt: skip
    for i, clean in enumerate(decision_rows):
        _raise_task(by, clean, source=Source.SITE_VISIT, kind=OriginLink.Kind.DECISION, origin_type=ORIGIN_SITE_VISIT,
                    origin_id=visit.pk, start=start, at=at, context=context, prefix=f"decisions.{i}",
                    link=link)  # fmt: skip
    _save_photos(checked, by=by, site_visit=visit)
    return visit


def _ensure_recorder_sees(by: User, queryset, obj, what: str) -> None:
    access.ensure_can_record(by, what)
    if not queryset.filter(pk=obj.pk).exists():
        raise Http404(_("记录不存在或无权查看。"))


def _join_project(obj, project: Project) -> None:
    if not obj.projects.filter(pk=project.pk).exists():
        obj.projects.add(project)


@transaction.atomic
def add_visit_demand(visit: SiteVisit, *, by: User, row: dict, now: datetime.datetime | None = None) -> Problem:
    """One more demand heard at a visit: a problem (待交办) linked to the visit."""
    _ensure_recorder_sees(by, access.visible_site_visits(by), visit, _("现场办公"))
    at = _moment(now)
    errors: dict[str, list] = {}
    clean = _check_demand(row, "demands.0", _Projects(by), errors)
    _raise(errors)
    _join_project(visit, clean["project"])
    return _raise_demand(
        by, clean, source=Source.SITE_VISIT, origin_type=ORIGIN_SITE_VISIT, origin_id=visit.pk,
        received_on=_back_entry(by, visit.visited_on, timezone.localdate(at)), at=at, context=_visit_context(visit),
        prefix="demands.0", link={"site_visit": visit},
    )  # fmt: skip


@transaction.atomic
def add_visit_decision(visit: SiteVisit, *, by: User, row: dict, now: datetime.datetime | None = None) -> Problem:
    """One more decision of a visit: a task assigned to its owner unit with its due date."""
    _ensure_recorder_sees(by, access.visible_site_visits(by), visit, _("现场办公"))
    at = _moment(now)
    errors: dict[str, list] = {}
    clean = _check_decision(row, "decisions.0", _Projects(by), visit.visited_on, errors)
    _raise(errors)
    _join_project(visit, clean["project"])
    return _raise_task(
        by, clean, source=Source.SITE_VISIT, kind=OriginLink.Kind.DECISION, origin_type=ORIGIN_SITE_VISIT,
        origin_id=visit.pk, start=_back_entry(by, visit.visited_on, timezone.localdate(at)), at=at,
        context=_visit_context(visit), prefix="decisions.0", link={"site_visit": visit},
    )  # fmt: skip


@transaction.atomic
def add_visit_photos(visit: SiteVisit, *, by: User, uploads: Iterable) -> list[Photo]:
    _ensure_recorder_sees(by, access.visible_site_visits(by), visit, _("现场办公"))
    errors: dict[str, list] = {}
    checked = _check_photos(uploads, errors)
    if not checked and not errors:
        _add(errors, "photos", _("请选择要上传的照片。"))
    _raise(errors)
    saved = _save_photos(checked, by=by, site_visit=visit)
    record(actor=by, action=AuditRecord.Action.UPDATE, obj=visit, after={"photos": [p.original_name for p in saved]},
           reason=_("上传现场照片 %(n)s 张") % {"n": len(saved)})  # fmt: skip
    return saved


# --- meetings -------------------------------------------------------------------------------------------------


def _meeting_context(meeting: Meeting) -> str:
    with stored_language():
        return _("%(kind)s：%(date)s %(title)s") % {
            "kind": meeting.get_kind_display(), "date": meeting.held_on.isoformat(), "title": meeting.title
        }  # fmt: skip


@transaction.atomic
def create_meeting(
    *,
    by: User,
    held_on: datetime.date,
    chair: User | int,
    kind: str = Meeting.Kind.WEEKLY,
    title: str = "",
    projects: Iterable = (),
    attendees: str = "",
    minutes: str = "",
    decisions: Iterable[dict] = (),
    now: datetime.datetime | None = None,
) -> Meeting:
    """Record a 周调度会 or 专题会: its chair (a leader), the projects discussed, minutes and decisions (tasks)."""
    access.ensure_can_record(by, _("会议"))
    at = _moment(now)
    today = timezone.localdate(at)
    errors: dict[str, list] = {}
    finder = _Projects(by)
    if kind not in Meeting.Kind.values:
        _add(errors, "kind", _("无效的会议类型：%(v)s。") % {"v": kind})
    day = _day(held_on, "held_on", _("会议日期"), errors, today=today)
    person = _person(chair, Role.LEADER, "chair", _("主持人"), errors)
    title = _text(title, "title", _("会议名称"), errors, required=False, limit=200)
    attendees = _text(attendees, "attendees", _("参会人员"), errors, required=False)
    minutes = _text(minutes, "minutes", _("会议纪要"), errors, required=False, limit=20000)
    chosen = finder.many(projects, "projects", errors)
    decision_rows = [
        _check_decision(r, f"decisions.{i}", finder, day, errors)
        for i, r in enumerate(_rows(decisions, "decisions", errors))
    ]
    for row in decision_rows:
        if row["project"] is not None and row["project"] not in chosen:
            chosen.append(row["project"])
    _raise(errors)
    if not title:
        with stored_language():
            title = _("%(date)s%(kind)s") % {"date": f"{day.year}年{day.month}月{day.day}日",
                                             "kind": Meeting.Kind(kind).label}  # fmt: skip
    meeting = Meeting.objects.create(kind=kind, held_on=day, chair=person, title=title, attendees=attendees,
                                     minutes=minutes, created_by=by)  # fmt: skip
    meeting.projects.set(chosen)
    record(actor=by, action=AuditRecord.Action.CREATE, obj=meeting,
           after={**snapshot(meeting), "projects": _names(chosen)})  # fmt: skip
    start = _back_entry(by, day, today)
    for i, clean in enumerate(decision_rows):
        _raise_task(by, clean, source=Source.WEEKLY_MEETING, kind=OriginLink.Kind.DECISION, origin_type=ORIGIN_MEETING,
                    origin_id=meeting.pk, start=start, at=at, context=_meeting_context(meeting),
                    prefix=f"decisions.{i}", link={"meeting": meeting})  # fmt: skip
    return meeting


@transaction.atomic
def add_meeting_decision(meeting: Meeting, *, by: User, row: dict, now: datetime.datetime | None = None) -> Problem:
    _ensure_recorder_sees(by, access.visible_meetings(by), meeting, _("会议"))
    at = _moment(now)
    errors: dict[str, list] = {}
    clean = _check_decision(row, "decisions.0", _Projects(by), meeting.held_on, errors)
    _raise(errors)
    _join_project(meeting, clean["project"])
    return _raise_task(
        by, clean, source=Source.WEEKLY_MEETING, kind=OriginLink.Kind.DECISION, origin_type=ORIGIN_MEETING,
        origin_id=meeting.pk, start=_back_entry(by, meeting.held_on, timezone.localdate(at)), at=at,
        context=_meeting_context(meeting), prefix="decisions.0", link={"meeting": meeting},
    )  # fmt: skip


# --- instructions -----------------------------------------------------------------------------------------------


@transaction.atomic
def create_instruction(
    *,
    by: User,
    given_on: datetime.date,
    text: str,
    projects: Iterable,
    lead_unit: Unit | int,
    due_on: datetime.date,
    leader: User | int | None = None,
    kind: str = Instruction.Kind.INSTRUCTION,
    now: datetime.datetime | None = None,
) -> Instruction:
    """Register a leader's 批示 or 交办: one task per project for the assigned unit, due by `due_on`.

    A leader registers their own instructions; a dispatcher registers any leader's. The instructing
    leader is the tasks' 分管领导 (the first rung of the escalation ladder).
    """
    access.ensure_can_record(by, _("领导批示"))
    at = _moment(now)
    today = timezone.localdate(at)
    errors: dict[str, list] = {}
    if kind not in Instruction.Kind.values:
        _add(errors, "kind", _("无效的类型：%(v)s。") % {"v": kind})
    if leader in (None, "") and by.has_role(Role.LEADER):
        leader = by
    person = _person(leader, Role.LEADER, "leader", _("批示领导"), errors)
    if person is not None and person.pk != by.pk and not by.has_role(Role.DISPATCHER):
        _add(errors, "leader", _("领导只能登记本人的批示；其他领导的批示请由调度员登记。"))
    day = _day(given_on, "given_on", _("批示日期"), errors, today=today)
    text = _text(text, "text", _("批示内容"), errors)
    unit = _unit(lead_unit, "lead_unit", _("承办单位"), errors)
    due = _day(due_on, "due_on", _("办结期限"), errors)
    _check_due(due, day, "due_on", errors)
    chosen = _Projects(by).many(projects, "projects", errors)
    if not chosen and "projects" not in errors:
        _add(errors, "projects", _("请至少选择一个项目。"))
    _raise(errors)
    instruction = Instruction.objects.create(kind=kind, leader=person, given_on=day, text=text, lead_unit=unit,
                                             due_on=due, created_by=by)  # fmt: skip
    instruction.projects.set(chosen)
    record(actor=by, action=AuditRecord.Action.CREATE, obj=instruction,
           after={**snapshot(instruction), "projects": _names(chosen)},
           project_id=chosen[0].pk if len(chosen) == 1 else None)  # fmt: skip
    start = _back_entry(by, day, today)
    label = instruction.get_kind_display()
    with stored_language():
        label = instruction.get_kind_display()
        context = _("%(leader)s%(kind)s（%(date)s）") % {"leader": person, "kind": label, "date": day.isoformat()}
        title = _("%(leader)s%(kind)s：%(text)s") % {"leader": person, "kind": label, "text": _first_line(text, 50)}
    for i, project in enumerate(chosen):
        clean = {"project": project, "text": text, "lead_unit": unit, "due": due}
        _raise_task(by, clean, source=Source.LEADER_INSTRUCTION, kind=OriginLink.Kind.INSTRUCTION,
                    origin_type=ORIGIN_INSTRUCTION, origin_id=instruction.pk, start=start, at=at, context=context,
                    prefix=f"projects.{i}", link={"instruction": instruction}, title=title[:200],
                    responsible_leader=person)  # fmt: skip
    return instruction


# --- service officers ------------------------------------------------------------------------------------------


def active_pairing(project: Project, day: datetime.date) -> OfficerPairing | None:
    return (
        OfficerPairing.objects.filter(project=project, started_on__lte=day)
        .exclude(ended_on__lt=day)
        .select_related("officer")
        .first()
    )


def _overlapping(project: Project, start: datetime.date, end: datetime.date | None):
    pairings = OfficerPairing.objects.filter(project=project).exclude(ended_on__lt=start)
    if end is not None:
        pairings = pairings.filter(started_on__lte=end)
    return pairings.select_related("officer").order_by("started_on", "id")


def _refusal_message(other: OfficerPairing) -> str:
    message = _(
        "该项目已有首席服务员“%(officer)s”（%(start)s 起结对），一个项目同一时间只能有一名首席服务员。"
        "请先结束现有结对再重新结对。"
    )
    return message % {"officer": other.officer, "start": other.started_on.isoformat()}


@transaction.atomic
def pair_officer(
    *,
    by: User,
    officer: User | int,
    project: Project | int,
    roles: Iterable = (),
    started_on: datetime.date,
    ended_on: datetime.date | None = None,
    note: str = "",
    now: datetime.datetime | None = None,
) -> OfficerPairing:
    """Pair a service officer with a provincial or municipal key project (dispatchers only).

    Refused: a district project (区重点), a period overlapping another pairing of the same project, a
    start in the future. An active pairing makes the officer the project's `service_officer` (through
    `projects.domain.update_project`, so the access scope follows and the change is audited).
    """
    if not access.can_pair(by):
        raise PermissionDenied(_("只有调度员可以安排首席服务员结对。"))
    at = _moment(now)
    today = timezone.localdate(at)
    errors: dict[str, list] = {}
    person = _person(officer, Role.SERVICE_OFFICER, "officer", _("首席服务员"), errors)
    target = _Projects(by).get(project, "project", errors)
    if target is not None and target.level not in KEY_LEVELS:
        _add(errors, "project", _("只能为省重点、市重点项目结对首席服务员（“%(name)s”为%(level)s项目）。") % {
            "name": target.name, "level": target.get_level_display()
        })  # fmt: skip
    start = _day(started_on, "started_on", _("结对日期"), errors, today=today)
    end = None
    if ended_on not in (None, ""):
        end = _day(ended_on, "ended_on", _("结束日期"), errors, today=today)
        if end is not None and start is not None and end < start:
            _add(errors, "ended_on", _("结束日期不能早于结对日期。"))
    note = _text(note, "note", _("备注"), errors, required=False, limit=200)
    role_ids = [_pk(r) for r in roles or ()]
    chosen_roles = list(ServiceRole.objects.filter(pk__in=[r for r in role_ids if r], is_active=True))
    if len(chosen_roles) != len(set(role_ids)):
        _add(errors, "roles", _("职责不存在或已停用。"))
    elif not chosen_roles:
        _add(errors, "roles", _("请至少选择一项职责。"))
    _raise(errors)
    target = Project.objects.select_for_update().get(pk=target.pk)  # one pairing decision per project at a time
    other = _overlapping(target, start, end).first()
    if other is not None:
        raise ValidationError({"project": [_refusal_message(other)]})
    try:
        with transaction.atomic():
            pairing = OfficerPairing.objects.create(officer=person, project=target, started_on=start, ended_on=end,
                                                    note=note, created_by=by)  # fmt: skip
    except IntegrityError:
        other = active_pairing(target, today) or _overlapping(target, start, end).first()
        message = _refusal_message(other) if other else _("该项目已有首席服务员。")
        raise ValidationError({"project": [message]}) from None
    pairing.roles.set(chosen_roles)
    record(actor=by, action=AuditRecord.Action.CREATE, obj=pairing, project_id=target.pk,
           after={**snapshot(pairing), "roles": _names(chosen_roles)})  # fmt: skip
    if pairing.is_active_on(today) and target.service_officer_id != person.pk:
        projects_domain.update_project(target, by=by, data={"service_officer": person})
    return pairing


@transaction.atomic
def end_pairing(
    pairing: OfficerPairing, *, by: User, ended_on: datetime.date, note: str = "", now: datetime.datetime | None = None
) -> OfficerPairing:
    """End a pairing on a day (not in the future); the project then has no service officer."""
    if not access.can_pair(by):
        raise PermissionDenied(_("只有调度员可以结束首席服务员结对。"))
    if not access.visible_pairings(by).filter(pk=pairing.pk).exists():
        raise Http404(_("结对记录不存在或无权查看。"))
    at = _moment(now)
    today = timezone.localdate(at)
    current = OfficerPairing.objects.select_for_update().select_related("officer", "project").get(pk=pairing.pk)
    errors: dict[str, list] = {}
    if current.ended_on is not None:
        _add(errors, "ended_on", _("该结对已于 %(date)s 结束。") % {"date": current.ended_on.isoformat()})
    end = _day(ended_on, "ended_on", _("结束日期"), errors, today=today)
    if end is not None and end < current.started_on:
        _add(errors, "ended_on", _("结束日期不能早于结对日期（%(date)s）。") % {"date": current.started_on.isoformat()})
    note = _text(note, "note", _("说明"), errors, required=False, limit=200)
    _raise(errors)
    before = snapshot(current, ["ended_on", "note"])
    current.ended_on = end
    if note:
        current.note = note
    current.save(update_fields=["ended_on", "note"])
    record(actor=by, action=AuditRecord.Action.UPDATE, obj=current, before=before,
           after=snapshot(current, ["ended_on", "note"]), project_id=current.project_id, reason=note)  # fmt: skip
    project = current.project
    if end < today and project.service_officer_id == current.officer_id:
        projects_domain.update_project(project, by=by, data={"service_officer": None})
    pairing.ended_on, pairing.note = current.ended_on, current.note
    return current


def _officer_project(by: User, project: Any, day: datetime.date | None, errors: dict) -> Project | None:
    """A project the officer was paired with on `day`."""
    target = _Projects(by).get(project, "project", errors)
    if target is None or day is None:
        return target
    paired = OfficerPairing.objects.filter(officer=by, project=target, started_on__lte=day).exclude(ended_on__lt=day)
    if not paired.exists():
        _add(errors, "project", _("%(date)s 您未与该项目结对，不能登记。") % {"date": day.isoformat()})
        return None
    return target


def _ensure_officer(by: User) -> None:
    if not by.has_role(Role.SERVICE_OFFICER):
        raise PermissionDenied(_("只有首席服务员本人可以登记走访和政策推送。"))


@transaction.atomic
def log_officer_visit(
    *,
    by: User,
    project: Project | int,
    visited_on: datetime.date,
    kind: str,
    content: str,
    uploads: Iterable = (),
    demand: dict | None = None,
    now: datetime.datetime | None = None,
) -> OfficerVisit:
    """A service officer logs a visit (on site or by phone) to a project they were paired with that day.

    A demand heard on the visit (optional: title, category, description) is relayed at once as a problem
    raised by the officer (source 首席服务员收集), linked to the visit.
    """
    _ensure_officer(by)
    at = _moment(now)
    today = timezone.localdate(at)
    errors: dict[str, list] = {}
    day = _day(visited_on, "visited_on", _("走访日期"), errors, today=today)
    target = _officer_project(by, project, day, errors)
    if kind not in OfficerVisit.Kind.values:
        _add(errors, "kind", _("请选择走访方式。"))
    content = _text(content, "content", _("走访内容"), errors)
    checked = _check_photos(uploads, errors)
    clean = None
    if demand and (demand.get("title") or "").strip():
        clean = _check_demand({**demand, "project": target.pk if target else None}, "demand", _Projects(by), errors)
    _raise(errors)
    visit = OfficerVisit.objects.create(officer=by, project=target, visited_on=day, kind=kind, content=content)
    record(actor=by, action=AuditRecord.Action.CREATE, obj=visit, after=snapshot(visit), project_id=target.pk)
    _save_photos(checked, by=by, officer_visit=visit)
    if clean is not None:
        context = _("首席服务员走访：%(date)s %(kind)s") % {"date": day.isoformat(), "kind": visit.get_kind_display()}
        _raise_demand(by, clean, source=Source.SERVICE_OFFICER, origin_type=ORIGIN_OFFICER_VISIT, origin_id=visit.pk,
                      received_on=today, at=at, context=context, prefix="demand",
                      link={"officer_visit": visit})  # fmt: skip
    return visit


@transaction.atomic
def push_policy(
    *,
    by: User,
    project: Project | int,
    pushed_on: datetime.date,
    title: str,
    note: str = "",
    now: datetime.datetime | None = None,
) -> PolicyPush:
    """A service officer records a policy brought to a paired project's company."""
    _ensure_officer(by)
    at = _moment(now)
    errors: dict[str, list] = {}
    day = _day(pushed_on, "pushed_on", _("推送日期"), errors, today=timezone.localdate(at))
    target = _officer_project(by, project, day, errors)
    title = _text(title, "title", _("政策名称"), errors, limit=200)
    note = _text(note, "note", _("说明"), errors, required=False)
    _raise(errors)
    push = PolicyPush.objects.create(officer=by, project=target, pushed_on=day, title=title, note=note)
    record(actor=by, action=AuditRecord.Action.CREATE, obj=push, after=snapshot(push), project_id=target.pk)
    return push
