"""The background worker's pass: clock actions, the event outbox, notification delivery.

`run_pass(now)` does three things, each over an indexed "next work" column, so a pass with nothing
due costs three small index lookups whatever the number of problems:

1. **Due problems** (`Problem.next_action_at <= now`). Each is claimed with a conditional UPDATE
   (`filter(pk=…, next_action_at=<value read>).update(next_action_at=None)`) inside the transaction
   that carries out its actions: only the worker whose UPDATE changed one row goes on; on PostgreSQL
   the second worker's UPDATE waits for the first to commit and then matches nothing. The actions
   (yellow reminder, overdue mark, escalation) are `domain.apply_clock_action`; then `next_action_at`
   is recomputed.
2. **The outbox** (`ProblemEvent.processed_at` empty). Each event is claimed the same way
   (`processed_at` set) in the transaction that writes its notifications, so an event's notifications
   are written exactly once (a unique constraint on the notification's source, recipient and channel
   backs this up).
3. **Delivery** of pending e-mail and webhook notifications (`notify.delivery.deliver_pending`).

Everything runs under `context.bind(channel="worker")`, so the audit trail shows the worker.
Recipients of an event (`recipients_for`), minus whoever did it:

- 提出: the dispatchers; 已办结 without an enterprise account: the dispatchers too;
- 交办, 部署, 反馈, 办结, 销号, 挂牌督办: the problem's parties — lead and helper unit officers, the
  分管领导, the company's enterprise reporters, whoever raised it, the supervising leader;
- 回访评价 and 不满意重办: lead and helper unit officers, the 分管领导, the dispatchers;
- 临期提醒: the lead unit's officers (and the supervising leader for a 督办 deadline);
- 逾期: lead and helper unit officers and the dispatchers (and the supervising leader);
- 升级督办: the lead unit's officers and the level's people (`domain.escalation_targets`).
"""

from __future__ import annotations

import datetime
import logging
import time
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from keyprojects.bulletins import worker as bulletins_worker
from keyprojects.funding import worker as funding_worker
from keyprojects.lib import context
from keyprojects.notify import delivery
from keyprojects.org.models import Role, User
from keyprojects.problems import access, clock, domain
from keyprojects.problems.models import Problem, ProblemEvent, Status, Step

logger = logging.getLogger(__name__)

Kind = ProblemEvent.Kind
MAX_ACTIONS_PER_PROBLEM = 12
RETRY_DELAY = datetime.timedelta(minutes=15)


@dataclass
class PassResult:
    problems: int = 0
    events: int = 0
    notifications: int = 0
    delivered: int = 0
    failed: int = 0
    saturated: bool = False  # a batch limit was reached: more work is waiting

    def __str__(self) -> str:
        return (
            f"problems={self.problems} events={self.events} notifications={self.notifications} "
            f"delivered={self.delivered} failed={self.failed}"
        )


def run_pass(now: datetime.datetime | None = None, *, batch: int = 500) -> PassResult:
    """One pass of the worker at `now` (tests pass a fixed moment)."""
    now, started = now or timezone.now(), time.monotonic()
    result = PassResult()
    with context.bind(channel="worker"):
        result.problems, full_problems = process_due_problems(now, batch=batch)
        result.events, result.notifications, full_events = process_events(now, batch=batch)
        funding_worker.run_pass(now)  # funding alerts: idle money, bond money without reported investment
        bulletins_worker.run_pass(now)  # the rhythm: drafts of the review events that fell due
        result.delivered, result.failed = delivery.deliver_pending(now, batch=batch, started=started)
    result.saturated = full_problems or full_events or result.delivered + result.failed >= batch
    return result


# --- 1. due problems --------------------------------------------------------------------------------------


def process_due_problems(now: datetime.datetime, *, batch: int = 500) -> tuple[int, bool]:
    """Claim and handle the problems whose next action is due; (handled, batch was full)."""
    cfg = clock.load_config()
    due = list(
        Problem.objects.filter(next_action_at__lte=now)
        .order_by("next_action_at", "id")
        .values_list("pk", "next_action_at")[:batch]
    )
    handled = 0
    for pk, seen in due:
        try:
            with transaction.atomic():
                if Problem.objects.filter(pk=pk, next_action_at=seen).update(next_action_at=None) != 1:
                    continue  # another worker (or a user's change) got there first
                _handle_problem(pk, now, cfg)
            handled += 1
        except Exception:
            logger.exception("worker: problem %s failed; retrying later", pk)
            Problem.objects.filter(pk=pk, next_action_at=seen).update(next_action_at=now + RETRY_DELAY)
    return handled, len(due) >= batch


