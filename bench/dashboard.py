#!/usr/bin/env python
"""Benchmark the cockpit (驾驶舱, issue 6) at 50,000 projects and 1.2 million monthly reports.

    .venv/bin/python bench/dashboard.py                  # SQLite (var/bench_reports.sqlite3)
    .venv/bin/python bench/dashboard.py --db postgres    # PostgreSQL (kp_bench_reports on 127.0.0.1)
    .venv/bin/python bench/dashboard.py --db both

The data set is bench/reports.py's (its loader and its databases: `seed_demo --projects 50000`, then 24
months of reports and plans for every project), built on first use and reused afterwards.

What is measured, in-process with Django's test client (middleware, session, template; no HTTP socket),
DEBUG off, for the last full month:

1. the cockpit page /dashboard/?year=&month= as demo_leader (scope 全部) and as demo_unit (东街街道):
   cold (the cache emptied before each request, so every figure is computed: completion table,
   problem figures, breakdowns, funnel, phases, curve, overdue lists) and warm (the cached figure set);
   --requests timed requests each after one warm-up, median and 95th percentile, SQL queries;
2. `figures.compute_cockpit` alone (the figures without the page) for the district;
3. the same figures by hand-written SQL (11 statements, see `HAND_SQL`), and the ratio of 2 and of the
   cold page to it. The hand-written figures are checked against the cockpit's before timing.
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

import reports as bench_reports  # noqa: E402  (bench/reports.py: data set, loader, database names)
from project_list import run_each_backend  # noqa: E402

TARGETS = {"cold": 500, "warm": 50, "ratio": 2}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--projects", type=int, default=50000, help="portfolio size (default 50000)")
    parser.add_argument("--months", type=int, default=24, help="months of reports per project (default 24)")
    parser.add_argument("--requests", type=int, default=20, help="timed requests per measurement (default 20)")
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="sqlite")
    parser.add_argument("--database-url", default=bench_reports.PG_URL, help="PostgreSQL URL")
    parser.add_argument("--fresh", action="store_true", help="drop the benchmark database and seed again")
    return parser.parse_args(argv)


# --- the hand-written SQL --------------------------------------------------------------------------------------

COUNTED = ("submitted", "reviewed", "confirmed")


def _in(values) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


def hand_sql(year: int, month: int, today: datetime.date, due: datetime.date,
             bands: list[Decimal]) -> list[tuple[str, str, list]]:  # fmt: skip
    """(name, SQL, params) of each statement: what the cockpit shows for the whole district.

    `bands`: the size bands' thresholds (read once, like any configuration).
    """
    period = year * 12 + month - 1
    jan = year * 12
    jan1 = datetime.date(year, 1, 1)
    end = datetime.date(year + month // 12, month % 12 + 1, 1) - datetime.timedelta(days=1)
    counted = _in(COUNTED)
    applies = "(b.first_year < %s OR (b.first_year = %s AND b.first_month <= %s)" + (
        " OR (b.first_year = %s AND b.first_month = 1))" if month == 12 else ")"
    )
    applies_params = [year, year, month + 1] + ([year + 1] if month == 12 else [])
    statements = [
        ("size bands", "SELECT id, name, min_investment FROM projects_sizeband ORDER BY min_investment", []),
        (
            "projects by unit: counts, investment, YTD and since-start from each one's latest counted report",
            f"""
            SELECT x.responsible_unit_id, u.name, u.short_name, COUNT(*), SUM(x.total_investment),
                   SUM(CASE WHEN x.actual_start BETWEEN %s AND %s THEN 1 ELSE 0 END),
                   SUM(CASE WHEN x.actual_end BETWEEN %s AND %s THEN 1 ELSE 0 END),
                   SUM(x.ss), SUM(x.ytd), SUM(CASE WHEN x.plan_id IS NOT NULL THEN x.ytd END), COUNT(x.report_id)
            FROM (
              SELECT p.responsible_unit_id, p.total_investment, p.actual_start, p.actual_end, r.id AS report_id,
                     pl.id AS plan_id,
                     CASE WHEN r.id IS NOT NULL THEN r.since_start_investment ELSE COALESCE(
                       (SELECT o.since_start_investment FROM progress_monthlyreport o WHERE o.project_id = p.id
                          AND o.status IN {counted} AND o.period <= %s ORDER BY o.period DESC LIMIT 1),
                       CASE WHEN {applies} THEN b.amount ELSE 0 END) END AS ss,
                     CASE WHEN r.id IS NOT NULL THEN r.ytd_investment ELSE COALESCE(
                       (SELECT o.ytd_investment FROM progress_monthlyreport o WHERE o.project_id = p.id
                          AND o.status IN {counted} AND o.period <= %s AND o.period >= %s
                          ORDER BY o.period DESC LIMIT 1),
                       CASE WHEN b.first_year = %s AND b.first_month <= %s THEN b.ytd_amount ELSE 0 END) END AS ytd
              FROM projects_project p
              LEFT JOIN progress_monthlyreport r ON r.project_id = p.id AND r.period = %s AND r.status IN {counted}
              LEFT JOIN progress_annualplan pl ON pl.project_id = p.id AND pl.year = %s
              LEFT JOIN progress_investmentbaseline b ON b.project_id = p.id
            ) x JOIN org_unit u ON u.id = x.responsible_unit_id
            GROUP BY x.responsible_unit_id, u.name, u.short_name""",
            [jan1, end, jan1, end, period, *applies_params, period, jan, year, month + 1, period, year],
        ),
        (
            "plans in force by unit (older versions for plans revised later) and the year's targets",
            """
            SELECT p.responsible_unit_id, COUNT(*), SUM(v.planned), SUM(v.original),
                   SUM(CASE WHEN v.to_start THEN 1 ELSE 0 END),
                   SUM(CASE WHEN v.to_start AND p.actual_start BETWEEN %s AND %s THEN 1 ELSE 0 END),
                   SUM(CASE WHEN v.to_complete THEN 1 ELSE 0 END),
                   SUM(CASE WHEN v.to_complete AND p.actual_end BETWEEN %s AND %s THEN 1 ELSE 0 END),
                   SUM(CASE WHEN v.to_commission THEN 1 ELSE 0 END)
            FROM (
              SELECT a.project_id, a.original_planned_investment AS original,
                CASE WHEN a.effective_month <= %s THEN a.planned_investment ELSE (SELECT r.planned_investment
                  FROM progress_annualplanrevision r WHERE r.plan_id = a.id AND r.effective_month <= %s
                  ORDER BY r.number DESC LIMIT 1) END AS planned,
                CASE WHEN a.effective_month <= %s THEN a.to_start ELSE (SELECT r.to_start
                  FROM progress_annualplanrevision r WHERE r.plan_id = a.id AND r.effective_month <= %s
                  ORDER BY r.number DESC LIMIT 1) END AS to_start,
                CASE WHEN a.effective_month <= %s THEN a.to_complete ELSE (SELECT r.to_complete
                  FROM progress_annualplanrevision r WHERE r.plan_id = a.id AND r.effective_month <= %s
                  ORDER BY r.number DESC LIMIT 1) END AS to_complete,
                CASE WHEN a.effective_month <= %s THEN a.to_commission ELSE (SELECT r.to_commission
                  FROM progress_annualplanrevision r WHERE r.plan_id = a.id AND r.effective_month <= %s
                  ORDER BY r.number DESC LIMIT 1) END AS to_commission
              FROM progress_annualplan a WHERE a.year = %s
            ) v JOIN projects_project p ON p.id = v.project_id
            GROUP BY p.responsible_unit_id""",
            [jan1, end, jan1, end, *([month] * 8), year],
        ),
        (
            "commissionings in the year by unit (first reach of 投产 or later)",
            """
            SELECT p.responsible_unit_id, COUNT(DISTINCT t.project_id),
                   COUNT(DISTINCT CASE WHEN EXISTS (SELECT 1 FROM progress_annualplan a
                     WHERE a.project_id = t.project_id AND a.year = %s
                     AND CASE WHEN a.effective_month <= %s THEN a.to_commission ELSE (
                       SELECT r.to_commission FROM progress_annualplanrevision r WHERE r.plan_id = a.id
                       AND r.effective_month <= %s ORDER BY r.number DESC LIMIT 1) END) THEN t.project_id END)
            FROM projects_stagetransition t JOIN projects_project p ON p.id = t.project_id
            WHERE t.to_stage IN ('commissioned', 'effective') AND t.happened_on BETWEEN %s AND %s
              AND NOT EXISTS (SELECT 1 FROM projects_stagetransition e WHERE e.project_id = t.project_id
                              AND e.to_stage IN ('commissioned', 'effective') AND e.happened_on < %s)
            GROUP BY p.responsible_unit_id""",
            [year, month, month, jan1, end, jan1],
        ),
        (
            "projects by industry, town, level and financing model",
            """
            SELECT industry_id, town_id, level, financing_model_id, COUNT(*), SUM(total_investment)
            FROM projects_project GROUP BY industry_id, town_id, level, financing_model_id""",
            [],
        ),
        (
            "their names (industries, towns, financing models; joining them into the scan is slower)",
            """
            SELECT 'industry', id, name, '' FROM projects_industry
            UNION ALL SELECT 'town', id, name, short_name FROM org_unit WHERE kind = 'town'
            UNION ALL SELECT 'financing', id, name, '' FROM projects_financingmodel""",
            [],
        ),
        (
            "projects by stage and status, with the size bands",
            """
            SELECT p.stage, p.status, COUNT(*), SUM(p.total_investment)"""
            + "".join(
                ", SUM(CASE WHEN p.total_investment >= %s THEN 1 ELSE 0 END)"
                ", SUM(CASE WHEN p.total_investment >= %s THEN p.total_investment END)"
                for _b in bands
            )
            + " FROM projects_project p GROUP BY p.stage, p.status",
            [v for b in bands for v in (b, b)],
        ),
        (
            "三个一批 phases: members by list and the stage of each",
            """
            SELECT m.phase_id, ph.number, ph.name, ph.held_on, m.batch, p.stage, COUNT(*)
            FROM projects_batchmembership m JOIN projects_phase ph ON ph.id = m.phase_id
            JOIN projects_project p ON p.id = m.project_id
            GROUP BY m.phase_id, ph.number, ph.name, ph.held_on, m.batch, p.stage""",
            [],
        ),
        (
            "monthly counted investment, this year and last (the trigger-kept series), and the baselines' shares",
            f"""
            SELECT year, {", ".join(f"SUM(m{m:02d})" for m in range(1, 13))} FROM progress_investmentseries
            WHERE year IN (%s, %s) GROUP BY year
            UNION ALL
            SELECT first_year, -first_month, SUM(ytd_amount), {", ".join(["0"] * 10)}
            FROM progress_investmentbaseline WHERE first_year IN (%s, %s) GROUP BY first_year, first_month""",
            [year - 1, year, year - 1, year],
        ),
        (
            "problems: assigned, open, overdue, resolved, on time, rated, satisfied",
            """
            SELECT COUNT(*),
                   SUM(CASE WHEN status IN ('assigned', 'deployed', 'in_progress') THEN 1 ELSE 0 END),
                   SUM(CASE WHEN status IN ('assigned', 'deployed', 'in_progress') AND current_due < %s
                       THEN 1 ELSE 0 END),
                   SUM(CASE WHEN status IN ('resolved', 'rated', 'closed') THEN 1 ELSE 0 END),
                   SUM(CASE WHEN status IN ('resolved', 'rated', 'closed') AND resolved_on_time THEN 1 ELSE 0 END),
                   SUM(CASE WHEN rating <> '' THEN 1 ELSE 0 END),
                   SUM(CASE WHEN rating IN ('satisfied', 'basic') THEN 1 ELSE 0 END)
            FROM problems_problem WHERE status <> 'new'""",
            [today],
        ),
        (
            "the ten longest-overdue problems",
            """
            SELECT q.id, q.title, q.current_due, q.supervised, q.project_id, p.name, u.name, u.short_name
            FROM problems_problem q JOIN projects_project p ON p.id = q.project_id
            LEFT JOIN org_unit u ON u.id = q.lead_unit_id
            WHERE q.status IN ('assigned', 'deployed', 'in_progress') AND q.current_due < %s
            ORDER BY q.current_due, q.id LIMIT 10""",
            [today],
        ),
    ]
    if today > due:
        statements.append((
            "reports late by unit (missing, draft or returned after the due day)",
            """
            SELECT p.responsible_unit_id, u.name, u.short_name, COUNT(*)
            FROM projects_project p JOIN org_unit u ON u.id = p.responsible_unit_id
            WHERE EXISTS (SELECT 1 FROM progress_annualplan a WHERE a.project_id = p.id AND a.year = %s)
              AND p.status <> 'terminated'
              AND NOT EXISTS (SELECT 1 FROM progress_investmentbaseline b WHERE b.project_id = p.id
                              AND (b.first_year > %s OR (b.first_year = %s AND b.first_month > %s)))
              AND NOT EXISTS (SELECT 1 FROM progress_monthlyreport r WHERE r.project_id = p.id AND r.year = %s
                              AND r.month = %s AND r.status NOT IN ('draft', 'returned'))
            GROUP BY p.responsible_unit_id, u.name, u.short_name""",
            [year, year, year, month, year, month],
        ))  # fmt: skip
    return statements


def run_hand_sql(statements) -> dict[str, list]:
    from django.db import connection

    out = {}
    with connection.cursor() as cursor:
        for name, sql, params in statements:
            cursor.execute(sql, params)
            out[name] = cursor.fetchall()
    return out


def hand_totals(rows: dict[str, list], year: int, month: int) -> dict[str, Decimal | int]:
    """The headline numbers from the hand-written SQL's rows (for the check against the cockpit)."""

    def find(start: str) -> list:
        return next((v for k, v in rows.items() if k.startswith(start)), [])

    by_unit, plans, commissioned = find("projects by unit"), find("plans in force"), find("commissionings")
    curve = []
    for row in find("monthly counted investment"):
        if float(row[1] or 0) < 0:  # a baseline: (year, -first month, amount, zeros)
            curve.append((row[0], int(row[1]), row[2]))
        else:  # a series row: (year, twelve monthly sums)
            curve.extend((row[0], m, v) for m, v in enumerate(row[1:], start=1))
    problems = find("problems:")[0]
    late = find("reports late")
    this_year = sum((Decimal(str(v or 0)) for y, m, v in curve if y == year and 0 < m <= month), Decimal(0))
    this_year += sum((Decimal(str(v or 0)) for y, m, v in curve if y == year and m < 0 and -m <= month + 1), Decimal(0))
    return {
        "projects": sum(r[3] for r in by_unit),
        "total_investment": sum(Decimal(str(r[4])) for r in by_unit),
        "ytd": sum(Decimal(str(r[8] or 0)) for r in by_unit),
        "ytd_in_plan": sum(Decimal(str(r[9] or 0)) for r in by_unit),
        "since_start": sum(Decimal(str(r[7] or 0)) for r in by_unit),
        "started": sum(r[5] for r in by_unit),
        "planned": sum(Decimal(str(r[2] or 0)) for r in plans),
        "commissioned": sum(r[1] for r in commissioned),
        "curve_end": this_year,
        "problems_open": problems[1] or 0,
        "problems_overdue": problems[2] or 0,
        "reports_late": sum(r[3] for r in late),
    }


