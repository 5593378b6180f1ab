"""Database triggers that must survive migrations (append-only audit records, immutable issued bulletins).

A SQLite migration that alters a table rebuilds it and drops its triggers, so an app does not leave its
triggers to the migration that first created them: it lists the statements per database vendor and
reinstalls them on every post_migrate (`reinstall_after_migrate`). The statements drop and create, so
installing twice is harmless.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable


def install(connection, statements: dict[str, list[str]], tables: Iterable[str]) -> None:
    """Run the vendor's statements on `connection`, once every table in `tables` exists."""
    sqls = statements.get(connection.vendor, [])
    existing = set(connection.introspection.table_names())
    if not sqls or not set(tables) <= existing:
        return
    with connection.cursor() as cursor:
        for sql in sqls:
            cursor.execute(sql)


def reinstall_after_migrate(ensure: Callable) -> Callable:
    """A post_migrate receiver calling `ensure(connection)` on the database just migrated."""

    def receiver(sender, using="default", **kwargs) -> None:
        from django.db import connections

        ensure(connections[using])

    return receiver
