#!/usr/bin/env python
"""Benchmark the project list, the project page and the API list on a large portfolio.

    .venv/bin/python bench/project_list.py                       # SQLite, 50,000 projects
    .venv/bin/python bench/project_list.py --db postgres         # PostgreSQL (kp_bench on 127.0.0.1)
    .venv/bin/python bench/project_list.py --db both --explain   # both, with EXPLAIN of the slowest SQL

The database is separate from the dev one: SQLite in var/bench.sqlite3 (SQLITE_PATH), PostgreSQL in
postgres://postgres@127.0.0.1:5432/kp_bench (DATABASE_URL, or --database-url). It is migrated and
seeded with `seed_demo --projects N` when it holds fewer than N projects, and reused otherwise.

What is measured: server time in-process, with Django's test Client (the full middleware stack,
templates and SQL; no network, no gunicorn), signed in as demo_dispatcher (scope 全部). Each URL gets
one warm-up request, one counted request and then --requests timed ones; the table gives the median and the 95th
percentile in ms and the SQL queries per request (CaptureQueriesContext). The number of queries must
not depend on the page: page 1 and the deep page (and offset 0 and the deep offset) are compared.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SQLITE_FILE = ROOT / "var" / "bench.sqlite3"
PG_URL = "postgres://postgres@127.0.0.1:5432/kp_bench"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--projects", type=int, default=50000, help="portfolio size (default 50000)")
    parser.add_argument("--requests", type=int, default=30, help="timed requests per URL (default 30)")
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="sqlite")
    parser.add_argument("--database-url", default=PG_URL, help=f"PostgreSQL URL (default {PG_URL})")
    parser.add_argument("--deep-page", type=int, default=1500, help="the deep list page (default 1500)")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN the slowest SQL of the slowest URL")
    parser.add_argument("--fresh", action="store_true", help="drop the benchmark database and seed again")
    return parser.parse_args(argv)


def configure(args: argparse.Namespace, backend: str) -> None:
    """Point Django at the benchmark database; must run before django.setup()."""
    os.environ["DJANGO_SETTINGS_MODULE"] = "keyprojects.settings"
    os.environ["DEMO_MODE"] = "1"  # demo_dispatcher signs in
    os.environ["DEBUG"] = "0"
    os.environ["TESTING"] = "1"  # plain static storage: no collectstatic manifest needed in-process
    os.environ["LOG_LEVEL"] = "WARNING"
    hosts = os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost")
    os.environ["ALLOWED_HOSTS"] = f"{hosts},testserver"
    if backend == "postgres":
        os.environ["DATABASE_URL"] = args.database_url
        ensure_pg_database(args.database_url, drop=args.fresh)
    else:
        os.environ.pop("DATABASE_URL", None)
        os.environ["SQLITE_PATH"] = str(SQLITE_FILE)
        if args.fresh:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{SQLITE_FILE}{suffix}").unlink(missing_ok=True)
    sys.path.insert(0, str(ROOT))


def ensure_pg_database(url: str, *, drop: bool) -> None:
    import dj_database_url
    import psycopg

    cfg = dj_database_url.parse(url)
    admin = dict(host=cfg["HOST"] or None, port=cfg["PORT"] or None, user=cfg["USER"] or None,
                 password=cfg["PASSWORD"] or None, dbname="postgres", autocommit=True)  # fmt: skip
    with psycopg.connect(**{k: v for k, v in admin.items() if v is not None or k == "autocommit"}) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [cfg["NAME"]]).fetchone()
        if exists and drop:
            conn.execute(f'DROP DATABASE "{cfg["NAME"]}"')
            exists = None
        if not exists:
            conn.execute(f'CREATE DATABASE "{cfg["NAME"]}"')


def prepare(n_projects: int) -> float:
    """Migrate and seed when needed; returns the seconds spent seeding (0 when reused)."""
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    from keyprojects.projects.models import Project

    if Project.objects.count() >= n_projects:
        print(f"reusing the benchmark database ({Project.objects.count()} projects)")
        from keyprojects.projects.demo_portfolio import analyze
        from keyprojects.projects.models import ApprovalItem, BatchMembership, StageTransition

        analyze([Project, StageTransition, ApprovalItem, BatchMembership])  # fresh planner statistics
        return 0.0
    started = time.monotonic()
    call_command("seed_demo", projects=n_projects)
    return time.monotonic() - started


def database_version() -> str:
    """ "SQLite 3.40.1" or "PostgreSQL 15.20 (…)": the database Django is connected to."""
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SHOW server_version")
            return f"PostgreSQL {cursor.fetchone()[0]}"
        cursor.execute("SELECT sqlite_version()")
        return f"SQLite {cursor.fetchone()[0]}"


def run_each_backend(script: str) -> None:
    """Run `script` once with --db sqlite and once with --db postgres, with the other arguments as given."""
    argv = list(sys.argv[1:])
    if "--db" in argv:
        i = argv.index("--db")
        argv[i : i + 2] = []
    argv = [a for a in argv if not a.startswith("--db=")]
    for backend in ("sqlite", "postgres"):
        subprocess.run([sys.executable, script, "--db", backend, *argv], check=True)


def machine() -> dict[str, str]:
    import django

    mem_kb = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    except OSError:
        pass
    db_version = database_version()
    return {
        "cpus": str(os.cpu_count()),
        "memory": f"{mem_kb / 1024 / 1024:.1f} GiB" if mem_kb else "?",
        "python": platform.python_version(),
        "django": django.get_version(),
        "database": db_version,
        "platform": platform.platform(),
    }


def dispatcher_client():
    """A test client signed in as demo_dispatcher (scope 全部), for the page measurements.

    force_login: the sign-in lockout (django-axes) needs a real request to authenticate."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    dispatcher = get_user_model().objects.filter(username="demo_dispatcher").first()
    if dispatcher is None:
        sys.exit("no demo_dispatcher (seed with DEMO_MODE=1)")
    client = Client()
    client.force_login(dispatcher)
    return client


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


