"""三员分立 in the admin: each admin role reaches only its own part; business users only with is_staff."""

from __future__ import annotations

import pytest

from keyprojects.audit.models import AuditRecord
from keyprojects.security.models import SecurityPolicy

PAGES = {
    "users": "/admin/org/user/",
    "add_user": "/admin/org/user/add/",
    "audit": "/admin/audit/auditrecord/",
    "policy": "/admin/security/securitypolicy/",
    "config": "/admin/progress/progresssettings/",
    "calendar": "/admin/workcal/calendaroverride/",
}
ALLOWED = {
    "sysadmin": {"users", "add_user", "config", "calendar"},
    "secadmin": {"users", "policy"},
    "auditor": {"audit"},
}


@pytest.mark.parametrize("persona", ["sysadmin", "secadmin", "auditor"])
@pytest.mark.parametrize("page", list(PAGES))
def test_admin_pages_by_role(world, client, persona, page):
    client.force_login(getattr(world, persona))
    response = client.get(PAGES[page])
    if page in ALLOWED[persona]:
        assert response.status_code == 200, (persona, page)
    else:
        assert response.status_code == 403, (persona, page)
        assert AuditRecord.objects.filter(action=AuditRecord.Action.DENIED, actor=getattr(world, persona)).exists()


@pytest.mark.parametrize("persona", ["dispatcher", "leader", "town_officer", "enterprise"])
def test_business_users_do_not_reach_the_admin(world, client, persona):
    client.force_login(getattr(world, persona))
    response = client.get("/admin/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_sysadmin_creates_accounts_but_cannot_assign_roles(world, client):
    client.force_login(world.sysadmin)
    page = client.get(f"/admin/org/user/{world.town_officer.pk}/change/").content.decode()
    assert 'name="username"' in page  # account fields editable
    assert 'name="roles-0-role"' not in page  # the roles inline is read-only for the 系统管理员


def test_secadmin_assigns_roles_but_edits_no_account_field(world, client):
    client.force_login(world.secadmin)
    page = client.get(f"/admin/org/user/{world.town_officer.pk}/change/").content.decode()
    assert 'name="username"' not in page and 'name="is_active"' not in page
    assert 'name="roles-0-role"' in page


def test_only_the_secadmin_changes_the_security_policy(world, client):
    client.force_login(world.secadmin)
    response = client.post("/admin/security/securitypolicy/add/", {
        "min_length": 10, "min_classes": 3, "history": 5, "max_age_days": 90, "lockout_failures": 5,
        "lockout_minutes": 30, "idle_minutes": 20, "absolute_hours": 8, "require_2fa_for_admins": "on",
    })  # fmt: skip
    assert response.status_code == 302
    assert SecurityPolicy.load().idle_minutes == 20
    client.force_login(world.sysadmin)
    assert client.get("/admin/security/securitypolicy/1/change/").status_code == 403


def test_auditor_exports_the_audit_trail(world, client):
    client.force_login(world.auditor)
    ids = list(AuditRecord.objects.values_list("pk", flat=True)[:3])
    response = client.post(PAGES["audit"], {"action": "export_xlsx", "_selected_action": ids})
    assert response.status_code == 200 and response["Content-Disposition"].startswith("attachment")
    b"".join(response.streaming_content)
    assert AuditRecord.objects.filter(action=AuditRecord.Action.EXPORT, actor=world.auditor).exists()
