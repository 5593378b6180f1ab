#!/usr/bin/env python
"""Benchmark the rhythm's documents at scale: the 月点评 draft (snapshot) and its .docx (issue 5).

    .venv/bin/python bench/bulletins.py                 # var/bench_reports.sqlite3, opened read-only
    .venv/bin/python bench/bulletins.py --runs 5 --annual
    .venv/bin/python bench/bulletins.py --annual --database var/bench_evaluation.sqlite3   # 2,000 units

Reuses bench/reports.py's data set (50,000 projects with 24 months of reports; run that script first
to build it) and never writes to it: the SQLite file is opened with `mode=ro`, the snapshot is built
exactly as `domain.create_draft` builds it (`snapshot.build`, the only costly part of making a draft:
saving the row is one INSERT) and the documents are rendered from an unsaved `Bulletin` holding it.

Measured, in-process, each run with the roll-up cache cleared (cold, as the worker meets it):
1. the monthly review's snapshot for last month (towns and departments ranked on five indicators);
2. its Word document (.docx) from the snapshot, charts included; then its Excel workbook;
3. with --annual, the 年底总评 snapshot (`evaluation.scoring.evaluate`, preset 三个一批) and .docx,
   when the database holds the presets.
Targets: draft < 5 s, .docx < 2 s.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SQLITE_FILE = ROOT / "var" / "bench_reports.sqlite3"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="timed runs of each step (default 3)")
    parser.add_argument("--annual", action="store_true", help="also the year-end evaluation document")
    parser.add_argument("--out", help="write the last .docx here (to look at it)")
    parser.add_argument(
        "--database", type=Path, default=SQLITE_FILE,
        help="SQLite file (default var/bench_reports.sqlite3; var/bench_evaluation.sqlite3, built by "
        "bench/evaluation.py, has the same projects under 2,000 units)",
    )  # fmt: skip
    return parser.parse_args(argv)


def setup(database: Path) -> None:
    if not database.exists():
        sys.exit(f"{database} is missing: run bench/reports.py (or bench/evaluation.py) first to build it.")
    os.environ["DJANGO_SETTINGS_MODULE"] = "keyprojects.settings"
    os.environ["DEBUG"] = "0"
    os.environ["TESTING"] = "1"
    os.environ["LOG_LEVEL"] = "WARNING"
    os.environ.pop("DATABASE_URL", None)
    # Django's SQLite backend opens NAME as a URI: mode=ro makes every write fail, so the data set stays as it is.
    os.environ["SQLITE_PATH"] = f"file:{database}?mode=ro"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def timed(call, runs: int, before=None) -> tuple[list[float], object, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    times, result, queries = [], None, 0
    for _ in range(runs):
        if before:
            before()
        with CaptureQueriesContext(connection) as ctx:
            start = time.perf_counter()
            result = call()
            times.append(time.perf_counter() - start)
        queries = len(ctx.captured_queries)
    return times, result, queries


def line(label: str, times: list[float], extra: str = "") -> str:
    return f"{label:<34} median {statistics.median(times):6.2f} s  max {max(times):6.2f} s  {extra}"


def main() -> None:
    args = parse_args()
    setup(args.database.resolve())
    import datetime

    from django.core.cache import cache
    from django.utils import timezone

    from keyprojects.bulletins import files, snapshot
    from keyprojects.bulletins.models import Bulletin, Kind
    from keyprojects.bulletins.outline import title_for
    from keyprojects.org.models import Unit
    from keyprojects.progress.models import MonthlyReport
    from keyprojects.projects.models import Project

    last = MonthlyReport.objects.order_by("-period").values_list("year", "month").first()
    year, month = last
    as_of = datetime.date(year + month // 12, month % 12 + 1, 10)
    print(f"data set: {Project.objects.count():,} projects, {Unit.objects.count():,} units, "
          f"{MonthlyReport.objects.count():,} monthly reports; review of {year}-{month:02d} as of {as_of}")  # fmt: skip
    print(f"machine: {platform.platform()}, Python {platform.python_version()}, {os.cpu_count()} cores, "
          f"load {os.getloadavg()[0]:.1f}")  # fmt: skip

    def draft(kind: str = Kind.MONTHLY):
        return snapshot.build(kind, as_of if kind == Kind.MONTHLY else datetime.date(as_of.year + 1, 1, 20))

    def unsaved(kind: str, figures: dict) -> Bulletin:
        p = figures["period"]
        return Bulletin(kind=kind, as_of=datetime.date.fromisoformat(figures["as_of"]),
                        period_start=datetime.date.fromisoformat(p["start"]),
                        period_end=datetime.date.fromisoformat(p["end"]), title=title_for(kind, figures),
                        figures=figures, commentary={"overview": "总体平稳。"}, snapshot_at=timezone.now())  # fmt: skip

    times, figures, queries = timed(draft, args.runs, before=cache.clear)
    rows = sum(len(t["rows"]) for t in figures["tables"].values())
    print(line("月点评 draft (snapshot, cold)", times, f"{queries} queries, {rows} ranked units  [target < 5 s]"))
    bulletin = unsaved(Kind.MONTHLY, figures)
    times, data, queries = timed(lambda: files.docx_bytes(bulletin), args.runs)
    print(line("月点评 .docx", times, f"{len(data) / 1024:.0f} KiB, {queries} queries  [target < 2 s]"))
    if args.out:
        Path(args.out).write_bytes(data)
    times, data, _q = timed(lambda: files.xlsx_bytes(bulletin), args.runs)
    print(line("月点评 .xlsx", times, f"{len(data) / 1024:.0f} KiB"))

    if args.annual:
        from keyprojects.evaluation.models import Scheme

        if not Scheme.objects.filter(code="sangeyipi").exists():
            print("年底总评: the preset scheme is not in this database (read-only: not installed); skipped")
            return
        times, figures, queries = timed(lambda: draft(Kind.ANNUAL), args.runs, before=cache.clear)
        print(line("年底总评 draft (snapshot, cold)", times, f"{queries} queries, {len(figures['rows'])} units"))
        bulletin = unsaved(Kind.ANNUAL, figures)
        times, data, _q = timed(lambda: files.docx_bytes(bulletin), args.runs)
        print(line("年底总评 .docx", times, f"{len(data) / 1024:.0f} KiB"))


if __name__ == "__main__":
    main()
