"""Middleware of our own: the request id (echoed in X-Request-ID and written into audit records), security
headers, Chinese first, and the 503 answer while the database is unreachable."""

from __future__ import annotations

import logging
import re
import sys
import uuid

from django.core.signals import got_request_exception
from django.db import InterfaceError, OperationalError, connections
from django.http import HttpResponse, JsonResponse
from django.template import loader
from django.utils.translation import gettext as _

from keyprojects.lib import context

database_logger = logging.getLogger("keyprojects.database")


def _database_unavailable_errors() -> tuple[type[Exception], ...]:
    """What a request the database cannot serve raises: the server restarting or gone (OperationalError, including
    the pool's PoolTimeout), a connection closed under Django (InterfaceError), SQLite's "database is locked".

    Django wraps the driver's exceptions in its own, except where it does not reach: closing a server-side cursor
    (`QuerySet.iterator()` on PostgreSQL, e.g. a filter form's choices) on a connection the server cut raises
    psycopg's own AdminShutdown (seen in tests/test_db_restart.py), so psycopg's classes count too."""
    errors: list[type[Exception]] = [OperationalError, InterfaceError]
    try:
        import psycopg
    except ImportError:  # SQLite only
        pass
    else:
        errors += [psycopg.OperationalError, psycopg.InterfaceError]
    return tuple(errors)


DATABASE_UNAVAILABLE = _database_unavailable_errors()

_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        channel = "api" if request.path.startswith("/api/") else "web"
        with context.bind(request_id=request_id, channel=channel):
            response = self.get_response(request)
        response["X-Request-ID"] = request_id
        return response


class ChineseFirstMiddleware:
    """The UI is Chinese unless the user picked another language with the switch.

    Django would otherwise follow the browser's Accept-Language; an English-language browser on a
    government desk should still see the Chinese platform first. Placed before LocaleMiddleware.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.META.pop("HTTP_ACCEPT_LANGUAGE", None)
        return self.get_response(request)


class SecurityHeadersMiddleware:
    """Content-Security-Policy and Permissions-Policy on every response (Django 5.2 has no CSP of its own)."""

    def __init__(self, get_response):
        from django.conf import settings

        self.get_response = get_response
        self.headers = {
            "Content-Security-Policy": settings.CONTENT_SECURITY_POLICY,
            "Permissions-Policy": settings.PERMISSIONS_POLICY,
        }

    def __call__(self, request):
        response = self.get_response(request)
        for name, value in self.headers.items():
            if value and name not in response:
                response[name] = value
        return response


class DatabaseUnavailableMiddleware:
    """A request the database cannot serve (it is restarting, or the pool cannot reach it) answers 503 with a short
    Chinese page, or ``{"detail": …}`` under /api/, instead of the 500 page; one warning is logged per request.

    Such a failure is a django.db OperationalError or InterfaceError raised wherever the first query runs: in a
    view, where `process_exception` sees it, or in a middleware that reads the session or the user before the view
    (SessionPolicyMiddleware, AxesMiddleware) or saves the session after it. Django turns the latter into a 500
    response on the spot, so the exception is noted through `got_request_exception` and that 500 replaced here.
    Nothing needs restarting afterwards: psycopg's pool discards a broken connection when it is given back and
    opens a new one, so each stale connection costs one failed request (docs/deployment.md).

    Placed after RequestIdMiddleware and SecurityHeadersMiddleware (the 503 keeps its request id and headers) and
    before everything that touches the database.
    """

    RETRY_AFTER = "5"  # seconds: a restart of PostgreSQL takes about that long

    def __init__(self, get_response):
        self.get_response = get_response
        got_request_exception.connect(_note_database_error, dispatch_uid="kp-database-unavailable")

    def __call__(self, request):
        response = self.get_response(request)
        error = getattr(request, "_kp_database_error", None)
        if error is not None and response.status_code == 500:
            return unavailable_response(request, error)
        return response

    def process_exception(self, request, exception):
        if isinstance(exception, DATABASE_UNAVAILABLE):
            return unavailable_response(request, exception)
        return None


def _note_database_error(sender, request=None, **kwargs) -> None:
    """got_request_exception is sent inside Django's `except` block: the exception is the one being handled."""
    error = sys.exc_info()[1]
    if request is not None and isinstance(error, DATABASE_UNAVAILABLE):
        request._kp_database_error = error


def unavailable_response(request, error: BaseException):
    """The 503 answer: no template context, no session and no query, since the database is what failed."""
    reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    database_logger.warning(
        "database unavailable: %s %s answered 503 (%s: %s)", request.method, request.path, type(error).__name__, reason
    )
    _drain_pools_after_a_lost_connection()
    if request.path.startswith("/api/"):
        response = JsonResponse(
            {"detail": _("数据库暂时不可用，请稍后重试。")}, status=503, json_dumps_params={"ensure_ascii": False}
        )
    else:
        response = HttpResponse(loader.get_template("503.html").render(), status=503)
    response["Retry-After"] = DatabaseUnavailableMiddleware.RETRY_AFTER
    response["Cache-Control"] = "no-store"
    return response


def _drain_pools_after_a_lost_connection() -> None:
    """A pooled connection found broken means the server went away (restarted, failed over): the other idle
    connections of this process's pool are as dead as this one. Drain the pool, so that they are replaced now
    rather than each failing the next request that takes it, possibly minutes later when traffic is light.

    Only after an error, so it costs nothing on the normal path (unlike the pool's `check`, a round trip per
    checkout). Connections checked out by other threads at this moment are replaced when they are given back.
    """
    for conn in connections.all(initialized_only=True):
        raw = conn.connection
        if raw is None or not getattr(raw, "broken", False):
            continue
        pool = conn.pool if conn.vendor == "postgresql" else None
        if pool is not None:
            database_logger.warning("database connection lost: replacing the pooled connections of %r", conn.alias)
            pool.drain()
