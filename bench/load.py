#!/usr/bin/env python
"""Load test: a district's staff at work against gunicorn, PostgreSQL, Redis and two workers (issue 8, item 8).

    .venv/bin/python bench/load.py                             # 200 users for 120 s: the recorded run
    .venv/bin/python bench/load.py --users 20 --seconds 20     # a short one
    .venv/bin/python bench/load.py --smoke                     # 5 users, 10 s: tests/test_load_smoke.py

One command does everything:

1. The database: postgres://postgres@127.0.0.1:5432/kp_load_bench (--database-url), created when missing,
   migrated, and seeded with `seed_demo --projects N` (the demo district, then bulk projects up to --projects,
   default 3,000; the smoke run 400) when it holds fewer; reused by later runs.
2. Load accounts (password `Demo@2026!`, flagged as demo accounts): as many 领导, 调度员, 责任单位经办人 and 企业填报员
   as the user mix needs, each virtual user its own account (the lockout counts per username). The unit officers
   belong to the units that lead the district's open problems (已部署/办理中); each enterprise account is the
   filer of its own company, which owns bulk projects under construction that have no reports. Before each run
   those projects' monthly reports are deleted, so every run files the same months again (each open month from
   the one after the last closed month up to the current one, earliest first).
3. The servers: `collectstatic` into --workdir, Redis database 11 flushed (REDIS_URL=redis://127.0.0.1:6379/11),
   then `scripts/serve` as `make run` uses it (gunicorn, one worker per core × 2 threads, DEBUG off, whitenoise,
   and one `manage.py run_worker`) plus a second `manage.py run_worker`.
4. locust, headless, with bench/locustfile.py (the user mix and the think time are described there): --users
   users started at --spawn-rate per second (default: all of them within 40 s, as a morning's sign-ins), for
   --seconds seconds; raw CSV files under --workdir.
5. The result: per request type the number of requests, errors and 409 conflicts, median and 95th percentile in
   ms, and the total; whether 0 errors was met (a failed worker pass or a server process that died counts as an
   error too). Printed, and written as markdown to --results (default var/load_results.md; smoke runs write
   under --workdir). The exit status is 0 only when there was no error.

Other work on the machine shares its 2 cores: the load average at the start and the end is recorded with the
result.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from project_list import ensure_pg_database, machine  # noqa: E402

PG_URL = "postgres://postgres@127.0.0.1:5432/kp_load_bench"
REDIS_URL = "redis://127.0.0.1:6379/11"
PYTHON = sys.executable
# The user mix (the weights of bench/locustfile.py's user classes, given to it in the plan), in %: enterprise filers
# are the most numerous users of a district's platform, then the units' officers. Equal in smoke mode, so that
# 5 users include every kind.
ROLE_WEIGHTS = {"leader": 15, "dispatcher": 20, "unit": 30, "enterprise": 35}
# Reports an enterprise user files per minute at most: its report flow is half its actions, and an action
# comes every 3 s at the quickest (every 0.5 s in smoke mode), so this is a generous ceiling.
REPORTS_PER_MINUTE = {False: 10, True: 60}
LOAD_PREFIX = "load_"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=200, help="concurrent users (default 200)")
    parser.add_argument("--seconds", type=int, default=120, help="duration of the load (default 120)")
    parser.add_argument(
        "--spawn-rate", type=float, default=None, help="users started per second (default: users / 40, at least 1)"
    )
    parser.add_argument("--smoke", action="store_true", help="5 users, 10 s, short think time (CI)")
    parser.add_argument("--database-url", default=PG_URL, help=f"PostgreSQL database (default {PG_URL})")
    parser.add_argument("--projects", type=int, default=None, help="portfolio size (default 3000; smoke 400)")
    parser.add_argument("--port", type=int, default=8320, help="gunicorn's port (default 8320)")
    parser.add_argument("--workdir", default=None, help="logs, CSV, static files (default var/load[/smoke])")
    parser.add_argument("--results", default=None, help="markdown result (default var/load_results.md)")
    args = parser.parse_args(argv)
    if args.smoke:
        args.users = 5 if args.users == 200 else args.users
        args.seconds = 10 if args.seconds == 120 else args.seconds
    args.projects = args.projects if args.projects is not None else (400 if args.smoke else 3000)
    args.spawn_rate = args.spawn_rate or (float(args.users) if args.smoke else max(1.0, args.users / 40))
    args.weights = {role: 1 for role in ROLE_WEIGHTS} if args.smoke else dict(ROLE_WEIGHTS)
    workdir = Path(args.workdir) if args.workdir else ROOT / "var" / "load" / ("smoke" if args.smoke else "")
    args.workdir = workdir.resolve()
    default_results = args.workdir / "load_results.md" if args.smoke else ROOT / "var" / "load_results.md"
    args.results = Path(args.results).resolve() if args.results else default_results
    if not args.database_url.startswith("postgres"):
        parser.error("the load test runs against PostgreSQL (--database-url postgres://…)")
    return args


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- 1 and 2: the database, the accounts, the plan -----------------------------------------------------------------


def server_env(args: argparse.Namespace) -> dict[str, str]:
    """The environment of every process of the run (the same secret key, database, cache and var directory)."""
    env = {k: v for k, v in os.environ.items() if k not in ("TESTING", "SQLITE_PATH", "DB_POOL", "WEB_WORKERS")}
    env.update(
        DJANGO_SETTINGS_MODULE="keyprojects.settings",
        DATABASE_URL=args.database_url,
        REDIS_URL=REDIS_URL,
        DEBUG="0",
        DEMO_MODE="1",
        SECRET_KEY="kp-load-bench-" + "s" * 40,
        ALLOWED_HOSTS="127.0.0.1,localhost",
        KEYPROJECTS_VAR_DIR=str(args.workdir / "var"),
        MEDIA_ROOT=str(args.workdir / "var" / "media"),
        LOG_LEVEL="WARNING",
        PORT=str(args.port),
        PYTHONUNBUFFERED="1",
    )
    return env


def setup_django(args: argparse.Namespace) -> None:
    os.environ.update(server_env(args))
    os.environ["DB_POOL"] = "0"  # this process runs a few setup queries: no pool threads
    os.environ.pop("REDIS_URL", None)  # the servers' cache is flushed separately; setup needs none
    import django

    django.setup()


def month_range(first_period: int, last_period: int) -> list[tuple[int, int]]:
    from keyprojects.progress.models import period_month

    return [period_month(p) for p in range(first_period, last_period + 1)]


def prepare_data(args: argparse.Namespace) -> dict:
    """Migrate, seed when needed, make the load accounts and their data ready; returns the plan for locust."""
    from django.core.management import call_command
    from django.db import transaction
    from django.utils import timezone

    from keyprojects.notify.models import Notification
    from keyprojects.org.demo_data import DEMO_PASSWORD
    from keyprojects.org.models import Role, Unit, User, UserRole
    from keyprojects.problems.models import Problem, ProblemEvent, Status
    from keyprojects.progress.domain import locked_through
    from keyprojects.progress.models import MonthlyReport, period_of
    from keyprojects.projects.access import visible_projects
    from keyprojects.projects.models import Project, Stage

    started = time.monotonic()
    call_command("migrate", verbosity=0, interactive=False)
    seeded = "reused"
    if Project.objects.count() < args.projects or not User.objects.filter(username="demo_dispatcher").exists():
        call_command("seed_demo", projects=args.projects, verbosity=0)
        seeded = f"seeded in {time.monotonic() - started:.0f} s"
    dispatcher = User.objects.get(username="demo_dispatcher")
    leader = User.objects.get(username="demo_leader")
    # Accounts for the user mix, with a margin for locust's rounding of the weights.
    total_weight = sum(args.weights.values())
    needed = {role: math.ceil(args.users * w / total_weight) + 2 for role, w in args.weights.items()}
    open_problems = Problem.objects.filter(status__in=[Status.DEPLOYED, Status.IN_PROGRESS], lead_unit__isnull=False)
    lead_units = list(Unit.objects.filter(pk__in=open_problems.values("lead_unit")).order_by("id"))
    if not lead_units:
        sys.exit("no open problems (已部署/办理中) in the database: seed_demo makes them")
    today = timezone.localdate()
    first = (locked_through() or period_of(today.year, today.month) - 12) + 1
    last = period_of(today.year, today.month)
    months = month_range(max(first, last - 23), last)
    per_enterprise = max(1, math.ceil(REPORTS_PER_MINUTE[args.smoke] * args.seconds / 60 / len(months)))
    plan: dict = {"password": DEMO_PASSWORD, "accounts": {}, "weights": args.weights}

    with transaction.atomic():

        def account(username: str, role: str, unit: Unit, full_name: str, title: str) -> User:
            user = User.objects.filter(username=username).first()
            if user is None:
                # The demo password's hash, copied: no 0.2 s PBKDF2 round per account. Flagged as a demo account,
                # so `check --deploy` refuses this database for production like any other with demo logins.
                user = User.objects.create(
                    username=username,
                    full_name=full_name,
                    title=title,
                    unit=unit,
                    password=dispatcher.password,
                    is_demo=True,
                )
                UserRole.objects.create(user=user, role=role)
            return user

        plan["accounts"]["leader"] = [
            {
                "username": account(
                    f"{LOAD_PREFIX}leader_{i:03d}", Role.LEADER, leader.unit, f"压测领导{i:03d}", "区领导"
                ).username
            }
            for i in range(1, needed["leader"] + 1)
        ]
        plan["accounts"]["dispatcher"] = [
            {
                "username": account(
                    f"{LOAD_PREFIX}dispatcher_{i:03d}", Role.DISPATCHER, dispatcher.unit, f"压测调度员{i:03d}", "调度员"
                ).username
            }
            for i in range(1, needed["dispatcher"] + 1)
        ]
        units = []
        for i in range(1, needed["unit"] + 1):
            unit = lead_units[(i - 1) % len(lead_units)]
            user = account(f"{LOAD_PREFIX}unit_{i:03d}", Role.UNIT_OFFICER, unit, f"压测经办人{i:03d}", "项目经办人")
            problems = list(open_problems.filter(lead_unit=unit).order_by("id").values_list("id", flat=True))
            projects = list(visible_projects(user).order_by("id").values_list("id", flat=True)[:200])
            units.append({"username": user.username, "problems": problems, "projects": projects})
        plan["accounts"]["unit"] = units

        enterprises = []
        spare = Project.objects.filter(owner_unit__isnull=True, stage=Stage.CONSTRUCTION).order_by("id")
        district = leader.unit.region if leader.unit else None
        for i in range(1, needed["enterprise"] + 1):
            name = f"压测企业{i:03d}有限公司"
            company = Unit.objects.filter(name=name, kind=Unit.Kind.ENTERPRISE).first()
            if company is None:
                company = Unit(name=name, kind=Unit.Kind.ENTERPRISE, region=district)
                company.save()
            user = account(
                f"{LOAD_PREFIX}enterprise_{i:03d}", Role.ENTERPRISE, company, f"压测填报员{i:03d}", "企业填报员"
            )
            owned = list(Project.objects.filter(owner_unit=company).order_by("id").values_list("id", flat=True))
            missing = per_enterprise - len(owned)
            if missing > 0:
                more = list(spare.values_list("id", flat=True)[:missing])
                if len(more) < missing:
                    sys.exit(
                        f"not enough bulk projects under construction for {needed['enterprise']} companies: "
                        f"raise --projects"
                    )
                Project.objects.filter(pk__in=more).update(owner_unit=company, owner_name=name)
                owned += more
            enterprises.append({"username": user.username, "projects": owned[:per_enterprise], "months": months})
        plan["accounts"]["enterprise"] = enterprises

        load_users = User.objects.filter(username__startswith=LOAD_PREFIX)
        # The password's age counts from date_joined (no history): a reused database must not send the load
        # accounts to the password-change page after 90 days.
        load_users.update(date_joined=timezone.now(), is_active=True)
        companies = Unit.objects.filter(name__startswith="压测企业", kind=Unit.Kind.ENTERPRISE)
        _total, rows = MonthlyReport.objects.filter(project__owner_unit__in=companies).delete()
        reports_deleted = rows.get(MonthlyReport._meta.label, 0)
        # The previous runs' feedback entries (and the notifications made of them): each run would otherwise
        # lengthen the 20 problems' timelines by a few hundred entries, and their pages with them.
        feedback = ProblemEvent.objects.filter(kind=ProblemEvent.Kind.FEEDBACK, actor__in=load_users)
        keys = [f"problem-event:{pk}" for pk in feedback.values_list("pk", flat=True)]
        Notification.objects.filter(source_key__in=keys).delete()
        _total, rows = feedback.delete()
        feedback_deleted = rows.get(ProblemEvent._meta.label, 0)
    plan["all_projects"] = list(Project.objects.order_by("?").values_list("id", flat=True)[:500])
    plan["project_count"] = Project.objects.count()
    plan["prepared"] = {
        "data": seeded,
        "projects": plan["project_count"],
        "reports_reset": reports_deleted,
        "feedback_reset": feedback_deleted,
        "months": f"{months[0][0]}-{months[0][1]:02d} to {months[-1][0]}-{months[-1][1]:02d}",
        "projects_per_enterprise": per_enterprise,
        "lead_units": len(lead_units),
        "open_problems": open_problems.count(),
        "seconds": round(time.monotonic() - started, 1),
    }
    return plan


# --- 3: the servers ----------------------------------------------------------------------------------------------


def flush_redis() -> None:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_timeout=5).flushdb()
    except redis.exceptions.ConnectionError as exc:
        sys.exit(f"Redis is not reachable at {REDIS_URL}: {exc}")


def port_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


class Servers:
    """scripts/serve (gunicorn and one worker) and a second worker, each in its own process group."""

    def __init__(self, args: argparse.Namespace, env: dict[str, str]):
        self.args, self.env = args, env
        self.logs = args.workdir / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.procs: dict[str, subprocess.Popen] = {}

    def _start(self, name: str, command: list[str]) -> None:
        with open(self.logs / f"{name}.log", "wb") as out:
            self.procs[name] = subprocess.Popen(
                command,
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def start(self) -> None:
        if not port_free(self.args.port):
            sys.exit(f"port {self.args.port} is taken; choose another with --port")
        self._start("serve", [str(ROOT / "scripts" / "serve")])
        self._start("worker_2", [PYTHON, "manage.py", "run_worker"])
        deadline = time.monotonic() + 90
        while not self.answers("/accounts/login/"):
            self.check_alive()
            if time.monotonic() > deadline:
                self.stop()
                sys.exit(f"gunicorn did not answer on port {self.args.port}; see {self.logs}")
            time.sleep(0.3)

    def answers(self, path: str) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.args.port}{path}", timeout=30) as answer:
                return answer.status == 200
        except (OSError, urllib.error.HTTPError):
            return False

    def warm_up(self) -> None:
        """Each gunicorn worker imports the URLconf on its first request (about a second): not part of the load."""
        import concurrent.futures

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            for _ in range(3):
                list(pool.map(lambda _i: self.answers("/accounts/login/"), range(16)))

    def processes(self) -> dict[str, int]:
        """gunicorn and run_worker processes running now (ps over the process groups)."""
        counts = {"gunicorn": 0, "run_worker": 0}
        for proc in self.procs.values():
            out = subprocess.run(["ps", "-o", "args=", "-g", str(proc.pid)], capture_output=True, text=True).stdout
            for line in out.splitlines():
                if "gunicorn" in line:
                    counts["gunicorn"] += 1
                elif "run_worker" in line:
                    counts["run_worker"] += 1
        return counts

    def check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                sys.exit(f"{name} exited with {proc.returncode}; see {self.logs / (name + '.log')}")

    def failed_passes(self) -> int:
        return sum(
            (self.logs / f"{name}.log").read_text(errors="replace").count("worker: pass failed") for name in self.procs
        )

    def server_errors(self) -> int:
        text = (self.logs / "serve.log").read_text(errors="replace")
        return text.count("Internal Server Error") + text.count("WORKER TIMEOUT")

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


# --- 4 and 5: locust and the result --------------------------------------------------------------------------------


def run_locust(args: argparse.Namespace, plan_path: Path, result_path: Path, env: dict[str, str]) -> int:
    csv_prefix = args.workdir / "locust"
    command = [
        str(ROOT / ".venv" / "bin" / "locust"),
        "-f",
        str(ROOT / "bench" / "locustfile.py"),
        "--headless",
        "-u",
        str(args.users),
        "-r",
        f"{args.spawn_rate:g}",
        "-t",
        f"{args.seconds}s",
        "--stop-timeout",
        "15",
        "--host",
        f"http://127.0.0.1:{args.port}",
        "--csv",
        str(csv_prefix),
        "--only-summary",
        "--loglevel",
        "WARNING",
        "--exit-code-on-error",
        "0",
    ]
    locust_env = {
        **env,
        "KP_LOAD_PLAN": str(plan_path),
        "KP_LOAD_RESULT": str(result_path),
        "KP_LOAD_SMOKE": "1" if args.smoke else "0",
    }
    log(f"locust: {args.users} users, {args.spawn_rate:g}/s, {args.seconds} s ({'smoke' if args.smoke else 'full'})")
    with open(args.workdir / "logs" / "locust.log", "wb") as out:
        done = subprocess.run(
            command, cwd=ROOT, env=locust_env, stdout=out, stderr=subprocess.STDOUT, timeout=args.seconds + 300
        )
    return done.returncode


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def fmt_ms(value) -> str:
    return "—" if value is None else f"{value:.0f}"


def report(args, result: dict, info: dict, plan: dict, extra: dict) -> tuple[str, int]:
    """The markdown result and the number of errors (requests, failed worker passes, server errors, crashes)."""
    total = result["total"]
    exceptions = sum(e["count"] for e in result["exceptions"])
    errors = total["errors"] + exceptions + extra["failed_passes"] + extra["server_errors"] + extra["dead"]
    lines = [
        f"# Load test: {args.users} users for {args.seconds} s" + (" (smoke)" if args.smoke else ""),
        "",
        f"Command: `{extra['command']}`  ",
        f"Date: {extra['date']} (load {extra['seconds']:.0f} s; load average {extra['load_before']} before, "
        f"{extra['load_after']} after)  ",
        f"Machine: nproc {info['cpus']}, {info['memory']} RAM, {info['platform']}, Python {info['python']}, "
        f"Django {info['django']}  ",
        f"Database: {info['database']} on 127.0.0.1:5432 (`{args.database_url.rsplit('/', 1)[-1]}`), psycopg 3 "
        f"pool; Redis `{REDIS_URL}`  ",
        f"Data: {plan['prepared']['projects']} projects ({plan['prepared']['data']}), "
        f"{plan['prepared']['open_problems']} open problems in {plan['prepared']['lead_units']} lead units; "
        f"report months {plan['prepared']['months']}, {plan['prepared']['projects_per_enterprise']} project(s) "
        f"per enterprise account; deleted before the run: {plan['prepared']['reports_reset']} reports and "
        f"{plan['prepared']['feedback_reset']} problem feedback entries of the previous one  ",
        f"Servers: `scripts/serve` (gunicorn {extra['gunicorn_workers']} workers × 2 threads, one run_worker) and a "
        f"second run_worker: {extra['processes']['run_worker']} workers running at the end  ",
        f"Users: {args.users} (weights {', '.join(f'{k} {v}' for k, v in args.weights.items())}), started at "
        f"{args.spawn_rate:g}/s, each signed in once with its own account; think time "
        f"{'0.5–1.5' if args.smoke else '3–10'} s between actions",
        "",
        "| request | requests | errors | 409 | p50 ms | p95 ms |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for row in result["types"]:
        lines.append(
            f"| {row['name']} | {row['requests']} | {row['errors']} | {row['conflicts']} | "
            f"{fmt_ms(row['p50'])} | {fmt_ms(row['p95'])} |"
        )
    lines.append(
        f"| **total** | **{total['requests']}** | **{total['errors']}** | **{total['conflicts']}** | "
        f"**{fmt_ms(total['p50'])}** | **{fmt_ms(total['p95'])}** |"
    )
    lines += [
        "",
        f"Throughput {total['rps']:.1f} requests/s. Errors: {total['errors']} requests, {exceptions} exceptions in "
        f"the scenario, {extra['failed_passes']} failed worker passes, {extra['server_errors']} server errors in the "
        f"log, {extra['dead']} server processes died. 409 conflicts (counted apart): {total['conflicts']}.",
        "",
        f"**0 errors: {'met' if errors == 0 else 'NOT met'}.**",
    ]
    if result["error_messages"]:
        lines += ["", "Errors by request:", ""]
        lines += [f"- {e['name']}: {e['error']} (×{e['occurrences']})" for e in result["error_messages"][:20]]
    if result["exceptions"]:
        lines += ["", "Exceptions in the scenario:", ""]
        lines += [f"- {e['msg']} (×{e['count']})" for e in result["exceptions"][:10]]
    if result["notes"]:
        lines += ["", "Notes: " + "; ".join(f"{k}: {v}" for k, v in result["notes"].items())]
    return "\n".join(lines) + "\n", errors


def main() -> int:
    args = parse_args()
    command = "bench/load.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    args.workdir.mkdir(parents=True, exist_ok=True)
    env = server_env(args)
    # Static files as production serves them (whitenoise's manifest), collected while the database is prepared.
    collect = subprocess.Popen(
        [PYTHON, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    ensure_pg_database(args.database_url, drop=False)
    setup_django(args)
    log(f"preparing {args.database_url}")
    plan = prepare_data(args)
    from django.db import connections

    connections.close_all()
    log("prepared: " + ", ".join(f"{k} {v}" for k, v in plan["prepared"].items()))
    if collect.wait(300) != 0:
        sys.exit(f"collectstatic failed: {collect.stderr.read().decode(errors='replace')[-2000:]}")
    flush_redis()
    plan_path, result_path = args.workdir / "plan.json", args.workdir / "result.json"
    plan_path.write_text(json.dumps(plan, ensure_ascii=False))
    result_path.unlink(missing_ok=True)

    servers = Servers(args, env)
    servers.start()
    try:
        servers.warm_up()
        running = servers.processes()
        log(
            f"serving on 127.0.0.1:{args.port}: {running['gunicorn'] - 1} gunicorn workers, "
            f"{running['run_worker']} run_worker processes"
        )
        load_before, started_at = loadavg(), datetime.datetime.now().astimezone()
        started = time.monotonic()
        run_locust(args, plan_path, result_path, env)
        seconds = time.monotonic() - started
        load_after = loadavg()
        dead = sum(1 for proc in servers.procs.values() if proc.poll() is not None)
        at_end = servers.processes()
    finally:
        servers.stop()
    if not result_path.exists():
        sys.exit(f"locust wrote no result; see {args.workdir / 'logs' / 'locust.log'}")
    result = json.loads(result_path.read_text())
    extra = {
        "command": f".venv/bin/python {command}".strip(),
        "date": started_at.strftime("%Y-%m-%d %H:%M UTC%z"),
        "seconds": seconds,
        "load_before": load_before,
        "load_after": load_after,
        "failed_passes": servers.failed_passes(),
        "server_errors": servers.server_errors(),
        "dead": dead + max(0, 2 - at_end["run_worker"]),
        "processes": at_end,
        "gunicorn_workers": running["gunicorn"] - 1,
    }
    text, errors = report(args, result, machine(), plan, extra)
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(text)
    print()
    print(text)
    log(f"written to {args.results}; raw CSV {args.workdir / 'locust'}_*.csv, logs in {args.workdir / 'logs'}")
    return 0 if errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
