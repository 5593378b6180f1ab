"""Admin: the monthly-report settings only (audited).

Reports, plans, locks and restatements are business data: they change only through
`keyprojects.progress.domain` and are shown on the pages, never in the admin, which the 三员
(system, security and audit administrators) use and who see no business data.
"""

from __future__ import annotations

from django.contrib import admin

from keyprojects.audit.admin import AuditedAdmin
from keyprojects.progress.models import ProgressSettings


@admin.register(ProgressSettings)
class ProgressSettingsAdmin(AuditedAdmin):
    list_display = ["__str__", "due_day", "spike_factor", "repeat_months", "photo_max_bytes", "updated_at"]
    fieldsets = [
        (None, {"fields": ["due_day"]}),
        ("异常提示（软规则）", {"fields": ["spike_factor", "spike_window", "spike_min_history",
                                        "spike_share_percent", "repeat_months"]}),
        ("照片", {"fields": ["photo_max_bytes", "photo_max_pixels", "photos_per_report"]}),
    ]  # fmt: skip

    def has_add_permission(self, request):
        return not ProgressSettings.objects.filter(pk=1).exists()

    def has_delete_permission(self, request, obj=None):
        return False