class SlowQueries:
    """An execute wrapper that keeps each query's SQL, parameters and duration."""

    def __init__(self):
        self.queries: list[tuple[float, str, object]] = []

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.queries.append((time.perf_counter() - started, sql, params))


def run(args: argparse.Namespace, backend: str) -> None:
    configure(args, backend)
    import django

    django.setup()
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext
    from django.urls import NoReverseMatch, reverse

    from keyprojects.org.demo_data import DEMO_PASSWORD
    from keyprojects.projects.models import Project, Stage

    seconds = prepare(args.projects)
    total = Project.objects.count()
    info = machine()

    client = dispatcher_client()
    try:
        list_url = reverse("project-list")
        sample = Project.objects.filter(stage=Stage.CONSTRUCTION).order_by("id")[total // 4 :].first()
        detail_url = reverse("project-detail", kwargs={"pk": sample.pk})
    except NoReverseMatch:
        sys.exit("the project pages are not there yet (URL names project-list / project-detail): numbers pending")
    api_headers = {}
    response = client.post(
        "/api/v1/auth/token",
        {"username": "demo_dispatcher", "password": DEMO_PASSWORD, "name": "bench"},
        content_type="application/json",
    )
    if response.status_code == 200:
        api_headers = {"HTTP_AUTHORIZATION": f"Bearer {response.json()['token']}"}
    deep_offset = (args.deep_page - 1) * 25
    cases = [
        ("list, page 1", f"{list_url}", {}),
        ("list, stage=在建 sort=-total_investment", f"{list_url}?stage=construction&sort=-total_investment", {}),
        (f"list, page {args.deep_page}", f"{list_url}?page={args.deep_page}", {}),
        ("project page", detail_url, {}),
    ]
    if api_headers:
        cases += [
            ("API list, limit=25", "/api/v1/projects?limit=25", api_headers),
            (f"API list, offset={deep_offset}", f"/api/v1/projects?limit=25&offset={deep_offset}", api_headers),
        ]
    rows = []
    for label, url, headers in cases:
        client.get(url, **headers)  # warm-up (also absorbs one-off writes such as a token's last use)
        reset_queries()  # the log is a bounded deque: a full one would hide the new queries
        with CaptureQueriesContext(connection) as captured:
            warm = client.get(url, **headers)
        n_queries = len(captured)  # read now: the next request resets the query log
        times = []
        for _ in range(args.requests):
            started = time.perf_counter()
            client.get(url, **headers)
            times.append((time.perf_counter() - started) * 1000)
        rows.append((label, url, warm.status_code, statistics.median(times), percentile(times, 0.95),
                     n_queries))  # fmt: skip

    print()
    origin = f"seeded in {seconds:.0f} s" if seconds else "reused"
    print(f"### {info['database']}: {total} projects ({origin})")
    print()
    print(
        f"{info['cpus']} CPUs, {info['memory']}, Python {info['python']}, Django {info['django']}, {info['platform']}"
    )
    print(f"in-process django.test.Client as demo_dispatcher; 1 warm-up + {args.requests} requests per URL")
    print()
    print("| request | URL | status | median ms | p95 ms | SQL queries |")
    print("|---|---|---:|---:|---:|---:|")
    for label, url, status, median, p95, queries in rows:
        print(f"| {label} | `{url}` | {status} | {median:.1f} | {p95:.1f} | {queries} |")
    by_label = {r[0]: r for r in rows}
    checks = [("list, page 1", f"list, page {args.deep_page}")]
    if api_headers:
        checks.append(("API list, limit=25", f"API list, offset={deep_offset}"))
    print()
    for first, deep in checks:
        a, b = by_label[first][5], by_label[deep][5]
        print(f"- SQL queries: {first} = {a}, {deep} = {b}: {'equal' if a == b else 'DIFFERENT'}")
    if not api_headers:
        print(f"- API: token request answered {response.status_code}; API numbers pending")

    if args.explain:
        slowest = max(rows, key=lambda r: r[3])
        recorder = SlowQueries()
        with connection.execute_wrapper(recorder):
            client.get(slowest[1], **next(c[2] for c in cases if c[0] == slowest[0]))
        print()
        print(f"Slowest URL: {slowest[0]} ({slowest[1]}); its queries by time:")
        for duration, sql, _params in sorted(recorder.queries, key=lambda q: -q[0])[:5]:
            print(f"  {duration * 1000:7.2f} ms  {sql[:160]}")
        duration, sql, params = max(recorder.queries, key=lambda q: q[0])
        prefix = "EXPLAIN QUERY PLAN " if connection.vendor == "sqlite" else "EXPLAIN ANALYZE "
        with connection.cursor() as cursor:
            cursor.execute(prefix + sql, params)
            plan = cursor.fetchall()
        print()
        print(f"{prefix.strip()} of the slowest query ({duration * 1000:.2f} ms):")
        print("```")
        print(sql)
        for row in plan:
            print("  " + " | ".join(str(c) for c in row))
        print("```")


def main() -> None:
    args = parse_args()
    if args.db == "both":
        run_each_backend(__file__)
        return
    run(args, args.db)


if __name__ == "__main__":
    main()
