"""The triggers that keep `InvestmentSeries` equal to the counted reports, (re)installed after every
migrate (`keyprojects.lib.triggers`; SQLite drops a table's triggers when a migration rebuilds it).

A report counts while its status is in `COUNTED_STATUSES`. Each trigger takes the old row's
investment out of its (project, year) series when the old row counted, and adds the new row's when the
new row counts: submission, return, restatement, deletion and a bulk load are all the same two steps.
The additions are upserts, so the first counted report of a project's year creates its row.

On SQLite the amounts are floating point, as every SUM of a decimal column there is; Django rounds the
summed figures to the field's two decimals when it reads them.
"""

from __future__ import annotations

from keyprojects.lib.triggers import install, reinstall_after_migrate
from keyprojects.progress.models import COUNTED_STATUSES, MONTH_COLUMNS

REPORTS = "progress_monthlyreport"
SERIES = "progress_investmentseries"
COUNTED = ", ".join(f"'{status}'" for status in COUNTED_STATUSES)
COLUMNS = ", ".join(MONTH_COLUMNS)


def _in_month(m: int, row: str = "") -> str:
    """The (row's) investment if its month is `m`, else 0: one month column's share of a report."""
    at = f"{row}." if row else ""
    return f"CASE WHEN {at}month = {m} THEN COALESCE({at}investment, 0) ELSE 0 END"


def _amounts(row: str) -> str:
    """The row's investment in its month's column and 0 in the others, in `MONTH_COLUMNS` order."""
    return ", ".join(_in_month(m, row) for m in range(1, 13))


def _take_out(row: str) -> str:
    """UPDATE subtracting a counted row's investment from its series (no row: nothing counted yet)."""
    minus = ", ".join(f"{col} = {col} - {_in_month(m, row)}" for m, col in enumerate(MONTH_COLUMNS, start=1))
    return f"UPDATE {SERIES} SET {minus} WHERE project_id = {row}.project_id AND year = {row}.year"


def _put_in(row: str, where: str) -> str:
    """Upsert adding the row's investment to its series."""
    plus = ", ".join(f"{col} = {SERIES}.{col} + excluded.{col}" for col in MONTH_COLUMNS)
    # The WHERE clause also settles SQLite's parsing of INSERT … SELECT … ON CONFLICT.
    return (
        f"INSERT INTO {SERIES} (project_id, year, {COLUMNS}) SELECT {row}.project_id, {row}.year, {_amounts(row)} "
        f"WHERE {where} ON CONFLICT (project_id, year) DO UPDATE SET {plus}"
    )


SQLITE = [
    "DROP TRIGGER IF EXISTS report_series_insert",
    "DROP TRIGGER IF EXISTS report_series_update",
    "DROP TRIGGER IF EXISTS report_series_delete",
    f"""CREATE TRIGGER report_series_insert AFTER INSERT ON {REPORTS}
       WHEN NEW.status IN ({COUNTED})
       BEGIN {_put_in("NEW", "1")}; END""",
    f"""CREATE TRIGGER report_series_update AFTER UPDATE OF status, investment, project_id, year, month ON {REPORTS}
       WHEN OLD.status IN ({COUNTED}) OR NEW.status IN ({COUNTED})
       BEGIN
         {_take_out("OLD")} AND OLD.status IN ({COUNTED});
         {_put_in("NEW", f"NEW.status IN ({COUNTED})")};
       END""",
    f"""CREATE TRIGGER report_series_delete AFTER DELETE ON {REPORTS}
       WHEN OLD.status IN ({COUNTED})
       BEGIN {_take_out("OLD")}; END""",
]

POSTGRESQL = [
    f"""CREATE OR REPLACE FUNCTION report_series_keep() RETURNS trigger AS $$
       BEGIN
         IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.status IN ({COUNTED}) THEN
           {_take_out("OLD")};
         END IF;
         IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.status IN ({COUNTED}) THEN
           {_put_in("NEW", "TRUE")};
         END IF;
         RETURN NULL;
       END; $$ LANGUAGE plpgsql""",
    f"DROP TRIGGER IF EXISTS report_series_keep ON {REPORTS}",
    f"""CREATE TRIGGER report_series_keep
       AFTER INSERT OR DELETE OR UPDATE OF status, investment, project_id, year, month ON {REPORTS}
       FOR EACH ROW EXECUTE FUNCTION report_series_keep()""",
]

# Fill the series from the reports as they are (the migration that creates the table).
REBUILD = [
    f"DELETE FROM {SERIES}",
    f"""INSERT INTO {SERIES} (project_id, year, {COLUMNS})
        SELECT project_id, year, {", ".join(f"SUM({_in_month(m)})" for m in range(1, 13))}
        FROM {REPORTS} WHERE status IN ({COUNTED}) GROUP BY project_id, year""",
]


def ensure_triggers(connection) -> None:
    """Install (or reinstall) the triggers on `connection`'s database; nothing before both tables exist."""
    install(connection, {"sqlite": SQLITE, "postgresql": POSTGRESQL}, [REPORTS, SERIES])


def rebuild(connection) -> None:
    """Recompute every series from the reports."""
    with connection.cursor() as cursor:
        for sql in REBUILD:
            cursor.execute(sql)


on_post_migrate = reinstall_after_migrate(ensure_triggers)
