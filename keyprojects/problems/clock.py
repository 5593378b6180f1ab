"""The 13710 clock: due dates, the deadline light, the escalation ladder and the worker's next moment.

All day counting goes through `keyprojects.workcal.calendar` (the legal rule: the day of assignment
never counts; working days with 调休 and the admin overrides). Rules chosen here:

- **Due dates** are counted from the assignment date (`clock_start`): deploy `due_date(start, 0)`
  (the same day, or the next working day when assigned on a day off), first feedback 3 and ordinary
  resolution 7 days per `basis`; major problems `add_months(start, 1)`, moved to the next working day
  when the basis is working days and that date is a day off. A deadline means "by the end of that day".
- **Light**: green; yellow from `yellow_from(due)` — the day from which at most `warn_before_days`
  days (per basis) remain; red from the day after the due date.
- **Running step**: the first unmet step: 部署 while 已交办, 首次反馈 while 已部署, 办结 while 办理中.
  A not-unmet later step is never "overdue" on its own: its deadline is checked when it runs.
- **Ladder**: the day after the running step's due date the problem is marked overdue (red notice to the
  lead unit, level 0). Level k (1 分管领导, 2 主要领导, 3 上报 — the last only when the problem needs the
  city or province) applies from the day after `due_date(due, k × escalation_period_days)`. Levels
  never go down; after a reopen or a new step the ladder continues from the level reached.
- **Moments** are the start of the day (00:00 Asia/Shanghai) of the date concerned.

Nothing here raises on odd dates: a deadline that cannot be computed (beyond `date.max`) is `None`
and has no light and no action.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from keyprojects.problems.models import (
    DONE_STATUSES,
    OPEN_STATUSES,
    Problem,
    ProblemSettings,
    Severity,
    SolveLevel,
    Status,
    Step,
)
from keyprojects.workcal import calendar

logger = logging.getLogger(__name__)

ONE_DAY = datetime.timedelta(days=1)


@dataclass(frozen=True)
class ClockConfig:
    """The configuration the clock works with (a plain copy of `ProblemSettings`)."""

    deploy_days: int = 0
    feedback_days: int = 3
    resolve_days_ordinary: int = 7
    resolve_months_major: int = 1
    basis: str = calendar.DayBasis.WORKDAYS
    warn_before_days: int = 1
    escalation_enabled: bool = True
    escalation_period_days: int = 3

    @classmethod
    def from_settings(cls, row: ProblemSettings) -> ClockConfig:
        return cls(
            deploy_days=row.deploy_days,
            feedback_days=row.feedback_days,
            resolve_days_ordinary=row.resolve_days_ordinary,
            resolve_months_major=row.resolve_months_major,
            basis=row.basis,
            warn_before_days=row.warn_before_days,
            escalation_enabled=row.escalation_enabled,
            escalation_period_days=max(1, row.escalation_period_days),
        )


def load_config() -> ClockConfig:
    """The current configuration (one query)."""
    return ClockConfig.from_settings(ProblemSettings.load())


def _safe(fn: Callable[..., datetime.date], *args) -> datetime.date | None:
    try:
        return fn(*args)
    except (ValueError, OverflowError, TypeError):
        logger.warning("problems.clock: cannot compute %s%r", getattr(fn, "__name__", fn), args, exc_info=True)
        return None


def _days_after(d: datetime.date, n: int, cfg: ClockConfig) -> datetime.date | None:
    return _safe(calendar.due_date, d, n, cfg.basis)


def _next_day(d: datetime.date | None) -> datetime.date | None:
    if d is None:
        return None
    return _safe(calendar.add_calendar_days, d, 1)


# --- due dates -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Deadlines:
    deploy: datetime.date | None
    feedback: datetime.date | None
    resolve: datetime.date | None


def resolve_due_for(start: datetime.date, severity: str, cfg: ClockConfig) -> datetime.date | None:
    """The 办结 deadline for a clock started on `start`: 7 days (ordinary) or 1 month (major)."""
    if severity == Severity.MAJOR:
        due = _safe(calendar.add_months, start, cfg.resolve_months_major)
        if due is not None and cfg.basis == calendar.DayBasis.WORKDAYS:
            due = _safe(calendar.next_workday, due)
        return due
    return _days_after(start, cfg.resolve_days_ordinary, cfg)


def deadlines(start: datetime.date, severity: str, cfg: ClockConfig) -> Deadlines:
    """The three 13710 deadlines of a problem assigned on `start`."""
    return Deadlines(
        deploy=_days_after(start, cfg.deploy_days, cfg),
        feedback=_days_after(start, cfg.feedback_days, cfg),
        resolve=resolve_due_for(start, severity, cfg),
    )


# --- the light -------------------------------------------------------------------------------------


class Light(models.TextChoices):
    GREEN = "green", _("正常")
    YELLOW = "yellow", _("临期")
    RED = "red", _("逾期")
    DONE = "done", _("按期完成")
    LATE = "late", _("逾期完成")
    NONE = "none", _("无期限")


def yellow_from(due: datetime.date | None, cfg: ClockConfig) -> datetime.date | None:
    """The first day the deadline `due` shows yellow: at most `warn_before_days` days remain.

    Working days: the days in (day, due] hold at most `warn_before_days` working days, so with the
    default 1 a Monday deadline turns yellow on the Friday before. Calendar days: `due - warn_before_days`.
    """
    if due is None:
        return None
    warn = cfg.warn_before_days
    if cfg.basis != calendar.DayBasis.WORKDAYS:
        return _safe(calendar.add_calendar_days, due, -warn)
    try:
        day, remaining = due, 0
        for _guard in range(366 * 2):
            remaining_before = remaining + (1 if calendar.is_workday(day) else 0)
            if remaining_before > warn:
                return day
            day, remaining = day - ONE_DAY, remaining_before
        return day
    except (ValueError, OverflowError):
        return None


def light_for(
    due: datetime.date | None, today: datetime.date, cfg: ClockConfig, *, done_on: datetime.date | None = None
) -> str:
    """The light of one deadline on `today`; a step done shows whether it was done on time."""
    if due is None:
        return Light.NONE
    if done_on is not None:
        return Light.DONE if done_on <= due else Light.LATE
    if today > due:
        return Light.RED
    start = yellow_from(due, cfg)
    if start is not None and today >= start:
        return Light.YELLOW
    return Light.GREEN


def _local_date(value: datetime.datetime | None) -> datetime.date | None:
    return calendar.as_date(value) if value is not None else None


def step_lights(problem: Problem, today: datetime.date | None = None, cfg: ClockConfig | None = None) -> dict:
    """The light of each 13710 step (and of named supervision when the problem is supervised)."""
    cfg = cfg or load_config()
    today = today or timezone.localdate()
    if problem.status == Status.NEW:
        lights = dict.fromkeys((Step.DEPLOY, Step.FEEDBACK, Step.RESOLVE), Light.NONE)
    else:
        resolved_on = _local_date(problem.resolved_at) if problem.status in DONE_STATUSES else None
        lights = {
            Step.DEPLOY: light_for(problem.deploy_due, today, cfg, done_on=_local_date(problem.deployed_at)),
            Step.FEEDBACK: light_for(
                problem.feedback_due, today, cfg, done_on=_local_date(problem.first_feedback_at) or resolved_on
            ),
            Step.RESOLVE: light_for(problem.resolve_due, today, cfg, done_on=resolved_on),
        }
    if problem.supervised:
        done = _local_date(problem.resolved_at) if problem.status in DONE_STATUSES else None
        lights[Step.SUPERVISION] = light_for(problem.supervision_due, today, cfg, done_on=done)
    return lights


def current_step(problem: Problem) -> tuple[str, datetime.date | None] | None:
    """The first unmet 13710 step and its deadline, or None when the problem is not on the clock."""
    if problem.status == Status.ASSIGNED:
        return Step.DEPLOY, problem.deploy_due
    if problem.status == Status.DEPLOYED and problem.first_feedback_at is None:
        return Step.FEEDBACK, problem.feedback_due
    if problem.status in (Status.DEPLOYED, Status.IN_PROGRESS):
        return Step.RESOLVE, problem.resolve_due
    return None


def is_overdue(problem: Problem, today: datetime.date | None = None) -> bool:
    """The running step's deadline has passed."""
    today = today or timezone.localdate()
    return problem.status in OPEN_STATUSES and problem.current_due is not None and today > problem.current_due


