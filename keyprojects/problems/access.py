"""Who sees and who handles problems, built on the one access module (`projects.access`).

A user sees a problem when they see its project, or when their unit (or its subtree, per the data
scope) is the problem's lead or helper unit, or when they raised it, lead it as 分管领导 or supervise
it. Outside that, a problem is "not found". Who may *act* on a problem is decided by the domain
functions with the predicates below.
"""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404
from django.utils.translation import gettext_lazy

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


# --- which actions a user may take (pages and API ask here before calling the domain) -------------------

ACTIONS = ("edit", "assign", "deploy", "feedback", "resolve", "rate", "close", "supervise", "escalate")
# The 403 message when `may()` says no (the domain functions say the same).
REFUSALS = {
    "edit": gettext_lazy("只有提出人或调度员可以修改问题内容。"),
    "assign": gettext_lazy("只有调度员可以交办问题。"),
    "deploy": gettext_lazy("只有主办单位的经办人可以部署。"),
    "feedback": gettext_lazy("只有主办或协办单位的经办人可以反馈办理情况。"),
    "resolve": gettext_lazy("只有主办单位的经办人可以办结。"),
    "rate": gettext_lazy("只有项目企业可以评价办理结果。"),
    "close": gettext_lazy("只有调度员可以销号。"),
    "supervise": gettext_lazy("只有领导可以挂牌督办。"),
    "escalate": gettext_lazy("只有调度员或领导可以升级督办。"),
}


def may(user: User, problem: Problem, action: str) -> bool:
    """Whether the user's role allows `action` on the problem, whatever its state.

    The same rules the domain functions apply (they check again): a refusal here is 403, a step out of
    order is the domain's message. `edit` is the raiser's or a dispatcher's; `assign` a dispatcher's (a
    leader's too for a task from a site visit, a meeting or an instruction); `deploy` and `resolve` the
    lead unit's officers'; `feedback` the lead or helper units' officers'; `rate` the company's (or a
    dispatcher's on its behalf); `close` a dispatcher's; `supervise` a leader's; `escalate` a
    dispatcher's or a leader's.
    """
    if action == "edit":
        return user.has_role(Role.DISPATCHER) or (problem.raised_by_id is not None and problem.raised_by_id == user.pk)
    if action == "assign":
        if user.has_role(Role.DISPATCHER):
            return True
        from keyprojects.problems.domain import TASK_SOURCES

        return user.has_role(Role.LEADER) and problem.source in TASK_SOURCES
    if action in ("deploy", "resolve"):
        return is_lead_officer(user, problem)
    if action == "feedback":
        return is_lead_officer(user, problem) or is_helper_officer(user, problem)
    if action == "rate":
        return rating_refusal(user, problem)[0] is None
    if action == "close":
        return user.has_role(Role.DISPATCHER)
    if action == "supervise":
        return user.has_role(Role.LEADER)
    if action == "escalate":
        return user.has_role(Role.DISPATCHER, Role.LEADER)
    return False


def action_is_due(problem: Problem, action: str) -> bool:
    """Whether the problem's state admits `action` now (the forms a page offers)."""
    from keyprojects.problems import clock
    from keyprojects.problems.models import DONE_STATUSES, GOOD_RATINGS, OPEN_STATUSES, Status

    status = problem.status
    if action in ("edit", "assign"):
        return status == Status.NEW
    if action == "deploy":
        return status == Status.ASSIGNED
    if action in ("feedback", "resolve"):
        return status in (Status.DEPLOYED, Status.IN_PROGRESS)
    if action == "rate":
        return status == Status.RESOLVED
    if action == "close":
        return status == Status.RATED and problem.rating in GOOD_RATINGS
    if action == "supervise":
        return status not in DONE_STATUSES
    if action == "escalate":
        return status in OPEN_STATUSES and problem.escalation_level < clock.max_level(problem)
    return False


def allowed_actions(user: User, problem: Problem) -> set[str]:
    """The actions the user may take on the problem now (role and state)."""
    return {a for a in ACTIONS if action_is_due(problem, a) and may(user, problem, a)}


def refusal(user: User, problem: Problem, action: str) -> str | None:
    """Why the user's role may not take `action` on the problem (the 403 message), or None."""
    if may(user, problem, action):
        return None
    if action == "rate":
        return rating_refusal(user, problem)[0] or str(REFUSALS["rate"])
    return str(REFUSALS.get(action, "无权执行此操作。"))
