"""Backup and restore of the database and the uploaded files, as one .tar.gz archive.

The archive holds `manifest.json` (engine, time, table row counts, the audit chain's last hash), the
database (`db.sqlite3`, an online copy made with SQLite's backup API, so the platform keeps running;
or `db.dump`, `pg_dump --format=custom`) and `media/` (photos, evidence, attachments).

`restore` refuses a database that already holds data: restoring is for an empty database (a new
machine, or after `migrate` on an empty one), so nothing is overwritten by mistake. After a restore
the row counts and the audit chain head are compared with the manifest.
"""

from __future__ import annotations

import datetime
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from pathlib import Path

from django.conf import settings
from django.db import connection

MANIFEST = "manifest.json"
COUNTED_TABLES = ("projects_project", "progress_monthlyreport", "problems_problem", "audit_auditrecord", "org_user")


class BackupError(Exception):
    """A backup or restore that cannot proceed; the message is for the operator (Chinese)."""


def _counts(cursor) -> dict[str, int]:
    tables = set(connection.introspection.table_names(cursor))
    result = {}
    for table in COUNTED_TABLES:
        if table in tables:
            cursor.execute(f'SELECT COUNT(*) FROM "{table}"')  # noqa: S608 - fixed table names
            result[table] = cursor.fetchone()[0]
    return result


def _audit_head(cursor) -> str:
    cursor.execute("SELECT hash FROM audit_auditrecord ORDER BY id DESC LIMIT 1")
    row = cursor.fetchone()
    return row[0] if row else ""


def _pg_env() -> tuple[list[str], dict[str, str]]:
    db = settings.DATABASES["default"]
    args = ["-h", db.get("HOST") or "127.0.0.1", "-p", str(db.get("PORT") or 5432), "-U", db.get("USER") or "postgres"]
    env = {**os.environ}
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = db["PASSWORD"]
    return args, env


def backup(output: Path) -> dict:
    """Write the archive to `output`; returns the manifest."""
    vendor = connection.vendor
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        connection.ensure_connection()
        with connection.cursor() as cursor:
            manifest = {
                "engine": vendor,
                "created_at": datetime.datetime.now(datetime.UTC).isoformat(),
                "counts": _counts(cursor),
                "audit_head": _audit_head(cursor),
            }
        if vendor == "sqlite":
            target = sqlite3.connect(tmpdir / "db.sqlite3")
            with target:
                connection.connection.backup(target)
            target.close()
            db_name = "db.sqlite3"
        elif vendor == "postgresql":
            args, env = _pg_env()
            db_name = "db.dump"
            command = ["pg_dump", *args, "--format=custom", "--no-owner", "--file", str(tmpdir / db_name),
                       settings.DATABASES["default"]["NAME"]]  # fmt: skip
            run = subprocess.run(command, env=env, capture_output=True, text=True)
            if run.returncode:
                raise BackupError(f"pg_dump 失败：{run.stderr.strip()}")
        else:
            raise BackupError(f"不支持的数据库：{vendor}")
        output.parent.mkdir(parents=True, exist_ok=True)
        with tarfile.open(output, "w:gz") as archive:
            data = json.dumps(manifest, ensure_ascii=False, indent=2).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
            archive.add(tmpdir / db_name, arcname=db_name)
            media = Path(settings.MEDIA_ROOT)
            if media.is_dir():
                archive.add(media, arcname="media")
    return manifest


def _safe_members(archive: tarfile.TarFile) -> list[tarfile.TarInfo]:
    members = []
    for member in archive.getmembers():
        name = Path(member.name)
        if name.is_absolute() or ".." in name.parts or not (member.isfile() or member.isdir()):
            raise BackupError(f"备份文件中有不安全的条目：{member.name}")
        members.append(member)
    return members


def restore(archive_path: Path) -> dict:
    """Restore the archive into the configured (empty, migrated or blank) database and MEDIA_ROOT."""
    with tempfile.TemporaryDirectory() as tmp, tarfile.open(archive_path, "r:gz") as archive:
        tmpdir = Path(tmp)
        archive.extractall(tmpdir, members=_safe_members(archive), filter="data")
        manifest = json.loads((tmpdir / MANIFEST).read_text(encoding="utf-8"))
        vendor = connection.vendor
        if manifest["engine"] != vendor:
            raise BackupError(f"备份来自 {manifest['engine']}，当前数据库是 {vendor}，不能直接恢复。")
        with connection.cursor() as cursor:
            existing = _counts(cursor)
        if any(existing.get(t) for t in ("projects_project", "org_user", "audit_auditrecord")):
            raise BackupError("目标数据库已有数据：恢复只能在空数据库上进行，以免覆盖现有数据。")
        if vendor == "sqlite":
            connection.close()
            source = sqlite3.connect(tmpdir / "db.sqlite3")
            connection.ensure_connection()
            with source:
                source.backup(connection.connection)
            source.close()
        else:
            args, env = _pg_env()
            run = subprocess.run(["pg_restore", *args, "--no-owner", "--clean", "--if-exists", "--single-transaction",
                                  "-d", settings.DATABASES["default"]["NAME"], str(tmpdir / "db.dump")],
                                 env=env, capture_output=True, text=True)  # fmt: skip
            if run.returncode:
                raise BackupError(f"pg_restore 失败：{run.stderr.strip()[:2000]}")
        media = tmpdir / "media"
        if media.is_dir():
            shutil.copytree(media, settings.MEDIA_ROOT, dirs_exist_ok=True)
        with connection.cursor() as cursor:
            counts, head = _counts(cursor), _audit_head(cursor)
        if counts != manifest["counts"] or head != manifest["audit_head"]:
            raise BackupError(f"恢复后的数据与备份清单不一致：{counts} / {manifest['counts']}")
        return manifest
