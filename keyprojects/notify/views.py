"""The inbox (站内消息) and each user's notification switches.

Only the user's own notifications and preference are ever read or changed here. Marking read is
POST; opening a message (GET) marks it read and follows its link when that link is a path on this site.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from keyprojects.audit.models import AuditRecord
from keyprojects.audit.trail import record, snapshot
from keyprojects.notify import delivery
from keyprojects.notify.models import Notification, NotificationPreference

PER_PAGE = 20
PREFERENCE_FIELDS = ["email_enabled", "webhook_enabled", "webhook_url"]


class PreferenceForm(forms.ModelForm):
    class Meta:
        model = NotificationPreference
        fields = PREFERENCE_FIELDS
        widgets = {"webhook_url": forms.URLInput(attrs={"placeholder": "https://"})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            css = "form-check-input" if isinstance(field.widget, forms.CheckboxInput) else "form-control"
            field.widget.attrs["class"] = css
        self.fields["email_enabled"].help_text = gettext_lazy("发送到您账号登记的电子邮箱。")

    def clean_webhook_url(self) -> str:
        return (self.cleaned_data.get("webhook_url") or "").strip()


def _preference(user) -> NotificationPreference:
    return NotificationPreference.objects.filter(user=user).first() or NotificationPreference(user=user)


def _render_list(request: HttpRequest, form: PreferenceForm | None = None, status: int = 200) -> HttpResponse:
    user = request.user
    only_unread = request.GET.get("unread") == "1"
    rows = delivery.inbox(user)
    if only_unread:
        rows = rows.filter(read_at__isnull=True)
    page = Paginator(rows, PER_PAGE).get_page(request.GET.get("page"))
    pref = form.instance if form is not None else _preference(user)
    ctx = {
        "nav": "inbox",
        "page": page,
        "page_range": page.paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1),
        "only_unread": only_unread,
        "form": form or PreferenceForm(instance=pref),
        "has_email": bool(user.email),
        "open_preferences": form is not None,
    }
    return render(request, "notify/list.html", ctx, status=status)


@login_required
@require_http_methods(["GET", "HEAD"])
def notification_list(request: HttpRequest) -> HttpResponse:
    return _render_list(request)


def _own(request: HttpRequest, pk: int) -> Notification:
    row = delivery.inbox(request.user).filter(pk=pk).first()
    if row is None:
        raise Http404(_("消息不存在。"))
    return row


def _back(request: HttpRequest):
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        return redirect(target)
    return redirect("notification-list")


@login_required
@require_http_methods(["GET", "HEAD"])
def notification_open(request: HttpRequest, pk: int) -> HttpResponse:
    """Mark the message read and go where it points (a path on this site), else back to the inbox."""
    row = _own(request, pk)
    delivery.mark_read(request.user, [row.pk])
    link = row.link
    if link.startswith("/") and url_has_allowed_host_and_scheme(link, {request.get_host()}):
        return redirect(link)
    return redirect("notification-list")


@login_required
@require_POST
def notification_read(request: HttpRequest, pk: int) -> HttpResponse:
    row = _own(request, pk)
    delivery.mark_read(request.user, [row.pk])
    return _back(request)


@login_required
@require_POST
def notification_read_all(request: HttpRequest) -> HttpResponse:
    count = delivery.mark_read(request.user)
    if count:
        messages.success(request, _("已将 %(n)s 条消息标为已读。") % {"n": count})
    return _back(request)


@login_required
@require_POST
def notification_preferences(request: HttpRequest) -> HttpResponse:
    """The user's own switches for e-mail and webhook; the change is audited."""
    pref = _preference(request.user)
    before = snapshot(pref, PREFERENCE_FIELDS) if pref.pk else None
    form = PreferenceForm(request.POST, instance=pref)
    if not form.is_valid():
        return _render_list(request, form=form, status=400)
    created = pref.pk is None
    saved = form.save()
    after = snapshot(saved, PREFERENCE_FIELDS)
    if created or before != after:
        action = AuditRecord.Action.CREATE if created else AuditRecord.Action.UPDATE
        record(actor=request.user, action=action, obj=saved, before=before, after=after)
    messages.success(request, _("通知设置已保存。"))
    return redirect("notification-list")
