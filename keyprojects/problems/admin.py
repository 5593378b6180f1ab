"""Admin: the 13710 settings (audited, one row); problems and their history are read-only here.

Problems change only through `keyprojects.problems.domain` (pages, API, worker), never in the admin.
"""

from __future__ import annotations

from django.contrib import admin
from django.shortcuts import redirect
from django.urls import reverse

from keyprojects.audit.admin import AuditedAdmin
from keyprojects.problems.models import Problem, ProblemEvent, ProblemSettings


@admin.register(ProblemSettings)
class ProblemSettingsAdmin(AuditedAdmin):
    fieldsets = [
        (None, {"fields": ["basis", "deploy_days", "feedback_days", "resolve_days_ordinary", "resolve_months_major"]}),
        ("提醒与升级", {"fields": ["warn_before_days", "escalation_enabled", "escalation_period_days",
                                  "principal_leaders"]}),
    ]  # fmt: skip
    filter_horizontal = ["principal_leaders"]

    def has_add_permission(self, request):
        return not ProblemSettings.objects.exists() and super().has_add_permission(request)

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        row = ProblemSettings.objects.first()
        if row is not None:
            return redirect(reverse("admin:problems_problemsettings_change", args=[row.pk]))
        return super().changelist_view(request, extra_context)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class EventInline(admin.TabularInline):
    model = ProblemEvent
    fields = ["at", "kind", "from_status", "to_status", "actor", "level", "text", "processed_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Problem)
class ProblemAdmin(ReadOnlyAdmin):
    list_display = ["id", "title", "project", "status", "lead_unit", "current_due", "escalation_level", "supervised"]
    list_filter = ["status", "severity", "category", "source", "escalation_level", "supervised"]
    search_fields = ["title", "project__name"]
    date_hierarchy = "received_on"
    list_select_related = ["project", "lead_unit"]
    inlines = [EventInline]


@admin.register(ProblemEvent)
class ProblemEventAdmin(ReadOnlyAdmin):
    list_display = ["at", "problem", "kind", "actor", "level", "processed_at"]
    list_filter = ["kind"]
    list_select_related = ["problem", "actor"]
