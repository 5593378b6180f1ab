"""Admin: the service-officer roles are configuration (audited); the records are read-only here.

Visits, meetings, instructions, pairings and logs change only through `keyprojects.visits.domain`
(pages and API), so that problems and tasks, the clock and the audit trail stay consistent.
"""

from __future__ import annotations

from django.contrib import admin

from keyprojects.audit.admin import AuditedAdmin
from keyprojects.visits.models import (
    Instruction,
    Meeting,
    OfficerPairing,
    OfficerVisit,
    PolicyPush,
    ServiceRole,
    SiteVisit,
)


@admin.register(ServiceRole)
class ServiceRoleAdmin(AuditedAdmin):
    list_display = ["name", "position", "is_active", "description"]
    list_editable = ["position", "is_active"]
    ordering = ["position", "id"]

    def has_delete_permission(self, request, obj=None):
        return False  # a role held on pairings is deactivated, never deleted


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(SiteVisit)
class SiteVisitAdmin(ReadOnlyAdmin):
    list_display = ["visited_on", "place", "created_by"]
    date_hierarchy = "visited_on"
    search_fields = ["place", "summary"]


@admin.register(Meeting)
class MeetingAdmin(ReadOnlyAdmin):
    list_display = ["held_on", "title", "kind", "chair"]
    list_filter = ["kind"]
    date_hierarchy = "held_on"


@admin.register(Instruction)
class InstructionAdmin(ReadOnlyAdmin):
    list_display = ["given_on", "leader", "kind", "lead_unit", "due_on"]
    list_filter = ["kind"]
    date_hierarchy = "given_on"


@admin.register(OfficerPairing)
class OfficerPairingAdmin(ReadOnlyAdmin):
    list_display = ["officer", "project", "started_on", "ended_on"]
    list_select_related = ["officer", "project"]
    search_fields = ["officer__full_name", "project__name"]


@admin.register(OfficerVisit)
class OfficerVisitAdmin(ReadOnlyAdmin):
    list_display = ["visited_on", "officer", "project", "kind"]
    list_filter = ["kind"]
    list_select_related = ["officer", "project"]
    date_hierarchy = "visited_on"


@admin.register(PolicyPush)
class PolicyPushAdmin(ReadOnlyAdmin):
    list_display = ["pushed_on", "officer", "project", "title"]
    list_select_related = ["officer", "project"]
