#!/usr/bin/env python
"""Peer benchmark: keyprojects beside Redmine 5.0 at 50,000 projects and 200,000 problems (issue 9).

    .venv/bin/python bench/peer_redmine.py                 # keyprojects on SQLite + Redmine
    .venv/bin/python bench/peer_redmine.py --db both       # keyprojects on SQLite and PostgreSQL + Redmine
    .venv/bin/python bench/peer_redmine.py --smoke         # CI size: 200 projects, 500 problems, no Redmine

One run brings up both systems and measures them with the same client:

* keyprojects the way `make run` serves it: `scripts/serve` (gunicorn, DEBUG off, whitenoise, the
  background worker beside it) on 127.0.0.1:--port (8200; PostgreSQL on the next port), on its own
  database: SQLite var/bench_peer.sqlite3 (SQLITE_PATH), PostgreSQL
  postgres://postgres@127.0.0.1:5432/kp_bench_peer. The database is migrated, seeded with
  `seed_demo --projects N` and topped up to --problems problems by bulk insert (bench/problem_data.py:
  3/4 closed, the rest open; 20 % of them on the first 500 projects, like the peer's data), then
  reused by later runs (`--fresh` starts again). JSON requests carry an API token
  (`Authorization: Bearer`), pages a signed-in session cookie, both of demo_dispatcher (scope 全部).
* Redmine 5.0 from Debian's packages, through ../shared/peers/redmine/setup_and_measure.sh: when the
  packages, the instance and the data are in place, Puma is started with the script's own
  configuration ($WORK/puma.rb, 127.0.0.1:3001); otherwise the script runs once to install and load
  (KEEP_SERVER=1, RUNS=1) and its Puma is used. Puma is stopped at the end unless it was running before.

Measured for each pair (keyprojects ÷ Redmine): 1 warm-up + --runs sequential requests, each on a new
connection (urllib, as the peer's measure.py), median and p95 (nearest rank); then --connections
connections for --seconds seconds on the open-problem list (wrk when installed, else a Python client
for both). Raw results go to var/peer_redmine.json (--out).
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var"
PEER_DIR = (ROOT.parent / "shared" / "peers" / "redmine").resolve()
SQLITE_FILE = VAR / "bench_peer.sqlite3"
SMOKE_SQLITE_FILE = VAR / "bench_peer_smoke.sqlite3"
PG_URL = "postgres://postgres@127.0.0.1:5432/kp_bench_peer"
REDMINE_PORT = 3001
REDMINE_WORK = Path(os.environ.get("WORK", "/tmp/redmine-peer"))
REDMINE_CONF = Path("/etc/redmine/default/database.yml")
REDMINE_PACKAGES = ["redmine", "redmine-sqlite", "puma", "wrk", "sqlite3", "python3", "curl"]
# The peer's mix is 75 % open; ours, as the issue says: 3/4 closed, the rest open (on the 13710 clock).
PEER_STATUSES = [("closed", 0.75), ("in_progress", 0.12), ("deployed", 0.07), ("assigned", 0.06)]
TARGETS_MS = {"projects_json": 25, "projects_html": 75, "problems_json": 60, "problems_html": 100}
TARGET_RPS = 100


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="sqlite")
    parser.add_argument("--database-url", default=PG_URL, help=f"PostgreSQL URL (default {PG_URL})")
    parser.add_argument("--projects", type=int, default=50_000)
    parser.add_argument("--problems", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=30, help="timed sequential requests per URL (default 30)")
    parser.add_argument("--connections", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=20, help="concurrent load duration (default 20)")
    parser.add_argument("--port", type=int, default=8200, help="keyprojects port (PostgreSQL: port + 1)")
    parser.add_argument("--workers", type=int, default=None, help="WEB_WORKERS for scripts/serve (default: its own)")
    parser.add_argument("--deep-offset", type=int, default=40_000)
    parser.add_argument("--redmine", choices=["auto", "yes", "no"], default="auto",
                        help="auto: measure Redmine when it is installed (not with --smoke)")  # fmt: skip
    parser.add_argument("--client", choices=["auto", "wrk", "python"], default="auto", help="concurrent load client")
    parser.add_argument("--fresh", action="store_true", help="drop keyprojects' benchmark database and seed again")
    parser.add_argument("--smoke", action="store_true", help="CI size: 200 projects, 500 problems, 3 runs, 2 s load")
    parser.add_argument("--sqlite-path", default=None, help="SQLite file (default var/bench_peer.sqlite3)")
    parser.add_argument("--out", default=None, help="raw results (default var/peer_redmine.json)")
    parser.add_argument("--prepare-only", action="store_true", help="seed keyprojects' database(s) and stop")
    parser.add_argument("--_prepare", default=None, help=argparse.SUPPRESS)  # internal: child process per database
    args = parser.parse_args(argv)
    if args.smoke:
        args.projects, args.problems = min(args.projects, 200), min(args.problems, 500)
        args.runs, args.seconds, args.deep_offset = min(args.runs, 3), min(args.seconds, 2), 100
        if args.redmine == "auto":
            args.redmine = "no"
        args.sqlite_path = args.sqlite_path or str(SMOKE_SQLITE_FILE)
    args.sqlite_path = args.sqlite_path or str(SQLITE_FILE)
    args.out = args.out or str(VAR / ("peer_redmine_smoke.json" if args.smoke else "peer_redmine.json"))
    return args


def log(message: str) -> None:
    print(f"== {time.strftime('%H:%M:%S')} {message}", flush=True)


# ---------------------------------------------------------------------------------------------------------------
# keyprojects: the database (in a child process, one per backend)


def backend_env(args: argparse.Namespace, backend: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(DJANGO_SETTINGS_MODULE="keyprojects.settings", DEMO_MODE="1", DEBUG="0", LOG_LEVEL="WARNING")
    env.pop("TESTING", None)
    if backend == "postgres":
        env["DATABASE_URL"] = args.database_url
        env.pop("SQLITE_PATH", None)
    else:
        env.pop("DATABASE_URL", None)
        env["SQLITE_PATH"] = args.sqlite_path
    return env


def prepare_child(args: argparse.Namespace, backend: str) -> None:
    """Runs in a child process with backend_env(): migrate, seed, load problems, issue credentials."""
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "bench"))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.db.models import Count
    from django.test import Client
    from problem_data import bulk_problems
    from project_list import database_version

    from keyprojects.api.auth import issue_token
    from keyprojects.org.demo_data import DEMO_PASSWORD
    from keyprojects.org.models import User
    from keyprojects.problems.models import OPEN_STATUSES, Problem
    from keyprojects.projects.models import Project

    started = time.monotonic()
    call_command("migrate", verbosity=0, interactive=False)
    call_command("collectstatic", verbosity=0, interactive=False)  # as `make run`: whitenoise's manifest
    seeded = False
    if Project.objects.count() < args.projects:
        call_command("seed_demo", projects=args.projects)
        seeded = True
    made = bulk_problems(
        args.problems, statuses=PEER_STATUSES, major_projects=500, major_share=0.2, label="bench/peer_redmine.py"
    )
    with connection.cursor() as cursor:  # fresh planner statistics for every table, whatever was loaded
        # PostgreSQL: also set the visibility map, as autovacuum does soon after a bulk insert, so
        # index-only scans need not visit the heap.
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
    user = User.objects.get(username="demo_dispatcher")
    token, _row = issue_token(user, name="bench/peer_redmine.py")
    if not user.check_password(DEMO_PASSWORD):
        raise SystemExit("demo_dispatcher cannot sign in (seed with DEMO_MODE=1)")
    client = Client()
    client.force_login(user)  # a session as the login page makes it (without the sign-in throttle)
    top = (
        Problem.objects.values("project").annotate(n=Count("id")).order_by("-n", "project").first()
    )  # the project with the most problems, like the peer's choice
    ids = list(Problem.objects.order_by("id").values_list("id", flat=True)[Problem.objects.count() // 2 :][:1])
    db_version = database_version()
    info = {
        "backend": backend,
        "db_version": db_version,
        "django": django.get_version(),
        "token": token,
        "session": client.cookies["sessionid"].value,
        "project_id": top["project"],
        "project_problems": top["n"],
        "project_open": Problem.objects.filter(project=top["project"], status__in=OPEN_STATUSES).count(),
        "problem_id": ids[0],
        "projects": Project.objects.count(),
        "problems": Problem.objects.count(),
        "open": Problem.objects.filter(status__in=OPEN_STATUSES).count(),
        "seeded": seeded,
        "bulk_problems": made,
        "prepare_seconds": round(time.monotonic() - started, 1),
    }
    print("PREPARED " + json.dumps(info), flush=True)


def ensure_pg_database(url: str, *, drop: bool) -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    from project_list import ensure_pg_database as ensure

    ensure(url, drop=drop)


def prepare(args: argparse.Namespace, backend: str) -> dict:
    if backend == "postgres":
        ensure_pg_database(args.database_url, drop=args.fresh)
    elif args.fresh:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{args.sqlite_path}{suffix}").unlink(missing_ok=True)
    argv = [sys.executable, __file__, "--_prepare", backend, "--projects", str(args.projects),
            "--problems", str(args.problems), "--database-url", args.database_url,
            "--sqlite-path", args.sqlite_path]  # fmt: skip
    log(f"keyprojects ({backend}): migrate, seed {args.projects} projects, {args.problems} problems")
    proc = subprocess.run(argv, env=backend_env(args, backend), cwd=ROOT, capture_output=True, text=True)
    for line in proc.stdout.splitlines():
        if line.startswith("PREPARED "):
            info = json.loads(line[len("PREPARED ") :])
            log(f"keyprojects ({backend}): {info['projects']} projects, {info['problems']} problems "
                f"({info['open']} open), ready in {info['prepare_seconds']} s")  # fmt: skip
            return info
        print(line)
    sys.stderr.write(proc.stderr[-5000:])
    raise SystemExit(f"preparing keyprojects ({backend}) failed")


# ---------------------------------------------------------------------------------------------------------------
# Servers


def port_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                r.read()
                return True
        except urllib.error.HTTPError:
            return True
        except OSError:
            time.sleep(0.3)
    return False


class KeyprojectsServer:
    """scripts/serve (gunicorn + the background worker) in its own process group."""

    def __init__(self, args: argparse.Namespace, backend: str, port: int):
        self.args, self.backend, self.port = args, backend, port
        self.proc: subprocess.Popen | None = None
        self.log_path = Path(args.out).parent / f"peer_redmine_{backend}{'_smoke' if args.smoke else ''}.log"

    def start(self) -> None:
        if not port_free(self.port):
            raise SystemExit(f"port {self.port} is taken; choose another with --port")
        env = backend_env(self.args, self.backend)
        env["PORT"] = str(self.port)
        env["LOG_LEVEL"] = "WARNING"
        if self.args.workers:
            env["WEB_WORKERS"] = str(self.args.workers)
        self.log_file = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [str(ROOT / "scripts" / "serve")], cwd=ROOT, env=env, stdout=self.log_file, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        if not wait_http(f"http://127.0.0.1:{self.port}/accounts/login/", 60):
            self.stop()
            raise SystemExit(f"keyprojects ({self.backend}) did not start; see {self.log_path}")
        log(f"keyprojects ({self.backend}) serving on 127.0.0.1:{self.port} (process group {self.proc.pid})")

    def workers(self) -> str:
        try:
            out = subprocess.run(["ps", "-o", "args=", "-g", str(self.proc.pid)], capture_output=True, text=True)
            return str(sum(1 for line in out.stdout.splitlines() if "gunicorn" in line) - 1)
        except OSError:
            return "?"

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if getattr(self, "log_file", None):
            self.log_file.close()


class Redmine:
    """The peer, brought up with the peer's own script (or its Puma configuration when all is in place)."""

    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.base = f"http://127.0.0.1:{REDMINE_PORT}"
        self.started_here = False

    @staticmethod
    def installed() -> bool:
        try:
            out = subprocess.run(["dpkg-query", "-W", "-f=${Status}\n", *REDMINE_PACKAGES], capture_output=True,
                                 text=True)  # fmt: skip
        except OSError:
            return False
        return out.stdout.count("install ok installed") == len(REDMINE_PACKAGES)

    @staticmethod
    def database() -> str:
        """The instance's SQLite file, as setup_and_measure.sh reads it from database.yml."""
        try:
            for line in REDMINE_CONF.read_text().splitlines():
                if line.strip().startswith("database:"):
                    return line.split(":", 1)[1].strip()
        except OSError:
            pass
        return ""

    def loaded(self) -> bool:
        if not (self.installed() and (REDMINE_WORK / "puma.rb").exists() and (REDMINE_WORK / "api_key").exists()):
            return False
        if not self.database():
            return False
        out = subprocess.run(["sqlite3", self.database(), "select (select count(*) from projects)||' '||"
                              "(select count(*) from issues)"], capture_output=True, text=True)  # fmt: skip
        return out.stdout.split() == [str(self.args.projects), str(self.args.problems)]

    def running(self) -> bool:
        return not port_free(REDMINE_PORT)

    def start(self) -> None:
        if self.running():
            log("Redmine already running on 127.0.0.1:3001; using it")
        elif self.loaded():
            log("Redmine: installed and loaded; starting Puma with the script's configuration")
            # As setup_and_measure.sh step 4, with its own puma.rb.
            log_file = open(REDMINE_WORK / "server.log", "w")  # noqa: SIM115 - Puma keeps writing to it
            subprocess.Popen(
                ["runuser", "-u", "www-data", "--", "env", "REDMINE_INSTANCE=default", "RAILS_ENV=production",
                 "puma", "-C", str(REDMINE_WORK / "puma.rb")],
                stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,
            )  # fmt: skip
            self.started_here = True
        else:
            log("Redmine: running setup_and_measure.sh (install, configure, load; this takes a while)")
            env = dict(os.environ, KEEP_SERVER="1", RUNS="1", WRK_SECONDS="1", N_PROJECTS=str(self.args.projects),
                       N_ISSUES=str(self.args.problems))  # fmt: skip
            subprocess.run(["bash", str(PEER_DIR / "setup_and_measure.sh")], env=env, check=True)
            self.started_here = True
        if not wait_http(f"{self.base}/login", 120):
            raise SystemExit("Redmine did not answer on 127.0.0.1:3001")
        self.key = (REDMINE_WORK / "api_key").read_text().strip()
        out = subprocess.run(["sqlite3", "-separator", " ", self.database(),
                              "select project_id, (select identifier from projects where id=project_id) from issues "
                              "group by project_id order by count(*) desc, project_id limit 1"],
                             capture_output=True, text=True, check=True)  # fmt: skip
        self.project_id, self.ident = out.stdout.split()
        self.issue_id = self.args.problems // 2
        versions = subprocess.run(["dpkg-query", "-W", "redmine", "puma", "ruby-rails", "ruby", "libsqlite3-0"],
                                  capture_output=True, text=True).stdout  # fmt: skip
        self.versions = dict(line.split("\t", 1) for line in versions.strip().splitlines() if "\t" in line)
        log(f"Redmine ready: project {self.ident} (id {self.project_id}), issue {self.issue_id}")

    def pgid(self) -> int | None:
        try:
            return os.getpgid(int((REDMINE_WORK / "puma.pid").read_text().strip()))
        except (OSError, ValueError):
            return None

    def stop(self) -> None:
        if not self.started_here:
            return
        pidfile = REDMINE_WORK / "puma.pid"
        try:
            pid = int(pidfile.read_text().strip())
        except (OSError, ValueError):
            return
        log(f"stopping Redmine's Puma (pid {pid})")
        try:
            os.kill(pid, signal.SIGTERM)  # only the master this run started (Puma's pidfile)
        except ProcessLookupError:
            return
        for _ in range(30):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(1)


