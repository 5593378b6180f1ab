"""Two-factor sign-in (TOTP) and the password change page."""

from __future__ import annotations

import segno
from django import forms
from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods
from django_otp import login as otp_login
from django_otp import match_token
from django_otp.plugins.otp_totp.models import TOTPDevice

from keyprojects.audit.models import AuditRecord
from keyprojects.audit.trail import record
from keyprojects.security.middleware import PASSWORD_EXPIRES, remember_password_expiry


class TokenForm(forms.Form):
    token = forms.RegexField(
        label=gettext_lazy("动态验证码"), regex=r"^\d{6}$", max_length=6,
        error_messages={"invalid": gettext_lazy("请输入认证器显示的6位数字。")},
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code",
                                      "class": "form-control"}),
    )  # fmt: skip


def _next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or "/"
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return "/"
    return target


@login_required
@require_http_methods(["GET", "POST"])
def otp_verify(request: HttpRequest) -> HttpResponse:
    """The second step of signing in for users with a confirmed authenticator."""
    user = request.user
    if not TOTPDevice.objects.filter(user=user, confirmed=True).exists():
        return redirect(f"{reverse_lazy('otp-setup')}?next={_next(request)}")
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device = match_token(user, form.cleaned_data["token"])
        if device is not None:
            otp_login(request, device)
            return redirect(_next(request))
        form.add_error("token", _("验证码不正确或已过期。"))
    return render(request, "security/otp_verify.html", {"form": form, "next": _next(request)})


@login_required
@require_http_methods(["GET", "POST"])
def otp_setup(request: HttpRequest) -> HttpResponse:
    """Bind an authenticator app (TOTP): scan the code, confirm with one token."""
    user = request.user
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=_("认证器"), confirmed=False)
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if device.verify_token(form.cleaned_data["token"]):
            TOTPDevice.objects.filter(user=user, confirmed=True).exclude(pk=device.pk).delete()
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            otp_login(request, device)
            record(actor=user, action=AuditRecord.Action.UPDATE, obj=user, after={"双因素认证": "已绑定"},
                   reason="绑定认证器")  # fmt: skip
            messages.success(request, _("已绑定认证器，今后登录需输入动态验证码。"))
            return redirect(_next(request))
        form.add_error("token", _("验证码不正确，请确认手机时间准确后重试。"))
    qr = segno.make(device.config_url, error="m").svg_inline(scale=4)
    return render(request, "security/otp_setup.html", {"form": form, "qr": qr, "secret": device.key,
                                                       "next": _next(request)})  # fmt: skip


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "security/password_change.html"
    success_url = "/"

    def form_valid(self, form):
        response = super().form_valid(form)
        update_session_auth_hash(self.request, form.user)
        self.request.session.pop(PASSWORD_EXPIRES, None)
        remember_password_expiry(self.request, form.user)
        record(actor=form.user, action=AuditRecord.Action.UPDATE, obj=form.user, after={"密码": "已修改"},
               reason="用户修改密码")  # fmt: skip
        messages.success(self.request, _("密码已修改。"))
        return response


def lockout(request: HttpRequest, original_response=None, credentials=None) -> HttpResponse:
    """What a locked-out sign-in gets (django-axes): the login page with the reason, status 403."""
    from django.http import JsonResponse

    from keyprojects.org.forms import LoginForm
    from keyprojects.security.models import SecurityPolicy

    policy = SecurityPolicy.load()
    if request.path.startswith("/api/"):
        detail = _("登录失败次数过多，账号已锁定 %(n)d 分钟。") % {"n": policy.lockout_minutes}
        return JsonResponse({"detail": detail}, status=429)
    message = _("连续登录失败次数过多，账号已锁定 %(n)d 分钟，请稍后再试或联系安全管理员解锁。") % {
        "n": policy.lockout_minutes
    }
    return render(request, "org/login.html", {"form": LoginForm(request), "lockout_message": message}, status=403)


def failure_limit(request, credentials) -> int:
    from keyprojects.security.models import SecurityPolicy

    return SecurityPolicy.load().lockout_failures


def cool_off(request=None):
    import datetime

    from keyprojects.security.models import SecurityPolicy

    return datetime.timedelta(minutes=SecurityPolicy.load().lockout_minutes)
