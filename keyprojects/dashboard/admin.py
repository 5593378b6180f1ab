"""Admin: the map's district outlines (audited). The cockpit itself has no configuration."""

from __future__ import annotations

from django.contrib import admin

from keyprojects.audit.admin import AuditedAdmin
from keyprojects.dashboard.geo import parse_outline
from keyprojects.dashboard.models import MapOutline


@admin.register(MapOutline)
class MapOutlineAdmin(AuditedAdmin):
    list_display = ["name", "is_active", "feature_count", "uploaded_by", "uploaded_at"]
    readonly_fields = ["feature_count", "uploaded_by", "uploaded_at"]
    fields = ["name", "file", "is_active", "feature_count", "uploaded_by", "uploaded_at"]

    def save_model(self, request, obj, form, change):
        if "file" in form.changed_data or not change:
            obj.uploaded_by = request.user
            f = form.cleaned_data["file"]
            f.seek(0)
            obj.feature_count = len(parse_outline(f.read())["features"])
            f.seek(0)
        super().save_model(request, obj, form, change)
