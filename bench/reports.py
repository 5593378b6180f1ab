#!/usr/bin/env python
"""Benchmark monthly reports at scale: Excel import, ledger export, completion roll-up (issue 3).

    .venv/bin/python bench/reports.py                  # SQLite, 50,000 projects, 24 months of reports
    .venv/bin/python bench/reports.py --db postgres    # PostgreSQL (kp_bench_reports on 127.0.0.1)
    .venv/bin/python bench/reports.py --db both

The database is its own: SQLite in var/bench_reports.sqlite3 (SQLITE_PATH), PostgreSQL in
postgres://postgres@127.0.0.1:5432/kp_bench_reports (DATABASE_URL, or --database-url). It is migrated
and seeded with `seed_demo --projects N` when it holds fewer than N projects; then every project without
reports gets --months months of confirmed reports ending last month (the last two months submitted and
reviewed) and annual plans for the years they span, bulk-loaded (executemany on SQLite, COPY on
PostgreSQL) with their stored totals. Reused afterwards; --fresh starts over.

What is measured, in-process (no HTTP server), as demo_dispatcher (scope 全部):
1. import of a --import-rows template (rows of projects under construction, month = the current month,
   where nobody has reported yet): screening, parsing, checks and the bulk writes, in a transaction
   rolled back afterwards (so runs repeat); the template's build time is shown apart;
2. the ledger export of all projects for last month (`excel_export.ledger_file`), with its peak
   memory, each in a fresh process: the peak RSS (VmHWM) after the export above the RSS just before
   it, for all projects and for the first tenth of them (bounded memory: the two should be close);
3. the completion-rate roll-up by responsible unit for last month (`rates.completion_table`):
   1 warm-up and --requests timed runs, median and 95th percentile, SQL queries;
4. (extra) the year-end forecast of all projects (`forecast.forecast`).
"""

from __future__ import annotations

import argparse
import datetime
import io
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from project_list import database_version, run_each_backend  # noqa: E402

SQLITE_FILE = ROOT / "var" / "bench_reports.sqlite3"
PG_URL = "postgres://postgres@127.0.0.1:5432/kp_bench_reports"
SEASON = (3, 3, 8, 8, 9, 11, 7, 7, 9, 9, 11, 15)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--projects", type=int, default=50000, help="portfolio size (default 50000)")
    parser.add_argument("--months", type=int, default=24, help="months of reports per project (default 24)")
    parser.add_argument("--import-rows", type=int, default=10000, help="rows of the imported template (10000)")
    parser.add_argument("--requests", type=int, default=30, help="timed roll-ups (default 30)")
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="sqlite")
    parser.add_argument("--database-url", default=PG_URL, help=f"PostgreSQL URL (default {PG_URL})")
    parser.add_argument("--fresh", action="store_true", help="drop the benchmark database and seed again")
    parser.add_argument("--probe", choices=["all", "tenth"], help=argparse.SUPPRESS)  # internal: one export
    return parser.parse_args(argv)


def configure(args: argparse.Namespace, backend: str) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "keyprojects.settings"
    os.environ["DEMO_MODE"] = "1"
    os.environ["DEBUG"] = "0"
    os.environ["TESTING"] = "1"
    os.environ["LOG_LEVEL"] = "WARNING"
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


# --- bulk data ------------------------------------------------------------------------------------------------


