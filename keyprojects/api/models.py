"""API tokens: only a SHA-256 hash is stored; the raw token is shown once, when it is issued."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

TOKEN_LIFETIME_DAYS = 30


def default_expiry() -> datetime.datetime:
    days = getattr(settings, "API_TOKEN_LIFETIME_DAYS", TOKEN_LIFETIME_DAYS)
    return timezone.now() + datetime.timedelta(days=days)


class ApiToken(models.Model):
    """A bearer token for the JSON API, bound to one user."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.CASCADE, related_name="api_tokens", verbose_name=_("用户")
    )
    name = models.CharField(_("名称"), max_length=60, blank=True)
    token_hash = models.CharField(_("令牌摘要"), max_length=64, unique=True, editable=False)
    created = models.DateTimeField(_("签发时间"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("最近使用"), null=True, blank=True, editable=False)
    expires_at = models.DateTimeField(_("过期时间"), default=default_expiry)
    revoked = models.BooleanField(_("已吊销"), default=False)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("API 令牌")
        verbose_name_plural = _("API 令牌")

    def __str__(self) -> str:
        return f"{self.user} · {self.name or _('API 令牌')}"

    def is_usable(self, now: datetime.datetime | None = None) -> bool:
        now = now or timezone.now()
        return not self.revoked and self.expires_at > now and self.user.is_active
