"""Security events in the audit trail: logins, logouts, failed logins, refused requests, exports and downloads.

Logins come from Django's auth signals (so every login path is covered); refused requests (403) and
file responses from `SecurityEventMiddleware`, which sees every page and API response.
"""

from __future__ import annotations

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver
from django.http import FileResponse

from keyprojects.audit.models import AuditRecord
from keyprojects.audit.trail import security_event

EXPORT_TYPES = ("spreadsheetml", "wordprocessingml", "text/csv", "application/pdf")


def _client(request) -> str:
    if request is None:
        return ""
    return (request.META.get("REMOTE_ADDR") or "")[:45]


@receiver(user_logged_in, dispatch_uid="audit-login")
def on_login(sender, request, user, **kwargs):
    security_event(action=AuditRecord.Action.LOGIN, actor=user, object_type="session", object_id=str(user.pk),
                   object_repr=user.get_username(), reason=f"来自 {_client(request)}")  # fmt: skip


@receiver(user_logged_out, dispatch_uid="audit-logout")
def on_logout(sender, request, user, **kwargs):
    if user is None:
        return
    security_event(action=AuditRecord.Action.LOGOUT, actor=user, object_type="session", object_id=str(user.pk),
                   object_repr=user.get_username(), reason=f"来自 {_client(request)}")  # fmt: skip


@receiver(user_login_failed, dispatch_uid="audit-login-failed")
def on_login_failed(sender, credentials, request=None, **kwargs):
    username = str(credentials.get("username", ""))[:150]
    security_event(action=AuditRecord.Action.LOGIN_FAILED, actor_name=username or "anonymous",
                   object_type="session", object_id=username[:40], object_repr=username,
                   reason=f"来自 {_client(request)}")  # fmt: skip


def _user(request):
    for candidate in (getattr(request, "auth", None), getattr(request, "user", None)):
        if candidate is not None and getattr(candidate, "is_authenticated", False):
            return candidate
    return None


class SecurityEventMiddleware:
    """Record refused requests (403) and every file sent (exports, photos, attachments)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.path.startswith(("/static/", "/favicon")):
            return response
        disposition = response.get("Content-Disposition", "")
        if response.status_code == 403:
            action = AuditRecord.Action.DENIED
        elif isinstance(response, FileResponse) or disposition.startswith("attachment"):
            content_type = response.get("Content-Type", "")
            action = (
                AuditRecord.Action.EXPORT
                if any(t in content_type for t in EXPORT_TYPES)
                else AuditRecord.Action.DOWNLOAD
            )
        else:
            return response
        path = request.get_full_path()
        security_event(action=action, actor=_user(request), object_type="request", object_id=request.path[:40],
                       object_repr=f"{request.method} {path}"[:200],
                       reason=f"{response.status_code} 来自 {_client(request)}")  # fmt: skip
        return response
