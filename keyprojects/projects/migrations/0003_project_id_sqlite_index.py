"""An index on projects_project(id) for SQLite only: deep pages of the project list.

A list page (and the API's offset window) first reads the ids of its window in "-id" order
(`lib.pagination.window`). In a SQLite rowid table that order is the table itself, so skipping 40,000
rows reads 40,000 whole rows (10 ms at 50,000 projects); this narrow index holds the ids alone and the
same skip takes 0.5 ms. PostgreSQL already scans its primary-key index, so nothing is created there.
Not declared on the model: it is a physical detail of one database engine.
"""

from django.db import migrations

NAME = "project_id_sqlite_idx"


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {NAME} ON projects_project (id)")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute(f"DROP INDEX IF EXISTS {NAME}")


class Migration(migrations.Migration):
    dependencies = [("projects", "0002_default_configuration")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
