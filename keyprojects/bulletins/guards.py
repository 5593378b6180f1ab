"""The database-level guard of issued bulletins, (re)installed after every migrate.

An issued bulletin never changes (`Bulletin.save` refuses); the trigger also stops a bulk `update()`
or raw SQL. Migration 0002 first installed it, but SQLite drops a table's triggers when a later
migration rebuilds the table (any AlterField / AddField with a default: create a new table, copy,
drop the old one, rename), so, like the audit trail's guards (`keyprojects.audit.guards`), the trigger
is not left to that migration: `ensure_guards` runs on every post_migrate. Dropping and creating it
again makes the installation idempotent and replaces an older definition.

Only UPDATE is refused by the database. Deletion of an issued bulletin is refused by the model
(`Bulletin.delete`); a DELETE trigger would stop the test database's flush on SQLite (PostgreSQL
truncates, which fires no DELETE trigger, but both back ends keep the same rule).
"""

from __future__ import annotations

from keyprojects.lib.triggers import install, reinstall_after_migrate

TABLE = "bulletins_bulletin"
TRIGGER = "bulletin_issued_no_update"

SQLITE = [
    f"DROP TRIGGER IF EXISTS {TRIGGER}",
    f"""CREATE TRIGGER {TRIGGER} BEFORE UPDATE ON {TABLE}
       WHEN OLD.status = 'issued'
       BEGIN SELECT RAISE(ABORT, 'issued bulletins are immutable'); END""",
]
POSTGRESQL = [
    """CREATE OR REPLACE FUNCTION bulletin_refuse_issued_update() RETURNS trigger AS $$
       BEGIN
         IF OLD.status = 'issued' THEN RAISE EXCEPTION 'issued bulletins are immutable'; END IF;
         RETURN NEW;
       END; $$ LANGUAGE plpgsql""",
    f"DROP TRIGGER IF EXISTS {TRIGGER} ON {TABLE}",
    f"""CREATE TRIGGER {TRIGGER} BEFORE UPDATE ON {TABLE}
       FOR EACH ROW EXECUTE FUNCTION bulletin_refuse_issued_update()""",
]


def ensure_guards(connection) -> None:
    """Install (or reinstall) the trigger on `connection`'s database; nothing before the table exists."""
    install(connection, {"sqlite": SQLITE, "postgresql": POSTGRESQL}, [TABLE])


on_post_migrate = reinstall_after_migrate(ensure_guards)
