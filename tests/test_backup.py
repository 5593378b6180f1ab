"""Backup and restore: a backup restored into an empty database has the same data and the same audit chain."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def manage(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)  # fmt: skip


def _pg(url_db: str) -> str:
    subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", f"DROP DATABASE IF EXISTS {url_db}"], check=True
    )
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", f"CREATE DATABASE {url_db}"], check=True)
    return f"postgres://postgres@127.0.0.1:5432/{url_db}"


@pytest.fixture
def databases(tmp_path):
    """Two databases of the engine under test: one to back up, one empty to restore into."""
    base = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SQLITE_PATH", "MEDIA_ROOT")}
    if os.environ.get("DATABASE_URL", "").startswith("postgres"):
        worker = os.environ.get("PYTEST_XDIST_WORKER", "gw")
        first = {"DATABASE_URL": _pg(f"kp_backup_src_{worker}")}
        second = {"DATABASE_URL": _pg(f"kp_backup_dst_{worker}")}
    else:
        first, second = {"SQLITE_PATH": str(tmp_path / "src.sqlite3")}, {"SQLITE_PATH": str(tmp_path / "dst.sqlite3")}
    return (
        {**base, **first, "MEDIA_ROOT": str(tmp_path / "m1")},
        {**base, **second, "MEDIA_ROOT": str(tmp_path / "m2")},
    )


def test_backup_restores_into_an_empty_database(databases, tmp_path):
    source, target = databases
    assert manage("migrate", "-v0", env=source).returncode == 0
    seeded = manage("seed_demo", env=source)
    assert seeded.returncode == 0, seeded.stderr
    media = Path(source["MEDIA_ROOT"]) / "photos"
    media.mkdir(parents=True)
    (media / "a.jpg").write_bytes(b"\xff\xd8\xff photo")
    archive = tmp_path / "backup.tar.gz"
    made = manage("backup", "--output", str(archive), env=source)
    assert made.returncode == 0, made.stderr
    with tarfile.open(archive) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
        assert "media/photos/a.jpg" in tar.getnames()
    assert manifest["counts"]["projects_project"] == 200 and manifest["audit_head"]

    restored = manage("restore", str(archive), env=target)
    assert restored.returncode == 0, restored.stderr + restored.stdout
    assert "审计链完整" in restored.stdout
    assert (Path(target["MEDIA_ROOT"]) / "photos" / "a.jpg").read_bytes() == b"\xff\xd8\xff photo"
    assert manage("verify_audit", env=target).returncode == 0
    # Restoring again over data is refused, and changes nothing.
    again = manage("restore", str(archive), env=target)
    assert again.returncode != 0 and "已有数据" in again.stderr
