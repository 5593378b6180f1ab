"""The load test's smoke run (bench/load.py --smoke): 5 users for 10 s through the whole chain the recorded
200-user run uses (database prepared and seeded, collectstatic, scripts/serve with gunicorn and a worker, a second
worker, Redis, locust). Every request type of the scenario must be exercised and none may fail.

PostgreSQL only (the load test runs against PostgreSQL); needs Redis on 127.0.0.1:6379, whose database 11 it
flushes, so it must not run while a full `bench/load.py` run is going on. Its database, kp_load_smoke on the
DATABASE_URL server, is kept for the next run like the benchmarks' databases (a first run seeds it: about 60 s;
later runs about 30 s). Port 8330 (+ the xdist slot).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/kp_load_test .venv/bin/pytest -q tests/test_load_smoke.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ON_POSTGRES = os.environ.get("DATABASE_URL", "").startswith("postgres")


def _slot() -> int:
    name = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return int(name[2:]) if name[2:].isdigit() else 0


def _redis_reachable() -> bool:
    try:
        import redis

        return bool(redis.Redis(host="127.0.0.1", port=6379, db=11, socket_timeout=2).ping())
    except Exception:  # not installed, not running: the smoke run cannot work here
        return False


@pytest.mark.skipif(not ON_POSTGRES, reason="the load test runs against PostgreSQL (set DATABASE_URL)")
def test_the_load_scenario_runs_every_request_type_without_an_error(tmp_path):
    if not _redis_reachable():
        pytest.skip("no Redis server on 127.0.0.1:6379")
    server = urllib.parse.urlsplit(os.environ["DATABASE_URL"])
    database_url = urllib.parse.urlunsplit(server._replace(path="/kp_load_smoke", query=""))
    started = time.monotonic()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "PYTEST_XDIST_WORKER")}
    run = subprocess.run(
        [sys.executable, "bench/load.py", "--smoke", "--database-url", database_url, "--port", str(8330 + _slot()),
         "--workdir", str(tmp_path)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    output = run.stdout[-6000:] + run.stderr[-3000:]
    result_file = tmp_path / "result.json"
    assert result_file.exists(), output
    result = json.loads(result_file.read_text())

    exercised = {row["name"] for row in result["types"] if row["requests"]}
    assert exercised == set(result["declared_types"]), (sorted(set(result["declared_types"]) - exercised), output)
    assert result["total"]["errors"] == 0, (result["error_messages"], output)
    assert not result["exceptions"], result["exceptions"]
    assert result["notes"] == {}, result["notes"]
    assert run.returncode == 0, output  # also a failed worker pass, a server error in the log, a process that died
    markdown = (tmp_path / "load_results.md").read_text()
    assert "**0 errors: met.**" in markdown and "| **total** |" in markdown
    print(f"\nload smoke: {result['total']['requests']} requests, 0 errors, {time.monotonic() - started:.0f} s")