def cockpit_totals(fig) -> dict[str, Decimal | int]:
    t = fig.table.total
    return {
        "projects": fig.projects, "total_investment": fig.total_investment, "ytd": t.ytd,
        "ytd_in_plan": t.ytd_in_plan, "since_start": t.since_start, "started": t.started, "planned": t.planned,
        "commissioned": t.commissioned, "curve_end": fig.curve.this_year[fig.month - 1],
        "problems_open": fig.problems.open, "problems_overdue": fig.problems.overdue,
        "reports_late": sum(len(g.items) for g in fig.reports_late),
    }  # fmt: skip


# --- timing ---------------------------------------------------------------------------------------------------


def timed(fn, n: int, before=None) -> tuple[list[float], int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    if before:
        before()
    with CaptureQueriesContext(connection) as ctx:
        fn()  # warm-up (also the query count)
    queries = len(ctx.captured_queries)
    times = []
    for _ in range(n):
        if before:
            before()
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return times, queries


def stats(times: list[float]) -> tuple[float, float]:
    return statistics.median(times), bench_reports.percentile(times, 0.95)


def run(args: argparse.Namespace, backend: str) -> None:
    os.environ["ALLOWED_HOSTS"] = "testserver,127.0.0.1,localhost"
    bench_reports.configure(args, backend)
    import django

    django.setup()
    from django.core.cache import cache
    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    from keyprojects.dashboard import figures
    from keyprojects.org.models import User
    from keyprojects.problems.models import Problem
    from keyprojects.progress.domain import due_date
    from keyprojects.progress.forms import last_month
    from keyprojects.progress.models import MonthlyReport
    from keyprojects.projects.models import Project, SizeBand

    seed_s, load_s = bench_reports.prepare(args)
    info = bench_reports.machine()
    n_projects, n_reports = Project.objects.count(), MonthlyReport.objects.count()
    year, month = last_month()
    today = timezone.localdate()
    url = f"/dashboard/?year={year}&month={month}"
    results: list[tuple[str, str, str]] = []

    # 1. The page, cold and warm, for two scopes.
    page_cold_p95 = None
    for username, scope in (("demo_leader", "全部"), ("demo_unit", "东街街道")):
        client = Client()
        client.force_login(User.objects.get(username=username))

        def get(client=client):
            r = client.get(url)
            assert r.status_code == 200, r.status_code

        cold, cold_q = timed(get, args.requests, before=cache.clear)
        warm, warm_q = timed(get, args.requests * 2)
        (cm, cp), (wm, wp) = stats(cold), stats(warm)
        if username == "demo_leader":
            page_cold_p95, page_cold_median = cp, cm
        results.append((f"cockpit page, {username} (scope {scope}), cold: every figure computed ({cold_q} queries)",
                        f"median {cm:.0f} ms, p95 **{cp:.0f} ms**", f"p95 < {TARGETS['cold']} ms"))  # fmt: skip
        results.append((f"cockpit page, {username}, warm: the cached figure set ({warm_q} queries)",
                        f"median {wm:.1f} ms, p95 **{wp:.1f} ms**", f"p95 < {TARGETS['warm']} ms"))  # fmt: skip

    # 2. The figures alone, and 3. the hand-written SQL (checked first).
    projects, problems = Project.objects.all(), Problem.objects.all()

    def compute():
        return figures.compute_cockpit(projects, problems, year, month, today=today)

    fig = compute()
    bands = list(SizeBand.objects.order_by("min_investment").values_list("min_investment", flat=True))
    statements = hand_sql(year, month, today, due_date(year, month), bands)
    mine, theirs = cockpit_totals(fig), hand_totals(run_hand_sql(statements), year, month)
    # (SQLite sums decimals as floats: compare to the cent, as the cockpit shows them.)
    cent = Decimal("0.01")
    differ = {
        k: (mine[k], theirs[k]) for k in mine if Decimal(mine[k]).quantize(cent) != Decimal(theirs[k]).quantize(cent)
    }
    if differ:
        raise SystemExit(f"the hand-written SQL disagrees with the cockpit: {differ}")
    figures_t, figures_q = timed(compute, args.requests, before=cache.clear)
    sql_t, _q = timed(lambda: run_hand_sql(statements), args.requests)
    (fm, fp), (sm, sp) = stats(figures_t), stats(sql_t)
    results.append((f"the figures alone (`figures.compute_cockpit`, district, {figures_q} queries)",
                    f"median {fm:.0f} ms, p95 {fp:.0f} ms", ""))  # fmt: skip
    results.append((f"the same figures by hand-written SQL ({len(statements)} statements, checked equal: "
                    f"{', '.join(f'{k} {v}' for k, v in list(mine.items())[:4])}…)",
                    f"median {sm:.0f} ms, p95 {sp:.0f} ms", ""))  # fmt: skip
    results.append(("ratio figures ÷ hand-written SQL (medians)", f"**{fm / sm:.2f}**", f"< {TARGETS['ratio']}"))
    results.append(("ratio cold page (demo_leader) ÷ hand-written SQL (medians)", f"**{page_cold_median / sm:.2f}**",
                    f"< {TARGETS['ratio']}"))  # fmt: skip
    # Where the figures' time goes: each statement of the hand-written SQL on its own.
    parts = []
    with connection.cursor() as cursor:
        for name, sql, params in statements:
            started = time.perf_counter()
            for _ in range(3):
                cursor.execute(sql, params)
                cursor.fetchall()
            parts.append((name, (time.perf_counter() - started) * 1000 / 3))

    print()
    origin = []
    if seed_s:
        origin.append(f"seed_demo --projects {args.projects}: {seed_s:.0f} s")
    if load_s:
        origin.append(f"reports bulk-loaded in {load_s:.0f} s")
    print(f"### {info['database']}: {n_projects} projects, {n_reports} monthly reports, month {year}-{month:02d}"
          f" ({'; '.join(origin) or 'data reused'})")  # fmt: skip
    print()
    print(f"{info['cpus']} CPUs, {info['memory']}, Python {info['python']}, Django {info['django']}, "
          f"{info['platform']}, load average {info['load']} (at the end), {datetime.date.today()}")  # fmt: skip
    print()
    print("| measurement | result | target |")
    print("|---|---|---|")
    for label, value, target in results:
        print(f"| {label} | {value} | {target} |")
    print()
    print("Hand-written statements, one run each (mean of 3):")
    print()
    for name, ms in parts:
        print(f"- {name}: {ms:.0f} ms")
    if page_cold_p95 is not None and page_cold_p95 >= TARGETS["cold"]:
        print(f"\nCold target missed: p95 {page_cold_p95:.0f} ms ≥ {TARGETS['cold']} ms.")


def main() -> None:
    args = parse_args()
    if args.db == "both":
        run_each_backend(__file__)
        return
    run(args, args.db)


if __name__ == "__main__":
    main()
