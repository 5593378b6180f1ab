#!/usr/bin/env python
"""Benchmark the evaluation schemes (半年考评、年底总评) at 50,000 projects and 2,000 units (issue 5).

    .venv/bin/python bench/evaluation.py                 # SQLite
    .venv/bin/python bench/evaluation.py --requests 10   # fewer timed runs

The data set is a COPY of bench/reports.py's database (var/bench_reports.sqlite3: 50,000 projects with
24 months of reports and annual plans), taken once with SQLite's backup API from a read-only connection
(the original is never written), into var/bench_evaluation.sqlite3; --fresh takes it again. The copy is
migrated, then made provincial-size:

- first-level units are added until there are --units towns and departments (half each), and every
  project is given one of them as responsible unit (round robin by id; the towns also as its town);
- problems are bulk-loaded up to --problems (bench/problem_data.py), led by those units;
- two closed observation tours (10 projects, 5 judges) feed the 观摩 indicator.

What is measured, in-process (no HTTP server): `scoring.evaluate(code, period)` of both preset schemes
("三个一批" and "四比四看") for 2026H1 and the year 2026, every unit, every data source:

- cold: the cache cleared before each run: everything computed (the completion table too);
- cached: the evaluation already in the cache (what the next page load costs until data changes);

1 warm-up and --requests timed runs each: median and 95th percentile of the wall time, median CPU time
of the process (SQLite runs in it: the figure that does not depend on other load on the machine), SQL
queries, units ranked. The load average is printed: on a busy machine the wall time is inflated.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sqlite3
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE_FILE = ROOT / "var" / "bench_reports.sqlite3"
SQLITE_FILE = ROOT / "var" / "bench_evaluation.sqlite3"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--units", type=int, default=2000, help="evaluated units (towns + departments, default 2000)")
    parser.add_argument("--problems", type=int, default=100000, help="problems in the database (default 100000)")
    parser.add_argument("--requests", type=int, default=5, help="timed runs per case (default 5)")
    parser.add_argument("--fresh", action="store_true", help="copy the reports benchmark database again")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    return parser.parse_args(argv)


def copy_database(fresh: bool) -> None:
    """A consistent copy of the reports benchmark database; the original is opened read-only."""
    if SQLITE_FILE.exists() and not fresh:
        return
    if not SOURCE_FILE.exists():
        sys.exit(f"{SOURCE_FILE} is missing: run bench/reports.py first (it builds the 50,000-project data set).")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{SQLITE_FILE}{suffix}").unlink(missing_ok=True)
    started = time.monotonic()
    src = sqlite3.connect(f"file:{SOURCE_FILE}?mode=ro", uri=True)
    dst = sqlite3.connect(SQLITE_FILE)
    with dst:
        src.backup(dst)
    src.close()
    dst.close()
    print(f"copied {SOURCE_FILE.name} → {SQLITE_FILE.name} ({time.monotonic() - started:.1f} s)")


def configure() -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "keyprojects.settings"
    os.environ["DEMO_MODE"] = "1"
    os.environ["DEBUG"] = "0"
    os.environ["TESTING"] = "1"
    os.environ["LOG_LEVEL"] = "WARNING"
    os.environ.pop("DATABASE_URL", None)
    os.environ["SQLITE_PATH"] = str(SQLITE_FILE)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def add_units(target: int) -> int:
    """First-level towns and departments until there are `target`; projects spread over them."""
    from django.db import connection, transaction

    from keyprojects.org.models import Unit
    from keyprojects.rollups.cache import bump

    kinds = [Unit.Kind.TOWN, Unit.Kind.DEPARTMENT]
    first_level = Unit.objects.filter(kind__in=kinds, is_active=True).exclude(parent__kind__in=kinds)
    have = first_level.count()
    if have >= target:
        return 0
    government = Unit.objects.filter(kind=Unit.Kind.LEADERSHIP).order_by("-id").first()
    missing = target - have
    with transaction.atomic():
        rows = [
            Unit(
                name=f"评测{'镇' if i % 2 == 0 else '局'}{i:04d}",
                kind=kinds[i % 2],
                parent=government,
                region=government.region,
                path="",
            )
            for i in range(missing)
        ]
        Unit.objects.bulk_create(rows, batch_size=1000)
        with connection.cursor() as cursor:
            cursor.execute("UPDATE org_unit SET path = %s || id || '/' WHERE path = ''", [government.path])
        towns = list(first_level.filter(kind=Unit.Kind.TOWN).order_by("id").values_list("id", flat=True))
        units = list(first_level.order_by("id").values_list("id", flat=True))
        with connection.cursor() as cursor:
            cursor.execute("CREATE TEMP TABLE bench_unit (n INTEGER PRIMARY KEY, unit_id INTEGER, is_town INTEGER)")
            town_set = set(towns)
            cursor.executemany(
                "INSERT INTO bench_unit (n, unit_id, is_town) VALUES (%s, %s, %s)",
                [(n, u, 1 if u in town_set else 0) for n, u in enumerate(units)],
            )
            cursor.execute(
                "UPDATE projects_project SET responsible_unit_id = "
                "(SELECT unit_id FROM bench_unit WHERE n = projects_project.id %% %s)",
                [len(units)],
            )
            cursor.execute(
                "UPDATE projects_project SET town_id = responsible_unit_id "
                "WHERE responsible_unit_id IN (SELECT unit_id FROM bench_unit WHERE is_town = 1)"
            )
            cursor.execute("DROP TABLE bench_unit")
        bump("projects", "progress", "problems")
    return missing


def add_tours() -> int:
    """Two closed tours (10 projects, 5 judges) in 2026, through the domain (validated and audited)."""
    import random
    from decimal import Decimal

    from keyprojects.evaluation import tours
    from keyprojects.evaluation.models import ObservationTour
    from keyprojects.org.models import Role, User
    from keyprojects.projects.models import Project

    if ObservationTour.objects.exists():
        return 0
    rng = random.Random("bench-evaluation-tours")
    dispatcher = User.objects.filter(roles__role=Role.DISPATCHER, is_active=True).order_by("id").first()
    judges = list(User.objects.filter(roles__role=Role.LEADER, is_active=True).order_by("id")[:4]) + [dispatcher]
    ids = list(Project.objects.filter(actual_start__isnull=False).order_by("id").values_list("id", flat=True)[:5000])
    for quarter, held_on in ((2, datetime.date(2026, 6, 18)), (3, datetime.date(2026, 9, 17))):
        tour = tours.create_tour(by=dispatcher, data={
            "year": 2026, "quarter": quarter, "title": f"评测观摩 2026Q{quarter}", "held_on": held_on,
            "trim_count": 1, "trim_min_judges": 3, "town_method": "mean", "note": "",
        })  # fmt: skip
        chosen = rng.sample(ids, 10)
        tours.add_projects(tour, by=dispatcher, project_ids=chosen)
        tours.add_judges(tour, by=dispatcher, user_ids=[j.pk for j in judges])
        tours.open_tour(tour, by=dispatcher)
        criteria = list(tour.criteria.all())
        for judge in judges:
            for project_id in chosen:
                points = {c.pk: (c.max_points * Decimal(rng.randint(60, 100)) / 100).quantize(Decimal("0.5"))
                          for c in criteria}  # fmt: skip
                tours.save_sheet(tour, by=judge, project=project_id, points=points)
        tours.close_tour(tour, by=dispatcher)
    return 2


def prepare(args) -> dict:
    from django.core.management import call_command

    from keyprojects.lib import context

    started = time.monotonic()
    call_command("migrate", verbosity=0)
    with context.bind(channel="command"):
        added = add_units(args.units)
        sys.path.insert(0, str(ROOT / "bench"))
        from problem_data import bulk_problems

        problems = bulk_problems(args.problems, label="bench/evaluation.py")
        tours_made = add_tours()
    return {"units_added": added, "problems_added": problems, "tours_added": tours_made,
            "seconds": round(time.monotonic() - started, 1)}  # fmt: skip


def measure(args) -> dict:
    from django.core.cache import cache
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    from keyprojects.evaluation import presets
    from keyprojects.evaluation.scoring import evaluate

    today = datetime.date(2027, 1, 20)  # every month of 2026 is due: the reporting source reads all 12
    results = {}
    for code in (presets.THREE_BATCHES, presets.FOUR_COMPARISONS):
        for period in ("2026H1", "2026"):
            for mode in ("cold", "cached"):
                times, cpu, queries, rows = [], [], 0, 0
                for i in range(args.requests + 1):
                    if mode == "cold":
                        cache.clear()
                    reset_queries()
                    with CaptureQueriesContext(connection) as ctx:
                        t, c = time.perf_counter(), time.process_time()
                        result = evaluate(code, period, today=today)
                        elapsed, used = time.perf_counter() - t, time.process_time() - c
                    if i:  # the first run warms up
                        times.append(elapsed)
                        cpu.append(used)
                    queries, rows = len(ctx.captured_queries), len(result.rows)
                times.sort()
                key = f"{code} {period} {mode}"
                results[key] = {
                    "median_s": round(statistics.median(times), 3),
                    "p95_s": round(times[max(0, int(len(times) * 0.95) - 1)], 3),
                    "max_s": round(times[-1], 3),
                    "cpu_median_s": round(statistics.median(cpu), 3),
                    "queries": queries,
                    "units": rows,
                }
                print(f"{key:32} median {results[key]['median_s']:6.3f} s  p95 {results[key]['p95_s']:6.3f} s  "
                      f"cpu {results[key]['cpu_median_s']:6.3f} s  {queries:3d} queries  {rows} units")  # fmt: skip
    return results


def main(argv=None) -> None:
    args = parse_args(argv)
    copy_database(args.fresh)
    configure()
    from keyprojects.problems.models import Problem
    from keyprojects.projects.models import Project

    prep = prepare(args)
    print(f"prepared: {prep}")
    info = {
        "projects": Project.objects.count(),
        "problems": Problem.objects.count(),
        "python": platform.python_version(),
        "machine": f"{platform.machine()} {os.cpu_count()} cpus",
        "database": "sqlite",
    }
    print(f"data: {info}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cpus")
    info["load_average"] = round(os.getloadavg()[0], 1)
    results = measure(args)
    if args.json:
        args.json.write_text(json.dumps({"info": info, "prepare": prep, "results": results}, ensure_ascii=False,
                                        indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
