"""Security policy (set by the 安全管理员) and password history."""

from __future__ import annotations

import datetime
import time

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

MEMO_SECONDS = 60


class SecurityPolicy(models.Model):
    """The account policy as 等保 evaluators expect it; one row, edited only by the 安全管理员.

    Defaults: passwords of 8+ characters with three of four character classes, no reuse of the last
    5, changed every 90 days; lockout after 5 failures for 30 minutes; sessions end after 30 idle
    minutes and after 8 hours in any case; two-factor sign-in required for the three admin roles.
    """

    min_length = models.PositiveSmallIntegerField(_("密码最小长度"), default=8)
    min_classes = models.PositiveSmallIntegerField(
        _("至少包含的字符类别数"), default=3, help_text=_("大写字母、小写字母、数字、符号四类中的几类。")
    )
    history = models.PositiveSmallIntegerField(_("不得重复使用最近几次密码"), default=5)
    max_age_days = models.PositiveSmallIntegerField(_("密码有效期（天）"), default=90, help_text=_("0 表示不过期。"))
    lockout_failures = models.PositiveSmallIntegerField(_("连续失败几次锁定"), default=5)
    lockout_minutes = models.PositiveSmallIntegerField(_("锁定时长（分钟）"), default=30)
    idle_minutes = models.PositiveSmallIntegerField(_("无操作自动退出（分钟）"), default=30)
    absolute_hours = models.PositiveSmallIntegerField(_("会话最长时长（小时）"), default=8)
    require_2fa_for_admins = models.BooleanField(_("三员账号必须启用双因素认证"), default=True)
    updated_at = models.DateTimeField(auto_now=True)

    _memo: tuple[float, SecurityPolicy] | None = None

    class Meta:
        verbose_name = _("安全策略")
        verbose_name_plural = _("安全策略")

    def __str__(self) -> str:
        return str(_("安全策略"))

    def save(self, *args, **kwargs):
        self.pk = 1
        super().save(*args, **kwargs)
        type(self).forget()

    def clean(self) -> None:
        errors = {}
        if self.min_length < 8:
            errors["min_length"] = _("密码最小长度不能少于8位（等保要求）。")
        if not 1 <= self.min_classes <= 4:
            errors["min_classes"] = _("字符类别数应在1到4之间。")
        if self.lockout_failures < 1:
            errors["lockout_failures"] = _("锁定阈值至少为1次。")
        if self.idle_minutes < 1 or self.absolute_hours < 1:
            errors["idle_minutes"] = _("会话时长必须大于0。")
        if errors:
            raise ValidationError(errors)

    @classmethod
    def load(cls) -> SecurityPolicy:
        """The policy, read at most once a minute per process (every signed-in request needs it)."""
        now = time.monotonic()
        if cls._memo is not None and cls._memo[0] > now:
            return cls._memo[1]
        policy = cls.objects.filter(pk=1).first() or cls(pk=1)
        cls._memo = (now + MEMO_SECONDS, policy)
        return policy

    @classmethod
    def forget(cls) -> None:
        cls._memo = None


class PasswordHistory(models.Model):
    """A password hash a user had, kept to refuse reusing the last N passwords and to date the current one."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE, related_name="password_history")
    password = models.CharField(max_length=128)
    set_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-set_at", "-id"]
        indexes = [models.Index(fields=["user", "set_at"], name="password_history_user_idx")]
        verbose_name = _("历史密码")
        verbose_name_plural = _("历史密码")

    def __str__(self) -> str:
        return f"{self.user_id} {self.set_at:%Y-%m-%d}"


def password_set_at(user) -> datetime.datetime | None:
    """When the current password was set: the latest history entry, else when the account was created
    (an initial password counts from then, so it too must be changed within the policy's period)."""
    latest = PasswordHistory.objects.filter(user=user).values_list("set_at", flat=True).first()
    return latest or user.date_joined
