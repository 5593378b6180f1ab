"""The worker: reminders, overdue marks, the escalation ladder, notifications, exactly-once claims.

"Now" is always passed to the pass functions, so nothing depends on today's date. No test reaches
the network: `urllib.request.urlopen` is replaced for every test, and a test that wants a webhook
installs its own fake.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import signal
import threading
import time
import urllib.error
import urllib.request
from datetime import date

import pytest
from django.core.management import call_command
from django.db import connection

from keyprojects.audit.models import AuditRecord
from keyprojects.notify import delivery
from keyprojects.notify.models import Channel, DeliveryStatus, Notification, NotificationPreference
from keyprojects.problems import clock, domain, worker
from keyprojects.problems.models import EscalationLevel, Problem, ProblemEvent, Rating, SolveLevel, Status, Step
from keyprojects.workcal import calendar as wc
from tests.test_problems import assigned_problem, at, new_problem, problem_world

Kind = ProblemEvent.Kind


@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("tests must not reach the network")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)


@pytest.fixture(autouse=True)
def _fresh_calendar_cache():
    wc.clear_local_cache()
    yield
    wc.clear_local_cache()


@pytest.fixture
def pw(world):
    return problem_world(world)


class FakeResponse:
    def __init__(self, status: int = 200, body: bytes = b'{"errcode": 0, "errmsg": "ok"}'):
        self.status, self.body = status, body

    def read(self, n: int = -1) -> bytes:
        return self.body

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class FakeWebhook:
    """Records every POST; thread-safe."""

    def __init__(self, response=None, error: Exception | None = None):
        self.calls: list[dict] = []
        self.lock = threading.Lock()
        self.response, self.error = response or FakeResponse(), error

    def __call__(self, request, timeout=None):
        with self.lock:
            self.calls.append({"url": request.full_url, "body": json.loads(request.data), "timeout": timeout})
        if self.error:
            raise self.error
        return self.response


def events(problem: Problem, *kinds: str) -> list[ProblemEvent]:
    rows = problem.events.order_by("id")
    return list(rows.filter(kind__in=kinds) if kinds else rows)


def inbox_of(event: ProblemEvent) -> set[str]:
    rows = Notification.objects.filter(source_key=f"problem-event:{event.pk}", channel=Channel.INBOX)
    return set(rows.values_list("recipient__username", flat=True))


# --- the ladder ------------------------------------------------------------------------------------------


def test_escalation_ladder_step_by_step(pw):
    problem = assigned_problem(pw, solve_level=SolveLevel.CITY)  # Mon 2025-03-03, lead 东街
    domain.deploy(problem, by=pw.town_officer, now=at(date(2025, 3, 3), 11))  # feedback due Thu Mar 6

    def run(day: date, hour: int = 8) -> Problem:
        worker.run_pass(at(day, hour))
        return Problem.objects.get(pk=problem.pk)

    p = run(date(2025, 3, 4), 12)
    assert events(p, Kind.REMINDER, Kind.OVERDUE, Kind.ESCALATED) == []
    assert p.next_action_at == at(date(2025, 3, 5), 0)

    p = run(date(2025, 3, 5))  # yellow: one working day left
    (reminder,) = events(p, Kind.REMINDER)
    assert (reminder.step, reminder.actor) == (Step.FEEDBACK, None)
    assert "2025-03-06" in reminder.text
    assert inbox_of(reminder) == {"town_officer"}
    assert p.next_action_at == at(date(2025, 3, 7), 0) and p.escalation_level == 0

    p = run(date(2025, 3, 7))  # red: overdue, still with the unit (level 0)
    (overdue,) = events(p, Kind.OVERDUE)
    assert overdue.step == Step.FEEDBACK
    assert inbox_of(overdue) == {"town_officer", "dept_officer", "dispatcher"}
    assert p.escalation_level == 0 and p.next_action_at == at(date(2025, 3, 12), 0)

    p = run(date(2025, 3, 11))  # three working days overdue is not yet past: nothing new
    assert len(events(p, Kind.ESCALATED)) == 0

    p = run(date(2025, 3, 12))  # level 1: the 分管领导
    assert p.escalation_level == EscalationLevel.CHARGE_LEADER
    (first,) = events(p, Kind.ESCALATED)
    assert first.level == 1 and "分管领导" in first.text
    assert inbox_of(first) == {"town_officer", "leader"}
    assert p.next_action_at == at(date(2025, 3, 15), 0)

    p = run(date(2025, 3, 15))  # level 2: the 主要领导 (secretary: leadership's leaders but the 分管领导)
    assert p.escalation_level == EscalationLevel.PRINCIPAL_LEADER
    assert inbox_of(events(p, Kind.ESCALATED)[-1]) == {"town_officer", "secretary"}
    assert p.next_action_at == at(date(2025, 3, 20), 0)

    p = run(date(2025, 3, 20))  # level 3: 上报 the city, through the dispatchers
    assert p.escalation_level == EscalationLevel.REPORTED
    last = events(p, Kind.ESCALATED)[-1]
    assert "上报市级协调" in last.text
    assert inbox_of(last) == {"town_officer", "secretary", "dispatcher"}
    assert p.next_action_at is None  # the top of the ladder, nothing more to do for this step

    p = run(date(2025, 4, 30))
    assert [e.level for e in events(p, Kind.ESCALATED)] == [1, 2, 3]

    audits = AuditRecord.objects.filter(object_type="problem", object_id=str(p.pk), actor__isnull=True)
    assert audits.count() == 5 and set(audits.values_list("channel", flat=True)) == {"worker"}

    # The lead unit answers: the resolve step (due Mar 12) is overdue at once; the level stays at the top.
    domain.add_feedback(p, by=pw.town_officer, text="已约谈供电公司", now=at(date(2025, 5, 6)))
    p = run(date(2025, 5, 6), 10)
    assert [e.step for e in events(p, Kind.OVERDUE)] == [Step.FEEDBACK, Step.RESOLVE]
    assert p.escalation_level == 3 and p.next_action_at is None


def test_a_district_problem_stops_at_the_principal_leaders_and_a_late_worker_catches_up(pw):
    problem = assigned_problem(pw)  # district level, never deployed
    worker.run_pass(at(date(2025, 6, 2)))
    p = Problem.objects.get(pk=problem.pk)
    assert [(e.kind, e.level) for e in events(p, Kind.REMINDER, Kind.OVERDUE, Kind.ESCALATED)] == [
        (Kind.OVERDUE, None), (Kind.ESCALATED, 1), (Kind.ESCALATED, 2),
    ]  # fmt: skip
    assert p.escalation_level == 2 and p.next_action_at is None
    assert all(e.processed_at is not None for e in events(p))


def test_a_reminder_whose_deadline_passed_is_not_sent(pw):
    problem = assigned_problem(pw)
    domain.deploy(problem, by=pw.town_officer, now=at(date(2025, 3, 3), 11))
    worker.run_pass(at(date(2025, 3, 10)))  # the worker was down from Mar 4 to Mar 10
    p = Problem.objects.get(pk=problem.pk)
    assert [e.kind for e in events(p, Kind.REMINDER, Kind.OVERDUE)] == [Kind.OVERDUE]
    assert clock.mark_key("warn", Step.FEEDBACK, date(2025, 3, 6)) in p.clock_marks


def test_escalation_can_be_switched_off(pw):
    from keyprojects.problems.models import ProblemSettings

    row = ProblemSettings.load()
    row.escalation_enabled = False
    row.save()
    problem = assigned_problem(pw)
    worker.run_pass(at(date(2025, 6, 2)))
    p = Problem.objects.get(pk=problem.pk)
    assert [e.kind for e in events(p, Kind.OVERDUE, Kind.ESCALATED)] == [Kind.OVERDUE]
    assert p.escalation_level == 0 and p.next_action_at is None


def test_named_supervision_has_its_own_reminder_and_overdue_mark(pw):
    problem = assigned_problem(pw)
    domain.deploy(problem, by=pw.town_officer, now=at(date(2025, 3, 3), 11))
    domain.add_feedback(problem, by=pw.town_officer, text="推进中", now=at(date(2025, 3, 3), 12))
    domain.supervise(problem, by=pw.leader, due=date(2025, 3, 10), now=at(date(2025, 3, 3), 13))
    worker.run_pass(at(date(2025, 3, 7), 8))
    p = Problem.objects.get(pk=problem.pk)
    (reminder,) = events(p, Kind.REMINDER)
    assert reminder.step == Step.SUPERVISION
    assert inbox_of(reminder) == {"town_officer", "leader"}
    worker.run_pass(at(date(2025, 3, 11), 8))
    p = Problem.objects.get(pk=problem.pk)
    assert [e.step for e in events(p, Kind.OVERDUE)] == [Step.SUPERVISION]
    assert p.next_action_at == at(date(2025, 3, 13), 0)  # the resolve step (due Mar 12) goes red next


# --- notifications ------------------------------------------------------------------------------------------


def test_each_event_reaches_the_right_people(pw):
    problem = new_problem(pw, by=pw.enterprise)
    domain.assign(problem, by=pw.dispatcher, lead_unit=pw.dongjie, helper_units=[pw.resources],
                  now=at(date(2025, 3, 3), 10))  # fmt: skip
    domain.deploy(problem, by=pw.town_officer, now=at(date(2025, 3, 3), 11))
    domain.resolve(problem, by=pw.town_officer, evidence="已解决", now=at(date(2025, 3, 3), 12))
    domain.rate(problem, by=pw.enterprise, rating=Rating.SATISFIED, now=at(date(2025, 3, 3), 13))
    domain.close(problem, by=pw.dispatcher, now=at(date(2025, 3, 3), 14))
    result = worker.run_pass(at(date(2025, 3, 3), 15))
    assert result.events == 6
    raised, assigned, deployed, resolved, rated, closed = events(problem)
    assert inbox_of(raised) == {"dispatcher"}
    assert inbox_of(assigned) == {"town_officer", "dept_officer", "leader", "enterprise"}
    assert inbox_of(deployed) == {"dept_officer", "leader", "enterprise"}
    assert inbox_of(resolved) == {"dept_officer", "leader", "enterprise"}
    assert inbox_of(rated) == {"town_officer", "dept_officer", "leader", "dispatcher"}
    assert inbox_of(closed) == {"town_officer", "dept_officer", "leader", "enterprise"}
    note = Notification.objects.get(source_key=f"problem-event:{assigned.pk}", recipient=pw.town_officer)
    assert note.title == "【交办】施工用电增容迟迟未批"
    assert note.link == f"/problems/{problem.pk}/" and (note.object_type, note.object_id) == (
        "problem",
        str(problem.pk),
    )
    assert "办结期限 2025-03-12" in note.body and note.status == DeliveryStatus.SENT


def test_dispatchers_hear_of_a_resolution_when_the_company_has_no_account(pw):
    problem = assigned_problem(pw, project=pw.project_b, lead=pw.hongmen, helpers=[])
    domain.deploy(problem, by=pw.other_town_officer, now=at(date(2025, 3, 3), 11))
    domain.resolve(problem, by=pw.other_town_officer, evidence="已解决", now=at(date(2025, 3, 3), 12))
    worker.run_pass(at(date(2025, 3, 3), 15))
    (resolved,) = events(problem, Kind.RESOLVED)
    assert "dispatcher" in inbox_of(resolved)


def test_email_and_webhook_follow_each_users_preferences(pw, monkeypatch, mailoutbox):
    hook = FakeWebhook()
    monkeypatch.setattr(urllib.request, "urlopen", hook)
    for user, address in ((pw.town_officer, "dongjie@hq.gov.cn"), (pw.dept_officer, "zrzy@hq.gov.cn")):
        user.email = address
        user.save()
    NotificationPreference.objects.create(user=pw.dept_officer, email_enabled=False)
    robot = "https://oapi.dingtalk.example/robot/send?access_token=x"
    NotificationPreference.objects.create(user=pw.leader, webhook_enabled=True, webhook_url=robot)
    problem = assigned_problem(pw)
    worker.run_pass(at(date(2025, 3, 3), 15))
    (assigned,) = events(problem, Kind.ASSIGNED)
    rows = Notification.objects.filter(source_key=f"problem-event:{assigned.pk}")
    assert set(rows.exclude(channel=Channel.INBOX).values_list("recipient__username", "channel")) == {
        ("town_officer", Channel.EMAIL), ("leader", Channel.WEBHOOK),
    }  # fmt: skip
    assert all(r.status == DeliveryStatus.SENT and r.delivered_at for r in rows)
    assert [m.to for m in mailoutbox] == [["dongjie@hq.gov.cn"]]
    assert mailoutbox[0].subject == "【交办】施工用电增容迟迟未批"
    (call,) = hook.calls
    assert call["url"].startswith("https://oapi.dingtalk.example/")
    assert call["body"]["msgtype"] == "text" and "施工用电增容迟迟未批" in call["body"]["text"]["content"]
    assert call["timeout"] == delivery.DEFAULT_WEBHOOK_TIMEOUT
    worker.run_pass(at(date(2025, 3, 3), 16))  # nothing is sent twice
    assert len(mailoutbox) == 1 and len(hook.calls) == 1


@pytest.mark.parametrize(
    "fake",
    [
        FakeWebhook(error=urllib.error.URLError("timed out")),
        FakeWebhook(error=TimeoutError("timed out")),
        FakeWebhook(response=FakeResponse(status=502, body=b"")),
        FakeWebhook(response=FakeResponse(body=b'{"errcode": 310000, "errmsg": "keywords not in content"}')),
    ],
)
def test_webhook_failures_are_recorded_retried_and_never_crash(pw, monkeypatch, fake):
    monkeypatch.setattr(urllib.request, "urlopen", fake)
    robot = "https://qyapi.weixin.example/cgi-bin/webhook/send?key=k"
    NotificationPreference.objects.create(user=pw.town_officer, webhook_enabled=True, webhook_url=robot)
    problem = assigned_problem(pw)
    now = at(date(2025, 3, 3), 15)
    result = worker.run_pass(now)
    assert result.failed == 1
    (assigned,) = events(problem, Kind.ASSIGNED)
    row = Notification.objects.get(source_key=f"problem-event:{assigned.pk}", channel=Channel.WEBHOOK)
    assert (row.status, row.attempts) == (DeliveryStatus.PENDING, 1) and row.last_error
    assert row.next_attempt_at == now + delivery.RETRY_DELAY
    worker.run_pass(now + datetime.timedelta(minutes=1))  # not yet due again
    assert len(fake.calls) == 1
    worker.run_pass(now + datetime.timedelta(hours=1))
    worker.run_pass(now + datetime.timedelta(hours=2))
    row.refresh_from_db()
    assert (row.status, row.attempts, len(fake.calls)) == (DeliveryStatus.FAILED, delivery.MAX_ATTEMPTS, 3)
    inbox_row = Notification.objects.get(source_key=row.source_key, channel=Channel.INBOX, recipient=pw.town_officer)
    assert inbox_row.status == DeliveryStatus.SENT


def test_a_broken_mail_backend_is_recorded_not_raised(pw, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 1  # nothing listens there
    pw.town_officer.email = "dongjie@hq.gov.cn"
    pw.town_officer.save()
    assigned_problem(pw)
    result = worker.run_pass(at(date(2025, 3, 3), 15))
    row = Notification.objects.get(recipient=pw.town_officer, channel=Channel.EMAIL)
    assert result.failed == 1 and row.status == DeliveryStatus.PENDING and "邮件发送失败" in row.last_error


def test_webhook_preferences_are_validated(pw):
    from django.core.exceptions import ValidationError

    for url in ("file:///etc/passwd", "ftp://robot.example/x", ""):
        pref = NotificationPreference(user=pw.leader, webhook_enabled=True, webhook_url=url)
        with pytest.raises(ValidationError):
            pref.full_clean()


def test_inbox_unread_count_and_mark_read(pw):
    assigned_problem(pw)
    worker.run_pass(at(date(2025, 3, 3), 15))
    assert delivery.unread_count(pw.town_officer) == 1  # the assignment (the raise went to the dispatcher)
    assert delivery.unread_count(pw.dispatcher) == 0  # they raised and assigned it themselves
    first = delivery.inbox(pw.town_officer).first()
    assert delivery.mark_read(pw.dispatcher, [first.pk]) == 0  # not theirs
    assert delivery.mark_read(pw.town_officer, [first.pk]) == 1
    assert delivery.unread_count(pw.town_officer) == 0


# --- claiming: each row once ------------------------------------------------------------------------------


def _everything_due(w, n: int = 6) -> list[Problem]:
    problems = []
    for i in range(n):
        p = new_problem(w, by=w.enterprise, title=f"诉求{i}")
        domain.assign(p, by=w.dispatcher, lead_unit=w.dongjie, helper_units=[w.resources],
                      solve_level=SolveLevel.PROVINCE, now=at(date(2025, 3, 3), 10))  # fmt: skip
        problems.append(p)
    return problems


def _assert_exactly_once(problems: list[Problem]) -> None:
    for p in problems:
        p.refresh_from_db()
        assert [e.level for e in events(p, Kind.ESCALATED)] == [1, 2, 3]
        assert len(events(p, Kind.OVERDUE)) == 1
        assert p.next_action_at is None
    for event in ProblemEvent.objects.all():
        assert event.processed_at is not None
        expected = {u.username for u in worker.recipients_for(event)}
        assert inbox_of(event) == expected
    keys = list(Notification.objects.values_list("source_key", "recipient_id", "channel"))
    assert len(keys) == len(set(keys))


def test_a_second_pass_does_nothing_again(pw, mailoutbox):
    pw.town_officer.email = "dongjie@hq.gov.cn"
    pw.town_officer.save()
    problems = _everything_due(pw, 3)
    now = at(date(2025, 6, 2))
    worker.run_pass(now)
    counts = (ProblemEvent.objects.count(), Notification.objects.count(), len(mailoutbox))
    again = worker.run_pass(now)
    assert (again.problems, again.events, again.notifications, again.delivered) == (0, 0, 0, 0)
    assert (ProblemEvent.objects.count(), Notification.objects.count(), len(mailoutbox)) == counts
    _assert_exactly_once(problems)


def test_a_worker_that_loses_the_race_skips_the_row(pw, monkeypatch, caplog):
    """Worker B runs in the middle of worker A's claimed transaction: B never touches A's rows,
    and A then skips every row B took. Works on both databases (same connection, so B sees A's claim)."""
    problems = _everything_due(pw, 3)
    now = at(date(2025, 6, 2))
    original_handle, original_notify = worker._handle_problem, worker.notify_event
    nested: dict[str, int | None] = {}

    def handle_with_rival(pk, now_, cfg):
        if "problems" not in nested:  # only worker A calls in its rival, once
            nested["problems"] = None
            nested["problems"] = worker.process_due_problems(now_)[0]
        return original_handle(pk, now_, cfg)

    def notify_with_rival(event, *, now):
        if "events" not in nested:
            nested["events"] = None
            nested["events"] = worker.process_events(now)[0]
        return original_notify(event, now=now)

    monkeypatch.setattr(worker, "_handle_problem", handle_with_rival)
    monkeypatch.setattr(worker, "notify_event", notify_with_rival)
    with caplog.at_level(logging.ERROR):
        first = worker.run_pass(now)
    assert nested["problems"] == 2 and first.problems == 1  # B took the two rows A had not reached yet
    assert nested["events"] > 0 and first.events + nested["events"] == ProblemEvent.objects.count()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    _assert_exactly_once(problems)


@pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres"),
    reason="concurrent workers need PostgreSQL (on SQLite the passes run one after the other: see above)",
)
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_workers_at_once_on_postgresql_deliver_each_notification_once(pw, monkeypatch, mailoutbox, caplog):
    assert connection.vendor == "postgresql"
    hook = FakeWebhook()

    def slow_hook(request, timeout=None):
        time.sleep(0.002)
        return hook(request, timeout)

    monkeypatch.setattr(urllib.request, "urlopen", slow_hook)
    for user in (pw.town_officer, pw.dept_officer, pw.leader, pw.dispatcher):
        user.email = f"{user.username}@hq.gov.cn"
        user.save()
    NotificationPreference.objects.create(user=pw.leader, webhook_enabled=True, webhook_url="https://robot.example/x")
    problems = _everything_due(pw, 12)
    now = at(date(2025, 6, 2))
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []
    results: list[worker.PassResult] = []

    def run():
        try:
            barrier.wait()
            for _ in range(3):  # a few passes each, to overlap events and deliveries too
                results.append(worker.run_pass(now))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    with caplog.at_level(logging.ERROR):
        threads = [threading.Thread(target=run) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
    assert not errors
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert sum(r.problems for r in results) == len(problems)
    assert sum(r.events for r in results) == ProblemEvent.objects.count()
    _assert_exactly_once(problems)
    emails = Notification.objects.filter(channel=Channel.EMAIL)
    assert emails.exists() and not emails.exclude(status=DeliveryStatus.SENT).exists()
    assert len(mailoutbox) == emails.count()
    hooks = Notification.objects.filter(channel=Channel.WEBHOOK)
    assert len(hook.calls) == hooks.count() == hooks.filter(status=DeliveryStatus.SENT).count() > 0


# --- the command -----------------------------------------------------------------------------------------------


def test_run_worker_once(pw, capsys):
    problem = assigned_problem(pw)  # assigned 2025-03-03: long overdue by the real clock
    call_command("run_worker", "--once", verbosity=2)
    out = capsys.readouterr().out
    assert "worker pass: problems=1" in out and "worker stopped" in out
    p = Problem.objects.get(pk=problem.pk)
    assert p.escalation_level == 2 and p.status == Status.ASSIGNED
    assert AuditRecord.objects.filter(channel="worker").count() == 3


def test_run_worker_stops_cleanly_on_sigterm(pw):
    previous = signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGTERM, lambda *a: None)  # never let a stray SIGTERM end the test process
    ours = signal.getsignal(signal.SIGTERM)

    def send_when_the_worker_listens():
        deadline = time.monotonic() + 10
        while signal.getsignal(signal.SIGTERM) is ours and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.2)  # let it reach the wait between passes
        os.kill(os.getpid(), signal.SIGTERM)

    sender = threading.Thread(target=send_when_the_worker_listens)
    started = time.monotonic()
    try:
        sender.start()
        call_command("run_worker", "--interval", "60", verbosity=0)
        assert time.monotonic() - started < 10
        assert signal.getsignal(signal.SIGTERM) is ours  # the command put the handler back
    finally:
        sender.join()
        signal.signal(signal.SIGTERM, previous)


def test_run_worker_refuses_bad_options(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("run_worker", "--once", "--interval", "0")
