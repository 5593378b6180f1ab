"""Lockouts (django-axes) go to the audit trail; a deactivated account loses its sessions at once."""

from __future__ import annotations

from axes.signals import user_locked_out
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in
from django.db.models.signals import post_save
from django.dispatch import receiver

from keyprojects.audit.models import AuditRecord
from keyprojects.audit.trail import security_event
from keyprojects.security.middleware import remember_password_expiry


@receiver(user_locked_out, dispatch_uid="security-lockout")
def on_lockout(sender, request=None, username=None, ip_address=None, **kwargs):
    name = str(username or "")[:150]
    reason = f"连续登录失败，账号已锁定；来自 {ip_address or ''}"
    security_event(action=AuditRecord.Action.LOCKOUT, actor_name=name or "anonymous", object_type="session",
                   object_id=name[:40], object_repr=name, reason=reason)  # fmt: skip


@receiver(post_save, sender=get_user_model(), dispatch_uid="security-end-sessions")
def end_sessions_of_disabled_user(sender, instance, update_fields=None, **kwargs):
    """Django refuses an inactive user on the next request already; deleting the sessions makes it
    immediate and frees the rows."""
    if instance.is_active or (update_fields and "is_active" not in update_fields):
        return
    from django.contrib.sessions.models import Session

    for session in Session.objects.all().iterator():
        if session.get_decoded().get("_auth_user_id") == str(instance.pk):
            session.delete()


@receiver(user_logged_in, dispatch_uid="security-password-expiry")
def on_login(sender, request, user, **kwargs):
    if request is not None:
        remember_password_expiry(request, user)