def supervision_overdue(problem: Problem, today: datetime.date | None = None) -> bool:
    today = today or timezone.localdate()
    return (
        problem.supervised
        and problem.supervision_due is not None
        and problem.status not in DONE_STATUSES
        and today > problem.supervision_due
    )


_LIGHT_RANK = {Light.NONE: 0, Light.DONE: 0, Light.LATE: 0, Light.GREEN: 1, Light.YELLOW: 2, Light.RED: 3}


def problem_light(problem: Problem, today: datetime.date | None = None, cfg: ClockConfig | None = None) -> str:
    """The light shown for the problem: the worse of the running step and named supervision."""
    today = today or timezone.localdate()
    lights = []
    step = current_step(problem)
    if step is not None:
        lights.append(light_for(step[1], today, cfg or load_config()))
    if problem.supervised and problem.status not in DONE_STATUSES:
        lights.append(light_for(problem.supervision_due, today, cfg or load_config()))
    if not lights:
        return Light.NONE
    return max(lights, key=lambda x: _LIGHT_RANK[x])


# --- the ladder and the worker's moments --------------------------------------------------------------


def max_level(problem: Problem) -> int:
    """2 (主要领导) inside the district; 3 (上报) when the city or the province must solve it."""
    return 3 if problem.solve_level in (SolveLevel.CITY, SolveLevel.PROVINCE) else 2


