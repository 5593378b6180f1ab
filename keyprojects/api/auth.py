"""Bearer tokens for the API: issue (username + password), check on every request, revoke.

Only the SHA-256 of a token is stored. Failed sign-ins are counted per (username, client address)
in the cache; after too many the pair is refused for a while (等保: 登录失败处理). The three admin
roles need their second factor here as on the pages: a token is issued to them only with a valid TOTP
code from their confirmed device (`otp_code`).
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import logging
import secrets

from django.conf import settings
from django.contrib.auth import authenticate
from django.core.cache import cache
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from django_otp import match_token
from ninja import Router, Status
from ninja.errors import HttpError
from ninja.security import HttpBearer

from keyprojects.api.models import ApiToken
from keyprojects.api.schemas import Message, TokenIn, TokenOut, ValidationErrors
from keyprojects.audit.models import AuditRecord
from keyprojects.audit.trail import record
from keyprojects.lib.aggregates import CommaList
from keyprojects.org.models import User, UserRole
from keyprojects.security import middleware as session_policy
from keyprojects.security.models import SecurityPolicy

logger = logging.getLogger("keyprojects.api")

TOKEN_PREFIX = "kp_"
# last_used_at is written at most this often per token, so reads stay reads.
TOUCH_INTERVAL = datetime.timedelta(minutes=5)
MAX_FAILURES = 5
LOCKOUT_SECONDS = 15 * 60


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8", "replace")).hexdigest()


def issue_token(user: User, *, name: str = "", expires_at: datetime.datetime | None = None) -> tuple[str, ApiToken]:
    """Create a token for the user; returns the raw token (shown once) and the stored row."""
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user=user, name=name, token_hash=hash_token(raw))
    if expires_at is not None:
        token.expires_at = expires_at
    token.save()
    record(
        actor=user, action=AuditRecord.Action.CREATE, obj=token,
        after={"name": token.name, "expires_at": token.expires_at.isoformat()},
    )  # fmt: skip
    return raw, token


def revoke_token(token: ApiToken, *, by: User | None) -> None:
    if token.revoked:
        return
    ApiToken.objects.filter(pk=token.pk).update(revoked=True)
    token.revoked = True
    record(actor=by, action=AuditRecord.Action.UPDATE, obj=token, before={"revoked": False}, after={"revoked": True})


@functools.cache
def _token_base() -> QuerySet[ApiToken]:
    """Tokens with their user, the user's unit and roles (one round trip fewer on every API request),
    unordered: built once per process, since resolving the roles' subquery on every request cost
    measurable Python time."""
    roles = UserRole.objects.filter(user=OuterRef("user_id")).order_by().values("user").annotate(
        names=CommaList("role"))  # fmt: skip
    return (
        ApiToken.objects.select_related("user", "user__unit")
        .annotate(role_names=Subquery(roles.values("names")))
        .order_by()
    )


class TokenAuth(HttpBearer):
    """Authorization: Bearer <token>. Expired or revoked tokens and inactive users are refused."""

    def authenticate(self, request: HttpRequest, token: str) -> User | None:
        token = token.strip()
        if not token or len(token) > 200:
            return None
        api_token = next(iter(_token_base().filter(token_hash=hash_token(token))), None)  # unique: no LIMIT
        if api_token is None:
            return None
        now = timezone.now()
        if not api_token.is_usable(now):
            return None
        if api_token.last_used_at is None or now - api_token.last_used_at > TOUCH_INTERVAL:
            ApiToken.objects.filter(pk=api_token.pk).update(last_used_at=now)
            api_token.last_used_at = now
        user = api_token.user
        user.know_roles(name for name in (api_token.role_names or "").split(",") if name)
        request.user = user
        request.api_token = api_token
        return user


# ---------------------------------------------------------------------------------------------

router = Router(tags=["认证"])


def _client_address(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR", "") or "-"


def _failure_key(username: str, address: str) -> str:
    digest = hashlib.sha256(f"{username.casefold()}\x00{address}".encode()).hexdigest()
    return f"api-login-failures:{digest}"


@router.post(
    "/auth/token",
    auth=None,
    response={200: TokenOut, 400: Message, 401: Message, 422: ValidationErrors, 429: Message},
    summary="签发令牌",
    operation_id="issue_token",
)
def create_token(request, payload: TokenIn):
    """用户名和密码换取 Bearer 令牌（默认30天有效）。用户名或密码错误、账号停用时返回 401；
    同一用户名和地址连续失败5次后锁定15分钟（429）。"""
    key = _failure_key(payload.username, _client_address(request))
    max_failures = getattr(settings, "API_LOGIN_MAX_FAILURES", MAX_FAILURES)
    if cache.get(key, 0) >= max_failures:
        raise HttpError(429, _("登录失败次数过多，请15分钟后再试。"))
    user = authenticate(request, username=payload.username, password=payload.password)
    refusal = None
    if user is None or not user.is_active:
        refusal = _("用户名或密码错误，或账号已停用。")
    elif session_policy.needs_second_factor(user, SecurityPolicy.load()) and not (
        payload.otp_code and match_token(user, payload.otp_code)
    ):
        refusal = _("该账号需要双因素认证：请在 otp_code 中填写认证器上的6位动态码（须先在网页上绑定认证器）。")
    if refusal:
        try:
            cache.incr(key)
        except ValueError:
            cache.set(key, 1, LOCKOUT_SECONDS)
        logger.warning("api sign-in failed for %r from %s", payload.username, _client_address(request))
        raise HttpError(401, refusal)
    cache.delete(key)
    raw, token = issue_token(user, name=payload.name)
    logger.info("api token %s issued to %r", token.pk, user.get_username())
    return {"token": raw, "token_type": "Bearer", "expires_at": token.expires_at}


@router.delete("/auth/token", response={204: None, 401: Message}, summary="吊销当前令牌", operation_id="revoke_token")
def delete_token(request):
    """吊销本次请求所用的令牌（退出登录）。"""
    revoke_token(request.api_token, by=request.auth)
    return Status(204, None)
