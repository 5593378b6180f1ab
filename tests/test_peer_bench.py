"""The peer benchmark (bench/peer_redmine.py) at CI size, so that the script cannot rot.

Its keyprojects side runs for real: a fresh SQLite database in a temporary folder (seed_demo with the
district, topped up to 500 problems), `scripts/serve` (gunicorn and the worker) on a free port, every
measured URL with its credentials (API token, signed-in session), then a 2-second concurrent load with
the Python client. Redmine is skipped (`--smoke`): measuring it needs its 50,000 projects. The full run
is a command in docs/benchmarks.md, not part of `make test`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(not (ROOT / ".venv" / "bin" / "gunicorn").exists(), reason="gunicorn is not installed")
def test_peer_benchmark_smoke_run(tmp_path):
    out = tmp_path / "peer.json"
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SQLITE_PATH", "TESTING")}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "peer_redmine.py"), "--smoke", "--workers", "2", "--client", "python",
         "--sqlite-path", str(tmp_path / "peer.sqlite3"), "--out", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    results = json.loads(out.read_text())
    assert "redmine" not in results
    info = results["keyprojects"]["sqlite"]
    assert info["projects"] >= 200 and info["problems"] == 500 and info["open"] > 0
    assert "token" not in info and "session" not in info  # no credentials in the raw results
    measured = results["sequential"]
    assert set(measured) == {
        "projects_json", "projects_json_deep", "projects_html", "problems_json", "problems_json_project",
        "problems_html", "problems_html_project", "project_detail_json", "problem_detail_json",
    }  # fmt: skip
    for row in (by_system["sqlite"] for by_system in measured.values()):
        assert row["status"] == 200 and row["n"] == 3 and row["p95_ms"] >= row["min_ms"] > 0, row
    assert measured["problems_json"]["sqlite"]["note"].startswith(f"total={info['open']} rows=25")
    assert measured["problems_json_project"]["sqlite"]["note"].startswith(f"total={info['project_open']} ")
    load = results["throughput"]["sqlite"]
    assert load["client"] == "python" and load["requests"] > 0 and load["errors"] == 0
    assert load["cpu_ms_per_request"] > 0  # the server's CPU time, read from /proc
    assert "| open-problem list, 10 connections |" in proc.stdout
