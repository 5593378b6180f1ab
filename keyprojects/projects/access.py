"""The one access module: what each user may see and change.

Pages, exports, the API and background jobs all ask here. Seeing is decided by the user's data
scope (全部 / 本单位及下级 / 本单位 / 本人相关); changing by their roles on top of that.
An object outside the scope is "not found" (404); one in scope but not changeable is refused (403).
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404

from keyprojects.org.models import DataScope, Role, Unit, User
from keyprojects.projects.models import ApprovalItem, Project


def scope_unit_ids(user: User) -> list[int]:
    """The units whose projects the user sees under a unit-based scope (cached per request)."""
    cached = getattr(user, "_scope_unit_ids", None)
    if cached is not None:
        return cached
    scope = user.effective_scope
    if not user.unit_id:
        ids: list[int] = []
    elif scope == DataScope.UNIT_AND_BELOW:
        ids = user.unit.subtree_ids()
    else:
        ids = [user.unit_id]
    user._scope_unit_ids = ids
    return ids


def _units_q(unit_ids: list[int]) -> Q:
    # The approvals as an uncorrelated IN list, not EXISTS: both databases then read four indexes
    # (SQLite's MULTI-INDEX OR, PostgreSQL's BitmapOr) instead of probing the approvals once for every
    # project in the district (1 ms against 100 ms at 50,000 projects), and every figure of a town's
    # cockpit repeats this filter.
    approvals = ApprovalItem.objects.filter(department_id__in=unit_ids).values("project_id")
    return (
        Q(responsible_unit_id__in=unit_ids)
        | Q(town_id__in=unit_ids)
        | Q(owner_unit_id__in=unit_ids)
        | Q(pk__in=approvals)
    )


def visible_projects(user: User, projects: QuerySet[Project] | None = None) -> QuerySet[Project]:
    """Every project the user may see. Start every project query from here (`projects`: a queryset of
    all projects prepared once, e.g. with its joins and annotations, to restrict instead)."""
    projects = Project.objects.all() if projects is None else projects
    if not user.is_authenticated or not user.is_active:
        return projects.none()
    scope = user.effective_scope
    if scope == DataScope.ALL:
        return projects
    if scope in (DataScope.UNIT_AND_BELOW, DataScope.UNIT):
        return projects.filter(_units_q(scope_unit_ids(user)))
    if scope == DataScope.PERSONAL:
        mine = Q(service_officer=user) | Q(responsible_leader=user)
        if user.has_role(Role.ENTERPRISE) and user.unit_id:
            mine |= Q(owner_unit_id=user.unit_id)
        return projects.filter(mine)
    return projects.none()


def can_see_projects(user: User) -> bool:
    return user.is_authenticated and user.effective_scope != DataScope.NONE


def can_create_project(user: User) -> bool:
    return user.has_role(Role.DISPATCHER, Role.UNIT_OFFICER)


def _in_officer_units(user: User, *unit_ids: int | None) -> bool:
    if not user.has_role(Role.UNIT_OFFICER) or not user.unit_id:
        return False
    own = set(user.unit.subtree_ids())
    return any(uid in own for uid in unit_ids if uid)


def can_edit_project(user: User, project: Project) -> bool:
    if user.has_role(Role.DISPATCHER):
        return True
    return _in_officer_units(user, project.responsible_unit_id, project.town_id)


def can_delete_project(user: User, project: Project) -> bool:
    return user.has_role(Role.DISPATCHER)


def can_edit_approval(user: User, item: ApprovalItem) -> bool:
    return can_edit_project(user, item.project) or _in_officer_units(user, item.department_id)


def assignable_responsible_units(user: User) -> QuerySet[Unit]:
    """Units the user may name as a project's responsible unit (a forged id outside is refused)."""
    units = Unit.objects.filter(is_active=True).exclude(kind=Unit.Kind.ENTERPRISE)
    if user.has_role(Role.DISPATCHER):
        return units
    if user.has_role(Role.UNIT_OFFICER) and user.unit_id:
        return units.filter(path__startswith=user.unit.path)
    return units.none()


def get_project(user: User, pk: int | str, *, write: bool = False) -> Project:
    """Fetch one project through the scope: 404 outside it, 403 when it may not be changed."""
    try:
        project = visible_projects(user).select_related("responsible_unit", "town").get(pk=int(pk))
    except (Project.DoesNotExist, ValueError, TypeError, OverflowError):
        raise Http404("项目不存在或无权查看。") from None
    if write and not can_edit_project(user, project):
        raise PermissionDenied("无权修改该项目。")
    return project


def get_approval(user: User, project: Project, pk: int | str, *, write: bool = False) -> ApprovalItem:
    try:
        item = project.approvals.select_related("project", "department").get(pk=int(pk))
    except (ApprovalItem.DoesNotExist, ValueError, TypeError, OverflowError):
        raise Http404("前期手续事项不存在。") from None
    if write and not can_edit_approval(user, item):
        raise PermissionDenied("无权修改该事项。")
    return item
