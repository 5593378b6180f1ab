"""Password rules from the security policy: length and character classes, no reuse of recent passwords."""

from __future__ import annotations

from django.contrib.auth.hashers import check_password
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from keyprojects.security.models import PasswordHistory, SecurityPolicy


def character_classes(password: str) -> int:
    return sum(
        (
            any(c.isupper() for c in password),
            any(c.islower() for c in password),
            any(c.isdigit() for c in password),
            any(not c.isalnum() for c in password),
        )
    )


class ComplexityValidator:
    """At least `min_length` characters from at least `min_classes` of: upper, lower, digit, symbol."""

    def validate(self, password: str, user=None) -> None:
        policy = SecurityPolicy.load()
        errors = []
        if len(password) < policy.min_length:
            errors.append(ValidationError(_("密码至少需要 %(n)d 位。") % {"n": policy.min_length}, code="too_short"))
        if character_classes(password) < policy.min_classes:
            errors.append(
                ValidationError(
                    _("密码需包含大写字母、小写字母、数字、符号中的至少 %(n)d 类。") % {"n": policy.min_classes},
                    code="too_simple",
                )
            )
        if errors:
            raise ValidationError(errors)

    def get_help_text(self) -> str:
        policy = SecurityPolicy.load()
        return _("至少 %(length)d 位，包含大写字母、小写字母、数字、符号中的至少 %(classes)d 类。") % {
            "length": policy.min_length,
            "classes": policy.min_classes,
        }


class HistoryValidator:
    """Refuse the current password and the last `history` ones; record each new password."""

    def validate(self, password: str, user=None) -> None:
        if user is None or not user.pk:
            return
        keep = SecurityPolicy.load().history
        if not keep:
            return
        recent = list(PasswordHistory.objects.filter(user=user).values_list("password", flat=True)[:keep])
        if user.password and user.password not in recent:
            recent.insert(0, user.password)
        if any(check_password(password, old) for old in recent[:keep]):
            raise ValidationError(_("不能使用最近 %(n)d 次用过的密码。") % {"n": keep}, code="password_reused")

    def password_changed(self, password: str, user=None) -> None:
        if user is not None and user.pk:
            PasswordHistory.objects.create(user=user, password=user.password)
            keep = max(SecurityPolicy.load().history, 1)
            stale = PasswordHistory.objects.filter(user=user).values_list("pk", flat=True)[keep:]
            PasswordHistory.objects.filter(pk__in=list(stale)).delete()

    def get_help_text(self) -> str:
        return _("不能与最近 %(n)d 次用过的密码相同。") % {"n": SecurityPolicy.load().history}
