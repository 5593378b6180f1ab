"""The admin site with 三员分立 enforced for every registered model.

- 系统管理员 (sysadmin): accounts and configuration; never the audit trail, the security policy,
  lockouts, authenticators or role assignments.
- 安全管理员 (secadmin): the security policy, role assignments (the roles of existing accounts; every
  other account field read-only), lockouts and authenticators; cannot create or delete accounts.
- 审计管理员 (auditor): reads and exports the audit trail; nothing else.

The rule is applied when a model is registered (`register`), so an app's own ModelAdmin cannot
forget it; a ModelAdmin that refuses more (the audit trail refuses add and change) still does.
Business users reach the admin only with `is_staff` and Django model permissions, never for the
audit or security models. Superusers are break-glass accounts outside 三员 and are listed by the
`security.W002` deploy warning.
"""

from __future__ import annotations

from django.contrib import admin

from keyprojects.org.models import ADMIN_ROLES, Role

AUDIT_MODELS = {"audit.auditrecord", "audit.auditcheckpoint"}
SECURITY_MODELS = {
    "security.securitypolicy", "security.passwordhistory", "org.userrole", "otp_totp.totpdevice",
    "axes.accessattempt", "axes.accesslog", "axes.accessfailurelog",
}  # fmt: skip
ACCOUNT_MODELS = {"org.user"}
ACTIONS = ("view", "add", "change", "delete")


def role_allows(user, label: str, action: str) -> bool | None:
    """True/False for the 三员 rule, None where Django's own permissions decide (business staff)."""
    if user.is_superuser:
        return True
    roles = user.role_set
    if label in AUDIT_MODELS:
        return Role.AUDITOR in roles and action == "view"
    if Role.AUDITOR in roles:
        return False
    if label in SECURITY_MODELS:
        return Role.SECADMIN in roles
    if label in ACCOUNT_MODELS:
        if Role.SYSADMIN in roles:
            return True
        if Role.SECADMIN in roles:
            return action in ("view", "change")  # roles only: the account's own fields are read-only
        return None
    if Role.SYSADMIN in roles:
        return True
    if Role.SECADMIN in roles:
        return False
    return None


def _guard(model_admin, label: str) -> None:
    """Replace the instance's has_*_permission methods by the 三员 rule AND the class's own refusals."""
    inline = isinstance(model_admin, admin.options.InlineModelAdmin)
    base = admin.options.InlineModelAdmin if inline else admin.ModelAdmin
    for action in ACTIONS:
        name = f"has_{action}_permission"
        original = getattr(model_admin, name)
        overridden = getattr(type(model_admin), name) is not getattr(base, name)

        # ModelAdmin.has_add_permission takes no object; every other one does.
        takes_obj = inline or action != "add"

        def check(request, obj=None, *, _action=action, _original=original, _overridden=overridden, _obj=takes_obj):
            verdict = role_allows(request.user, label, _action)
            if verdict is False:
                return False
            if verdict is None or _overridden:
                return _original(request, obj) if _obj else _original(request)
            return True

        setattr(model_admin, name, check)


class KeyprojectsAdminSite(admin.AdminSite):
    site_header = "重大项目全生命周期监管平台 · 系统管理"
    site_title = "系统管理"
    index_title = "系统管理"

    def has_permission(self, request) -> bool:
        user = request.user
        return user.is_active and (user.is_staff or user.is_superuser or bool(user.role_set & ADMIN_ROLES))

    def register(self, model_or_iterable, admin_class=None, **options):
        super().register(model_or_iterable, admin_class, **options)
        models = [model_or_iterable] if isinstance(model_or_iterable, type) else model_or_iterable
        for model in models:
            model_admin = self._registry.get(model)
            if model_admin is None:  # swapped models (auth.User) are skipped by the base class
                continue
            _guard(model_admin, model._meta.label_lower)
            model_admin.inlines = [_guarded_inline(inline) for inline in model_admin.inlines]
            if model._meta.label_lower in ACCOUNT_MODELS:
                _account_fields_read_only_for_secadmin(model_admin)


def _guarded_inline(inline_class):
    """A subclass of an inline whose instances are guarded as soon as Django creates them, before it
    asks them for permissions (ModelAdmin.get_inline_instances)."""
    label = inline_class.model._meta.label_lower

    def __init__(self, *args, **kwargs):
        inline_class.__init__(self, *args, **kwargs)
        _guard(self, label)

    return type(inline_class.__name__, (inline_class,), {"__init__": __init__, "__module__": inline_class.__module__})


def _account_fields_read_only_for_secadmin(model_admin) -> None:
    original = model_admin.get_readonly_fields

    def readonly(request, obj=None):
        if Role.SECADMIN in request.user.role_set and not request.user.is_superuser:
            return [f.name for f in model_admin.model._meta.concrete_fields if f.editable] + [
                "groups",
                "user_permissions",
            ]
        return original(request, obj)

    model_admin.get_readonly_fields = readonly
