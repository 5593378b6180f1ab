"""Who sees and changes funding, acceleration measures and the registries, on top of `projects.access`.

- A funding line, a project's land record and an approval's acceleration measures are seen exactly
  when their project is (`visible_projects`): outside, 404.
- Funding lines and the land record are changed by whoever may change the project
  (`can_edit_project`: 调度员, the responsible unit's or town's officers); acceleration measures by
  whoever may handle the approval item (`can_edit_approval`: also the department's officers). Else 403.
- The service-matter catalogue, industry chains and buildings are district registries: every user
  with a business data scope reads them (a chain lists only the projects the user may see); 调度员
  maintain them and import the catalogue. 三员 accounts see none of it (403).
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404

from keyprojects.funding.models import ApprovalAcceleration, Building, FundingLine, IndustryChain
from keyprojects.org.models import Role, User
from keyprojects.projects.access import (
    can_edit_approval,
    can_edit_project,
    can_see_projects,
    get_approval,
    get_project,
    visible_projects,
)
from keyprojects.projects.models import ApprovalItem, Project

__all__ = ["can_see_projects", "get_approval", "get_project", "visible_projects"]

LINE_NOT_FOUND = "资金信息不存在或无权查看。"


def visible_lines(user: User) -> QuerySet[FundingLine]:
    """Every funding line the user may see. Start every funding query (pages, API, exports) here."""
    return FundingLine.objects.filter(project__in=visible_projects(user).values("pk"))


def can_edit_funding(user: User, project: Project) -> bool:
    return can_edit_project(user, project)


def get_line(user: User, pk: int | str, *, write: bool = False) -> FundingLine:
    """One line through the scope: 404 outside it, 403 when it may not be changed."""
    try:
        line = visible_lines(user).select_related("project", "fund_type").get(pk=int(pk))
    except (FundingLine.DoesNotExist, ValueError, TypeError, OverflowError):
        raise Http404(LINE_NOT_FOUND) from None
    if write and not can_edit_funding(user, line.project):
        raise PermissionDenied("无权修改该项目的资金信息。")
    return line


def can_edit_acceleration(user: User, item: ApprovalItem) -> bool:
    return can_edit_approval(user, item)


def get_acceleration_item(
    user: User, project_pk: int | str, item_pk: int | str, *, write: bool = False
) -> ApprovalItem:
    project = get_project(user, project_pk)
    return get_approval(user, project, item_pk, write=write)


def acceleration_of(item: ApprovalItem) -> ApprovalAcceleration | None:
    return ApprovalAcceleration.objects.filter(item=item).select_related("agent").first()


def can_manage_registries(user: User) -> bool:
    """Keep the catalogue, the industry chains and the buildings: the service center's 调度员."""
    return user.is_authenticated and user.has_role(Role.DISPATCHER)


def ensure_registry_reader(user: User) -> None:
    if not can_see_projects(user):
        raise PermissionDenied("您的账号没有查看该数据的权限。")


def ensure_registry_manager(user: User) -> None:
    ensure_registry_reader(user)
    if not can_manage_registries(user):
        raise PermissionDenied("只有项目服务中心的调度员可以维护该名录。")


def get_chain(user: User, pk: int | str, *, write: bool = False) -> IndustryChain:
    ensure_manager = ensure_registry_manager if write else ensure_registry_reader
    ensure_manager(user)
    try:
        return IndustryChain.objects.select_related("leader", "lead_company").get(pk=int(pk))
    except (IndustryChain.DoesNotExist, ValueError, TypeError, OverflowError):
        raise Http404("产业链不存在。") from None


def get_building(user: User, pk: int | str, *, write: bool = False) -> Building:
    ensure = ensure_registry_manager if write else ensure_registry_reader
    ensure(user)
    try:
        return Building.objects.select_related("town").get(pk=int(pk))
    except (Building.DoesNotExist, ValueError, TypeError, OverflowError):
        raise Http404("楼宇不存在。") from None


def chain_projects(user: User, chain: IndustryChain) -> QuerySet[Project]:
    """The chain's projects the user may see."""
    return chain.projects.filter(pk__in=visible_projects(user).values("pk"))
