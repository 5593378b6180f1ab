"""Admin: the schedule of review events and the letterhead (audited); documents are read-only here."""

from django.contrib import admin

from keyprojects.audit.admin import AuditedAdmin
from keyprojects.bulletins import schedule
from keyprojects.bulletins.models import Bulletin, BulletinSettings, ReviewEvent


@admin.register(ReviewEvent)
class ReviewEventAdmin(AuditedAdmin):
    list_display = ["kind", "title", "enabled", "weekday", "month", "day", "hour", "next_due_at"]
    list_editable = ["enabled"]
    readonly_fields = ["next_due_at"]

    def save_model(self, request, obj, form, change):
        # A changed rule takes effect from now: the next due moment is recomputed.
        from django.utils import timezone

        obj.next_due_at = schedule.next_due_at(obj, timezone.now()) if obj.enabled else None
        super().save_model(request, obj, form, change)


@admin.register(BulletinSettings)
class BulletinSettingsAdmin(AuditedAdmin):
    list_display = ["issuing_body", "number_prefix", "updated_at"]

    def has_add_permission(self, request):
        return not BulletinSettings.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Bulletin)
class BulletinAdmin(admin.ModelAdmin):
    list_display = ["title", "kind", "as_of", "status", "document_number", "issued_at"]
    list_filter = ["kind", "status"]
    date_hierarchy = "as_of"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
