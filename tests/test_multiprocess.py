"""Integration tests with real processes on PostgreSQL: `manage.py run_worker` and gunicorn, started as
subprocesses against pytest's test database (committed data: transactional tests), as several servers run
them in production (docs/deployment.md, "Several servers").

1. A worker killed with SIGKILL in the middle of a pass (while handling due problems, while turning
   events into notifications, while sending a webhook), restarted, loses and duplicates nothing: every
   problem's clock actions happen once, every event is processed once, every notification exists once,
   and every e-mail and webhook message reaches its receiver once. The one exception is the documented
   one (keyprojects/notify/delivery.py): a message whose sender died mid-send stays "sending" until
   `SENDING_LEASE` has passed, then goes out again, so its receiver gets it twice; never zero times.
2. Two app servers and two workers sharing one PostgreSQL database and one Redis: a session signed in
   on one server is valid on the other (and signing out ends it on both), a figure cached in Redis by
   one server is read by the other and replaced on the next load after a change made through either,
   and two workers running at once deliver every notification exactly once.
3. (In process, any database.) A pass whose sends take longer than the lease does not let a second
   worker re-send the row on the wire (found while writing 1: claims used to carry the pass's start time).
4. Two app servers sharing one Redis and one database: the API token endpoint's failure count (in the cache)
   and the sign-in lockout (django-axes, in the database) add up across servers, so 3 failures on one and 2 on
   the other lock the account on both. Redis database 15, flushed before and after.

1 and 2 are skipped unless DATABASE_URL points to PostgreSQL (`scripts/test` runs the suite there too);
each takes 20-45 s. Ports 8310-8317, by xdist worker; Redis databases 13 and 14, flushed before and after.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/keyprojects_ci .venv/bin/pytest -q tests/test_multiprocess.py
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime
import email
import email.header
import http.cookiejar
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import types
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.db import connection
from django.db.models import Count, F

from keyprojects.notify import delivery
from keyprojects.notify.models import Channel, DeliveryStatus, Notification, NotificationPreference
from keyprojects.problems import worker
from keyprojects.problems.models import Problem, ProblemEvent
from tests.test_problems import assigned_problem, at, problem_world
from tests.test_worker import FakeWebhook, _everything_due, events

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
Kind = ProblemEvent.Kind
ON_POSTGRES = os.environ.get("DATABASE_URL", "").startswith("postgres")

# The process tests: PostgreSQL only, on committed data (the subprocesses cannot see a test's transaction).
multiprocess = pytest.mark.skipif(not ON_POSTGRES, reason="integration tests with several processes need PostgreSQL")
committed = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def pw(world):
    return problem_world(world)


# --- processes, ports, the webhook receiver ---------------------------------------------------------------------


def _slot() -> int:
    """0, 1, … for xdist workers gw0, gw1, … (0 without xdist), so parallel runs never share a port."""
    name = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return int(name[2:]) if name[2:].isdigit() else 0


def _ports() -> tuple[int, int, int]:
    """(app A, app B, webhook receiver): 8310-8312 for gw0, 8314-8316 for gw1; free ports beyond."""
    slot = _slot()
    if slot < 2:
        base = 8310 + 4 * slot
        return base, base + 1, base + 2
    found = []
    for _ in range(3):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            found.append(s.getsockname()[1])
    return found[0], found[1], found[2]


def _database_url() -> str:
    """DATABASE_URL with pytest's test database (test_<name>, test_<name>_gw0 under xdist)."""
    parts = urllib.parse.urlsplit(os.environ["DATABASE_URL"])
    return urllib.parse.urlunsplit(parts._replace(path="/" + connection.settings_dict["NAME"]))


