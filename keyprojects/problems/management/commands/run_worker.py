"""`manage.py run_worker`: the long-running background worker (reminders, overdue, escalation, notifications).

Runs `keyprojects.problems.worker.run_pass` every `--interval` seconds (at once again when a pass hit
its batch limit). SIGTERM or SIGINT stops it cleanly between passes. `--once` runs a single pass.
Several workers may run against one PostgreSQL database: every row is claimed with a conditional
update, so none is handled twice.
"""

from __future__ import annotations

import logging
import signal
import threading

from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections, connection

from keyprojects.problems import worker

logger = logging.getLogger("keyprojects.worker")


def _close_stale_connections() -> None:
    """Drop connections past CONN_MAX_AGE or broken (the database restarted) between passes.

    Not inside an atomic block (a test calling the command), where closing would break the caller.
    """
    if not connection.in_atomic_block:
        close_old_connections()


class Command(BaseCommand):
    help = "后台任务：临期提醒、逾期标记、升级督办、发送通知（--once 只运行一轮）。"

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="只运行一轮后退出。")
        parser.add_argument("--interval", type=float, default=30.0, help="两轮之间的间隔秒数（默认 30）。")
        parser.add_argument("--batch", type=int, default=500, help="每轮每类最多处理的条数（默认 500）。")

    def handle(self, *args, once: bool = False, interval: float = 30.0, batch: int = 500, **options):
        if interval <= 0 or batch <= 0:
            raise CommandError("--interval 和 --batch 必须大于 0。")
        stop = threading.Event()
        previous = {}

        def request_stop(signum, frame):
            logger.info("worker: signal %s received, stopping after this pass", signum)
            stop.set()

        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                previous[sig] = signal.signal(sig, request_stop)
        verbosity = options.get("verbosity", 1)
        try:
            while not stop.is_set():
                _close_stale_connections()
                saturated = False
                try:
                    result = worker.run_pass(batch=batch)
                    saturated = result.saturated
                    if verbosity > 1 or (verbosity and (result.problems or result.events or result.failed)):
                        self.stdout.write(f"worker pass: {result}")
                except Exception:  # a failed pass (database away…) must not end the loop
                    logger.exception("worker: pass failed")
                if once:
                    break
                stop.wait(0 if saturated else interval)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            _close_stale_connections()
        if verbosity:
            self.stdout.write("worker stopped")
