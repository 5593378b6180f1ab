"""Run jobs at the same moment in threads, each on its own database connection (used by the
concurrency tests and by tests/race_sqlite.py)."""

from __future__ import annotations

import threading

from django.db import connection


def race(jobs) -> list:
    """Start every job behind one barrier; return each job's result or the exception it raised."""
    barrier = threading.Barrier(len(jobs))
    results: list = [None] * len(jobs)

    def run(i, job):
        try:
            barrier.wait()
            results[i] = job()
        except Exception as exc:  # noqa: BLE001 - the outcome is what the caller inspects
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, job)) for i, job in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results
