"""The audit trail's hash chain, its verification, the retention purge and the security events."""

from __future__ import annotations

import datetime

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from keyprojects.audit import chain
from keyprojects.audit.models import AuditCheckpoint, AuditRecord
from keyprojects.audit.trail import record, security_event
from tests.conftest import PASSWORD


def _events(n: int, *, at: datetime.datetime | None = None) -> list[AuditRecord]:
    made = []
    for i in range(n):
        item = security_event(action=AuditRecord.Action.DOWNLOAD, object_type="request", object_id=str(i),
                              object_repr=f"GET /file/{i}")  # fmt: skip
        made.append(item)
    if at is not None:  # back-date them: rebuild the chain the way it was written then
        _rewrite(made, at)
    return made


def _rewrite(records, at):
    """Test helper: store records as if written at `at` (drops and restores the UPDATE trigger)."""
    with connection.cursor() as cursor:
        _drop_update_trigger(cursor)
        prev = chain.GENESIS
        for r in AuditRecord.objects.order_by("id"):
            if r.pk in {x.pk for x in records}:
                r.at = at
            cursor.execute("UPDATE audit_auditrecord SET at = %s, prev_hash = %s, hash = %s WHERE id = %s",
                           [r.at, prev, chain.content_hash(r, prev), r.pk])  # fmt: skip
            prev = chain.content_hash(r, prev)


def _drop_update_trigger(cursor):
    if connection.vendor == "postgresql":
        cursor.execute("ALTER TABLE audit_auditrecord DISABLE TRIGGER audit_record_no_update")
    else:
        cursor.execute("DROP TRIGGER IF EXISTS audit_record_no_update")


def test_records_are_chained_and_verify(world):
    record(actor=world.dispatcher, action=AuditRecord.Action.UPDATE, obj=world.project_a,
           before={"name": "甲"}, after={"name": "乙"})  # fmt: skip
    _events(3)
    rows = list(AuditRecord.objects.order_by("id"))
    assert rows[0].prev_hash == chain.GENESIS
    assert all(b.prev_hash == a.hash for a, b in zip(rows, rows[1:], strict=False))
    result = chain.verify()
    assert result.ok and result.checked == len(rows)
    call_command("verify_audit")


def test_bulk_created_records_are_chained(world):
    before = AuditRecord.objects.count()
    AuditRecord.objects.bulk_create(
        AuditRecord(channel="command", object_type="x", object_id=str(i), object_repr="x", action="create")
        for i in range(5)
    )  # fmt: skip
    assert AuditRecord.objects.count() == before + 5
    assert chain.verify().ok


def test_a_changed_record_is_found(world):
    made = _events(4)
    with connection.cursor() as cursor:
        _drop_update_trigger(cursor)
        cursor.execute("UPDATE audit_auditrecord SET object_repr = 'GET /other' WHERE id = %s", [made[2].pk])
    result = chain.verify()
    assert result.first_broken_id == made[2].pk and "被修改" in result.problem
    with pytest.raises(CommandError, match=str(made[2].pk)):
        call_command("verify_audit")


@pytest.mark.skipif(connection.vendor != "sqlite", reason="PostgreSQL refuses the DELETE (tested below)")
def test_a_deleted_record_is_found_on_sqlite(world):
    made = _events(4)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_auditrecord WHERE id = %s", [made[1].pk])
    assert chain.verify().first_broken_id == made[2].pk


def test_the_database_refuses_update_and_the_app_refuses_delete(world):
    made = _events(1)[0]
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE audit_auditrecord SET reason = 'x' WHERE id = %s", [made.pk])
    with pytest.raises(PermissionError):
        made.delete()
    with pytest.raises(PermissionError):
        AuditRecord.objects.filter(pk=made.pk).delete()
    with pytest.raises(PermissionError):
        AuditRecord.objects.filter(pk=made.pk).update(reason="x")
    if connection.vendor == "postgresql":
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("DELETE FROM audit_auditrecord WHERE id = %s", [made.pk])
    assert AuditRecord.objects.filter(pk=made.pk, reason=made.reason).exists()


def test_purge_keeps_180_days_and_the_chain_verifiable(world):
    now = timezone.now()
    old = _events(3)
    _rewrite(old, now - datetime.timedelta(days=200))
    recent = _events(2)
    assert chain.verify().ok
    # Asking for 30 days still keeps 180: nothing written 200 days ago survives, nothing newer goes.
    count = chain.purge(days=30, now=now)
    assert count >= 3
    assert not AuditRecord.objects.filter(pk__in=[r.pk for r in old]).exists()
    assert AuditRecord.objects.filter(pk__in=[r.pk for r in recent]).count() == 2
    checkpoint = AuditCheckpoint.objects.get()
    assert checkpoint.purged_through_id >= old[-1].pk and checkpoint.purged_count == count
    assert AuditRecord.objects.filter(action=AuditRecord.Action.PURGE).exists()
    assert chain.verify().ok
    assert chain.purge(now=now) == 0


def test_login_logout_and_failed_login_are_recorded(world, client):
    user = world.dispatcher
    assert client.post("/accounts/login/", {"username": user.username, "password": "wrong"}).status_code == 200
    failed = AuditRecord.objects.filter(action=AuditRecord.Action.LOGIN_FAILED).latest("id")
    assert failed.actor_name == user.username
    client.post("/accounts/login/", {"username": user.username, "password": PASSWORD})
    assert AuditRecord.objects.filter(action=AuditRecord.Action.LOGIN, actor=user).exists()
    client.post("/accounts/logout/")
    assert AuditRecord.objects.filter(action=AuditRecord.Action.LOGOUT, actor=user).exists()
    assert chain.verify().ok


def test_refused_requests_and_exports_are_recorded(world, client):
    client.force_login(world.sysadmin)  # 三员: no business data
    assert client.get("/projects/").status_code == 403
    denied = AuditRecord.objects.filter(action=AuditRecord.Action.DENIED).latest("id")
    assert denied.actor == world.sysadmin and denied.object_repr == "GET /projects/"
    client.force_login(world.dispatcher)
    response = client.get("/projects/export.xlsx")
    assert response.status_code == 200
    b"".join(response.streaming_content)
    export = AuditRecord.objects.filter(action=AuditRecord.Action.EXPORT).latest("id")
    assert export.actor == world.dispatcher and "/projects/export.xlsx" in export.object_repr