def _base_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("TESTING", "SQLITE_PATH", "REDIS_URL")}
    env.update(
        DJANGO_SETTINGS_MODULE="keyprojects.settings", DATABASE_URL=_database_url(), DEBUG="0",
        SECRET_KEY="multiprocess-test-" + "k" * 40, ALLOWED_HOSTS="127.0.0.1", DEMO_MODE="0",
        KEYPROJECTS_VAR_DIR=str(tmp_path / "var"), MEDIA_ROOT=str(tmp_path / "media"), LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1", EMAIL_BACKEND="django.core.mail.backends.console.EmailBackend", DB_POOL_MAX="4",
    )  # fmt: skip
    env.update(extra)
    return env


_LIBC = ctypes.CDLL(None, use_errno=True)


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL when the test process dies, even if it is killed itself (Linux)."""
    with contextlib.suppress(Exception):
        _LIBC.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class Processes:
    """Subprocesses, each in its own process group; `stop_all()` leaves none behind."""

    def __init__(self, logs: Path):
        self.logs = logs
        logs.mkdir(parents=True, exist_ok=True)
        self.running: dict[str, subprocess.Popen] = {}

    def start(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen:
        with open(self.logs / f"{name}.out", "wb") as out, open(self.logs / f"{name}.err", "wb") as err:
            proc = subprocess.Popen(
                args, cwd=ROOT, env=env, stdout=out, stderr=err, start_new_session=True, preexec_fn=_die_with_parent
            )
        self.running[name] = proc
        return proc

    def worker(self, name: str, env: dict[str, str], *options: str) -> subprocess.Popen:
        return self.start(name, [PYTHON, "manage.py", "run_worker", "--interval", "0.2", "-v", "0", *options], env)

    def kill(self, name: str, sig: int = signal.SIGKILL, timeout: float = 15) -> int | None:
        proc = self.running.pop(name)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            return proc.wait(5)

    def stop_all(self) -> None:
        for name in list(self.running):
            self.kill(name, signal.SIGTERM, timeout=5)

    def check_alive(self) -> None:
        for name, proc in self.running.items():
            if proc.poll() is not None:
                raise AssertionError(f"{name} exited with {proc.returncode}\n{self.diagnostics()}")

    def out(self, name: str) -> str:
        return (self.logs / f"{name}.out").read_text(errors="replace")

    def diagnostics(self) -> str:
        parts = []
        for path in sorted(self.logs.glob("*.err")):
            text = path.read_text(errors="replace").strip()
            if text:
                parts.append(f"--- {path.name}\n{text[-2000:]}")
        return "\n".join(parts) or "(no process wrote to stderr)"


class WebhookReceiver:
    """A group-robot endpoint on 127.0.0.1: records every message (path, text) and answers errcode 0.

    `hold_next()` makes it keep the next request open (recorded, unanswered) until `release()`, so a
    test can kill the worker while that message is on the wire.
    """

    def __init__(self, port: int, delay: float = 0.0):
        self.calls: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        self.delay = delay
        self._hold, self.held, self._release = threading.Event(), threading.Event(), threading.Event()
        self.held_call: tuple[str, str] | None = None
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                call = (self.path, body.get("text", {}).get("content", ""))
                with receiver.lock:
                    receiver.calls.append(call)
                    hold = receiver._hold.is_set()
                    receiver._hold.clear()
                if hold:
                    receiver.held_call = call
                    receiver.held.set()
                    receiver._release.wait(30)
                elif receiver.delay:
                    time.sleep(receiver.delay)
                answer = b'{"errcode": 0, "errmsg": "ok"}'
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                except OSError:  # the worker died while we held its request
                    pass

            def log_message(self, *args):
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def hold_next(self) -> None:
        self._hold.set()

    def release(self) -> None:
        self._release.set()

    def close(self) -> None:
        self._release.set()
        self.server.shutdown()
        self.server.server_close()

    def counts(self) -> Counter:
        with self.lock:
            return Counter(self.calls)


def wait_for(condition: Callable[[], object], *, timeout: float, what: str, procs: Processes | None = None,
             every: float = 0.02):  # fmt: skip
    deadline = time.monotonic() + timeout
    while True:
        if procs:
            procs.check_alive()
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            detail = f"\n{procs.diagnostics()}" if procs else ""
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}{detail}")
        time.sleep(every)


def mails_sent(*outputs: str) -> Counter:
    """(address, subject) of every message the console mail backend wrote to the workers' stdout."""
    found: Counter = Counter()
    for text in outputs:
        for chunk in text.split("-" * 79 + "\n"):
            start = chunk.find("Content-Type:")
            if start < 0:
                continue
            msg = email.message_from_string(chunk[start:])
            subject = str(email.header.make_header(email.header.decode_header(msg["Subject"] or "")))
            found[(msg["To"], subject)] += 1
    return found


