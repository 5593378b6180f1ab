"""Admin for regions, units and accounts (used by the 系统管理员)."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.forms.models import BaseInlineFormSet
from django.utils.translation import gettext_lazy as _

from keyprojects.audit.admin import AuditedAdmin
from keyprojects.audit.models import AuditRecord
from keyprojects.audit.trail import record
from keyprojects.org.models import Region, Unit, User, UserRole, validate_role_set


@admin.register(Region)
class RegionAdmin(AuditedAdmin):
    list_display = ["code", "name", "level", "parent"]
    list_filter = ["level"]
    search_fields = ["code", "name"]


@admin.register(Unit)
class UnitAdmin(AuditedAdmin):
    list_display = ["name", "short_name", "kind", "parent", "is_active"]
    list_filter = ["kind", "is_active"]
    search_fields = ["name", "short_name", "credit_code"]


class RoleFormSet(BaseInlineFormSet):
    def clean(self):
        super().clean()
        roles = {
            form.cleaned_data["role"]
            for form in self.forms
            if form.cleaned_data and not form.cleaned_data.get("DELETE") and form.cleaned_data.get("role")
        }
        validate_role_set(roles)


class RoleInline(admin.TabularInline):
    model = UserRole
    formset = RoleFormSet
    extra = 1


@admin.register(User)
class UserAdmin(BaseUserAdmin, AuditedAdmin):
    inlines = [RoleInline]
    list_display = ["username", "full_name", "unit", "is_active", "is_demo"]
    list_filter = ["is_active", "is_demo", "roles__role"]
    search_fields = ["username", "full_name"]
    fieldsets = [
        (None, {"fields": ["username", "password"]}),
        (_("个人信息"), {"fields": ["full_name", "unit", "title", "phone", "email"]}),
        (_("权限"), {"fields": ["data_scope", "is_active", "is_staff", "groups", "user_permissions"]}),
    ]

    def save_related(self, request, form, formsets, change):
        before = sorted(form.instance.roles.values_list("role", flat=True)) if change else []
        super().save_related(request, form, formsets, change)
        after = sorted(form.instance.roles.values_list("role", flat=True))
        if before != after:
            record(actor=request.user, action=AuditRecord.Action.UPDATE, obj=form.instance,
                   before={"roles": before}, after={"roles": after})  # fmt: skip
