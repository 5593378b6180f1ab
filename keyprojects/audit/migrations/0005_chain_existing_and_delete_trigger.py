"""Chain the records written before the hash chain existed; install the UPDATE/DELETE guards.

On PostgreSQL triggers refuse UPDATE and DELETE (DELETE only inside the retention purge); on SQLite
a trigger refuses UPDATE and the application guards deletion. See `keyprojects.audit.guards`, which
also re-installs them after every migrate (SQLite loses triggers when a migration rebuilds a table).
"""

from django.db import migrations


def chain_existing(apps, schema_editor):
    from keyprojects.audit.chain import GENESIS, content_hash
    from keyprojects.audit.guards import ensure_guards

    connection = schema_editor.connection
    Record = apps.get_model("audit", "AuditRecord")
    with connection.cursor() as cursor:
        cursor.execute(
            "DROP TRIGGER IF EXISTS audit_record_no_update"
            + (" ON audit_auditrecord" if connection.vendor == "postgresql" else "")
        )
    prev, batch = GENESIS, []
    for record in Record.objects.order_by("id").iterator(chunk_size=2000):
        record.prev_hash = prev
        record.hash = content_hash(record, prev)
        prev = record.hash
        batch.append(record)
        if len(batch) >= 2000:
            Record.objects.bulk_update(batch, ["prev_hash", "hash"])
            batch = []
    if batch:
        Record.objects.bulk_update(batch, ["prev_hash", "hash"])
    ensure_guards(connection)


class Migration(migrations.Migration):
    dependencies = [("audit", "0004_hash_chain")]
    operations = [migrations.RunPython(chain_existing, migrations.RunPython.noop)]