def level_starts_on(due: datetime.date, level: int, cfg: ClockConfig) -> datetime.date | None:
    """The day from which a step due on `due` and still unmet sits at ladder level `level` (≥ 1)."""
    return _next_day(_days_after(due, level * cfg.escalation_period_days, cfg))


def start_of(day: datetime.date | None) -> datetime.datetime | None:
    """00:00 local time of `day`."""
    if day is None:
        return None
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


@dataclass(frozen=True, order=True)
class Action:
    """Something the worker must do at `at`: a yellow reminder, an overdue mark or an escalation."""

    at: datetime.datetime
    rank: int  # at the same moment: reminders, then overdue marks, then escalations
    kind: str  # "warn" | "overdue" | "escalate"
    key: str
    step: str
    due: datetime.date
    level: int = 0


def mark_key(kind: str, step: str, due: datetime.date) -> str:
    return f"{kind}:{step}@{due.isoformat()}"


def pending_actions(problem: Problem, cfg: ClockConfig) -> list[Action]:
    """Every reminder, overdue mark and escalation still to come for the problem, earliest first."""
    actions: list[Action] = []
    marks = set(problem.clock_marks or [])

    def track(step: str, due: datetime.date | None, started: datetime.date | None) -> None:
        if due is None:
            return
        warn_day = yellow_from(due, cfg)
        key = mark_key("warn", step, due)
        if warn_day is not None and started is not None and warn_day > started and key not in marks:
            at = start_of(warn_day)
            actions.append(Action(at, 0, "warn", key, step, due))
        key = mark_key("overdue", step, due)
        overdue_day = _next_day(due)
        if overdue_day is not None and key not in marks:
            actions.append(Action(start_of(overdue_day), 1, "overdue", key, step, due))

    step = current_step(problem)
    if step is not None:
        name, due = step
        track(name, due, problem.clock_start)
        level = problem.escalation_level + 1
        if due is not None and cfg.escalation_enabled and level <= max_level(problem):
            day = level_starts_on(due, level, cfg)
            if day is not None:
                actions.append(Action(start_of(day), 2, "escalate", f"escalate:{level}", name, due, level))
    if problem.supervised and problem.status not in DONE_STATUSES:
        started = _local_date(problem.supervised_at)
        track(Step.SUPERVISION, problem.supervision_due, started)
    actions.sort()
    return actions


def next_action_at(problem: Problem, cfg: ClockConfig) -> datetime.datetime | None:
    """The next moment the worker must look at the problem, or None."""
    actions = pending_actions(problem, cfg)
    return actions[0].at if actions else None


def refresh(problem: Problem, cfg: ClockConfig) -> None:
    """Recompute the derived clock columns on the instance (the caller saves)."""
    step = current_step(problem)
    problem.current_step, problem.current_due = (step[0], step[1]) if step else ("", None)
    problem.next_action_at = next_action_at(problem, cfg)
