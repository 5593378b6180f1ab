"""Notifications: an in-app inbox for everyone, plus e-mail and webhook (政务钉钉 / 企业微信 robots).

Generic on purpose: a notification names what it is about by `source_key` (for example
``problem-event:17``) and an optional `object_type` / `object_id`, so any app can notify without
this one depending on it. Delivery lives in `keyprojects.notify.delivery`.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Channel(models.TextChoices):
    INBOX = "inbox", _("站内消息")
    EMAIL = "email", _("电子邮件")
    WEBHOOK = "webhook", _("群机器人")


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("待发送")
    SENDING = "sending", _("发送中")
    SENT = "sent", _("已送达")
    FAILED = "failed", _("发送失败")


class Notification(models.Model):
    """One message to one user on one channel.

    Inbox rows are delivered when created (the row is the delivery) and count as unread until
    `read_at` is set. E-mail and webhook rows start `pending`; the worker claims them one by one with
    a conditional update and records success (`delivered_at`) or the error. The same `source_key`
    never reaches the same user twice on one channel (a unique constraint backs the worker's claim).
    """

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.CASCADE, related_name="notifications", verbose_name=_("接收人")
    )
    channel = models.CharField(_("渠道"), max_length=10, choices=Channel.choices, default=Channel.INBOX)
    title = models.CharField(_("标题"), max_length=200)
    body = models.TextField(_("内容"), blank=True)
    link = models.CharField(_("链接"), max_length=300, blank=True)
    source_key = models.CharField(_("来源"), max_length=64, blank=True)
    object_type = models.CharField(_("对象类型"), max_length=40, blank=True)
    object_id = models.CharField(_("对象编号"), max_length=40, blank=True)
    created_at = models.DateTimeField(_("时间"), default=timezone.now)
    read_at = models.DateTimeField(_("已读时间"), null=True, blank=True)
    status = models.CharField(
        _("发送状态"), max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("发送次数"), default=0)
    next_attempt_at = models.DateTimeField(_("下次发送时间"), null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True, editable=False)
    delivered_at = models.DateTimeField(_("送达时间"), null=True, blank=True)
    last_error = models.CharField(_("错误信息"), max_length=500, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("通知")
        verbose_name_plural = _("通知")
        constraints = [
            models.UniqueConstraint(
                fields=["source_key", "recipient", "channel"], condition=~Q(source_key=""), name="notification_once"
            ),
        ]
        indexes = [
            models.Index(fields=["recipient", "channel", "id"], name="notification_inbox_idx"),
            models.Index(
                fields=["recipient"], name="notification_unread_idx", condition=Q(channel="inbox", read_at__isnull=True)
            ),
            models.Index(
                fields=["next_attempt_at"],
                name="notification_pending_idx",
                condition=Q(status__in=["pending", "sending"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.recipient} · {self.title}"


webhook_url_validator = URLValidator(schemes=["http", "https"], message=_("请填写以 http:// 或 https:// 开头的地址。"))


class NotificationPreference(models.Model):
    """A user's switches for the e-mail and webhook channels (the inbox is always on)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, models.CASCADE, related_name="notification_preference", verbose_name=_("用户")
    )
    email_enabled = models.BooleanField(_("邮件通知"), default=True, help_text=_("发送到用户的电子邮箱（如已填写）。"))
    webhook_enabled = models.BooleanField(_("群机器人通知"), default=False)
    webhook_url = models.CharField(
        _("群机器人地址"), max_length=300, blank=True, validators=[webhook_url_validator],
        help_text=_("政务钉钉或企业微信群机器人的 Webhook 地址。"),
    )  # fmt: skip

    class Meta:
        verbose_name = _("通知设置")
        verbose_name_plural = _("通知设置")

    def __str__(self) -> str:
        return str(self.user)

    def clean(self) -> None:
        if self.webhook_enabled and not self.webhook_url.strip():
            raise ValidationError({"webhook_url": _("开启群机器人通知时必须填写 Webhook 地址。")})
