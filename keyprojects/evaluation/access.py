"""Who sees and who changes observation tours and evaluations.

Built on the one access module (`projects.access`):

- **Tours.** Dispatchers organise them (create, choose projects within their own scope, judges,
  criteria, open and close). A tour is visible to users with scope 全部, to its judges, and to users
  who see at least one of its projects; outside that, 404. Judges score only while it is 评分中 and
  see only their own sheets until it is closed; results are published when it closes, and a user
  whose scope is not 全部 sees the rows of the projects (and towns) they see.
- **Evaluations.** Scheme definitions are visible to every business user. Results: users with scope
  全部 see every unit; unit officers see the rows of the units in their own scope (with the rank
  among all); service officers and enterprises do not see unit evaluations (403).

三员 accounts (no business data) get 403 everywhere (the pages' `business_page`, the API's check).
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404
from django.utils.translation import gettext as _

from keyprojects.evaluation.models import ObservationTour, TourJudge, TourProject
from keyprojects.org.models import DataScope, Role, User
from keyprojects.projects.access import can_see_projects, scope_unit_ids, visible_projects

__all__ = ["can_see_projects", "visible_projects"]


def can_manage_tours(user: User) -> bool:
    return user.is_authenticated and user.is_active and user.has_role(Role.DISPATCHER)


def sees_all(user: User) -> bool:
    return user.is_authenticated and user.is_active and user.effective_scope == DataScope.ALL


def visible_tours(user: User) -> QuerySet[ObservationTour]:
    tours = ObservationTour.objects.all()
    if not can_see_projects(user) or not user.is_active:
        return tours.none()
    if sees_all(user):
        return tours
    judged = TourJudge.objects.filter(tour=OuterRef("pk"), user=user.pk)
    seen = TourProject.objects.filter(tour=OuterRef("pk"), project__in=visible_projects(user).values("pk"))
    return tours.filter(Q(Exists(judged)) | Q(Exists(seen)))


def get_tour(user: User, pk, *, manage: bool = False) -> ObservationTour:
    """A tour through the scope (404 outside it); `manage`: only dispatchers (403)."""
    try:
        tour = visible_tours(user).get(pk=int(pk))
    except (ObservationTour.DoesNotExist, ValueError, TypeError, OverflowError):
        raise Http404(_("观摩活动不存在或无权查看。")) from None
    if manage and not can_manage_tours(user):
        raise PermissionDenied(_("只有调度员可以组织观摩活动。"))
    return tour


def is_judge(user: User, tour: ObservationTour) -> bool:
    return user.is_authenticated and TourJudge.objects.filter(tour=tour, user=user.pk).exists()


def result_project_ids(user: User, tour: ObservationTour) -> set[int] | None:
    """The tour projects whose results the user may see; None means all of them."""
    if sees_all(user) or is_judge(user, tour):
        return None
    return set(
        TourProject.objects.filter(tour=tour, project__in=visible_projects(user).values("pk")).values_list(
            "project_id", flat=True
        )
    )


# --- evaluations ----------------------------------------------------------------------------------------------


def can_see_schemes(user: User) -> bool:
    return can_see_projects(user) and user.is_active


def evaluation_unit_ids(user: User) -> set[int] | None:
    """The evaluated units whose rows the user sees: None for all; 403 for roles without any."""
    if not can_see_projects(user) or not user.is_active:
        raise PermissionDenied(_("您的账号没有查看业务数据的权限。"))
    if sees_all(user):
        return None
    if user.has_role(Role.UNIT_OFFICER) and user.effective_scope in (DataScope.UNIT_AND_BELOW, DataScope.UNIT):
        return set(scope_unit_ids(user))
    raise PermissionDenied(_("考评结果只向调度员、领导和责任单位公开。"))
