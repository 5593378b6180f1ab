"""Who sees and who records site visits, meetings, instructions and service officers' work.

Built on the one access module (`projects.access`): a site visit, meeting or instruction is visible to
a user who sees any of its projects (scope 全部: all of them), and to whoever recorded it or led it.
Officers are visible to users who see a project they are (or were) paired with; users with scope 全部
see every officer; an officer always sees themself. Outside that, "not found" (404).
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404

from keyprojects.org.models import DataScope, Role, User, UserRole
from keyprojects.projects.access import can_see_projects, visible_projects
from keyprojects.visits.models import Instruction, Meeting, OfficerPairing, OfficerVisit, Photo, SiteVisit

__all__ = ["can_see_projects", "visible_projects"]


def _scoped(user: User, queryset: QuerySet, through, owner_field: str, extra: Q) -> QuerySet:
    if not user.is_authenticated or not user.is_active:
        return queryset.none()
    scope = user.effective_scope
    if scope == DataScope.ALL:
        return queryset
    if scope == DataScope.NONE:
        return queryset.none()
    links = through.objects.filter(**{owner_field: OuterRef("pk")}, project__in=visible_projects(user).values("pk"))
    return queryset.filter(Q(Exists(links)) | extra)


def visible_site_visits(user: User) -> QuerySet[SiteVisit]:
    led = SiteVisit.leaders.through.objects.filter(sitevisit=OuterRef("pk"), user=user.pk)
    extra = Q(created_by=user.pk) | Q(Exists(led)) if user.is_authenticated else Q(pk__in=[])
    return _scoped(user, SiteVisit.objects.all(), SiteVisit.projects.through, "sitevisit", extra)


def visible_meetings(user: User) -> QuerySet[Meeting]:
    extra = Q(created_by=user.pk) | Q(chair=user.pk) if user.is_authenticated else Q(pk__in=[])
    return _scoped(user, Meeting.objects.all(), Meeting.projects.through, "meeting", extra)


def visible_instructions(user: User) -> QuerySet[Instruction]:
    extra = Q(created_by=user.pk) | Q(leader=user.pk) if user.is_authenticated else Q(pk__in=[])
    return _scoped(user, Instruction.objects.all(), Instruction.projects.through, "instruction", extra)


def _get(queryset: QuerySet, pk, message: str):
    try:
        return queryset.get(pk=int(pk))
    except (queryset.model.DoesNotExist, ValueError, TypeError, OverflowError):
        raise Http404(message) from None


def get_site_visit(user: User, pk) -> SiteVisit:
    return _get(visible_site_visits(user).select_related("created_by"), pk, "现场办公记录不存在或无权查看。")


def get_meeting(user: User, pk) -> Meeting:
    return _get(visible_meetings(user).select_related("chair", "created_by"), pk, "会议不存在或无权查看。")


def get_instruction(user: User, pk) -> Instruction:
    qs = visible_instructions(user).select_related("leader", "lead_unit", "created_by")
    return _get(qs, pk, "批示不存在或无权查看。")


# --- recording ---------------------------------------------------------------------------------------------


def can_record(user: User) -> bool:
    """Site visits, meetings and instructions are recorded by leaders and dispatchers."""
    return user.is_authenticated and user.has_role(Role.DISPATCHER, Role.LEADER)


def ensure_can_record(user: User, what: str) -> None:
    if not can_record(user):
        raise PermissionDenied(f"只有领导和调度员可以登记{what}。")


# --- service officers --------------------------------------------------------------------------------------


def service_officers() -> QuerySet[User]:
    """Every active user holding the 首席服务员 role."""
    holders = UserRole.objects.filter(role=Role.SERVICE_OFFICER).values("user_id")
    return User.objects.filter(is_active=True, pk__in=holders)


def visible_officers(user: User) -> QuerySet[User]:
    officers = service_officers()
    if not user.is_authenticated or not user.is_active:
        return officers.none()
    scope = user.effective_scope
    if scope == DataScope.ALL:
        return officers
    if scope == DataScope.NONE:
        return officers.none()
    pairings = OfficerPairing.objects.filter(officer=OuterRef("pk"), project__in=visible_projects(user).values("pk"))
    return officers.filter(Q(pk=user.pk) | Q(Exists(pairings)))


def get_officer(user: User, pk) -> User:
    return _get(visible_officers(user).select_related("unit"), pk, "首席服务员不存在或无权查看。")


def visible_pairings(user: User) -> QuerySet[OfficerPairing]:
    """Pairings of projects the user sees (and the officer's own)."""
    pairings = OfficerPairing.objects.all()
    if not user.is_authenticated or not user.is_active or user.effective_scope == DataScope.NONE:
        return pairings.none()
    if user.effective_scope == DataScope.ALL:
        return pairings
    return pairings.filter(Q(project__in=visible_projects(user).values("pk")) | Q(officer=user.pk))


def can_pair(user: User) -> bool:
    """Pairings are made and ended by dispatchers."""
    return user.is_authenticated and user.has_role(Role.DISPATCHER)


def can_log_for(user: User, officer: User) -> bool:
    """Visits and policy pushes are logged by the officer themself."""
    return user.is_authenticated and user.pk == officer.pk and user.has_role(Role.SERVICE_OFFICER)


def visible_officer_visits(user: User) -> QuerySet[OfficerVisit]:
    visits = OfficerVisit.objects.all()
    if not user.is_authenticated or not user.is_active or user.effective_scope == DataScope.NONE:
        return visits.none()
    if user.effective_scope == DataScope.ALL:
        return visits
    return visits.filter(Q(project__in=visible_projects(user).values("pk")) | Q(officer=user.pk))


def get_photo(user: User, pk) -> Photo:
    """A photo, when the user may see the site visit or the officer visit it belongs to."""
    try:
        photo = Photo.objects.get(pk=int(pk))
    except (Photo.DoesNotExist, ValueError, TypeError, OverflowError):
        raise Http404("照片不存在。") from None
    if photo.site_visit_id:
        visible = visible_site_visits(user).filter(pk=photo.site_visit_id).exists()
    else:
        visible = visible_officer_visits(user).filter(pk=photo.officer_visit_id).exists()
    if not visible:
        raise Http404("照片不存在。")
    return photo
