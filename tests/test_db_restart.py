"""The database restarting under the app (issue 8, item 8): requests fail cleanly and recover, with no restart of
gunicorn or the worker.

1. (In process, any database.) `DatabaseUnavailableMiddleware` answers 503 with the Chinese page, or
   ``{"detail": …}`` under /api/, whether the connection fails in a view or in a middleware before it, and
   whether Django or psycopg raised the error.
2. (PostgreSQL runs only, like tests/test_multiprocess.py.) A private PostgreSQL cluster, never the machine's
   server on 5432: `initdb` and `pg_ctl` of the installed PostgreSQL, run as the `postgres` OS user when the tests
   run as root, in a temporary directory on port 5499 (+ the xdist slot). It gets the test district
   (tests/conftest.py `build_world`), gunicorn with 2 workers × 2 threads as `scripts/serve` starts it (pooled
   connections, the default for PostgreSQL; at most DB_POOL_MAX=4 per process) and one `run_worker`. Three threads
   send requests in a loop (the project list and the cockpit with a session, the project API with a token) while
   the cluster is restarted (`pg_ctl restart -m fast`) and then stopped for a few seconds and started again.

   What must hold: every answer that is not a 200 is a clean 503 (the page or the JSON, no traceback, never 500);
   a connection that was in the pool when the server went away fails at most one request, so the failures are
   bounded by processes × pool size + the requests in flight; a few seconds after the server is back every request
   succeeds; gunicorn's workers are the same processes as before, and the worker processes a new problem's events.
   The figures measured are printed (docs/deployment.md, "When the database restarts").

The cluster's directory is removed at the end, also when the test fails. Skipped when the PostgreSQL binaries are
not installed. About 45 s.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/kp_load_test .venv/bin/pytest -q tests/test_db_restart.py
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.db import OperationalError
from django.test import Client
from django.urls import reverse

from tests.test_multiprocess import ON_POSTGRES, PYTHON, ROOT, Browser, Processes, _csrf, _NoRedirect, _slot, wait_for

# --- 1. the middleware, in process ---------------------------------------------------------------------------


def _fail_queries_on(table: str):
    """An execute wrapper that makes every query touching `table` fail as a dropped connection does."""

    def wrapper(execute, sql, params, many, context):
        if table in sql:
            raise OperationalError("server closed the connection unexpectedly")
        return execute(sql, params, many, context)

    return wrapper


def _assert_clean_page(response) -> None:
    body = response.content.decode()
    assert response.status_code == 503, body[:500]
    assert response["Content-Type"].startswith("text/html")
    assert "服务暂时不可用" in body and "数据库暂时无法连接" in body
    assert "Traceback" not in body and "OperationalError" not in body
    assert response["Retry-After"] and response["X-Request-ID"] and "Content-Security-Policy" in response


def test_a_view_that_loses_the_database_answers_503_with_the_chinese_page(world, caplog):
    from django.db import connection

    client = Client(raise_request_exception=False)
    client.force_login(world.dispatcher)
    with connection.execute_wrapper(_fail_queries_on("projects_project")):
        response = client.get(reverse("project-list"))
    _assert_clean_page(response)
    assert any("database unavailable: GET /projects/" in r.getMessage() for r in caplog.records)


def test_a_middleware_that_loses_the_database_answers_503_not_500(world):
    """The session is read by the middleware before the view: Django makes a 500 there, which becomes the 503."""
    from django.db import connection

    client = Client(raise_request_exception=False)
    client.force_login(world.dispatcher)
    with connection.execute_wrapper(_fail_queries_on("django_session")):
        response = client.get(reverse("project-list"))
    _assert_clean_page(response)


def test_the_api_answers_503_with_a_json_detail(world):
    from django.db import connection

    from keyprojects.api.auth import issue_token

    token = issue_token(world.dispatcher, name="db-restart")[0]
    client = Client(raise_request_exception=False)
    with connection.execute_wrapper(_fail_queries_on("api_apitoken")):
        response = client.get("/api/v1/projects", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 503
    assert response["Content-Type"].startswith("application/json")
    assert response.json() == {"detail": "数据库暂时不可用，请稍后重试。"}


def test_the_drivers_own_error_answers_503_too(world):
    """Closing a server-side cursor (QuerySet.iterator(), a filter form's choices) on a connection the server cut
    raises psycopg's AdminShutdown unwrapped by Django: found by the restart test below as a 500."""
    import psycopg.errors
    from django.db import connection

    def wrapper(execute, sql, params, many, context):
        if "projects_project" in sql:
            raise psycopg.errors.AdminShutdown("terminating connection due to administrator command")
        return execute(sql, params, many, context)

    client = Client(raise_request_exception=False)
    client.force_login(world.dispatcher)
    with connection.execute_wrapper(wrapper):
        response = client.get(reverse("project-list"))
    _assert_clean_page(response)


def test_other_errors_are_not_taken_for_an_unavailable_database(world):
    from django.db import connection

    def wrapper(execute, sql, params, many, context):
        if "projects_project" in sql:
            raise ZeroDivisionError("a bug, not the database")
        return execute(sql, params, many, context)

    client = Client(raise_request_exception=False)
    client.force_login(world.dispatcher)
    with connection.execute_wrapper(wrapper):
        response = client.get(reverse("project-list"))
    assert response.status_code == 500


# --- 2. a real restart under gunicorn ------------------------------------------------------------------------

GUNICORN_WORKERS, GUNICORN_THREADS, POOL_MAX, CLIENT_THREADS = 2, 2, 4, 3
DOWN_SECONDS = 4.0
# How long after the server accepts connections again every request must succeed: psycopg's pool retries a failed
# connection after 1, 2, 4 … s (jittered), so after a DOWN_SECONDS outage the next attempt comes within about as
# long again.
RECOVERY_SECONDS = DOWN_SECONDS + 3.0
# A connection pooled when the server went away fails the one request that takes it, and that failure drains the
# process's pool (DatabaseUnavailableMiddleware): only the connections other threads hold at that moment can fail
# one more request each. So at most one failed request per gunicorn thread (without the drain every pooled
# connection, up to GUNICORN_WORKERS × POOL_MAX, could fail one, however long after the restart).
MAX_FAILED = GUNICORN_WORKERS * GUNICORN_THREADS


def _postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    return Path(found[-1]).parent if found else None


def _free_port(preferred: int) -> int:
    with socket.socket() as s:
        if s.connect_ex(("127.0.0.1", preferred)) != 0:
            return preferred
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """A throwaway PostgreSQL cluster: trust authentication, no fsync, 127.0.0.1 only, its socket in its directory."""

    def __init__(self, bindir: Path, root: Path, port: int):
        self.bindir, self.root, self.port = bindir, root, port
        self.data, self.log = root / "data", root / "server.log"

    def _run(self, tool: str, *args: str, timeout: float = 60) -> None:
        command = [str(self.bindir / tool), *args]
        if os.geteuid() == 0:  # initdb and postgres refuse to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise AssertionError(f"{tool} {' '.join(args)} failed: {done.stdout}{done.stderr}\n{log}")

    def _options(self) -> str:
        return f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C.UTF-8",
                  "--no-sync")  # fmt: skip

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", self._options(), "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def restart(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", self._options(), "-m", "fast", "-w",
                  "restart")  # fmt: skip

    def url(self, name: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"


@pytest.fixture
def cluster():
    if not ON_POSTGRES:
        pytest.skip("integration test with real processes: runs with the PostgreSQL suite (DATABASE_URL)")
    bindir = _postgres_bin()
    if bindir is None or not (bindir / "pg_ctl").exists():
        pytest.skip("no PostgreSQL server binaries (/usr/lib/postgresql/*/bin/initdb, pg_ctl)")
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no postgres OS user to run the private cluster")
    # Not pytest's tmp_path: the postgres user must be able to enter the directory.
    root = Path(tempfile.mkdtemp(prefix="kp_pg_restart_"))
    if os.geteuid() == 0:
        os.chown(root, owner.pw_uid, owner.pw_gid)
    server = Cluster(bindir, root, _free_port(5499 + _slot()))
    try:
        server.init()
        server.start()
        yield server
    finally:
        with contextlib.suppress(Exception):
            server.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)


