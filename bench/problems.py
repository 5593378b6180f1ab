#!/usr/bin/env python
"""Benchmark the background worker's pass and the unit figures on 200,000 problems.

    .venv/bin/python bench/problems.py                        # SQLite, 200,000 problems
    .venv/bin/python bench/problems.py --db postgres          # PostgreSQL (kp_bench_problems on 127.0.0.1)
    .venv/bin/python bench/problems.py --db both --due 10,100,1000,5000

The database is separate from the dev one: SQLite in var/bench_problems.sqlite3 (SQLITE_PATH), PostgreSQL
in postgres://postgres@127.0.0.1:5432/kp_bench_problems (DATABASE_URL, or --database-url). It is migrated,
seeded with the demo district (`seed_demo`: users, units, 200 projects, ~150 problems played over a year)
and topped up to --problems problems by bulk insert (one "raised" event per problem, processed), then
reused by later runs. `--fresh` drops it first.

The bulk problems look like a few years of work: 3/4 closed, the rest spread over every state, lead units
and leaders from the district, deadlines from the 13710 clock. As after any worker pass, nothing is due:
the open ones have their next action in the coming weeks. What is measured (in-process, wall time):

1. `worker.run_pass(now)` with nothing due (the three indexed "next work" lookups), --repeat times;
2. `run_pass` with N problems due (each past its 办结 deadline since yesterday: an overdue mark, its event
   and its notifications), for each N of --due, inside a transaction rolled back afterwards; passes are
   repeated until the worker reports nothing left (500 per batch);
3. `problems.figures.unit_figures()` over all lead units, with every unit's subtree rolled up, and
   `leader_figures()`; --repeat times;
4. the page /problems/figures/ as demo_dispatcher (when it exists), 1 warm-up + --repeat requests.
"""

from __future__ import annotations

import argparse
import datetime
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SQLITE_FILE = ROOT / "var" / "bench_problems.sqlite3"
PG_URL = "postgres://postgres@127.0.0.1:5432/kp_bench_problems"
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

from project_list import ensure_pg_database, machine, percentile  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--problems", type=int, default=200_000, help="problems in the database (default 200000)")
    parser.add_argument("--due", default="10,100,1000,5000", help="numbers of due problems to time (default 10,…,5000)")
    parser.add_argument("--repeat", type=int, default=30, help="timed repetitions (default 30)")
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="sqlite")
    parser.add_argument("--database-url", default=PG_URL, help=f"PostgreSQL URL (default {PG_URL})")
    parser.add_argument("--fresh", action="store_true", help="drop the benchmark database and seed again")
    return parser.parse_args(argv)


def configure(args: argparse.Namespace, backend: str) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "keyprojects.settings"
    os.environ["DEMO_MODE"] = "1"
    os.environ["DEBUG"] = "0"
    os.environ["TESTING"] = "1"
    os.environ["LOG_LEVEL"] = "WARNING"
    os.environ["ALLOWED_HOSTS"] = f"{os.environ.get('ALLOWED_HOSTS', '127.0.0.1,localhost')},testserver"
    if backend == "postgres":
        os.environ["DATABASE_URL"] = args.database_url
        ensure_pg_database(args.database_url, drop=args.fresh)
    else:
        os.environ.pop("DATABASE_URL", None)
        os.environ["SQLITE_PATH"] = str(SQLITE_FILE)
        if args.fresh:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{SQLITE_FILE}{suffix}").unlink(missing_ok=True)


# --- the data ----------------------------------------------------------------------------------------------------


def bulk_problems(target: int) -> int:
    """Insert problems (and one processed "raised" event each) until there are `target`; returns how many."""
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
    statuses = [
        (Status.CLOSED, 0.74), (Status.RATED, 0.05), (Status.RESOLVED, 0.04), (Status.IN_PROGRESS, 0.08),
        (Status.DEPLOYED, 0.03), (Status.ASSIGNED, 0.03), (Status.NEW, 0.03),
    ]  # fmt: skip
    population, weights = zip(*statuses, strict=True)
    deadlines: dict = {}
    done = {Status.CLOSED, Status.RATED, Status.RESOLVED}
    made = 0
    started = time.monotonic()
    while made < missing:
        rows = []
        for _i in range(min(5000, missing - made)):
            status = rng.choices(population, weights)[0]
            severity = Severity.MAJOR if rng.random() < 0.1 else Severity.ORDINARY
            age = int(1095 * rng.random() ** 1.5) + 1  # three years, more of them recent
            received = today - datetime.timedelta(days=age)
            p = Problem(
                project_id=rng.choice(projects), source=rng.choice(Source.values), category=rng.choice(Category.values),
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
            object_id="bulk", object_repr=f"bench/problems.py 批量生成问题 {made} 个", action=AuditRecord.Action.CREATE,
            after={"问题": made}, reason="bench/problems.py",
        )  # fmt: skip
    analyze([Problem, ProblemEvent])
    return made


def prepare(target: int) -> tuple[float, int]:
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    from keyprojects.projects.models import Project

    started = time.monotonic()
    if not Project.objects.exists():
        call_command("seed_demo")
    made = bulk_problems(target)
    return (time.monotonic() - started if made else 0.0), made


# --- measuring ---------------------------------------------------------------------------------------------------


