"""The hash chain over audit records, its verification and the retention purge.

Each record's `hash` is SHA-256 over its previous record's hash and a canonical JSON of its own
content; `prev_hash` repeats the previous hash. Records are chained in id order, one writer at a
time: on PostgreSQL a transaction-scoped advisory lock serialises the "read the last hash, insert"
step (held to the end of the writing transaction, so ids and chain order agree); on SQLite every write
transaction is already exclusive (BEGIN IMMEDIATE).

`verify()` walks the chain from the latest purge checkpoint (or the genesis value) and reports the
first record whose content or link does not match: a changed, inserted or deleted record.

`purge(days)` deletes records older than the retention period in one transaction and writes a
checkpoint holding the last deleted record's hash, so the remaining chain stays verifiable.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.conf import settings
from django.db import connections, transaction
from django.utils import timezone

GENESIS = "0" * 64
# Any constant: the key of the PostgreSQL advisory lock that serialises chain writers.
ADVISORY_LOCK_KEY = 7_236_114_001
MIN_RETENTION_DAYS = 180
HASHED_FIELDS = (
    "at", "actor_id", "actor_name", "actor_unit", "channel", "request_id", "object_type", "object_id",
    "object_repr", "project_id", "action", "before", "after", "reason",
)  # fmt: skip


def _value(record, name: str):
    value = getattr(record, name)
    if isinstance(value, datetime.datetime):
        return value.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return value


def content_hash(record, prev_hash: str) -> str:
    """The hash of `record` chained to `prev_hash`."""
    content = {name: _value(record, name) for name in HASHED_FIELDS}
    payload = json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
    # surrogatepass: a lone surrogate in some text must not make the record unhashable.
    return hashlib.sha256(f"{prev_hash}\n{payload}".encode("utf-8", "surrogatepass")).hexdigest()


@contextmanager
def locked(using: str = "default") -> Iterator[None]:
    """A transaction in which this connection is the only chain writer until it commits."""
    with transaction.atomic(using=using):
        connection = connections[using]
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ADVISORY_LOCK_KEY])
        yield


def _last_hash(using: str) -> str:
    from keyprojects.audit.models import AuditCheckpoint, AuditRecord

    last = AuditRecord.objects.using(using).order_by("-id").values_list("hash", flat=True).first()
    if last is not None:
        return last
    checkpoint = AuditCheckpoint.objects.using(using).order_by("-purged_through_id").first()
    return checkpoint.last_hash if checkpoint else GENESIS


def link(records: Iterable, *, using: str = "default") -> None:
    """Give new (unsaved) records their place in the chain; call inside `locked()`."""
    prev = _last_hash(using)
    for record in records:
        if record.at is None:
            record.at = timezone.now()
        record.prev_hash = prev
        record.hash = content_hash(record, prev)
        prev = record.hash


@dataclass
class Verification:
    checked: int
    first_broken_id: int | None = None
    problem: str = ""
    start_hash: str = GENESIS

    @property
    def ok(self) -> bool:
        return self.first_broken_id is None


def verify(*, using: str = "default", chunk: int = 2000) -> Verification:
    """Walk the chain in id order and stop at the first broken link."""
    from keyprojects.audit.models import AuditCheckpoint, AuditRecord

    checkpoint = AuditCheckpoint.objects.using(using).order_by("-purged_through_id").first()
    prev = checkpoint.last_hash if checkpoint else GENESIS
    result = Verification(checked=0, start_hash=prev)
    records = AuditRecord.objects.using(using).order_by("id")
    if checkpoint:
        records = records.filter(id__gt=checkpoint.purged_through_id)
    for record in records.iterator(chunk_size=chunk):
        if record.prev_hash != prev:
            result.first_broken_id = record.pk
            result.problem = "前一条记录的哈希不符（记录被删除、插入或前一条被修改）"
            return result
        if content_hash(record, prev) != record.hash:
            result.first_broken_id = record.pk
            result.problem = "记录内容与其哈希不符（记录被修改）"
            return result
        prev = record.hash
        result.checked += 1
    return result


def retention_days() -> int:
    return max(MIN_RETENTION_DAYS, int(getattr(settings, "AUDIT_RETENTION_DAYS", MIN_RETENTION_DAYS)))


def purge(*, days: int | None = None, now: datetime.datetime | None = None, using: str = "default") -> int:
    """Delete records older than the retention period (never less than 180 days); returns how many.

    The deleted records' last hash becomes a checkpoint and the purge itself is recorded, in the same
    transaction, so the remaining chain verifies and the purge is visible in the trail.
    """
    from keyprojects.audit.models import AuditCheckpoint, AuditPurgePermit, AuditRecord
    from keyprojects.audit.trail import record as audit_record
    from keyprojects.lib import context

    days = max(MIN_RETENTION_DAYS, days if days is not None else retention_days())
    cutoff = (now or timezone.now()) - datetime.timedelta(days=days)
    with locked(using):
        old = AuditRecord.objects.using(using).filter(at__lt=cutoff)
        last = old.order_by("-id").values_list("id", "hash").first()
        if last is None:
            return 0
        # Chain order is id order: delete everything up to the last old record, nothing after it.
        doomed = AuditRecord.objects.using(using).filter(id__lte=last[0])
        count = doomed.count()
        permit = AuditPurgePermit.objects.using(using).create()
        doomed._raw_delete(using)
        permit.delete()
        checkpoint = AuditCheckpoint.objects.using(using).create(
            purged_through_id=last[0], last_hash=last[1], purged_count=count, cutoff=cutoff
        )
        with context.bind(channel="command"):
            audit_record(actor=None, action=AuditRecord.Action.PURGE, obj=checkpoint,
                         reason=f"保留期{days}天，清理{cutoff:%Y-%m-%d}之前的{count}条审计记录")  # fmt: skip
    return count
