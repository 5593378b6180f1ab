"""The database refuses changing an issued bulletin, and keeps refusing after a migration rebuilds the table.

SQLite drops a table's triggers when a migration rebuilds it (create, copy, drop, rename), so the guard
is reinstalled on every post_migrate (`keyprojects.bulletins.guards`). Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime

import pytest
from django.core.management.sql import emit_post_migrate_signal
from django.db import DatabaseError, connection, transaction

from keyprojects.bulletins import domain, guards
from keyprojects.bulletins.models import Bulletin, Kind, Status

AS_OF = datetime.date(2026, 10, 12)


def trigger_installed() -> bool:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT 1 FROM pg_trigger WHERE tgname = %s AND NOT tgisinternal", [guards.TRIGGER])
        else:
            cursor.execute("SELECT 1 FROM sqlite_master WHERE type = 'trigger' AND name = %s", [guards.TRIGGER])
        return cursor.fetchone() is not None


def drop_trigger() -> None:
    """What a table rebuild does to the trigger on SQLite."""
    on = f" ON {guards.TABLE}" if connection.vendor == "postgresql" else ""
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TRIGGER IF EXISTS {guards.TRIGGER}{on}")


def raw_update(pk: int, **values) -> None:
    columns = ", ".join(f"{name} = %s" for name in values)
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE bulletins_bulletin SET {columns} WHERE id = %s", [*values.values(), pk])


def assert_refused(pk: int, **values) -> None:
    with pytest.raises(DatabaseError, match="immutable"), transaction.atomic():
        raw_update(pk, **values)


@pytest.fixture
def issued(world):
    b = domain.create_draft(kind=Kind.DAILY, as_of=AS_OF, by=world.dispatcher)
    domain.update_commentary(b, by=world.dispatcher, commentary={"summary": "总体平稳。"})
    domain.issue(b, by=world.dispatcher)
    return Bulletin.objects.get(pk=b.pk)


def test_the_database_refuses_changing_an_issued_bulletins_content_or_hash(issued):
    assert trigger_installed()
    assert_refused(issued.pk, content_hash="0" * 64)
    assert_refused(issued.pk, figures='{"tampered": true}')
    assert_refused(issued.pk, commentary='{"summary": "改过"}', title="改过的标题")
    assert_refused(issued.pk, status=Status.DRAFT)  # not even "un-issuing" it first
    stored = Bulletin.objects.get(pk=issued.pk)
    assert (stored.title, stored.content_hash, stored.status) == (issued.title, issued.content_hash, Status.ISSUED)
    assert stored.hash_matches()


def test_drafts_stay_editable_and_issuing_still_works(world):
    """The app updates a bulletin only while it is a draft (commentary, meeting, issuing itself)."""
    b = domain.create_draft(kind=Kind.DAILY, as_of=AS_OF, by=world.dispatcher)
    raw_update(b.pk, title="改过的草稿标题")
    domain.update_commentary(Bulletin.objects.get(pk=b.pk), by=world.dispatcher, commentary={"summary": "平稳。"})
    issued = domain.issue(Bulletin.objects.get(pk=b.pk), by=world.dispatcher)  # the draft → issued UPDATE
    stored = Bulletin.objects.get(pk=b.pk)
    assert stored.status == Status.ISSUED and stored.document_number == issued.document_number
    assert stored.title == "改过的草稿标题" and stored.commentary["summary"] == "平稳。" and stored.hash_matches()


def test_post_migrate_reinstalls_the_guard_after_a_rebuild(issued):
    drop_trigger()
    assert not trigger_installed()
    emit_post_migrate_signal(verbosity=0, interactive=False, db=connection.alias)
    assert trigger_installed()
    assert_refused(issued.pk, content_hash="0" * 64)


def test_installing_twice_is_harmless(issued):
    guards.ensure_guards(connection)
    guards.ensure_guards(connection)
    assert trigger_installed()
    assert_refused(issued.pk, title="改过的标题")


@pytest.mark.skipif(connection.vendor != "sqlite", reason="only SQLite rebuilds tables to alter them")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_real_sqlite_table_rebuild_loses_the_trigger_and_post_migrate_brings_it_back(world):
    field = Bulletin._meta.get_field("title")
    wider = field.clone()
    wider.set_attributes_from_name("title")
    wider.max_length = 121
    assert trigger_installed()
    try:
        with connection.schema_editor() as editor:  # what a migration's AlterField does on SQLite
            editor.alter_field(Bulletin, field, wider)
        assert not trigger_installed(), "SQLite dropped the trigger with the old table"
    finally:
        with connection.schema_editor() as editor:
            editor.alter_field(Bulletin, wider, field)
        emit_post_migrate_signal(verbosity=0, interactive=False, db=connection.alias)
    assert trigger_installed()
    b = domain.create_draft(kind=Kind.DAILY, as_of=AS_OF, by=world.dispatcher)
    domain.issue(b, by=world.dispatcher)
    assert_refused(b.pk, content_hash="0" * 64)
