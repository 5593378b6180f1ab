"""Refuse UPDATE of an issued bulletin at the database level too, on SQLite and on PostgreSQL.

The model already refuses (`Bulletin.save`); the trigger also stops a bulk `update()` or raw SQL.
Deletion is refused by the model only (a test database flush must still be able to empty the table).
"""

from django.db import migrations

SQLITE_UP = """
CREATE TRIGGER bulletin_issued_no_update BEFORE UPDATE ON bulletins_bulletin
WHEN OLD.status = 'issued'
BEGIN SELECT RAISE(ABORT, 'issued bulletins are immutable'); END;
"""
SQLITE_DOWN = "DROP TRIGGER IF EXISTS bulletin_issued_no_update;"
PG_UP = """
CREATE OR REPLACE FUNCTION bulletin_refuse_issued_update() RETURNS trigger AS $$
BEGIN
  IF OLD.status = 'issued' THEN RAISE EXCEPTION 'issued bulletins are immutable'; END IF;
  RETURN NEW;
END; $$ LANGUAGE plpgsql;
CREATE TRIGGER bulletin_issued_no_update BEFORE UPDATE ON bulletins_bulletin
FOR EACH ROW EXECUTE FUNCTION bulletin_refuse_issued_update();
"""
PG_DOWN = """
DROP TRIGGER IF EXISTS bulletin_issued_no_update ON bulletins_bulletin;
DROP FUNCTION IF EXISTS bulletin_refuse_issued_update();
"""


def forwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        schema_editor.execute(SQLITE_UP)
    elif vendor == "postgresql":
        schema_editor.execute(PG_UP)


def backwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        schema_editor.execute(SQLITE_DOWN)
    elif vendor == "postgresql":
        schema_editor.execute(PG_DOWN)


class Migration(migrations.Migration):
    dependencies = [("bulletins", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
