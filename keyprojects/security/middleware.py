"""Session policy on every signed-in page request: idle and absolute timeouts, password expiry, and the
two-factor step the three admin roles must pass (django-otp's `OTPMiddleware` runs before this).

API requests carry a token, not a session, and are not affected.
"""

from __future__ import annotations

import datetime
import time

from django.contrib import messages
from django.contrib.auth import logout
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _

from keyprojects.org.models import ADMIN_ROLES
from keyprojects.security.models import SecurityPolicy, password_set_at

STARTED, SEEN, PASSWORD_EXPIRES = "kp_session_started", "kp_last_seen", "kp_password_expires"
# The last-seen time is written at most once a minute, so a page view does not always write the session.
SEEN_GRANULARITY = 60
EXEMPT_PREFIXES = ("/static/", "/favicon", "/api/", "/i18n/", "/accounts/logout/", "/accounts/2fa/",
                   "/accounts/password/")  # fmt: skip


def needs_second_factor(user, policy: SecurityPolicy) -> bool:
    return policy.require_2fa_for_admins and bool(user.role_set & ADMIN_ROLES)


class SessionPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or not hasattr(request, "session"):
            return self.get_response(request)
        policy = SecurityPolicy.load()
        now = time.time()
        session = request.session
        started = session.setdefault(STARTED, now)
        seen = session.get(SEEN, now)
        if now - seen > policy.idle_minutes * 60 or now - started > policy.absolute_hours * 3600:
            logout(request)
            messages.info(request, _("会话已超时，请重新登录。"))
            return redirect(f"{reverse('login')}?next={request.path}")
        if now - seen >= SEEN_GRANULARITY or SEEN not in session:
            session[SEEN] = now
        if request.path.startswith(EXEMPT_PREFIXES):
            return self.get_response(request)
        if needs_second_factor(user, policy) and not user.is_verified():
            return redirect(f"{reverse('otp-verify')}?next={request.path}")
        expires = session.get(PASSWORD_EXPIRES)
        if policy.max_age_days and expires is not None and now >= expires:
            note = _("您的密码已超过 %(n)d 天未修改，请先修改密码。") % {"n": policy.max_age_days}
            messages.warning(request, note)
            return redirect(reverse("password-change"))
        return self.get_response(request)


def remember_password_expiry(request, user) -> None:
    """At sign-in (and after a password change): the session's start and when the password expires,
    kept in the session so that no later request needs a query or a session write for them."""
    policy = SecurityPolicy.load()
    if not hasattr(request, "session"):
        return
    now = time.time()
    request.session.setdefault(STARTED, now)
    request.session[SEEN] = now
    if not policy.max_age_days:
        return
    set_at = password_set_at(user)
    if set_at is not None:
        request.session[PASSWORD_EXPIRES] = (set_at + datetime.timedelta(days=policy.max_age_days)).timestamp()