def expected_mails(rows) -> Counter:
    return Counter((n.recipient.email, n.title.replace("\n", " ")[:200]) for n in rows)


def expected_hooks(rows) -> Counter:
    urls = dict(NotificationPreference.objects.values_list("user_id", "webhook_url"))
    return Counter((urllib.parse.urlsplit(urls[n.recipient_id]).path, delivery._message_text(n)) for n in rows)


def pref_url(user_id: int) -> str:
    return NotificationPreference.objects.get(user_id=user_id).webhook_url


def assert_notifications_exactly_once() -> None:
    """Every event processed, with exactly the notifications its recipients should get: one inbox row each,
    an e-mail row for those with an address, a webhook row for those with a robot; nothing else."""
    assert not ProblemEvent.objects.filter(processed_at__isnull=True).exists()
    duplicates = (
        Notification.objects.values("source_key", "recipient", "channel").annotate(n=Count("id")).filter(n__gt=1)
    )
    assert not duplicates.exists(), list(duplicates[:5])
    hooks = set(NotificationPreference.objects.filter(webhook_enabled=True).values_list("user_id", flat=True))
    expected = set()
    for event in ProblemEvent.objects.select_related(
        "problem", "problem__project", "problem__lead_unit", "problem__responsible_leader", "problem__supervisor",
        "problem__raised_by", "actor",
    ):  # fmt: skip
        key = f"problem-event:{event.pk}"
        for user in worker.recipients_for(event):
            expected.add((key, user.pk, Channel.INBOX))
            if user.email:
                expected.add((key, user.pk, Channel.EMAIL))
            if user.pk in hooks:
                expected.add((key, user.pk, Channel.WEBHOOK))
    actual = list(Notification.objects.values_list("source_key", "recipient_id", "channel"))
    missing, extra = sorted(expected - set(actual)), sorted(set(actual) - expected)
    assert not missing and not extra, f"missing {missing[:10]}, unexpected {extra[:10]}"
    assert len(actual) == len(expected)


# --- 1. a worker killed mid-pass --------------------------------------------------------------------------------


def _kill_when(procs: Processes, name: str, condition: Callable[[], object], what: str) -> None:
    wait_for(condition, timeout=40, what=what, procs=procs)
    procs.kill(name)


