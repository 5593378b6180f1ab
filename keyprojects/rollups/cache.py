"""Cached roll-ups that are never stale: figures keyed by the version of the data behind them.

A roll-up (the completion table, the problem figures, the cockpit) is an aggregate over tens of
thousands of rows; computing it on every page load costs hundreds of milliseconds at provincial scale.
`cached()` keeps the result in Django's cache (Redis when `REDIS_URL` is set, so every app server
shares it) under a key made of:

- the roll-up's name and arguments (a queryset argument by its SQL, see `queryset_key`), and
- the current token of each data topic it reads (`DataVersion`, one small query per call).

Every saved or deleted row of a watched model (`watch()`, connected in each app's `ready()`) replaces
its topics' tokens when its transaction commits (`bump()`); bulk writers (`bulk_create`, `update()`,
the Excel import, the demo loader) call `bump()` themselves. So the next load after a change misses
the cache and recomputes: a new confirmed report shows up on the next page load.

Why the token is replaced on commit, not inside the transaction: an UPDATE inside the transaction
would hold the topic's row lock until commit, serialising every writer on PostgreSQL (and risking
deadlocks between topics). Until the commit, the writing connection itself bypasses the cache
(`_pending_topics`), so it always sees its own changes; other connections cannot see them yet anyway.

Figures that depend on the date (overdue counts) take the date as one of their arguments.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

from django.core.cache import cache
from django.core.exceptions import EmptyResultSet
from django.db import connection, transaction
from django.db.models import Model, QuerySet
from django.db.models.signals import m2m_changed, post_delete, post_save

from keyprojects.rollups.models import DataVersion

T = TypeVar("T")
TOPICS = ("projects", "progress", "problems", "funding")
# A safety net only: entries are superseded by a new token long before this.
TIMEOUT = 6 * 3600
_MISSING = object()
# Inside `deferred_bumps()`: the topics to bump once at the end instead of on every row.
_deferred: ContextVar[set[str] | None] = ContextVar("rollups_deferred", default=None)


class _Bump:
    """An on-commit callback that replaces the tokens of `topics` (recognisable in the pending list)."""

    def __init__(self, topics: frozenset[str]):
        self.topics = topics

    def __call__(self) -> None:
        _replace_tokens(self.topics)


def _replace_tokens(topics: Iterable[str]) -> None:
    for topic in sorted(topics):
        token = uuid.uuid4().hex
        if not DataVersion.objects.filter(topic=topic).update(token=token):
            DataVersion.objects.update_or_create(topic=topic, defaults={"token": token})


def _pending_topics() -> set[str]:
    """Topics this connection has changed in its open transaction (bumped when it commits)."""
    pending: set[str] = set()
    for _sids, func, _robust in connection.run_on_commit:
        if isinstance(func, _Bump):
            pending |= func.topics
    return pending


def bump(*topics: str) -> None:
    """Mark `topics` as changed: cached figures that read them are recomputed after the commit."""
    unknown = set(topics) - set(TOPICS)
    if unknown:
        raise ValueError(f"unknown topics {sorted(unknown)}; use {TOPICS}")
    deferred = _deferred.get()
    if deferred is not None:
        deferred.update(topics)
        return
    wanted = frozenset(topics)
    if connection.in_atomic_block and wanted <= _pending_topics():
        return  # already bumped when this transaction commits
    transaction.on_commit(_Bump(wanted))


@contextmanager
def deferred_bumps():
    """Collect bumps of a bulk operation and make them once at the end (or not at all on error)."""
    outer = _deferred.get()
    collected: set[str] = set()
    reset = _deferred.set(collected)
    try:
        yield
    finally:
        _deferred.reset(reset)
    if collected:
        if outer is not None:
            outer.update(collected)
        else:
            bump(*collected)


def watch(model: type[Model], *topics: str, ignore_fields: Iterable[str] = ()) -> None:
    """Bump `topics` whenever a row of `model` is saved or deleted (or its many-to-many links change).

    `ignore_fields`: saves that touch only these fields (`save(update_fields=…)`) change no figure,
    e.g. a user's `last_login`.
    """
    ignored = frozenset(ignore_fields)
    uid = f"rollups:{model._meta.label}:{','.join(topics)}"

    def on_save(sender, instance, update_fields=None, raw=False, **kwargs):
        if raw or (update_fields and ignored and set(update_fields) <= ignored):
            return
        bump(*topics)

    def on_change(sender, **kwargs):
        bump(*topics)

    post_save.connect(on_save, sender=model, dispatch_uid=uid + ":save", weak=False)
    post_delete.connect(on_change, sender=model, dispatch_uid=uid + ":delete", weak=False)
    for field in model._meta.local_many_to_many:
        m2m_changed.connect(on_change, sender=field.remote_field.through, dispatch_uid=uid + ":" + field.name,
                            weak=False)  # fmt: skip


def versions(topics: Iterable[str]) -> tuple[tuple[str, str], ...]:
    """The current token of each topic (one query)."""
    topics = sorted(set(topics))
    found = dict(DataVersion.objects.filter(topic__in=topics).values_list("topic", "token"))
    return tuple((topic, found.get(topic, "0")) for topic in topics)


def queryset_key(queryset: QuerySet) -> str:
    """A queryset's identity for a cache key: its SQL with parameters (so filters and scopes differ)."""
    try:
        sql, params = queryset.query.sql_with_params()
    except EmptyResultSet:
        return "empty"
    return f"{queryset.model._meta.label}:{sql}:{params!r}"


def cached(name: str, topics: Iterable[str], parts: Any, compute: Callable[[], T], timeout: int = TIMEOUT) -> T:
    """`compute()`'s result, from the cache when none of `topics` has changed since it was stored.

    `parts` must identify the arguments completely (use `queryset_key` for querysets); it is hashed.
    """
    topics = tuple(topics)
    if set(topics) & _pending_topics():
        return compute()  # this transaction changed the data: its own view, never cached
    digest = hashlib.sha256(repr((versions(topics), parts)).encode()).hexdigest()
    key = f"rollup:{name}:{digest}"
    value = cache.get(key, _MISSING)
    if value is _MISSING:
        value = compute()
        cache.set(key, value, timeout)
    return value
