"""Accounts to 等保: password policy and history, lockout, session timeouts, two-factor for 三员, disabled users."""

from __future__ import annotations

import datetime
import time

import pytest
from django.contrib.auth.password_validation import validate_password
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from keyprojects.audit.models import AuditRecord
from keyprojects.security.middleware import SEEN, STARTED
from keyprojects.security.models import PasswordHistory, SecurityPolicy
from tests.conftest import PASSWORD


@pytest.mark.parametrize("password", ["Ab1!", "abcdefgh", "abcdefg1", "ABCDEFGH1", "12345678!"])
def test_weak_passwords_are_refused(db, password):
    with pytest.raises(ValidationError):
        validate_password(password)


@pytest.mark.parametrize("password", ["Kpxzwq7R", "abcdef1!", "ABCDEF1!", "Zq#7pLm2x"])
def test_three_classes_and_eight_characters_pass(db, password):
    validate_password(password)


def test_the_last_five_passwords_cannot_be_reused(world):
    user = world.town_officer
    used = [f"Pass{i}word!" for i in range(6)]
    for pw in used:
        user.set_password(pw)
        user.save()
    for pw in used[-5:]:
        with pytest.raises(ValidationError, match="最近 5 次"):
            validate_password(pw, user)
    validate_password(used[0], user)  # the sixth-last is allowed again
    assert PasswordHistory.objects.filter(user=user).count() == 5


def test_policy_is_configurable_and_validated(db):
    policy = SecurityPolicy(min_length=6)
    with pytest.raises(ValidationError):
        policy.full_clean()
    SecurityPolicy(min_length=12, min_classes=4).save()
    with pytest.raises(ValidationError):
        validate_password("Abcdefgh1!x")  # 11 characters
    validate_password("Abcdefgh1!xy")


def test_lockout_after_five_failures_is_logged(world, client, settings):
    settings.AXES_ENABLED = True
    for _ in range(5):
        client.post("/accounts/login/", {"username": "dispatcher", "password": "wrong"})
    response = client.post("/accounts/login/", {"username": "dispatcher", "password": PASSWORD})
    assert response.status_code == 403 and "已锁定 30 分钟" in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert AuditRecord.objects.filter(action=AuditRecord.Action.LOCKOUT, actor_name="dispatcher").exists()
    assert AuditRecord.objects.filter(action=AuditRecord.Action.LOGIN_FAILED).count() >= 5


def test_idle_and_absolute_session_timeouts(world, client):
    client.force_login(world.dispatcher)
    assert client.get("/projects/").status_code == 200
    session = client.session
    session[SEEN] = time.time() - 31 * 60
    session.save()
    response = client.get("/projects/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    client.force_login(world.dispatcher)
    client.get("/projects/")
    session = client.session
    session[STARTED] = time.time() - 9 * 3600
    session.save()
    assert client.get("/projects/").status_code == 302


def test_expired_password_must_be_changed(world, client):
    user = world.dispatcher
    type(user).objects.filter(pk=user.pk).update(date_joined=timezone.now() - datetime.timedelta(days=91))
    user.refresh_from_db()  # a real sign-in loads the account from the database
    client.force_login(user)
    response = client.get("/projects/")
    assert response.status_code == 302 and response["Location"] == "/accounts/password/"
    response = client.post("/accounts/password/", {"old_password": PASSWORD, "new_password1": "Neu#Pass2026",
                                                   "new_password2": "Neu#Pass2026"})  # fmt: skip
    assert response.status_code == 302, response.context["form"].errors
    assert client.get("/projects/").status_code == 200


def test_disabling_a_user_ends_their_sessions(world, client):
    client.force_login(world.town_officer)
    assert Session.objects.count() == 1
    world.town_officer.is_active = False
    world.town_officer.save()
    assert Session.objects.count() == 0
    assert client.get("/projects/").status_code == 302


@pytest.mark.second_factor
def test_admin_roles_must_pass_the_second_factor(world, client):
    client.force_login(world.auditor)
    response = client.get("/admin/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/2fa/")
    response = client.get("/accounts/2fa/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/2fa/setup/")
    page = client.get("/accounts/2fa/setup/")
    assert page.status_code == 200 and "<svg" in page.content.decode()
    device = TOTPDevice.objects.get(user=world.auditor)
    assert client.post("/accounts/2fa/setup/", {"token": "000000"}).status_code == 200  # wrong: still unbound
    device.refresh_from_db()
    device.throttle_reset()  # the wrong token above started django-otp's back-off
    token = f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"
    assert client.post("/accounts/2fa/setup/", {"token": token}).status_code == 302
    device.refresh_from_db()
    assert device.confirmed
    assert client.get("/admin/").status_code in (200, 302)
    assert not client.get("/admin/").get("Location", "").startswith("/accounts/2fa/")


@pytest.mark.second_factor
def test_business_users_do_not_need_the_second_factor(world, client):
    client.force_login(world.dispatcher)
    assert client.get("/projects/").status_code == 200


def test_deploy_check_fails_with_demo_accounts_outside_demo_mode(world, settings):
    world.dispatcher.is_demo = True
    world.dispatcher.save(update_fields=["is_demo"])
    settings.DEMO_MODE = False
    with pytest.raises(SystemCheckError, match="security.E001"):
        call_command("check", "--deploy", "--tag", "security")
    settings.DEMO_MODE = True
    call_command("check", "--tag", "security")


@pytest.mark.second_factor
def test_admin_roles_get_an_api_token_only_with_their_second_factor(world, client):
    def token_request(**extra):
        body = {"username": "auditor", "password": PASSWORD, **extra}
        return client.post("/api/v1/auth/token", body, content_type="application/json")

    refused = token_request()
    assert refused.status_code == 401 and "双因素认证" in refused.json()["detail"]
    assert token_request(otp_code="123456").status_code == 401  # no confirmed device yet
    device = TOTPDevice.objects.create(user=world.auditor, name="认证器", confirmed=True)
    code = f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"
    wrong = "000000" if code != "000000" else "111111"
    assert token_request(otp_code=wrong).status_code == 401
    device.refresh_from_db()
    device.throttle_reset()  # the wrong code started django-otp's back-off
    assert token_request(otp_code="12345").status_code == 422  # not six digits
    issued = token_request(otp_code=code)
    assert issued.status_code == 200 and issued.json()["token"].startswith("kp_")
    assert world.auditor.api_tokens.count() == 1
    # A business user needs no second factor for a token.
    body = {"username": "dispatcher", "password": PASSWORD}
    assert client.post("/api/v1/auth/token", body, content_type="application/json").status_code == 200
