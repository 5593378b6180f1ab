"""Who sees and who handles monthly reports, built on the one access module (`projects.access`).

A report (and an annual plan) is visible exactly when its project is visible. Acting on a report
depends on the role, checked by the domain functions with the predicates below:

- filing (create, edit, submit a draft or a returned report): the company's 企业填报员 (a user of
  the project's owner unit); on the company's behalf (代填报) a 责任单位经办人 of the project's
  responsible unit (or a unit above it) or a 调度员. A report the company started itself is edited
  and submitted only by the company: reviewers never change a company's figures (统计法).
- return: the responsible unit's officer (submitted or reviewed reports) or a 调度员 (also confirmed
  ones, while the month is open). Review: the responsible unit's officer. Confirm: a 调度员.
- annual plans: a 调度员 or the responsible unit's officer. Baselines, month locks, restatements:
  a 调度员 (the service center).
"""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from keyprojects.org.models import DataScope, Role, User
from keyprojects.progress.models import AnnualPlan, MonthlyReport
from keyprojects.projects.access import scope_unit_ids, visible_projects
from keyprojects.projects.models import Project

NOT_FOUND = "月报不存在或无权查看。"
PROJECT_NOT_FOUND = "项目不存在或无权查看。"


def visible_reports(user: User) -> QuerySet[MonthlyReport]:
    """Every monthly report the user may see. Start every report query (pages, API, exports) here."""
    reports = MonthlyReport.objects.all()
    if not user.is_authenticated or not user.is_active:
        return reports.none()
    if user.effective_scope == DataScope.ALL:
        return reports
    return reports.filter(project__in=visible_projects(user).values("pk"))


def visible_plans(user: User) -> QuerySet[AnnualPlan]:
    plans = AnnualPlan.objects.all()
    if not user.is_authenticated or not user.is_active:
        return plans.none()
    if user.effective_scope == DataScope.ALL:
        return plans
    return plans.filter(project__in=visible_projects(user).values("pk"))


def get_report(user: User, pk: int | str) -> MonthlyReport:
    """Fetch one report through the scope: 404 outside it."""
    try:
        return visible_reports(user).select_related("project").get(pk=int(pk))
    except (MonthlyReport.DoesNotExist, ValueError, TypeError, OverflowError):
        raise Http404(NOT_FOUND) from None


def ensure_project_visible(user: User, project: Project) -> None:
    if user is None or not visible_projects(user).filter(pk=project.pk).exists():
        raise Http404(PROJECT_NOT_FOUND)


def is_dispatcher(user: User) -> bool:
    return user.has_role(Role.DISPATCHER)


def is_company_reporter(user: User, project: Project) -> bool:
    """A 企业填报员 of the project's owner company."""
    return bool(user.has_role(Role.ENTERPRISE) and user.unit_id and user.unit_id == project.owner_unit_id)


def is_responsible_officer(user: User, project: Project) -> bool:
    """A 责任单位经办人 of the project's responsible unit (or of a unit above it, per their scope)."""
    if not user.has_role(Role.UNIT_OFFICER) or not user.unit_id:
        return False
    return project.responsible_unit_id in scope_unit_ids(user)


def filing_refusal(user: User, project: Project, report: MonthlyReport | None = None) -> str | None:
    """Why the user may not create (report None) or edit and submit `report`, or None when they may."""
    if is_company_reporter(user, project):
        return None
    if not (is_responsible_officer(user, project) or is_dispatcher(user)):
        return "只有项目企业、责任单位或项目服务中心可以填报月报。"
    if report is not None and not report.on_behalf:
        return "该月报由企业自行填报，只能由企业修改和提交；如数据有误，请退回并说明理由。"
    return None


def return_refusal(user: User, report: MonthlyReport) -> str | None:
    if is_dispatcher(user) or is_responsible_officer(user, report.project):
        return None
    return "只有责任单位或项目服务中心可以退回月报。"


def review_refusal(user: User, report: MonthlyReport) -> str | None:
    if is_responsible_officer(user, report.project):
        return None
    return "只有项目的责任单位可以审核月报。"


def confirm_refusal(user: User) -> str | None:
    if is_dispatcher(user):
        return None
    return "只有项目服务中心可以确认月报。"


def plan_refusal(user: User, project: Project) -> str | None:
    if is_dispatcher(user) or is_responsible_officer(user, project):
        return None
    return "只有项目服务中心或责任单位可以制定和调整年度计划。"


def center_refusal(user: User, action: str) -> str | None:
    if is_dispatcher(user):
        return None
    return f"只有项目服务中心可以{action}。"
