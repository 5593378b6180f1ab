"""The access module: data scopes, write rules and 三员分立."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404

from keyprojects.org.models import DataScope, Role, UserRole, validate_role_set
from keyprojects.projects import access
from tests.conftest import EDITS, PERSONAS, SEES, make_user

PROJECTS = ("project_a", "project_b")


@pytest.mark.parametrize("persona", PERSONAS)
def test_scope_matrix(world, persona):
    user = getattr(world, persona)
    visible = set(access.visible_projects(user).values_list("pk", flat=True))
    assert visible == {getattr(world, p).pk for p in SEES[persona]}
    for name in PROJECTS:
        project = getattr(world, name)
        if name not in SEES[persona]:
            with pytest.raises(Http404):
                access.get_project(user, project.pk)
            continue
        assert access.get_project(user, project.pk) == project
        if name in EDITS.get(persona, set()):
            assert access.get_project(user, project.pk, write=True) == project
        else:
            with pytest.raises(PermissionDenied):
                access.get_project(user, project.pk, write=True)


@pytest.mark.parametrize("bad_id", ["abc", "", None, 10**30, -1, "1; drop table"])
def test_bad_ids_are_not_found(world, bad_id):
    with pytest.raises(Http404):
        access.get_project(world.dispatcher, bad_id)


def test_unit_and_below_includes_child_units(world):
    child_officer = make_user("child_officer", world.dongjie_office, Role.UNIT_OFFICER)
    assert not access.visible_projects(child_officer).exists()  # the office has no project of its own
    world.project_b.responsible_unit = world.dongjie_office
    world.project_b.save()
    assert set(access.visible_projects(world.town_officer)) == {world.project_a, world.project_b}
    assert access.can_edit_project(world.town_officer, world.project_b)


def test_explicit_scope_overrides_the_role_default(world):
    world.leader.data_scope = DataScope.PERSONAL
    world.leader.save()
    assert set(access.visible_projects(world.leader)) == {world.project_a}  # the leader is 分包领导 of A
    world.town_officer.data_scope = DataScope.UNIT
    assert world.town_officer.effective_scope == DataScope.UNIT


def test_inactive_users_see_nothing(world):
    world.dispatcher.is_active = False
    assert not access.visible_projects(world.dispatcher).exists()


def test_assignable_units_for_a_town_officer_are_its_subtree(world):
    units = set(access.assignable_responsible_units(world.town_officer))
    assert units == {world.dongjie, world.dongjie_office}
    assert world.company_a not in set(access.assignable_responsible_units(world.dispatcher))
    assert not access.assignable_responsible_units(world.leader).exists()


def test_department_officer_edits_only_its_own_approvals(world):
    items = list(world.project_a.approvals.all())
    own = [i for i in items if i.department_id == world.resources.pk]
    assert own and all(access.can_edit_approval(world.dept_officer, i) for i in own)
    assert not any(access.can_edit_approval(world.dept_officer, i) for i in items if i not in own)
    assert all(access.can_edit_approval(world.town_officer, i) for i in items)
    assert not any(access.can_edit_approval(world.officer, i) for i in items)


@pytest.mark.parametrize(
    ("roles", "ok"),
    [
        ({"dispatcher", "leader"}, True),
        ({"sysadmin"}, True),
        ({"sysadmin", "auditor"}, False),
        ({"secadmin", "dispatcher"}, False),
        ({"auditor", "enterprise"}, False),
    ],
)
def test_three_admins_are_exclusive(roles, ok):
    if ok:
        validate_role_set(roles)
    else:
        with pytest.raises(ValidationError):
            validate_role_set(roles)


def test_admins_have_no_business_scope(world):
    for persona in ("sysadmin", "secadmin", "auditor"):
        user = getattr(world, persona)
        assert user.effective_scope == DataScope.NONE
        assert not access.can_create_project(user)
    UserRole.objects.create(user=world.officer, role=Role.LEADER)
    officer = type(world.officer).objects.get(pk=world.officer.pk)
    assert officer.effective_scope == DataScope.ALL  # the broadest of the roles' defaults