def _insert(table: str, columns: list[str], rows: list[tuple]) -> None:
    """Fast bulk insert: COPY on PostgreSQL, executemany on SQLite."""
    from django.db import connection

    if not rows:
        return
    cols = ", ".join(connection.ops.quote_name(c) for c in columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {connection.ops.quote_name(table)} ({cols}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join(["%s"] * len(columns))
            cursor.executemany(f"INSERT INTO {connection.ops.quote_name(table)} ({cols}) VALUES ({marks})", rows)


def load_reports(months: int, log=print) -> int:
    """Reports for `months` months up to last month, and annual plans, for every project without any."""
    from django.db import transaction
    from django.utils import timezone

    from keyprojects.audit.models import AuditRecord
    from keyprojects.lib import context
    from keyprojects.progress.excel_common import last_month
    from keyprojects.progress.models import AnnualPlan, AnnualPlanRevision, MonthlyReport, period_month, period_of
    from keyprojects.projects.demo_portfolio import analyze
    from keyprojects.projects.models import Project

    ly, lm = last_month()
    last = period_of(ly, lm)
    first = last - months + 1
    years = sorted({period_month(p)[0] for p in range(first, last + 1)})
    todo = list(
        Project.objects.exclude(pk__in=MonthlyReport.objects.values("project_id"))
        .exclude(pk__in=AnnualPlan.objects.values("project_id"))
        .order_by("pk")
        .values_list("pk", "total_investment")
    )
    if not todo:
        return 0
    now = timezone.now()
    started = time.monotonic()
    report_cols = ["project_id", "year", "month", "investment", "ytd_investment", "since_start_investment",
                   "progress_text", "problems_text", "status", "on_behalf", "warnings", "explanation",
                   "submitted_late", "submission_hash", "submitted_at", "restatement_count", "version",
                   "return_reason", "created_at", "updated_at"]  # fmt: skip
    plan_cols = ["project_id", "year", "planned_investment", "original_planned_investment", "to_start", "to_complete",
                 "to_commission", "monthly_plan", "revision_count", "effective_month", "version", "created_at",
                 "updated_at"]  # fmt: skip
    rng = random.Random("bench-reports")
    total_rows = 0
    with context.bind(channel="command"), transaction.atomic():
        for i in range(0, len(todo), 5000):
            chunk = todo[i : i + 5000]
            reports, plans = [], []
            for pk, total in chunk:
                base = float(total) * rng.uniform(0.002, 0.012) * 12 / sum(SEASON)
                since, ytd, year = Decimal(0), Decimal(0), None
                by_year: dict[int, Decimal] = {}
                for p in range(first, last + 1):
                    y, m = period_month(p)
                    amount = Decimal(f"{base * SEASON[m - 1] * rng.uniform(0.75, 1.25):.2f}")
                    if y != year:
                        year, ytd = y, Decimal(0)
                    ytd += amount
                    since += amount
                    by_year[y] = ytd
                    status = "confirmed" if p < last - 1 else "reviewed" if p == last - 1 else "submitted"
                    reports.append((pk, y, m, amount, ytd, since, "主体施工", "", status, True, "[]", "", False, "",
                                    now, 0, 2, "", now, now))  # fmt: skip
                for y in years:
                    planned = Decimal(f"{float(by_year.get(y, 0)) * (12 / (lm if y == ly else 12)) / 1.1:.0f}")
                    planned = min(planned, total)
                    plans.append((pk, y, planned, planned, False, False, False, "[]", 0, 1, 1, now, now))
            _insert(MonthlyReport._meta.db_table, report_cols, reports)
            _insert(AnnualPlan._meta.db_table, plan_cols, plans)
            total_rows += len(reports)
            log(f"  {i + len(chunk)}/{len(todo)} projects, {total_rows} reports ({time.monotonic() - started:.0f} s)")
        plan_ids = AnnualPlan.objects.filter(revisions__isnull=True).values_list(
            "pk", "planned_investment", "to_start", "to_complete", "to_commission"
        )
        revisions = [(pid, 1, 1, amount, a, b, c, "[]", "{}", "年初计划", now) for pid, amount, a, b, c in plan_ids]
        _insert(AnnualPlanRevision._meta.db_table, ["plan_id", "number", "effective_month", "planned_investment",
                "to_start", "to_complete", "to_commission", "monthly_plan", "changes", "reason", "created_at"],
                revisions)  # fmt: skip
        AuditRecord.objects.create(
            actor_name="system", channel="command", object_type="monthlyreport", object_id="bench",
            object_repr=f"bench/reports.py 批量生成月报 {total_rows} 份", action=AuditRecord.Action.CREATE,
            after={"项目": len(todo), "月报": total_rows, "月份": months}, reason="性能测试数据",
        )  # fmt: skip
    analyze([MonthlyReport, AnnualPlan, AnnualPlanRevision, Project])
    return total_rows


def prepare(args) -> tuple[float, float]:
    from django.core.management import call_command

    from keyprojects.projects.models import Project

    call_command("migrate", verbosity=0, interactive=False)
    seed = 0.0
    if Project.objects.count() < args.projects:
        started = time.monotonic()
        call_command("seed_demo", projects=args.projects)
        seed = time.monotonic() - started
    started = time.monotonic()
    n = load_reports(args.months)
    return seed, (time.monotonic() - started) if n else 0.0


# --- measurements -----------------------------------------------------------------------------------------------


def rss_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def timed_ms(call, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return times


def summary(times: list[float]) -> str:
    return f"median {statistics.median(times):.1f} ms, p95 {percentile(times, 0.95):.1f} ms"


def machine() -> dict[str, str]:
    import django

    mem_kb = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kb = int(line.split()[1])
    db_version = database_version()
    return {"cpus": str(os.cpu_count()), "memory": f"{mem_kb / 1024 / 1024:.1f} GiB",
            "python": platform.python_version(), "django": django.get_version(), "database": db_version,
            "platform": platform.platform(), "load": " ".join(f"{x:.1f}" for x in os.getloadavg())}  # fmt: skip


def filled_template(user, year: int, month: int, rows: int) -> tuple[bytes, float]:
    import openpyxl

    from keyprojects.progress.excel_import import COL, FIRST_ROW, build_template
    from keyprojects.projects.models import Project, Stage

    candidates = (
        Project.objects.filter(stage__in=[Stage.STARTED, Stage.CONSTRUCTION], actual_end=None,
                               actual_start__lte=datetime.date(year, month, 1), annual_plans__year=year)
        .order_by("pk")[:rows]
    )  # fmt: skip
    started = time.monotonic()
    chosen = Project.objects.filter(pk__in=list(candidates.values_list("pk", flat=True)))
    data = build_template(user, year, month, projects=chosen)
    built = time.monotonic() - started
    wb = openpyxl.load_workbook(io.BytesIO(data))
    ws = wb["月报"]
    rng = random.Random("bench-import")
    for row in range(FIRST_ROW, ws.max_row + 1):
        if ws.cell(row, COL["project_id"] + 1).value is None:
            continue
        before = ws.cell(row, COL["ytd_before"] + 1).value or Decimal(1000)
        amount = float(before) / max(month - 1, 1) * rng.uniform(0.8, 1.3)
        ws.cell(row, COL["investment"] + 1).value = round(amount, 2)
        ws.cell(row, COL["progress_text"] + 1).value = "主体结构施工"
        ws.cell(row, COL["workers_on_site"] + 1).value = rng.randint(20, 300)
        ws.cell(row, COL["explanation"] + 1).value = "本月正常施工，数据已核实。"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue(), built


def probe(args: argparse.Namespace, backend: str) -> None:
    """In a fresh process: export the ledger (all projects, or the first tenth) and print time and peak memory.

    Peak = the process's peak RSS (VmHWM) after the export minus its RSS just before (Django loaded, the
    connection open), so memory the export allocates cannot hide in what an earlier step freed.
    """
    configure(args, backend)
    import django

    django.setup()
    from keyprojects.org.models import User
    from keyprojects.progress import excel_export
    from keyprojects.progress.excel_common import last_month
    from keyprojects.projects.models import Project

    user = User.objects.get(username="demo_dispatcher")
    ly, lm = last_month()
    total = Project.objects.count()
    count = total
    if args.probe == "tenth":
        tenth = Project.objects.order_by("pk").values_list("pk", flat=True)[total // 10]
        count = Project.objects.filter(pk__lte=tenth).count()
        original = excel_export.filtered_projects

        def first_tenth(u, params):
            form, projects = original(u, params)
            return form, projects.filter(pk__lte=tenth)

        excel_export.filtered_projects = first_tenth
    base = {k: rss_kb(k) for k in ("VmRSS", "RssAnon", "RssFile")}
    peaks = dict(base)
    done = threading.Event()

    def sample() -> None:  # the peak of each kind of resident memory, every 20 ms
        while not done.wait(0.02):
            for k in peaks:
                peaks[k] = max(peaks[k], rss_kb(k))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.monotonic()
    f = excel_export.ledger_file(user, {}, ly, lm)
    seconds = time.monotonic() - started
    done.set()
    sampler.join()
    size = f.seek(0, 2)
    f.close()
    peak = rss_kb("VmHWM")
    print(json.dumps({
        "projects": count, "seconds": seconds, "size": size, "peak_mb": (peak - base["VmRSS"]) / 1024,
        "anon_mb": (peaks["RssAnon"] - base["RssAnon"]) / 1024, "file_mb": (peaks["RssFile"] - base["RssFile"]) / 1024,
    }))  # fmt: skip


def run(args: argparse.Namespace, backend: str) -> None:
    configure(args, backend)
    import django

    django.setup()
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from keyprojects.org.models import User
    from keyprojects.progress import excel_import, forecast, rates
    from keyprojects.progress.excel_common import last_month
    from keyprojects.progress.models import MonthlyReport
    from keyprojects.projects.models import Project

    seed_s, load_s = prepare(args)
    info = machine()
    n_projects, n_reports = Project.objects.count(), MonthlyReport.objects.count()
    user = User.objects.get(username="demo_dispatcher")
    ly, lm = last_month()
    today = timezone.localdate()
    results: list[tuple[str, str, str]] = []

    # 1. Import.
    data, built = filled_template(user, today.year, today.month, args.import_rows)
    rows = args.import_rows
    started = time.monotonic()
    with transaction.atomic():
        result = excel_import.import_reports(user, SimpleUploadedFile("bench.xlsx", data))
        import_s = time.monotonic() - started
        transaction.set_rollback(True)
    results.append((f"import of a {rows}-row template ({len(data) / 1024 / 1024:.1f} MB, {result.submitted} "
                    f"reports submitted, {result.flagged} flagged)", f"{import_s:.1f} s", "< 10 s"))  # fmt: skip
    results.append((f"(building that template: {built:.1f} s)", "", ""))

    # 2. Ledger export: all projects, and a tenth of them, each in a fresh process for its peak memory.
    probes = {}
    for part in ("tenth", "all"):
        argv = [sys.executable, __file__, "--db", backend, "--database-url", args.database_url, "--probe", part]
        out = subprocess.run(argv, check=True, capture_output=True, text=True).stdout
        probes[part] = json.loads(out.strip().splitlines()[-1])
    full, small = probes["all"], probes["tenth"]
    results.append((f"ledger export, all {full['projects']} projects ({full['size'] / 1024 / 1024:.1f} MB xlsx)",
                    f"{full['seconds']:.1f} s", "< 20 s"))  # fmt: skip
    results.append((f"  ledger export, {small['projects']} projects", f"{small['seconds']:.1f} s", ""))
    results.append((f"  peak memory of the export above the process's RSS before it ({full['projects']} / "
                    f"{small['projects']} projects)", f"{full['peak_mb']:.0f} MB / {small['peak_mb']:.0f} MB",
                    "bounded"))  # fmt: skip
    results.append(("  of which anonymous (Python heap, SQLite page cache) / file-backed (mmap'd database)",
                    f"{full['anon_mb']:.0f} + {full['file_mb']:.0f} MB / {small['anon_mb']:.0f} + "
                    f"{small['file_mb']:.0f} MB", ""))  # fmt: skip

    # 3. Roll-up by unit: cold (computed: `compute_completion_table`, what the first load after a change
    # costs) and warm (`completion_table` served from the roll-up cache while nothing changed; the one
    # query left checks the data versions).
    from django.core.cache import cache

    projects = Project.objects.all()
    rates.compute_completion_table(projects, ly, lm, "unit")
    with CaptureQueriesContext(connection) as ctx:
        table = rates.compute_completion_table(projects, ly, lm, "unit")
    cold = timed_ms(lambda: rates.compute_completion_table(projects, ly, lm, "unit"), args.requests)
    results.append((f"completion roll-up by unit, {ly}-{lm:02d}, computed ({len(table.rows)} units, "
                    f"{len(ctx)} queries)", summary(cold), "p95 < 300 ms"))  # fmt: skip
    cache.clear()
    rates.completion_table(projects, ly, lm, "unit")
    with CaptureQueriesContext(connection) as ctx:
        rates.completion_table(projects, ly, lm, "unit")
    warm = timed_ms(lambda: rates.completion_table(projects, ly, lm, "unit"), args.requests)
    results.append((f"  the same from the roll-up cache ({len(ctx)} query)", summary(warm), "p95 < 300 ms"))

    # 4. Forecast: computed, then cached.
    started = time.monotonic()
    f = forecast.forecast(projects, ly, lm)
    results.append((f"year-end forecast of all projects, computed ({len(f.projects)} with a plan, "
                    f"{len(f.warnings)} warned)", f"{time.monotonic() - started:.1f} s", ""))  # fmt: skip
    forecast.warning_summary(projects, ly, lm)
    warm = timed_ms(lambda: forecast.warning_summary(projects, ly, lm), args.requests)
    results.append(("  units and the 滞后预警 list (page, API) from the roll-up cache", summary(warm), ""))

    print()
    origin = []
    if seed_s:
        origin.append(f"seed_demo --projects {args.projects}: {seed_s:.0f} s")
    if load_s:
        origin.append(f"reports bulk-loaded in {load_s:.0f} s")
    print(f"### {info['database']}: {n_projects} projects, {n_reports} monthly reports"
          f" ({'; '.join(origin) or 'reused'})")  # fmt: skip
    print()
    print(f"{info['cpus']} CPUs, {info['memory']}, Python {info['python']}, Django {info['django']}, "
          f"{info['platform']}, load average {info['load']}, {datetime.date.today()}")  # fmt: skip
    print()
    print("| measurement | result | target |")
    print("|---|---|---|")
    for label, value, target in results:
        print(f"| {label} | {value} | {target} |")


def main() -> None:
    args = parse_args()
    if args.db == "both":
        run_each_backend(__file__)
        return
    if args.probe:
        probe(args, args.db)
        return
    run(args, args.db)


if __name__ == "__main__":
    main()
