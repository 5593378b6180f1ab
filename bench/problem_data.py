"""Bulk-loaded problems for the benchmarks (bench/problems.py, bench/peer_redmine.py).

Call after django.setup(), on a database that holds the demo district (`seed_demo`): its projects,
units and leaders are what the problems refer to.
"""

from __future__ import annotations

import datetime
import random
import time

# 3/4 closed, the rest in every state (bench/problems.py).
DEFAULT_STATUSES = [
    ("closed", 0.74), ("rated", 0.05), ("resolved", 0.04), ("in_progress", 0.08),
    ("deployed", 0.03), ("assigned", 0.03), ("new", 0.03),
]  # fmt: skip


def bulk_problems(
    target: int,
    *,
    statuses: list[tuple[str, float]] | None = None,
    major_projects: int = 0,
    major_share: float = 0.0,
    label: str = "bench/problems.py",
) -> int:
    """Insert problems (and one processed "raised" event each) until there are `target`; returns how many.

    `statuses` is the status mix as (status, weight) pairs (default: `DEFAULT_STATUSES`, 3/4 closed and the
    rest in every state). With `major_projects` N and `major_share` s, a share s of the problems goes to
    the first N projects (by id), the rest to any project: a few projects then have many problems, as in a
    real district (and as in the Redmine peer's data).
    """
    from django.db import transaction
    from django.utils import timezone

    from keyprojects.audit.models import AuditRecord
    from keyprojects.lib import context
    from keyprojects.org.models import Role, Unit, User
    from keyprojects.problems import clock
    from keyprojects.problems.models import (
        Category,
        EscalationLevel,
        Problem,
        ProblemEvent,
        Rating,
        Severity,
        SolveLevel,
        Source,
        Status,
    )
    from keyprojects.projects.demo_portfolio import analyze
    from keyprojects.projects.models import Project
    from keyprojects.rollups.cache import bump
    from keyprojects.workcal import calendar as wc

    missing = target - Problem.objects.count()
    if missing <= 0:
        return 0
    rng = random.Random(f"bench-problems-{target}")
    cfg = clock.load_config()
    now = timezone.now()
    today = timezone.localdate(now)
    projects = list(Project.objects.values_list("pk", flat=True))
    units = list(Unit.objects.filter(kind__in=[Unit.Kind.DEPARTMENT, Unit.Kind.TOWN]).values_list("pk", flat=True))
    leaders = list(User.objects.filter(roles__role=Role.LEADER).values_list("pk", flat=True))
    dispatcher = User.objects.filter(roles__role=Role.DISPATCHER).order_by("id").first()
    population, weights = zip(*(statuses or DEFAULT_STATUSES), strict=True)
    population = [Status(value) for value in population]
    majors = sorted(projects)[:major_projects]
    deadlines: dict = {}
    done = {Status.CLOSED, Status.RATED, Status.RESOLVED}
    made = 0
    started = time.monotonic()
    while made < missing:
        rows = []
        for _i in range(min(5000, missing - made)):
            status = rng.choices(population, weights)[0]
            project_id = rng.choice(majors) if majors and rng.random() < major_share else rng.choice(projects)
            severity = Severity.MAJOR if rng.random() < 0.1 else Severity.ORDINARY
            age = int(1095 * rng.random() ** 1.5) + 1  # three years, more of them recent
            received = today - datetime.timedelta(days=age)
            p = Problem(
                project_id=project_id, source=rng.choice(Source.values), category=rng.choice(Category.values),
                title=f"批量问题 {made + len(rows) + 1}", severity=severity, received_on=received, status=status,
                solve_level=SolveLevel.CITY if rng.random() < 0.08 else SolveLevel.DISTRICT,
                raised_by_id=dispatcher.pk if dispatcher else None,
            )  # fmt: skip
            if status != Status.NEW:
                start = received + datetime.timedelta(days=rng.choice([0, 0, 1, 2]))
                if start > today:
                    start = today
                key = (start, severity)
                if key not in deadlines:
                    deadlines[key] = clock.deadlines(start, severity, cfg)
                due = deadlines[key]
                p.lead_unit_id, p.responsible_leader_id = rng.choice(units), rng.choice(leaders)
                p.assigned_on = p.clock_start = start
                p.assigned_at = timezone.make_aware(datetime.datetime.combine(start, datetime.time(10)))
                p.deploy_due, p.feedback_due, p.resolve_due = due.deploy, due.feedback, due.resolve
                if status != Status.ASSIGNED:
                    p.deployed_at = p.assigned_at
                if status in done or status == Status.IN_PROGRESS:
                    p.first_feedback_at = p.assigned_at + datetime.timedelta(days=1)
                if status in done:
                    on_time = rng.random() < 0.85
                    p.resolve_workdays = rng.randint(1, 7) if on_time else rng.randint(8, 30)
                    resolved_on = min(today, wc.add_workdays(start, p.resolve_workdays))
                    p.resolved_at = timezone.make_aware(datetime.datetime.combine(resolved_on, datetime.time(15)))
                    p.resolved_on_time = resolved_on <= due.resolve
                    if status != Status.RESOLVED:
                        p.rating = Rating.SATISFIED if rng.random() < 0.8 else Rating.BASIC
                        p.rated_at = p.resolved_at + datetime.timedelta(days=2)
                    if status == Status.CLOSED:
                        p.closed_at = p.resolved_at + datetime.timedelta(days=3)
                else:
                    step = clock.current_step(p)
                    p.current_step, p.current_due = step if step else ("", None)
                    if p.current_due and p.current_due < today:
                        p.escalation_level = rng.choice([EscalationLevel.UNIT, EscalationLevel.CHARGE_LEADER,
                                                         EscalationLevel.PRINCIPAL_LEADER])  # fmt: skip
                    # As after a worker pass: the next reminder or escalation lies ahead.
                    p.next_action_at = now + datetime.timedelta(hours=rng.randint(2, 24 * 30))
            rows.append(p)
        with transaction.atomic():
            created = Problem.objects.bulk_create(rows, batch_size=1000)
            ProblemEvent.objects.bulk_create(
                (
                    ProblemEvent(
                        problem_id=p.pk,
                        kind=ProblemEvent.Kind.RAISED,
                        to_status=Status.NEW,
                        at=p.created_at,
                        processed_at=p.created_at,
                        actor_id=p.raised_by_id,
                    )  # fmt: skip
                    for p in created
                ),
                batch_size=1000,
            )
        made += len(rows)
        print(f"  {made}/{missing} problems ({time.monotonic() - started:.0f} s)", flush=True)
    with context.bind(channel="command"):
        ctx = context.current()
        AuditRecord.objects.create(
            actor=None, actor_name="system", channel=ctx.channel, request_id=ctx.request_id, object_type="problem",
            object_id="bulk", object_repr=f"{label} 批量生成问题 {made} 个", action=AuditRecord.Action.CREATE,
            after={"问题": made}, reason=label,
        )  # fmt: skip
    bump("problems")  # bulk_create sends no signals: cached figures and counts must see the new rows
    analyze([Problem, ProblemEvent])
    return made