@multiprocess
@committed
def test_a_worker_killed_mid_pass_loses_and_duplicates_nothing(pw, tmp_path):
    started = time.monotonic()
    n = 40
    _app, _app_b, hook_port = _ports()
    receiver = WebhookReceiver(hook_port)
    pw.town_officer.email = "town_officer@hq.gov.cn"
    pw.town_officer.save()
    for user in (pw.dispatcher, pw.secretary):
        NotificationPreference.objects.create(user=user, webhook_enabled=True,
                                              webhook_url=f"{receiver.url}/robot/{user.username}")  # fmt: skip
    problems = _everything_due(pw, n)  # assigned on 2025-03-03: by the real clock overdue, up the whole ladder
    due = Problem.objects.filter(pk__in=[p.pk for p in problems], next_action_at__isnull=False).count()
    assert due == n
    unprocessed = ProblemEvent.objects.filter(processed_at__isnull=True)
    first_events = unprocessed.count()  # raised and assigned, 2 per problem
    overdue_marks = ProblemEvent.objects.filter(kind=Kind.OVERDUE)
    sent = Notification.objects.exclude(channel=Channel.INBOX).filter(status=DeliveryStatus.SENT)
    env = _base_env(tmp_path)
    procs = Processes(tmp_path / "logs")
    setup = time.monotonic() - started
    phases: list[str] = []

    def phase(label: str) -> None:
        phases.append(f"{label} {time.monotonic() - started - setup:.1f}")

    try:
        # 1. Killed while handling due problems (each in its own transaction).
        procs.worker("w1", env)
        _kill_when(procs, "w1", lambda: overdue_marks.count() >= n // 4, "the first worker to handle a quarter")
        phase("kill 1")
        handled = overdue_marks.count()
        assert n // 4 <= handled < n, handled
        assert not sent.exists()

        # 2. Killed while turning events into notifications (each event in its own transaction).
        procs.worker("w2", env)
        total_events = first_events + n * 4  # + overdue and three escalations each

        def a_third_of_the_events_processed():
            return not Problem.objects.filter(next_action_at__isnull=False).exists() and (
                ProblemEvent.objects.filter(processed_at__isnull=False).count() >= total_events // 3
            )

        _kill_when(procs, "w2", a_third_of_the_events_processed, "the second worker to process a third of the events")
        phase("kill 2")
        assert ProblemEvent.objects.count() == total_events
        left = unprocessed.count()
        assert 0 < left < total_events, left

        # 3. Killed while a webhook message is on the wire: the receiver has it, the worker never hears back.
        receiver.hold_next()
        procs.worker("w3", env)
        wait_for(receiver.held.is_set, timeout=40, what="the third worker to send a webhook", procs=procs)
        procs.kill("w3")
        phase("kill 3")
        receiver.release()
        in_flight = Notification.objects.get(status=DeliveryStatus.SENDING)
        assert in_flight.channel == Channel.WEBHOOK and in_flight.attempts == 1
        assert receiver.held_call == (urllib.parse.urlsplit(pref_url(in_flight.recipient_id)).path,
                                      delivery._message_text(in_flight))  # fmt: skip

        # 4. A fresh worker finishes everything else, and leaves the in-flight row alone while its lease runs.
        procs.worker("w4", env)
        outstanding = Notification.objects.exclude(channel=Channel.INBOX).exclude(status=DeliveryStatus.SENT)
        wait_for(lambda: not unprocessed.exists() and list(outstanding.values_list("pk", flat=True)) == [in_flight.pk],
                 timeout=40, what="the fourth worker to finish", procs=procs)  # fmt: skip
        phase("drained")
        time.sleep(0.5)  # two more passes
        in_flight.refresh_from_db()
        assert (in_flight.status, in_flight.attempts) == (DeliveryStatus.SENDING, 1)

        # 5. Once the lease has run out (moved back rather than waited for) it is sent again, once.
        Notification.objects.filter(pk=in_flight.pk).update(claimed_at=F("claimed_at") - delivery.SENDING_LEASE)
        wait_for(lambda: not outstanding.exists(), timeout=20, what="the in-flight row to be sent again", procs=procs)
        phase("resent")
        assert procs.kill("w4", signal.SIGTERM) == 0
    finally:
        procs.stop_all()
        receiver.close()
    drained = time.monotonic() - started - setup

    # Every problem's ladder ran once, whichever worker ran which step.
    for p in Problem.objects.filter(pk__in=[p.pk for p in problems]):
        assert [e.level for e in events(p, Kind.ESCALATED)] == [1, 2, 3], p.pk
        assert len(events(p, Kind.OVERDUE)) == 1 and p.next_action_at is None and p.escalation_level == 3
    assert_notifications_exactly_once()
    # Every e-mail and webhook row was sent, at the first attempt, and reached its receiver once; the
    # in-flight one was tried twice and its receiver got it twice (at-least-once, as documented).
    remote = Notification.objects.exclude(channel=Channel.INBOX).select_related("recipient")
    assert remote.filter(channel=Channel.EMAIL).exists() and remote.filter(channel=Channel.WEBHOOK).exists()
    assert set(remote.values_list("status", flat=True)) == {DeliveryStatus.SENT}
    assert list(remote.exclude(attempts=1).values_list("pk", "attempts")) == [(in_flight.pk, 2)]
    outputs = [procs.out(name) for name in ("w1", "w2", "w3", "w4")]
    assert mails_sent(*outputs) == expected_mails(remote.filter(channel=Channel.EMAIL))
    hooks = expected_hooks(remote.filter(channel=Channel.WEBHOOK))
    hooks[receiver.held_call] += 1
    assert receiver.counts() == hooks
    checks = time.monotonic() - started - setup - drained
    print(f"\nkilled mid-pass: setup {setup:.1f} s, four workers {drained:.1f} s (at {', '.join(phases)}), "
          f"checks {checks:.1f} s; {ProblemEvent.objects.count()} events, "
          f"{Notification.objects.count()} notifications, {remote.count()} e-mail/webhook")  # fmt: skip


# --- 2. two app servers and two workers -------------------------------------------------------------------------


def _redis_db() -> int:
    return 13 + _slot() % 2


def _redis(db: int):
    try:
        import redis
    except ImportError:  # REDIS_URL switches Django to its Redis cache backend, which needs the package
        pytest.fail("the `redis` package is not installed: REDIS_URL cannot work (requirements.txt)")
    client = redis.Redis(host="127.0.0.1", port=6379, db=db, socket_timeout=5)
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("no Redis server on 127.0.0.1:6379")
    return client


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a redirect is an answer to look at, not to follow


class Browser:
    """A cookie-keeping HTTP client (standard library); answers are (status, headers, text)."""

    def __init__(self, cookies: bool = True):
        self.jar = http.cookiejar.CookieJar()
        handlers = [urllib.request.HTTPCookieProcessor(self.jar)] if cookies else []
        self.opener = urllib.request.build_opener(*handlers, _NoRedirect)

    def request(self, method: str, url: str, *, form: dict | None = None, body: dict | None = None,
                headers: dict | None = None) -> tuple[int, dict, str]:  # fmt: skip
        headers = dict(headers or {})
        data = None
        if form is not None:
            data = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with self.opener.open(req, timeout=30) as answer:
                return answer.status, answer.headers, answer.read().decode()
        except urllib.error.HTTPError as answer:
            return answer.code, answer.headers, answer.read().decode(errors="replace")

    def get(self, url: str, **kwargs) -> tuple[int, dict, str]:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs) -> tuple[int, dict, str]:
        return self.request("POST", url, **kwargs)

    def cookie(self, name: str) -> str:
        return next(c.value for c in self.jar if c.name == name)