# Run in a subprocess against the private cluster: migrate, the test district, API tokens.
SEED = """
import json, os, sys
sys.path.insert(0, os.getcwd())
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from keyprojects.api.auth import issue_token
from tests.conftest import PASSWORD, build_world
w = build_world()
print(json.dumps({
    "username": w.dispatcher.username, "password": PASSWORD, "project": w.project_a.pk,
    "dispatcher_token": issue_token(w.dispatcher, name="db-restart")[0],
    "enterprise_token": issue_token(w.enterprise, name="db-restart")[0],
}))
"""


@dataclass
class Sample:
    started: float
    ended: float
    what: str
    status: int
    clean: bool  # a 200, or a 503 as the middleware writes it
    detail: str


class Traffic:
    """CLIENT_THREADS threads sending the page, cockpit and API requests one after the other until stopped."""

    def __init__(self, base: str, session: str, token: str):
        self.targets = [
            ("page", "/projects/", {"Cookie": f"sessionid={session}"}),
            ("api", "/api/v1/projects?limit=5", {"Authorization": f"Bearer {token}"}),
            ("page", "/dashboard/", {"Cookie": f"sessionid={session}"}),
        ]
        self.base = base
        self.samples: list[Sample] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._loop, args=(i,), daemon=True) for i in range(CLIENT_THREADS)]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(90)

    def _loop(self, offset: int) -> None:
        opener = urllib.request.build_opener(_NoRedirect)
        i = offset
        while not self.stopping.is_set():
            what, path, headers = self.targets[i % len(self.targets)]
            i += 1
            started = time.monotonic()
            status, content_type, body, retry = self._get(opener, path, headers)
            sample = Sample(started, time.monotonic(), f"{what} {path}", status,
                            _clean(what, status, content_type, body, retry), body[:300])  # fmt: skip
            with self.lock:
                self.samples.append(sample)
            time.sleep(0.02)

    def _get(self, opener, path: str, headers: dict) -> tuple[int, str, str, str]:
        # Longer than the pool's 30 s wait for a connection: a request held by the pool must get its answer here.
        request = urllib.request.Request(self.base + path, headers=headers)
        try:
            with opener.open(request, timeout=70) as answer:
                return answer.status, answer.headers.get("Content-Type", ""), answer.read().decode(), ""
        except urllib.error.HTTPError as answer:
            body = answer.read().decode(errors="replace")
            return answer.code, answer.headers.get("Content-Type", ""), body, answer.headers.get("Retry-After", "")
        except OSError as exc:  # refused, reset, timed out: never acceptable, gunicorn itself stays up
            return 0, "", repr(exc), ""

    def since(self, moment: float) -> list[Sample]:
        with self.lock:
            return [s for s in self.samples if s.started >= moment]

    def between(self, start: float, end: float) -> list[Sample]:
        """Requests answered after `start` that had started before `end`: the ones the outage could touch."""
        with self.lock:
            return [s for s in self.samples if s.ended >= start and s.started <= end]