# ---------------------------------------------------------------------------------------------------------------
# The client: the same for both systems


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


class Target:
    """One URL of one system, with its credentials."""

    def __init__(self, system: str, base: str, path: str, headers: dict[str, str], *, html: bool = False):
        self.system, self.base, self.path, self.headers, self.html = system, base, path, headers, html

    @property
    def url(self) -> str:
        return self.base + self.path

    def fetch(self) -> tuple[float, int, bytes]:
        """One request on a new connection (urllib, like the peer's measure.py); ms, status, body."""
        request = urllib.request.Request(self.url, headers=self.headers)
        started = time.perf_counter()
        with urllib.request.urlopen(request, timeout=300) as response:
            body = response.read()
            status = response.status
            final = response.geturl()
        ms = (time.perf_counter() - started) * 1000.0
        if final.split("?")[0] != self.url.split("?")[0]:
            raise SystemExit(f"{self.system} {self.path}: redirected to {final} (not signed in?)")
        return ms, status, body


def group_cpu_seconds(pgid: int | None, name: str | None = None) -> float:
    """CPU time (user + system) of every process in process group `pgid` (or named `name`), from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        comm = text[text.index("(") + 1 : text.rindex(")")]
        fields = text[text.rindex(")") + 2 :].split()
        if (pgid is not None and int(fields[2]) == pgid) or (name is not None and comm == name):
            total += int(fields[11]) + int(fields[12])
    return total / tick


def warm_processes(system: str, url: str, connections: int = 10, rounds: int = 30) -> int:
    """Concurrent bursts at a cheap page until three in a row have no slow request: every server process has
    loaded the application by then. Puma (`preload_app!`) loads Redmine before forking; gunicorn's
    workers import the URLconf (the API with all its schemas) on their first request, about a second
    each. Done once per server, before any measurement; returns the number of bursts."""
    fast = 0
    for burst in range(1, rounds + 1):
        times: list[float] = []

        def one(times=times):
            started = time.perf_counter()
            try:
                with urllib.request.urlopen(url, timeout=60) as response:
                    response.read()
            except (OSError, urllib.error.HTTPError):
                pass
            times.append((time.perf_counter() - started) * 1000)

        threads = [threading.Thread(target=one) for _ in range(connections)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        fast = fast + 1 if max(times) < 250 else 0
        if fast == 3:  # three bursts in a row without a slow answer: no cold process was left
            return burst
    log(f"{system}: still slow after {rounds} warm-up bursts")
    return rounds


def check_body(target: Target, body: bytes) -> str:
    """A sanity check of the warm-up answer: rows and total for JSON, signed in for pages."""
    if target.html:
        marker = b'id="loggedas"' if target.system == "Redmine" else b'class="kp-user-name"'
        if marker not in body:
            raise SystemExit(f"{target.system} {target.path}: the page does not show a signed-in user")
        return ""
    data = json.loads(body)
    total = data.get("total_count", data.get("count"))
    rows = next((v for v in data.values() if isinstance(v, list)), None)
    return f"total={total} rows={len(rows)}" if total is not None and rows is not None else ""


def measure(target: Target, runs: int) -> dict:
    _ms, status, body = target.fetch()  # warm-up
    note = check_body(target, body)
    times = []
    for _ in range(runs):
        ms, status, _body = target.fetch()
        if status != 200:
            raise SystemExit(f"{target.system} {target.path}: HTTP {status}")
        times.append(ms)
    return {
        "system": target.system, "path": target.path, "n": runs, "status": status, "bytes": len(body),
        "median_ms": round(statistics.median(times), 1), "p95_ms": round(p95(times), 1),
        "min_ms": round(min(times), 1), "max_ms": round(max(times), 1), "note": note,
        "load_avg": round(os.getloadavg()[0], 2),
    }  # fmt: skip


def load_wrk(target: Target, connections: int, seconds: float) -> dict:
    argv = ["wrk", "-t", "2", "-c", str(connections), "-d", f"{max(1, round(seconds))}s", "--timeout", "30s",
            "--latency"]  # fmt: skip
    for name, value in target.headers.items():
        argv += ["-H", f"{name}: {value}"]
    out = subprocess.run([*argv, target.url], capture_output=True, text=True, check=True).stdout
    result = {"client": "wrk", "connections": connections, "seconds": seconds, "raw": out}
    for line in out.splitlines():
        parts = line.split()
        if line.startswith("Requests/sec:"):
            result["rps"] = float(parts[1])
        elif "requests in" in line:
            result["requests"] = int(parts[0])
        elif parts and parts[0] in ("50%", "90%", "99%"):
            result[f"p{parts[0][:-1]}_ms"] = wrk_ms(parts[1])
        elif line.strip().startswith("Non-2xx"):
            result["non_2xx"] = int(parts[-1])
        elif line.strip().startswith("Socket errors"):
            result["socket_errors"] = line.strip()
    return result


def wrk_ms(text: str) -> float:
    for unit, factor in (("us", 0.001), ("ms", 1.0), ("s", 1000.0), ("m", 60000.0)):
        if text.endswith(unit):
            return round(float(text[: -len(unit)]) * factor, 1)
    return float(text)


def load_python(target: Target, connections: int, seconds: float) -> dict:
    """10 threads, each request on a new connection, for `seconds`; requests that end after it do not count."""
    deadline = time.perf_counter() + seconds
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()

    def worker():
        while time.perf_counter() < deadline:
            try:
                ms, status, _ = target.fetch()
            except (OSError, SystemExit):
                with lock:
                    errors[0] += 1
                continue
            if time.perf_counter() <= deadline:
                with lock:
                    latencies.append(ms)
                    if status != 200:
                        errors[0] += 1

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = min(time.perf_counter() - started, seconds)
    ordered = sorted(latencies) or [0.0]
    return {
        "client": "python", "connections": connections, "seconds": seconds, "requests": len(latencies),
        "rps": round(len(latencies) / elapsed, 2), "errors": errors[0],
        "p50_ms": round(statistics.median(ordered), 1), "p90_ms": round(ordered[int(0.9 * (len(ordered) - 1))], 1),
        "p99_ms": round(ordered[int(0.99 * (len(ordered) - 1))], 1),
    }  # fmt: skip


# ---------------------------------------------------------------------------------------------------------------
# The pairs


def kp_targets(info: dict, base: str, deep_offset: int) -> dict[str, Target]:
    api = {"Authorization": f"Bearer {info['token']}", "Accept": "application/json"}
    page = {"Cookie": f"sessionid={info['session']}"}
    name = f"keyprojects ({info['backend']})"
    pid, problem = info["project_id"], info["problem_id"]
    return {
        "projects_json": Target(name, base, "/api/v1/projects?limit=25", api),
        "projects_json_deep": Target(name, base, f"/api/v1/projects?limit=25&offset={deep_offset}", api),
        "projects_html": Target(name, base, "/projects/", page, html=True),
        "problems_json": Target(name, base, "/api/v1/problems?status=open&limit=25", api),
        "problems_json_project": Target(name, base, f"/api/v1/problems?status=open&project={pid}&limit=25", api),
        "problems_html": Target(name, base, "/problems/?status=open", page, html=True),
        "problems_html_project": Target(name, base, f"/problems/?status=open&project={pid}", page, html=True),
        "project_detail_json": Target(name, base, f"/api/v1/projects/{pid}", api),
        "problem_detail_json": Target(name, base, f"/api/v1/problems/{problem}", api),
        "throughput": Target(name, base, "/api/v1/problems?status=open&limit=25", api),
    }


def redmine_targets(rm: Redmine, deep_offset: int) -> dict[str, Target]:
    api = {"X-Redmine-API-Key": rm.key}
    key = f"key={rm.key}"
    base, name = rm.base, "Redmine"
    issues = "/issues.json?status_id=open&sort=updated_on:desc&limit=25"
    return {
        "projects_json": Target(name, base, "/projects.json?limit=25", api),
        "projects_json_deep": Target(name, base, f"/projects.json?limit=25&offset={deep_offset}", api),
        "projects_html": Target(name, base, f"/projects?display_type=list&{key}", {}, html=True),
        "problems_json": Target(name, base, issues, api),
        "problems_json_project": Target(name, base, f"{issues}&project_id={rm.project_id}", api),
        "problems_html": Target(name, base, f"/issues?{key}", {}, html=True),
        "problems_html_project": Target(name, base, f"/projects/{rm.ident}/issues?{key}", {}, html=True),
        "project_detail_json": Target(name, base, f"/projects/{rm.ident}.json", api),
        "problem_detail_json": Target(name, base, f"/issues/{rm.issue_id}.json", api),
        "throughput": Target(name, base, "/issues.json?limit=25", api),  # the peer's wrk target (open issues)
    }


LABELS = {
    "projects_json": "project list JSON, first page",
    "projects_json_deep": "project list JSON, deep page",
    "projects_html": "project list page (HTML)",
    "problems_json": "open problems, newest first, JSON",
    "problems_json_project": "open problems of one project, JSON",
    "problems_html": "open problems page (HTML)",
    "problems_html_project": "open problems of one project, page (HTML)",
    "project_detail_json": "project detail JSON",
    "problem_detail_json": "problem detail JSON",
}
TARGET_OF = {
    "projects_json": "projects_json", "projects_json_deep": "projects_json", "projects_html": "projects_html",
    "problems_json": "problems_json", "problems_json_project": "problems_json", "problems_html": "problems_html",
    "problems_html_project": "problems_html",
}  # fmt: skip


def machine() -> dict:
    mem_kb = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(), "memory_gib": round(mem_kb / 1024 / 1024, 1), "python": platform.python_version(),
        "platform": platform.platform(),
    }  # fmt: skip


def gunicorn_version() -> str:
    try:
        out = subprocess.run([str(ROOT / ".venv" / "bin" / "gunicorn"), "--version"], capture_output=True, text=True)
        return out.stdout.strip() or out.stderr.strip()
    except OSError:
        return "?"


def main() -> None:
    args = parse_args()
    if args._prepare:
        prepare_child(args, args._prepare)
        return
    backends = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    infos = {b: prepare(args, b) for b in backends}
    if args.prepare_only:
        return
    use_redmine = args.redmine == "yes" or (args.redmine == "auto" and Redmine.installed())
    if args.redmine == "yes" and not Redmine.installed():
        log("Redmine is not installed; setup_and_measure.sh will install it")
    client = args.client
    if client == "auto":
        client = "wrk" if shutil.which("wrk") else "python"
    servers: dict[str, KeyprojectsServer] = {}
    redmine = Redmine(args) if use_redmine else None
    results: dict = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "machine": machine(), "gunicorn": gunicorn_version(), "client": client, "runs": args.runs,
        "keyprojects": {b: {k: v for k, v in i.items() if k not in ("token", "session")} for b, i in infos.items()},
        "sequential": {}, "throughput": {}, "load_avg": {"start": os.getloadavg()},
    }  # fmt: skip
    try:
        if redmine:
            redmine.start()
            results["redmine"] = {"versions": redmine.versions, "project": redmine.ident, "issue": redmine.issue_id}
        targets: dict[str, dict[str, Target]] = {}
        for i, backend in enumerate(backends):
            port = args.port + i if not args.smoke else free_port()
            server = servers[backend] = KeyprojectsServer(args, backend, port)
            server.start()
            results["keyprojects"][backend]["workers"] = server.workers()
            targets[servers[backend].backend] = kp_targets(infos[backend], f"http://127.0.0.1:{port}", args.deep_offset)
        if redmine:
            targets["redmine"] = redmine_targets(redmine, args.deep_offset)
        for system, system_targets in targets.items():
            any_target = next(iter(system_targets.values()))
            login = "/login" if system == "redmine" else "/accounts/login/"
            bursts = warm_processes(system, any_target.base + login)
            log(f"{system}: every server process warm after {bursts} burst(s) of {args.connections} requests")
        # Pair by pair, each system in turn, so that the machine's load falls alike on both.
        for key in LABELS:
            results["sequential"][key] = {}
            for system, system_targets in targets.items():
                row = measure(system_targets[key], args.runs)
                results["sequential"][key][system] = row
                log(f"{LABELS[key]:42} {system:9} median {row['median_ms']:8.1f}  p95 {row['p95_ms']:8.1f} ms  "
                    f"{row['bytes']:>7} B  {row['note']}  (load {row['load_avg']})")  # fmt: skip
        for system, system_targets in targets.items():
            load = load_wrk if client == "wrk" else load_python
            pgid = redmine.pgid() if system == "redmine" else servers[system].proc.pid
            db = "postgres" if system == "postgres" else None  # the database server's own processes
            before, db_before = group_cpu_seconds(pgid), group_cpu_seconds(None, db) if db else 0.0
            row = load(system_targets["throughput"], args.connections, args.seconds)
            # CPU the server spent per answered request: what the machine's load does not change much.
            used = group_cpu_seconds(pgid) - before
            row["server_cpu_s"] = round(used, 2)
            if db:
                row["db_cpu_s"] = round(group_cpu_seconds(None, db) - db_before, 2)
            if row.get("requests"):
                row["cpu_ms_per_request"] = round(1000 * (used + row.get("db_cpu_s", 0)) / row["requests"], 1)
            row["path"], row["load_avg"] = system_targets["throughput"].path, round(os.getloadavg()[0], 2)
            results["throughput"][system] = row
            log(f"throughput {system:9} {row.get('rps', 0):8.1f} req/s ({row.get('requests')} requests, "
                f"p50 {row.get('p50_ms')} ms, p99 {row.get('p99_ms')} ms; server CPU "
                f"{row.get('cpu_ms_per_request')} ms per request; load {row['load_avg']})")  # fmt: skip
    finally:
        for server in servers.values():
            server.stop()
        if redmine:
            redmine.stop()
    results["load_avg"]["end"] = os.getloadavg()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, ensure_ascii=False, indent=1, default=str))
    print_table(results, backends, bool(redmine))
    log(f"raw results: {args.out}")


def print_table(results: dict, backends: list[str], with_redmine: bool) -> None:
    print()
    systems = [*backends, *(["redmine"] if with_redmine else [])]
    head = " | ".join(f"{s} median / p95 ms" for s in systems)
    ratio_head = " | ".join(f"{b} ÷ Redmine (p95)" for b in backends) if with_redmine else ""
    print(f"| request | {head} |{f' {ratio_head} |' if ratio_head else ''} target p95 |")
    print("|---|" + "---:|" * (len(systems) + (len(backends) if with_redmine else 0)) + "---|")
    failures = []
    for key, label in LABELS.items():
        rows = results["sequential"][key]
        cells = [f"{rows[s]['median_ms']:.1f} / {rows[s]['p95_ms']:.1f}" for s in systems]
        ratios = []
        for b in backends:
            target = TARGETS_MS.get(TARGET_OF.get(key, ""))
            if target is not None and rows[b]["p95_ms"] > target:
                failures.append(f"{b} {label}: p95 {rows[b]['p95_ms']} ms > {target} ms")
            if with_redmine:
                ratio = rows[b]["p95_ms"] / rows["redmine"]["p95_ms"]
                ratios.append(f"{ratio:.3f}")
                if ratio > 1:
                    failures.append(f"{b} {label}: p95 {ratio:.2f}× Redmine's")
        target = TARGETS_MS.get(TARGET_OF.get(key, ""))
        print(f"| {label} | {' | '.join(cells)} |{' ' + ' | '.join(ratios) + ' |' if ratios else ''} "
              f"{f'≤ {target}' if target else '≤ Redmine'} |")  # fmt: skip
    rps = results["throughput"]
    cells = [f"{rps[s].get('rps', 0):.1f} req/s ({rps[s].get('cpu_ms_per_request')} ms CPU each)" for s in systems]
    ratios = []
    if with_redmine:
        ratios = [
            f"{rps[b]['rps'] / rps['redmine']['rps']:.0f}× (higher is better)" if rps["redmine"].get("rps") else "∞"
            for b in backends
        ]
    print(f"| open-problem list, {rps[systems[0]]['connections']} connections | {' | '.join(cells)} |"
          f"{' ' + ' | '.join(ratios) + ' |' if ratios else ''} ≥ {TARGET_RPS} req/s |")  # fmt: skip
    for b in backends:
        if rps[b].get("rps", 0) < TARGET_RPS:
            failures.append(f"{b} throughput {rps[b].get('rps', 0):.1f} req/s < {TARGET_RPS}")
        if rps[b].get("non_2xx") or rps[b].get("errors"):
            failures.append(f"{b} throughput: errors {rps[b].get('non_2xx') or rps[b].get('errors')}")
    print()
    print(f"load average: start {results['load_avg']['start']}, end {results['load_avg']['end']}")
    print("all targets met" if not failures else "missed:\n  " + "\n  ".join(failures))


if __name__ == "__main__":
    main()