def _up(url: str) -> bool:
    try:
        return Browser().get(f"{url}/accounts/login/")[0] == 200
    except OSError:
        return False


def _csrf(page: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)


def _count(answer: tuple[int, dict, str]) -> int:
    status, _headers, page = answer
    assert status == 200, (status, page[:500])
    return int(re.search(r"共\s*(\d+)\s*个问题", page).group(1))


@multiprocess
@committed
def test_two_app_servers_and_two_workers_share_sessions_cache_and_work(pw, tmp_path, settings):
    started = time.monotonic()
    port_a, port_b, hook_port = _ports()
    a, b = f"http://127.0.0.1:{port_a}", f"http://127.0.0.1:{port_b}"
    redis_db = _redis_db()
    store = _redis(redis_db)
    store.flushdb()
    receiver = WebhookReceiver(hook_port, delay=0.005)

    # A password the servers can check (the test settings hash with MD5, which production does not accept).
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    password = "Multi@2026!proc"
    pw.dispatcher.set_password(password)
    pw.dispatcher.save()
    for user in (pw.dispatcher, pw.town_officer, pw.dept_officer, pw.leader, pw.enterprise):
        user.email = f"{user.username}@hq.gov.cn"
        user.save(update_fields=["email"])
    for user in (pw.dispatcher, pw.town_officer, pw.leader):
        NotificationPreference.objects.create(user=user, webhook_enabled=True,
                                              webhook_url=f"{receiver.url}/robot/{user.username}")  # fmt: skip
    from django.contrib.sessions.models import Session

    from keyprojects.api.auth import issue_token

    as_enterprise = {"Authorization": "Bearer " + issue_token(pw.enterprise, name="multiprocess")[0]}
    as_dispatcher = {"Authorization": "Bearer " + issue_token(pw.dispatcher, name="multiprocess")[0]}

    env = _base_env(tmp_path, REDIS_URL=f"redis://127.0.0.1:6379/{redis_db}")
    procs = Processes(tmp_path / "logs")
    try:
        # Static files as production serves them: whitenoise's manifest, collected into a temporary var/.
        collect = subprocess.run([PYTHON, "manage.py", "collectstatic", "--noinput", "-v", "0"], cwd=ROOT, env=env,
                                 capture_output=True, text=True, timeout=120)  # fmt: skip
        assert collect.returncode == 0, collect.stderr
        for name, port in (("app_a", port_a), ("app_b", port_b)):
            procs.start(name, [str(ROOT / ".venv/bin/gunicorn"), "keyprojects.wsgi:application",
                               "--bind", f"127.0.0.1:{port}", "--workers", "1", "--threads", "2"], env)  # fmt: skip
        procs.worker("worker_1", env)
        procs.worker("worker_2", env)
        wait_for(lambda: _up(a) and _up(b), timeout=40, what="both app servers", procs=procs, every=0.2)
        boot = time.monotonic() - started

        # Signed in on A, the session works on B (sessions live in the database).
        browser = Browser()
        _status, _headers, login = browser.get(f"{a}/accounts/login/")
        status, _headers, page = browser.post(f"{a}/accounts/login/", form={
            "username": "dispatcher", "password": password, "csrfmiddlewaretoken": _csrf(login),
        })  # fmt: skip
        assert status == 302, page[:2000]
        session_key = browser.cookie("sessionid")
        assert Session.objects.filter(session_key=session_key).exists()
        assert _count(browser.get(f"{b}/problems/")) == 0

        # B stored the count in Redis; A reads that very entry (planted there to tell it from a recount).
        keys = store.keys("*rollup:list-count:*")
        assert len(keys) == 1, keys
        store.set(keys[0], 4242)
        assert _count(browser.get(f"{a}/problems/")) == 4242

        # A change through one server shows on the other at its next load; the notifications follow.
        api = Browser(cookies=False)
        for i in range(6):
            here, there = (a, b) if i % 2 == 0 else (b, a)
            status, _headers, text = api.post(f"{here}/api/v1/problems", headers=as_enterprise, body={
                "project": pw.project_a.pk, "title": f"跨服务器问题{i}", "category": "utilities",
            })  # fmt: skip
            assert status == 201, text
            assert _count(browser.get(f"{there}/problems/")) == i + 1
            problem = json.loads(text)
            status, _headers, text = api.post(f"{there}/api/v1/problems/{problem['id']}/assign", headers=as_dispatcher,
                                              body={"lead_unit": pw.dongjie.pk, "helper_units": [pw.resources.pk],
                                                    "version": problem["version"]})  # fmt: skip
            assert status == 200, text
        assert _count(browser.get(f"{a}/problems/")) == 6

        # Two workers at once: every notification once.
        remote = Notification.objects.exclude(channel=Channel.INBOX).select_related("recipient")
        wait_for(
            lambda: ProblemEvent.objects.count() >= 12
            and not ProblemEvent.objects.filter(processed_at__isnull=True).exists()
            and remote.exists() and not remote.exclude(status=DeliveryStatus.SENT).exists(),
            timeout=30, what="the workers to deliver everything", procs=procs, every=0.1,
        )  # fmt: skip
        time.sleep(0.5)  # two more passes each: nothing may be sent again

        # Signing out on B ends the session on A too.
        _status, _headers, page = browser.get(f"{b}/problems/")
        status, _headers, _text = browser.post(f"{b}/accounts/logout/", form={"csrfmiddlewaretoken": _csrf(page)})
        assert status == 302
        status, headers, _text = Browser(cookies=False).get(
            f"{a}/problems/", headers={"Cookie": f"sessionid={session_key}"}
        )
        assert status == 302 and "/accounts/login/" in headers["Location"]
        for name in ("worker_1", "worker_2"):
            assert procs.kill(name, signal.SIGTERM) == 0
    finally:
        procs.stop_all()
        receiver.close()
        store.flushdb()

    assert_notifications_exactly_once()
    assert remote.filter(channel=Channel.EMAIL).exists() and remote.filter(channel=Channel.WEBHOOK).exists()
    assert set(remote.values_list("attempts", flat=True)) == {1}
    outputs = {name: procs.out(name) for name in ("worker_1", "worker_2")}
    assert mails_sent(*outputs.values()) == expected_mails(remote.filter(channel=Channel.EMAIL))
    assert receiver.counts() == expected_hooks(remote.filter(channel=Channel.WEBHOOK))
    by_worker = [sum(mails_sent(text).values()) for text in outputs.values()]
    print(f"\ntwo servers: boot {boot:.1f} s, total {time.monotonic() - started:.1f} s, "
          f"{remote.count()} e-mail/webhook, e-mails by worker {by_worker}")  # fmt: skip


