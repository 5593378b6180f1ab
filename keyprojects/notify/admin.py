"""Admin: notification preferences (audited) and a read-only view of sent notifications."""

from __future__ import annotations

from django.contrib import admin

from keyprojects.audit.admin import AuditedAdmin
from keyprojects.notify.models import Notification, NotificationPreference


@admin.register(NotificationPreference)
class NotificationPreferenceAdmin(AuditedAdmin):
    list_display = ["user", "email_enabled", "webhook_enabled"]
    list_filter = ["email_enabled", "webhook_enabled"]
    search_fields = ["user__username", "user__full_name"]
    autocomplete_fields = ["user"]


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["created_at", "recipient", "channel", "title", "status", "attempts", "read_at", "delivered_at"]
    list_filter = ["channel", "status"]
    search_fields = ["title", "recipient__username", "source_key"]
    list_select_related = ["recipient"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
