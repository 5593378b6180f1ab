"""Admin for the security policy (安全管理员 only, see `admin_site`)."""

from django.contrib import admin

from keyprojects.audit.admin import AuditedAdmin
from keyprojects.security.models import SecurityPolicy


@admin.register(SecurityPolicy)
class SecurityPolicyAdmin(AuditedAdmin):
    list_display = ["__str__", "min_length", "min_classes", "history", "max_age_days", "lockout_failures",
                    "lockout_minutes", "idle_minutes", "absolute_hours", "require_2fa_for_admins"]  # fmt: skip

    def has_add_permission(self, request):
        return not SecurityPolicy.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False