# --- 3. a long pass (in process, any database) ---------------------------------------------------------------------


def test_a_row_claimed_late_in_a_long_pass_is_not_taken_by_a_second_worker(pw, monkeypatch):
    """Sends slower than the lease (a slow mail server, robots timing out): the row on the wire when another
    worker passes must not look stale to it. Its lease starts when it was claimed, not when the pass began
    (before the fix every row was claimed with the pass's start time, and the second worker sent it again)."""
    for user in (pw.town_officer, pw.dept_officer, pw.leader):
        NotificationPreference.objects.create(user=user, webhook_enabled=True, webhook_url="https://robot.example/x")
    assigned_problem(pw)
    now = at(datetime.date(2025, 3, 3), 15)
    worker.process_events(now)
    assert Notification.objects.filter(channel=Channel.WEBHOOK).count() == 3
    clock = {"t": 1000.0}
    monkeypatch.setattr(delivery, "time", types.SimpleNamespace(monotonic=lambda: clock["t"]))
    hook, rival = FakeWebhook(), {}

    def slow_hook(request, timeout=None):
        clock["t"] += 11 * 60  # each send takes 11 minutes, longer than the lease
        if len(hook.calls) == 1 and "sent" not in rival:  # the second row is on the wire: another worker passes
            rival["sent"] = None
            rival["sent"] = delivery.deliver_pending(now + datetime.timedelta(minutes=11, seconds=30))
        return hook(request, timeout)

    monkeypatch.setattr(urllib.request, "urlopen", slow_hook)
    delivery.deliver_pending(now)
    rows = Notification.objects.filter(channel=Channel.WEBHOOK)
    assert rival["sent"] == (1, 0)  # the rival sent the third row, not the second again
    assert len(hook.calls) == rows.filter(status=DeliveryStatus.SENT, attempts=1).count() == 3


