"""The database-level guards of the audit trail, (re)installed after every migrate.

SQLite drops a table's triggers when a migration rebuilds the table (any AlterField), so the guards
are not left to the migration that first created them: `ensure_guards` runs on every post_migrate.
"""

from __future__ import annotations

from keyprojects.lib.triggers import install, reinstall_after_migrate

SQLITE = [
    "DROP TRIGGER IF EXISTS audit_record_no_update",
    """CREATE TRIGGER audit_record_no_update BEFORE UPDATE ON audit_auditrecord
       BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END""",
]
POSTGRESQL = [
    """CREATE OR REPLACE FUNCTION audit_record_refuse_update() RETURNS trigger AS $$
       BEGIN RAISE EXCEPTION 'audit records are append-only'; END; $$ LANGUAGE plpgsql""",
    "DROP TRIGGER IF EXISTS audit_record_no_update ON audit_auditrecord",
    """CREATE TRIGGER audit_record_no_update BEFORE UPDATE ON audit_auditrecord
       FOR EACH ROW EXECUTE FUNCTION audit_record_refuse_update()""",
    # DELETE only inside the retention purge, which holds a permit row in its transaction. TRUNCATE
    # (test-database flushes only) fires no DELETE trigger.
    """CREATE OR REPLACE FUNCTION audit_record_refuse_delete() RETURNS trigger AS $$
       BEGIN
         IF NOT EXISTS (SELECT 1 FROM audit_auditpurgepermit) THEN
           RAISE EXCEPTION 'audit records are append-only';
         END IF;
         RETURN OLD;
       END; $$ LANGUAGE plpgsql""",
    "DROP TRIGGER IF EXISTS audit_record_no_delete ON audit_auditrecord",
    """CREATE TRIGGER audit_record_no_delete BEFORE DELETE ON audit_auditrecord
       FOR EACH ROW EXECUTE FUNCTION audit_record_refuse_delete()""",
]


def ensure_guards(connection) -> None:
    install(connection, {"sqlite": SQLITE, "postgresql": POSTGRESQL}, ["audit_auditrecord", "audit_auditpurgepermit"])


on_post_migrate = reinstall_after_migrate(ensure_guards)
