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
4. the page /problems/figures/ as demo_dispatcher (when it exists), 1 warm-up + --repeat requests: cold (the
   problems' cache token replaced before each request, as after any change to a problem) and warm (cached).
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SQLITE_FILE = ROOT / "var" / "bench_problems.sqlite3"
PG_URL = "postgres://postgres@127.0.0.1:5432/kp_bench_problems"
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

from problem_data import bulk_problems  # noqa: E402
from project_list import (  # noqa: E402
    dispatcher_client,
    ensure_pg_database,
    machine,
    percentile,
    run_each_backend,
)


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
    from django.urls import NoReverseMatch, reverse
    from django.utils import timezone

    from keyprojects.org.models import Unit
    from keyprojects.problems import figures, worker
    from keyprojects.problems.models import OPEN_STATUSES, Problem
    from keyprojects.rollups.cache import bump

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

    page = warm = None
    try:
        url = reverse("problem-figures")
    except NoReverseMatch:
        url = None
    if url:
        client = dispatcher_client()
        status = client.get(url).status_code

        def cold():
            # As after any change to a problem: the cached figures are stale and are computed again.
            bump("problems")
            return client.get(url)

        median, p95, queries = timed(cold, args.repeat)
        page = (url, status, median, p95, queries)
        warm = timed(lambda: client.get(url), args.repeat)

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
        print(
            f"| page `{url}` (status {status}), cold: a problem changed before each request "
            f"| {median:.1f} | {p95:.1f} | {queries} |"
        )
        print(f"| page `{url}`, warm (figures cached) | {warm[0]:.1f} | {warm[1]:.1f} | {warm[2]} |")
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
        run_each_backend(__file__)
        return
    run(args, args.db)


if __name__ == "__main__":
    main()
