"""Admin: configuration changes made in the admin are audited; audit records are read-only."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from keyprojects.audit.models import AuditRecord
from keyprojects.audit.trail import record, snapshot


class AuditedAdmin(admin.ModelAdmin):
    """A ModelAdmin whose saves and deletes write the audit trail like every other path."""

    def save_model(self, request, obj, form, change):
        before = snapshot(type(obj).objects.get(pk=obj.pk)) if change and obj.pk else None
        super().save_model(request, obj, form, change)
        action = AuditRecord.Action.UPDATE if change else AuditRecord.Action.CREATE
        record(actor=request.user, action=action, obj=obj, before=before, after=snapshot(obj))

    def delete_model(self, request, obj):
        record(actor=request.user, action=AuditRecord.Action.DELETE, obj=obj, before=snapshot(obj))
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)


def _cell(value):
    """Text that a spreadsheet would read as a formula is written as text; JSON and times as text."""
    if value is None:
        return ""
    if not isinstance(value, (int, float)):
        value = value.isoformat() if hasattr(value, "isoformat") else str(value)
        if value[:1] in ("=", "+", "-", "@"):
            value = "'" + value
    return value


@admin.register(AuditRecord)
class AuditRecordAdmin(admin.ModelAdmin):
    list_display = ["at", "actor_name", "actor_unit", "channel", "action", "object_type", "object_repr"]
    list_filter = ["channel", "action", "object_type"]
    search_fields = ["actor_name", "object_repr", "request_id"]
    date_hierarchy = "at"
    actions = ["export_xlsx"]

    def has_add_permission(self, request):
        return False

    @admin.action(description=_("导出所选审计记录（Excel）"))
    def export_xlsx(self, request, queryset):
        """The 审计管理员's export: the selected records with their chain hashes (the export is itself audited)."""
        import tempfile

        from django.http import FileResponse
        from openpyxl import Workbook

        columns = ["id", "at", "actor_name", "actor_unit", "channel", "request_id", "action", "object_type",
                   "object_id", "object_repr", "before", "after", "reason", "prev_hash", "hash"]  # fmt: skip
        book = Workbook(write_only=True)
        sheet = book.create_sheet("审计记录")
        sheet.append(columns)
        for row in queryset.order_by("id").values_list(*columns).iterator(chunk_size=2000):
            sheet.append([_cell(v) for v in row])
        handle = tempfile.TemporaryFile()  # noqa: SIM115 - FileResponse closes (and so deletes) it when sent
        book.save(handle)
        handle.seek(0)
        xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        return FileResponse(handle, as_attachment=True, filename="audit-records.xlsx", content_type=xlsx)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
