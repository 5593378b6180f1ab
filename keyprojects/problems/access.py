"""Who sees and who handles problems, built on the one access module (`projects.access`).

A user sees a problem when they see its project, or when their unit (or its subtree, per the data
scope) is the problem's lead or helper unit, or when they raised it, lead it as 分管领导 or supervise
it. Outside that, a problem is "not found". Who may *act* on a problem is decided by the domain
functions with the predicates below.
"""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404

from keyprojects.org.models import DataScope, Role, User
from keyprojects.problems.models import Problem
from keyprojects.projects.access import scope_unit_ids, visible_projects
from keyprojects.projects.models import Project

NOT_FOUND = "问题不存在或无权查看。"


def visible_problems(user: User) -> QuerySet[Problem]:
    """Every problem the user may see. Start every problem query (pages, API, exports) from here."""
    problems = Problem.objects.all()
    if not user.is_authenticated or not user.is_active:
        return problems.none()
    scope = user.effective_scope
    if scope == DataScope.ALL:
        return problems
    if scope == DataScope.NONE:
        return problems.none()
    mine = Q(project__in=visible_projects(user).values("pk")) | Q(raised_by=user)
    if scope in (DataScope.UNIT_AND_BELOW, DataScope.UNIT):
        ids = scope_unit_ids(user)
        helpers = Problem.helper_units.through.objects.filter(problem=OuterRef("pk"), unit_id__in=ids)
        mine |= Q(lead_unit_id__in=ids) | Q(Exists(helpers))
    else:  # 本人相关
        mine |= Q(responsible_leader=user) | Q(supervisor=user)
    return problems.filter(mine)


def get_problem(user: User, pk: int | str) -> Problem:
    """Fetch one problem through the scope: 404 outside it."""
    try:
        return visible_problems(user).select_related("project", "lead_unit", "responsible_leader").get(pk=int(pk))
    except (Problem.DoesNotExist, ValueError, TypeError, OverflowError):
        raise Http404(NOT_FOUND) from None


def ensure_visible(user: User, problem: Problem) -> None:
    if not visible_problems(user).filter(pk=problem.pk).exists():
        raise Http404(NOT_FOUND)


def officer_unit_ids(user: User) -> set[int]:
    """The units a 责任单位经办人 acts for: their unit, and its subtree under 本单位及下级."""
    if not user.has_role(Role.UNIT_OFFICER) or not user.unit_id:
        return set()
    return set(scope_unit_ids(user))


def is_lead_officer(user: User, problem: Problem) -> bool:
    return problem.lead_unit_id is not None and problem.lead_unit_id in officer_unit_ids(user)


def is_helper_officer(user: User, problem: Problem) -> bool:
    units = officer_unit_ids(user)
    return bool(units) and problem.helper_units.filter(pk__in=units).exists()


def raise_refusal(user: User, project: Project) -> str | None:
    """Why the user may not raise a problem about `project`, or None when they may.

    Dispatchers, leaders and unit officers raise problems about projects in their scope; an
    enterprise reporter about its own company's projects; a service officer about the projects they
    are paired with.
    """
    if user.has_role(Role.DISPATCHER, Role.LEADER, Role.UNIT_OFFICER):
        return None
    if user.has_role(Role.ENTERPRISE) and user.unit_id and project.owner_unit_id == user.unit_id:
        return None
    if user.has_role(Role.SERVICE_OFFICER) and project.service_officer_id == user.pk:
        return None
    if user.has_role(Role.ENTERPRISE):
        return "企业只能就本企业的项目反映问题。"
    if user.has_role(Role.SERVICE_OFFICER):
        return "首席服务员只能就结对服务的项目反映问题。"
    return "您的角色不能提出问题诉求。"


def enterprise_reporters(project: Project) -> QuerySet[User]:
    """The active 企业填报员 accounts of the project's owner company."""
    if not project.owner_unit_id:
        return User.objects.none()
    return User.objects.filter(is_active=True, unit_id=project.owner_unit_id, roles__role=Role.ENTERPRISE).distinct()


def rating_refusal(user: User, problem: Problem) -> tuple[str | None, bool]:
    """(why the user may not rate, whether they rate on the company's behalf).

    Only the company rates: a 企业填报员 of the project's owner unit. When the project has no
    enterprise account, a dispatcher records the company's rating on its behalf (代企业评价).
    """
    project = problem.project
    if user.has_role(Role.ENTERPRISE) and user.unit_id and user.unit_id == project.owner_unit_id:
        return None, False
    if user.has_role(Role.DISPATCHER):
        if enterprise_reporters(project).exists():
            return "该项目有企业账号，须由企业本人评价。", False
        return None, True
    return "只有项目企业可以评价办理结果。", False
