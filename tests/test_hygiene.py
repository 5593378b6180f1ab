"""Web and API hygiene: security headers, CSP without inline scripts, deploy checks, nothing open to anonymous users."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

ROOT = Path(__file__).resolve().parent.parent
# Pages anyone may open: signing in, the language switch, the two-factor step (it requires a login itself).
PUBLIC = {"/accounts/login/", "/i18n/setlang/", "/admin/login/", "/api/v1/openapi.json", "/api/v1/docs"}


def test_pages_carry_the_security_headers(world, client):
    client.force_login(world.dispatcher)
    response = client.get("/projects/")
    csp = response["Content-Security-Policy"]
    script_src = re.search(r"script-src ([^;]*)", csp).group(1)
    assert "'self'" in script_src and "unsafe-inline" not in script_src and "unsafe-eval" not in script_src
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert "camera=()" in response["Permissions-Policy"]


def test_no_template_has_an_inline_script_or_handler():
    offenders = []
    for path in (ROOT / "templates").rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        for match in re.finditer(r"<script(?![^>]*\bsrc=)[^>]*>", text):
            if "json_script" not in match.group(0) and "application/json" not in match.group(0):
                offenders.append(f"{path.relative_to(ROOT)}: {match.group(0)}")
        if re.search(r"\son[a-z]+\s*=\s*[\"']", text) or "javascript:" in text:
            offenders.append(f"{path.relative_to(ROOT)}: inline event handler or javascript: URL")
    assert not offenders, offenders


def test_deploy_check_is_clean_under_production_settings(tmp_path):
    secret = "k3y-" + "9fQ2rT7wLp4ZxV8mN1bC6hJ0sD5gK" * 2
    env = {**os.environ, "HTTPS": "1", "DEBUG": "0", "DEMO_MODE": "0", "SECRET_KEY": secret,
           "SQLITE_PATH": str(tmp_path / "prod.sqlite3"), "ALLOWED_HOSTS": "keyprojects.example.gov.cn"}  # fmt: skip
    env.pop("DATABASE_URL", None)
    run = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"], cwd=ROOT,
                         env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr


def _urls(resolver: URLResolver, prefix: str = ""):
    for pattern in resolver.url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _urls(pattern, route)
        elif isinstance(pattern, URLPattern):
            yield route


def _concrete(route: str) -> str:
    route = re.sub(r"<(?:int:)?\w+>", "1", route)
    route = re.sub(r"<(?:str|slug|path):\w+>", "x", route)
    return "/" + route.lstrip("^").rstrip("$").replace("\\Z", "")


def test_no_page_answers_an_anonymous_user(db, client):
    opened = []
    for route in _urls(get_resolver()):
        if route.startswith(("api/v1/", "admin/", "static/", "_media/")) or "(?P" in route:
            continue
        url = _concrete(route)
        if url in PUBLIC:
            continue
        response = client.get(url)
        if response.status_code == 200:
            opened.append(url)
    assert not opened, opened


def test_every_api_operation_requires_a_token(db, client):
    document = client.get("/api/v1/openapi.json").json()
    opened = []
    for path, operations in document["paths"].items():
        url = re.sub(r"\{[^}]+\}", "1", path)
        for method, operation in operations.items():
            if operation.get("operationId") == "issue_token":
                continue
            response = getattr(client, method)(url)
            if response.status_code != 401:
                opened.append((method.upper(), url, response.status_code))
            security = operation.get("security") or document.get("security")
            if not security:
                opened.append((method.upper(), url, "no security scheme in the OpenAPI document"))
    assert not opened, opened


@pytest.mark.parametrize("path", ["/accounts/login/", "/projects/"])
def test_state_changing_forms_need_the_csrf_token(world, path):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(world.dispatcher)
    assert strict.post(path, {}).status_code == 403
