"""Admin for the project library's configuration (projects themselves are edited on the pages)."""

from django.contrib import admin

from keyprojects.audit.admin import AuditedAdmin
from keyprojects.projects.models import ApprovalTemplateItem, FinancingModel, Industry, Phase, SizeBand


@admin.register(Industry, FinancingModel)
class OrderedListAdmin(AuditedAdmin):
    list_display = ["name", "position"]
    list_editable = ["position"]


@admin.register(SizeBand)
class SizeBandAdmin(AuditedAdmin):
    list_display = ["name", "min_investment"]


@admin.register(Phase)
class PhaseAdmin(AuditedAdmin):
    list_display = ["number", "name", "held_on"]


@admin.register(ApprovalTemplateItem)
class ApprovalTemplateItemAdmin(AuditedAdmin):
    list_display = ["project_type", "position", "name", "department"]
    list_filter = ["project_type"]
    list_editable = ["position", "department"]