def _clean(what: str, status: int, content_type: str, body: str, retry_after: str) -> bool:
    if status == 200:
        return True
    if status != 503 or not retry_after or "Traceback" in body:
        return False
    if what == "api":
        try:
            return content_type.startswith("application/json") and "数据库" in json.loads(body)["detail"]
        except (ValueError, KeyError, TypeError):
            return False
    return content_type.startswith("text/html") and "服务暂时不可用" in body


def _gunicorn_workers(master: int) -> set[int]:
    found = set()
    for stat in glob.glob("/proc/[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = Path(stat).read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == master:
                found.add(int(Path(stat).parent.name))
    return found


def _events_left(url: str) -> int:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute("SELECT count(*) FROM problems_problemevent WHERE processed_at IS NULL").fetchone()[0]


def _summary(samples: list[Sample]) -> str:
    bad = [s for s in samples if s.status != 200]
    return f"{len(samples)} requests, {len(bad)} not 200: " + "; ".join(
        f"{s.what} → {s.status} ({s.ended - s.started:.2f} s) {s.detail[:120]!r}" for s in bad[:12]
    )


def _judge_fault(traffic: Traffic, down: float, back: float) -> tuple[list[Sample], list[Sample], float]:
    """After a fault from `down` to `back`, wait out the recovery and check its window: every answer clean,
    at most MAX_FAILED failures, every request after the recovery a success. Returns the window's samples,
    its failures, and how long after `back` the failures ended."""
    time.sleep(RECOVERY_SECONDS + 3)
    window = traffic.between(down, back + RECOVERY_SECONDS)
    failed = [s for s in window if s.status != 200]
    assert all(s.clean for s in window), _summary(window)
    assert len(failed) <= MAX_FAILED, _summary(window)
    settled = traffic.since(back + RECOVERY_SECONDS)
    assert settled and all(s.status == 200 for s in settled), _summary(settled)
    return window, failed, max(0.0, max((s.ended for s in failed), default=back) - back)


def test_requests_fail_cleanly_while_the_database_restarts_and_recover_without_restarting_the_app(
    cluster, tmp_path, capsys
):  # fmt: skip
    started = time.monotonic()
    name = "kp_load_restart"
    subprocess.run([str(cluster.bindir / "psql"), "-h", "127.0.0.1", "-p", str(cluster.port), "-U", "postgres",
                    "-c", f"CREATE DATABASE {name}"], check=True, capture_output=True, timeout=30)  # fmt: skip
    url = cluster.url(name)
    env = {k: v for k, v in os.environ.items() if k not in ("SQLITE_PATH", "REDIS_URL", "DB_POOL")}
    env.update(
        DJANGO_SETTINGS_MODULE="keyprojects.settings", DATABASE_URL=url, DEBUG="0", DEMO_MODE="0",
        SECRET_KEY="db-restart-test-" + "k" * 40, ALLOWED_HOSTS="127.0.0.1", KEYPROJECTS_VAR_DIR=str(tmp_path / "var"),
        MEDIA_ROOT=str(tmp_path / "media"), LOG_LEVEL="WARNING", PYTHONUNBUFFERED="1", DB_POOL_MAX=str(POOL_MAX),
        # Plain static storage: this test is about the database, and collectstatic would add 5 s.
        TESTING="1",
    )  # fmt: skip
    seeded = subprocess.run([PYTHON, "-c", SEED], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
    assert seeded.returncode == 0, seeded.stderr[-3000:]
    seed = json.loads(seeded.stdout.strip().splitlines()[-1])

    port = _free_port(8340 + _slot())
    base = f"http://127.0.0.1:{port}"
    procs = Processes(tmp_path / "logs")
    traffic = None
    try:
        gunicorn = procs.start("gunicorn", [str(ROOT / ".venv/bin/gunicorn"), "keyprojects.wsgi:application",
                                            "--bind", f"127.0.0.1:{port}", "--workers", str(GUNICORN_WORKERS),
                                            "--threads", str(GUNICORN_THREADS), "--timeout", "60"], env)  # fmt: skip
        procs.worker("worker", env)

        def up() -> bool:
            try:
                return Browser().get(f"{base}/accounts/login/")[0] == 200
            except OSError:
                return False

        wait_for(up, timeout=40, what="gunicorn", procs=procs, every=0.2)
        browser = Browser()
        login = browser.get(f"{base}/accounts/login/")[2]
        status, _headers, page = browser.post(f"{base}/accounts/login/", form={
            "username": seed["username"], "password": seed["password"], "csrfmiddlewaretoken": _csrf(login),
        })  # fmt: skip
        assert status == 302, page[:1000]
        workers_before = _gunicorn_workers(gunicorn.pid)
        assert len(workers_before) == GUNICORN_WORKERS

        traffic = Traffic(base, browser.cookie("sessionid"), seed["dispatcher_token"])
        traffic.start()
        # Warm: every worker has imported the URLconf and holds pooled connections; then a clean baseline.
        time.sleep(3)
        baseline_from = time.monotonic()
        time.sleep(2)
        baseline = traffic.since(baseline_from)
        assert baseline and all(s.status == 200 for s in baseline), _summary(baseline)

        # 1. pg_ctl restart -m fast: every server connection is cut, the server is back at once.
        down = time.monotonic()
        cluster.restart()
        back = time.monotonic()
        restart, restart_failed, restart_recovered = _judge_fault(traffic, down, back)

        # 2. Stopped for DOWN_SECONDS, then started again.
        down = time.monotonic()
        cluster.stop()
        time.sleep(DOWN_SECONDS)
        cluster.start()
        back = time.monotonic()
        outage, outage_failed, outage_recovered = _judge_fault(traffic, down, back)
        # The pooled connections fail at once, with the 503 (the others wait for the pool, below).
        assert [s for s in outage_failed if s.started < back], _summary(outage)
        held = [s for s in outage if s.status == 200 and s.started < back]
        longest_wait = max((s.ended - s.started for s in held), default=0.0)

        traffic.stop()
        procs.check_alive()
        assert _gunicorn_workers(gunicorn.pid) == workers_before, "gunicorn replaced a worker"

        # The background worker lived through both and works: a new problem's events are processed.
        status, _headers, text = Browser(cookies=False).post(
            f"{base}/api/v1/problems", headers={"Authorization": f"Bearer {seed['enterprise_token']}"},
            body={"project": seed["project"], "title": "重启后新建的问题", "category": "utilities"},
        )  # fmt: skip
        assert status == 201, text
        wait_for(lambda: _events_left(url) == 0, timeout=20, what="the worker to process the new events", procs=procs)
        server_log = (procs.logs / "gunicorn.err").read_text(errors="replace")
        refused = server_log.count("database unavailable: ")  # logged: one warning per refused request
        assert refused == len(restart_failed) + len(outage_failed), server_log[-3000:]
    finally:
        if traffic is not None:
            traffic.stopping.set()
        procs.stop_all()
    with capsys.disabled():
        print(f"\ndatabase restart: {len(restart_failed)} of {len(restart)} requests failed (503), all succeeding "
              f"{restart_recovered:.1f} s after the server was back; stopped {DOWN_SECONDS:.0f} s: "
              f"{len(outage_failed)} of {len(outage)} failed (503), {len(held)} held by the pool and answered after "
              f"(longest {longest_wait:.1f} s), failures ended {outage_recovered:.1f} s after the start; bound "
              f"{MAX_FAILED}; test {time.monotonic() - started:.0f} s")  # fmt: skip