# --- 4. sign-in limits across servers ----------------------------------------------------------------------------

SHARED_LIMITS_REDIS_DB = 15  # not 13/14: those belong to test 2, which may run at the same time on the other slot


def _api_sign_in(base: str, username: str, password: str) -> tuple[int, str]:
    status, _headers, text = Browser(cookies=False).post(
        f"{base}/api/v1/auth/token", body={"username": username, "password": password, "name": "multiprocess"}
    )
    return status, text


def _web_sign_in(base: str, username: str, password: str) -> tuple[int, str]:
    browser = Browser()
    login = browser.get(f"{base}/accounts/login/")[2]
    status, _headers, page = browser.post(f"{base}/accounts/login/", form={
        "username": username, "password": password, "csrfmiddlewaretoken": _csrf(login),
    })  # fmt: skip
    return status, page


@multiprocess
@committed
def test_sign_in_failures_add_up_across_two_app_servers(pw, tmp_path, settings):
    """3 failures on server A and 2 on server B lock the account on both: the API token endpoint counts failures
    in the shared cache (keyprojects/api/auth.py, 5 → 429), the login form's lockout (django-axes) in the database.
    Each server alone saw fewer than 5, so a per-process count would let the next attempt through."""
    from axes.models import AccessAttempt

    from keyprojects.api.auth import MAX_FAILURES

    started = time.monotonic()
    port_a, port_b, _hook_port = _ports()
    a, b = f"http://127.0.0.1:{port_a}", f"http://127.0.0.1:{port_b}"
    store = _redis(SHARED_LIMITS_REDIS_DB)
    store.flushdb()
    # Passwords the servers can check (the test settings hash with MD5, which production does not accept).
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    password = "Multi@2026!proc"
    for user in (pw.enterprise, pw.leader):
        user.set_password(password)
        user.save()
    api_user, web_user = pw.enterprise.username, pw.leader.username

    # TESTING=1: plain static storage, so no collectstatic is needed for the login page.
    env = _base_env(tmp_path, REDIS_URL=f"redis://127.0.0.1:6379/{SHARED_LIMITS_REDIS_DB}", TESTING="1")
    procs = Processes(tmp_path / "logs")
    try:
        for name, port in (("app_a", port_a), ("app_b", port_b)):
            procs.start(name, [str(ROOT / ".venv/bin/gunicorn"), "keyprojects.wsgi:application",
                               "--bind", f"127.0.0.1:{port}", "--workers", "1", "--threads", "2"], env)  # fmt: skip
        wait_for(lambda: _up(a) and _up(b), timeout=40, what="both app servers", procs=procs, every=0.2)

        # The API: 3 wrong passwords on A, 2 on B. django-axes counts API sign-ins too (authenticate()), so the
        # 5th failure is also its lockout (429, its message). Then even the right password is refused on both by
        # the endpoint's own count, 3 + 2 in Redis, checked before any password (its own message).
        for i, base in enumerate((a, a, a, b, b), 1):
            status, text = _api_sign_in(base, api_user, "wrong-password")
            assert status == (401 if i < MAX_FAILURES else 429), (i, text)
        keys = store.keys("*api-login-failures:*")
        assert len(keys) == 1 and int(store.get(keys[0])) == MAX_FAILURES, keys
        for base in (a, b):
            status, text = _api_sign_in(base, api_user, password)
            assert status == 429, text
            assert json.loads(text)["detail"] == "登录失败次数过多，请15分钟后再试。"

        # The login form: 3 wrong passwords on A, 2 on B; the 5th (on B, counting A's three) locks the account,
        # and then the right password is refused on both (403, the lockout message).
        for i, base in enumerate((a, a, a, b, b), 1):
            status, page = _web_sign_in(base, web_user, "wrong-password")
            if i < 5:
                assert status == 200 and "已锁定" not in page, (i, status, page[:500])
            else:
                assert status == 403 and "已锁定 30 分钟" in page, (i, status, page[:500])
        assert AccessAttempt.objects.get(username=web_user).failures_since_start == 5
        for base in (a, b):
            status, page = _web_sign_in(base, web_user, password)
            assert status == 403 and "已锁定 30 分钟" in page, (status, page[:500])
        procs.check_alive()
    finally:
        procs.stop_all()
        store.flushdb()
    print(f"\nsign-in limits across servers: {time.monotonic() - started:.1f} s")