def _handle_problem(pk: int, now: datetime.datetime, cfg: clock.ClockConfig) -> None:
    problem = Problem.objects.select_related("project", "lead_unit").get(pk=pk)
    for _round in range(MAX_ACTIONS_PER_PROBLEM):
        actions = [a for a in clock.pending_actions(problem, cfg) if a.at <= now]
        if not actions:
            break
        action = actions[0]
        moot = action.kind == "warn" and any(
            b.kind == "overdue" and b.step == action.step and b.due == action.due for b in actions
        )
        problem = domain.apply_clock_action(problem, action, now=now, silent=moot, cfg=cfg)
    Problem.objects.filter(pk=pk).update(next_action_at=clock.next_action_at(problem, cfg))


# --- 2. the outbox ------------------------------------------------------------------------------------------


def process_events(now: datetime.datetime, *, batch: int = 500) -> tuple[int, int, bool]:
    """Turn unprocessed events into notifications; (events, notifications, batch was full)."""
    ids = list(
        ProblemEvent.objects.filter(processed_at__isnull=True).order_by("id").values_list("pk", flat=True)[:batch]
    )
    events = notes = 0
    for pk in ids:
        try:
            with transaction.atomic():
                if ProblemEvent.objects.filter(pk=pk, processed_at__isnull=True).update(processed_at=now) != 1:
                    continue
                event = ProblemEvent.objects.select_related(
                    "problem", "problem__project", "problem__lead_unit", "problem__responsible_leader",
                    "problem__supervisor", "problem__raised_by", "actor",
                ).get(pk=pk)  # fmt: skip
                notes += len(notify_event(event, now=now))
            events += 1
        except Exception:
            # Never let one bad event block the outbox: log it and mark it processed.
            logger.exception("worker: event %s failed; its notifications are skipped", pk)
            ProblemEvent.objects.filter(pk=pk, processed_at__isnull=True).update(processed_at=now)
    return events, notes, len(ids) >= batch


def _officers(unit_ids: list[int]) -> list[User]:
    if not unit_ids:
        return []
    return list(User.objects.filter(is_active=True, unit_id__in=unit_ids, roles__role=Role.UNIT_OFFICER).distinct())


def recipients_for(event: ProblemEvent) -> list[User]:
    """Who hears of an event (see the module docstring), without the actor, each once."""
    p = event.problem
    kind = event.kind
    lead = _officers([p.lead_unit_id] if p.lead_unit_id else [])

    def helpers() -> list[User]:
        return _officers(list(p.helper_units.values_list("pk", flat=True)))

    supervision = [p.supervisor] if event.step == Step.SUPERVISION and p.supervisor_id else []
    leader = [domain.charge_leader(p)]
    if kind == Kind.RAISED:
        users = domain.dispatchers()
    elif kind == Kind.REMINDER:
        users = [*lead, *supervision]
    elif kind == Kind.OVERDUE:
        users = [*lead, *helpers(), *domain.dispatchers(), *supervision]
    elif kind == Kind.ESCALATED:
        users = [*lead, *domain.escalation_targets(p, event.level or 0)]
    elif kind in (Kind.RATED, Kind.REOPENED):
        users = [*lead, *helpers(), *leader, *domain.dispatchers()]
    else:
        enterprise = list(access.enterprise_reporters(p.project))
        users = [*lead, *helpers(), *leader, *enterprise, p.raised_by, p.supervisor]
        if kind == Kind.RESOLVED and not enterprise:
            users += domain.dispatchers()  # they rate on the company's behalf
    seen: dict[int, User] = {}
    for user in users:
        if user is not None and user.is_active and user.pk != event.actor_id:
            seen.setdefault(user.pk, user)
    return list(seen.values())


def problem_link(problem: Problem) -> str:
    return f"/problems/{problem.pk}/"


def notify_event(event: ProblemEvent, *, now: datetime.datetime) -> list:
    """Write the notifications of one event."""
    p = event.problem
    title = f"【{event.get_kind_display()}】{p.title}"
    status = Status(event.to_status).label if event.to_status else p.get_status_display()
    lines = [f"项目：{p.project}", f"状态：{status}"]
    if event.text:
        lines.append(event.text)
    if p.current_due:
        lines.append(f"当前环节：{p.get_current_step_display()}，期限 {p.current_due.isoformat()}")
    return delivery.notify(
        recipients_for(event), title=title, body="\n".join(lines), link=problem_link(p),
        source_key=f"problem-event:{event.pk}", object_type="problem", object_id=str(p.pk), now=now,
    )  # fmt: skip
