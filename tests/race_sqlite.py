"""Concurrent project edits on a real SQLite file (WAL, BEGIN IMMEDIATE), run by test_concurrency.py.

pytest's SQLite test database is an in-memory shared-cache database whose table locks are not what
the platform runs on, so this script migrates a temporary file database, builds the test district and
races two (then six) edits in threads; it prints the outcome as JSON.
"""

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "keyprojects.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402

from keyprojects.audit import chain  # noqa: E402
from keyprojects.projects import domain  # noqa: E402
from keyprojects.projects.models import Project  # noqa: E402
from tests.conftest import build_world  # noqa: E402
from tests.racing import race  # noqa: E402


def main() -> None:
    call_command("migrate", verbosity=0)
    w = build_world()
    version = Project.objects.get(pk=w.project_a.pk).version
    same = race([
        (lambda n=n: domain.update_project(w.project_a, by=w.dispatcher, data={"name": n}, expected_version=version))
        for n in ("甲方案名称", "乙方案名称")
    ])  # fmt: skip
    many = race([
        (lambda p=p, i=i: domain.update_project(p, by=w.dispatcher, data={"name": f"并发修改{i}"}))
        for i, p in enumerate([w.project_a, w.project_b] * 3)
    ])  # fmt: skip
    stored = Project.objects.get(pk=w.project_a.pk)
    print(json.dumps({
        "same": [type(r).__name__ for r in same],
        "many": [type(r).__name__ for r in many],
        "version_after_same": version + 1,
        "chain_ok": chain.verify().ok,
        "final_version": stored.version,
    }))  # fmt: skip


if __name__ == "__main__":
    main()
