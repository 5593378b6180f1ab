"""Concurrent edits on real transactions (SQLite and PostgreSQL): the first wins, the other gets a
conflict, nothing is lost or half-written, and the audit chain stays intact."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from keyprojects.audit import chain
from keyprojects.audit.models import AuditRecord
from keyprojects.projects import domain
from keyprojects.projects.models import Project
from tests.racing import race

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)
ON_SQLITE = connection.vendor == "sqlite"


def test_on_a_sqlite_file_the_first_edit_wins_and_the_other_conflicts(tmp_path):
    """SQLite as the platform runs it (a WAL file), not the in-memory shared-cache test database."""
    if not ON_SQLITE:
        pytest.skip("the PostgreSQL tests below race on the test database itself")
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "SQLITE_PATH": str(tmp_path / "race.sqlite3"), "MEDIA_ROOT": str(tmp_path / "media")}
    run = subprocess.run([sys.executable, "tests/race_sqlite.py"], cwd=root, env=env, capture_output=True, text=True,
                         timeout=300)  # fmt: skip
    assert run.returncode == 0, run.stderr
    outcome = json.loads(run.stdout.strip().splitlines()[-1])
    assert sorted(outcome["same"]) == ["ConflictError", "Project"], outcome
    assert outcome["many"] == ["Project"] * 6, outcome
    assert outcome["chain_ok"]


@pytest.mark.skipif(ON_SQLITE, reason="in-memory shared-cache SQLite: see the file-based test above")
def test_two_users_save_the_same_project_version(world):
    project = world.project_a
    version = Project.objects.get(pk=project.pk).version
    names = ["甲方案名称", "乙方案名称"]
    jobs = [
        (lambda n=n: domain.update_project(project, by=world.dispatcher, data={"name": n}, expected_version=version))
        for n in names
    ]
    results = race(jobs)
    won = [r for r in results if isinstance(r, Project)]
    lost = [r for r in results if isinstance(r, domain.ConflictError)]
    assert len(won) == 1 and len(lost) == 1, results
    stored = Project.objects.get(pk=project.pk)
    assert stored.version == version + 1 and stored.name == won[0].name
    assert AuditRecord.objects.filter(object_type="project", object_id=str(project.pk),
                                      after__name=won[0].name).count() == 1  # fmt: skip
    assert chain.verify().ok


@pytest.mark.skipif(ON_SQLITE, reason="in-memory shared-cache SQLite: see the file-based test above")
def test_many_concurrent_audited_writes_keep_one_chain(world):
    projects = [world.project_a, world.project_b]
    jobs = [
        (lambda p=p, i=i: domain.update_project(p, by=world.dispatcher, data={"name": f"并发修改{i}"}))
        for i, p in enumerate(projects * 3)
    ]
    results = race(jobs)
    assert not [r for r in results if isinstance(r, Exception)], results
    assert chain.verify().ok
