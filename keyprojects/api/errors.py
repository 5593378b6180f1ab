"""One error shape for the whole API, and the handlers that produce it.

Every refused request answers ``{"detail": ...}``:

- 422 (invalid input, from pydantic, the list filter form or the domain's model validation):
  ``{"detail": [{"loc": ["body", "total_investment"], "msg": "总投资必须大于0。", "type": "invalid"}]}``,
  one item per message; ``loc`` starts with where the value came from (body, query, path) and ends
  with the API's field name (``industry_id``, not ``industry``); ``["body"]`` alone is an error of
  the whole body.
- 400 (the body is not JSON), 401, 403, 404, 409, 429: ``{"detail": "中文消息"}``.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.db.models import ProtectedError, RestrictedError
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, Throttled
from ninja.errors import ValidationError as NinjaValidationError

from keyprojects.projects.domain import ConflictError

logger = logging.getLogger("keyprojects.api")

# Model field name -> API field name, for messages about foreign keys.
API_FIELD_NAMES = {
    "industry": "industry_id",
    "town": "town_id",
    "responsible_unit": "responsible_unit_id",
    "owner_unit": "owner_unit_id",
    "responsible_leader": "responsible_leader_id",
    "service_officer": "service_officer_id",
    "financing_model": "financing_model_id",
    "stage_changed_on": "stage_on",
}


class ApiValidationError(Exception):
    """Field errors found by the API itself (unknown ids, filter form errors): answered with 422."""

    def __init__(self, errors: list[dict[str, Any]]):
        self.errors = errors
        super().__init__(errors)

    @classmethod
    def from_fields(cls, source: str, fields: dict[str, list[str]]) -> ApiValidationError:
        return cls([error_item([source, name], msg) for name, msgs in fields.items() for msg in msgs])


def error_item(loc: list[str | int], msg: str, type_: str = "invalid") -> dict[str, Any]:
    return {"loc": loc, "msg": str(msg), "type": type_}


def pydantic_message(error: dict[str, Any]) -> str:
    """A Chinese message for one pydantic error (messages follow the active language)."""
    kind = error.get("type", "")
    ctx = error.get("ctx") or {}
    messages = {
        "missing": _("此字段为必填项。"),
        "extra_forbidden": _("不支持该字段（字段名有误，或该字段不能通过此接口修改）。"),
        "string_type": _("请输入文本。"),
        "string_too_long": _("最多 %(n)s 个字符。") % {"n": ctx.get("max_length", "")},
        "string_too_short": _("至少 %(n)s 个字符。") % {"n": ctx.get("min_length", "")},
        "int_type": _("请输入整数。"),
        "int_parsing": _("请输入整数。"),
        "int_from_float": _("请输入整数。"),
        "int_parsing_size": _("数值超出范围。"),
        "greater_than_equal": _("不能小于 %(n)s。") % {"n": ctx.get("ge", "")},
        "greater_than": _("必须大于 %(n)s。") % {"n": ctx.get("gt", "")},
        "less_than_equal": _("不能大于 %(n)s。") % {"n": ctx.get("le", "")},
        "less_than": _("必须小于 %(n)s。") % {"n": ctx.get("lt", "")},
        "decimal_type": _('请输入数字（建议用字符串，如 "150000.00"）。'),
        "decimal_parsing": _('请输入有效的数字（如 "150000.00"）。'),
        "finite_number": _("请输入有限的数字。"),
        "date_type": _("请输入日期，格式为 YYYY-MM-DD。"),
        "date_parsing": _("请输入有效的日期，格式为 YYYY-MM-DD。"),
        "date_from_datetime_parsing": _("请输入有效的日期，格式为 YYYY-MM-DD。"),
        "date_from_datetime_inexact": _("请输入日期（不含时间），格式为 YYYY-MM-DD。"),
        "model_type": _("请求体应为 JSON 对象。"),
        "model_attributes_type": _("请求体应为 JSON 对象。"),
        "dict_type": _("请求体应为 JSON 对象。"),
        "bool_type": _("请输入 true 或 false。"),
        "bool_parsing": _("请输入 true 或 false。"),
    }
    if kind in messages:
        return messages[kind]
    if kind == "value_error":
        # Raised by our own validators with a Chinese message.
        return str(ctx.get("error") or error.get("msg", "")).removeprefix("Value error, ")
    return _("输入无效。")


def translate_pydantic_errors(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for error in errors:
        loc = list(error.get("loc", ()))
        # ninja puts the body parameter's name after "body": drop it, clients never see it.
        if len(loc) >= 2 and loc[0] == "body" and loc[1] == "payload":
            del loc[1]
        out.append(error_item(loc, pydantic_message(error), error.get("type", "invalid")))
    return out


def django_validation_items(
    exc: DjangoValidationError, source: str = "body", names: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    """Each message of a Django ValidationError at its field (`names`: model field → API field; by default
    `API_FIELD_NAMES`); messages without a field at `source` itself."""
    names = API_FIELD_NAMES if names is None else names
    if hasattr(exc, "error_dict"):
        items = []
        for field, messages in exc.message_dict.items():
            loc = [source] if field == NON_FIELD_ERRORS else [source, names.get(field, field)]
            items.extend(error_item(loc, msg) for msg in messages)
        return items
    return [error_item([source], msg) for msg in exc.messages]


def domain_refusal(
    exc: DjangoValidationError, *, state_codes: tuple[str, ...] = ("invalid_state",), names: dict[str, str]
) -> Exception:
    """A domain function's refusal as the API answers it: a step out of order (an error coded with one of
    `state_codes`) is 409 with its first message; anything else 422 with each message at its field."""
    if getattr(exc, "code", None) in state_codes:
        return HttpError(409, exc.messages[0])
    return ApiValidationError(django_validation_items(exc, names=names))


def _detail(api: NinjaAPI, request: HttpRequest, message: str, status: int) -> HttpResponse:
    return api.create_response(request, {"detail": str(message)}, status=status)


def install(api: NinjaAPI) -> None:
    """Register the handlers that give every refusal the documented shape."""

    @api.exception_handler(NinjaValidationError)
    def _invalid_params(request, exc: NinjaValidationError):
        return api.create_response(request, {"detail": translate_pydantic_errors(exc.errors)}, status=422)

    @api.exception_handler(ApiValidationError)
    def _invalid_fields(request, exc: ApiValidationError):
        return api.create_response(request, {"detail": exc.errors}, status=422)

    @api.exception_handler(DjangoValidationError)
    def _invalid_model(request, exc: DjangoValidationError):
        return api.create_response(request, {"detail": django_validation_items(exc)}, status=422)

    @api.exception_handler(AuthenticationError)
    def _unauthenticated(request, exc):
        response = _detail(api, request, _("未认证：请在 Authorization 头中提供有效的 Bearer 令牌。"), 401)
        response["WWW-Authenticate"] = 'Bearer realm="api"'
        return response

    @api.exception_handler(Throttled)
    def _throttled(request, exc):
        return _detail(api, request, _("请求过于频繁，请稍后再试。"), 429)

    @api.exception_handler(HttpError)
    def _http_error(request, exc: HttpError):
        if exc.status_code == 400:
            # ninja raises this when the body cannot be parsed.
            return _detail(api, request, _("请求体不是有效的 JSON。"), 400)
        return _detail(api, request, exc.message, exc.status_code)

    @api.exception_handler(Http404)
    def _not_found(request, exc: Http404):
        return _detail(api, request, str(exc) if exc.args else _("资源不存在。"), 404)

    @api.exception_handler(PermissionDenied)
    def _forbidden(request, exc: PermissionDenied):
        return _detail(api, request, str(exc) if exc.args else _("无权执行此操作。"), 403)

    @api.exception_handler(ConflictError)
    def _conflict(request, exc: ConflictError):
        return _detail(api, request, exc.message, 409)

    @api.exception_handler(ProtectedError)
    def _protected(request, exc):
        return _detail(api, request, _("该项目已有关联数据，不能删除。"), 409)

    @api.exception_handler(RestrictedError)
    def _restricted(request, exc):
        return _detail(api, request, _("该项目已有关联数据，不能删除。"), 409)

    @api.exception_handler(IntegrityError)
    def _integrity(request, exc: IntegrityError):
        # A concurrent write got there first (e.g. the same project code saved twice at once).
        logger.warning("integrity error on %s %s: %s", request.method, request.path, exc)
        return _detail(api, request, _("数据与他人的修改冲突（如项目代码重复），请刷新后重试。"), 409)
