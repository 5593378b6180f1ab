"""Admin: the fund types and the funding settings are configuration (audited).

Funding lines, measures and the registries change through `keyprojects.funding.domain` (pages and API)
so that the pipeline rules and the audit trail hold; they are business data, not shown to the 三员.
"""

from __future__ import annotations

from django.contrib import admin

from keyprojects.audit.admin import AuditedAdmin
from keyprojects.funding.models import FundingSettings, FundType


@admin.register(FundType)
class FundTypeAdmin(AuditedAdmin):
    list_display = ["name", "short_name", "has_issuance", "government", "position", "is_active"]
    list_editable = ["position", "is_active"]

    def has_delete_permission(self, request, obj=None):
        return False  # a type used by lines is deactivated, never deleted


@admin.register(FundingSettings)
class FundingSettingsAdmin(AuditedAdmin):
    list_display = ["__str__", "idle_days", "no_investment_days", "land_to_start_target", "updated_at"]

    def has_add_permission(self, request):
        return not FundingSettings.objects.filter(pk=1).exists()

    def has_delete_permission(self, request, obj=None):
        return False