def timed(fn, repeat: int) -> tuple[float, float, int]:
    """(median ms, p95 ms, SQL queries of one call) after one warm-up call."""
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    fn()
    reset_queries()
    with CaptureQueriesContext(connection) as captured:
        fn()
    queries = len(captured)
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), percentile(times, 0.95), queries


def due_pass(n: int) -> tuple[float, int, int, int, int]:
    """Make `n` problems due (past their 办结 deadline since yesterday) and time the worker until it is done.

    Everything happens in a transaction that is rolled back, so the database stays as it was.
    Returns (ms, passes, problems handled, events, notifications).
    """
    from django.db import connection, transaction
    from django.utils import timezone

    from keyprojects.problems import worker
    from keyprojects.problems.models import Problem, Status

    now = timezone.now()
    yesterday = timezone.localdate(now) - datetime.timedelta(days=1)
    with transaction.atomic():
        ids = list(
            Problem.objects.filter(status=Status.IN_PROGRESS, escalation_level=0)
            .order_by("id")
            .values_list("pk", flat=True)[:n]
        )
        Problem.objects.filter(pk__in=ids).update(
            resolve_due=yesterday, current_step="resolve", current_due=yesterday, clock_marks=[],
            next_action_at=now - datetime.timedelta(minutes=1),
        )  # fmt: skip
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE problems_problem")
        passes = handled = events = notes = 0
        started = time.perf_counter()
        while True:
            result = worker.run_pass(now)
            passes += 1
            handled, events, notes = handled + result.problems, events + result.events, notes + result.notifications
            if not result.saturated or passes > 1000:
                break
        elapsed = (time.perf_counter() - started) * 1000
        transaction.set_rollback(True)
    return elapsed, passes, handled, events, notes


def run(args: argparse.Namespace, backend: str) -> None:
    configure(args, backend)
    import django

    django.setup()
    from django.test import Client
    from django.urls import NoReverseMatch, reverse
    from django.utils import timezone

    from keyprojects.org.demo_data import DEMO_PASSWORD
    from keyprojects.org.models import Unit
    from keyprojects.problems import figures, worker
    from keyprojects.problems.models import OPEN_STATUSES, Problem

    seconds, made = prepare(args.problems)
    info = machine()
    total = Problem.objects.count()
    open_count = Problem.objects.filter(status__in=OPEN_STATUSES).count()

    rows = []
    median, p95, queries = timed(lambda: worker.run_pass(timezone.now()), args.repeat)
    rows.append(("`run_pass` (nothing due)", median, p95, queries))
    units = list(Unit.objects.exclude(kind=Unit.Kind.ENTERPRISE))
    today = timezone.localdate()
    median, p95, queries = timed(lambda: figures.unit_figures(today=today), args.repeat)
    rows.append(("`unit_figures()` (every lead unit)", median, p95, queries))
    median, p95, queries = timed(lambda: figures.unit_figures(units, subtree=True, today=today), args.repeat)
    rows.append((f"`unit_figures(units)` ({len(units)} units, subtrees rolled up)", median, p95, queries))
    median, p95, queries = timed(lambda: figures.leader_figures(today=today), args.repeat)
    rows.append(("`leader_figures()`", median, p95, queries))

    page = None
    try:
        url = reverse("problem-figures")
    except NoReverseMatch:
        url = None
    if url:
        client = Client()
        if not client.login(username="demo_dispatcher", password=DEMO_PASSWORD):
            sys.exit("demo_dispatcher cannot sign in (seed with DEMO_MODE=1)")
        status = client.get(url).status_code
        median, p95, queries = timed(lambda: client.get(url), args.repeat)
        page = (url, status, median, p95, queries)

    due_rows = []
    for n in [int(x) for x in args.due.split(",") if x.strip()]:
        elapsed, passes, handled, events, notes = due_pass(n)
        due_rows.append((n, elapsed, passes, handled, events, notes))

    print()
    origin = f"seeded and topped up by {made} in {seconds:.0f} s" if made else "reused"
    print(f"### {info['database']}: {total} problems, {open_count} open ({origin})")
    print()
    print(
        f"{info['cpus']} CPUs, {info['memory']}, Python {info['python']}, Django {info['django']}, {info['platform']}"
    )
    print()
    print("| what | median ms | p95 ms | SQL queries |")
    print("|---|---:|---:|---:|")
    for label, median, p95, queries in rows:
        print(f"| {label} | {median:.1f} | {p95:.1f} | {queries} |")
    if page:
        url, status, median, p95, queries = page
        print(f"| page `{url}` (status {status}) | {median:.1f} | {p95:.1f} | {queries} |")
    else:
        print("| page /problems/figures/ | not there yet | | |")
    print()
    print("| due problems | worker time ms | passes | handled | events | notifications | ms per problem |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for n, elapsed, passes, handled, events, notes in due_rows:
        per = elapsed / handled if handled else 0
        print(f"| {n} | {elapsed:.0f} | {passes} | {handled} | {events} | {notes} | {per:.2f} |")


def main() -> None:
    args = parse_args()
    if args.db == "both":
        for backend in ("sqlite", "postgres"):
            argv = list(sys.argv[1:])
            if "--db" in argv:
                i = argv.index("--db")
                argv[i : i + 2] = []
            argv = [a for a in argv if not a.startswith("--db=")]
            subprocess.run([sys.executable, __file__, "--db", backend, *argv], check=True)
        return
    run(args, args.db)


if __name__ == "__main__":
    main()
