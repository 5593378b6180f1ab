"""What the report pages share: the `report_page` access rule, status badges, how rates and restated
values are shown, the plan look-up for a page of projects and the project header context.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import DecimalField
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from keyprojects.lib.money import quantize_wan
from keyprojects.progress import rates
from keyprojects.progress.models import AnnualPlan, ReportStatus, Restatement
from keyprojects.projects import access as project_access
from keyprojects.projects.filters import ProjectFilter
from keyprojects.projects.gates import scoped_page
from keyprojects.projects.models import Project

PER_PAGE = 25
ZERO = Decimal("0")
MONEY = DecimalField(max_digits=14, decimal_places=2)
FIGURE_LABELS = {
    "investment": "本月完成投资",
    "workers_on_site": "在岗工人数",
    "output_value": "本月产值",
    "tax": "本月税收",
    "ytd_investment": "年度累计完成投资",
    "since_start_investment": "开工累计完成投资",
}
STATUS_BADGES = {
    "missing": "kp-rs kp-rs-missing",
    ReportStatus.DRAFT: "kp-rs kp-rs-draft",
    ReportStatus.SUBMITTED: "kp-rs kp-rs-submitted",
    ReportStatus.RETURNED: "kp-rs kp-rs-returned",
    ReportStatus.REVIEWED: "kp-rs kp-rs-reviewed",
    ReportStatus.CONFIRMED: "kp-rs kp-rs-confirmed",
}
# Workflow refusals that are about the report's state, not the input: 409.
STATE_CODES = {"invalid_state", "locked", "not_locked", "pending"}


report_page = scoped_page(gettext_noop("您的账号没有查看月报的权限。"))


def _today() -> datetime.date:
    return timezone.localdate()


def _error_status(exc: ValidationError) -> int:
    return 409 if getattr(exc, "code", None) in STATE_CODES else 400


def _percent(ratio: Decimal | None) -> str:
    return rates.percent(ratio)


def _plain(value: Any) -> str:
    """A stored old/new value as staff read it (amounts with separators)."""
    if value is None or value == "":
        return "—"
    try:
        amount = Decimal(str(value))
    except ArithmeticError:
        return str(value)
    if amount == amount.to_integral_value() and "." not in str(value):
        return f"{amount:,}"
    return f"{quantize_wan(amount):,}"


def restatement_lines(restatements: list[Restatement]) -> list[dict[str, Any]]:
    """Each restatement as who/when/why and its old → new figures."""
    out = []
    for r in restatements:
        changes = [
            {"label": FIGURE_LABELS.get(name, name), "field": name, "old": _plain(pair.get("old")),
             "new": _plain(pair.get("new"))}
            for name, pair in (r.changes or {}).items()
        ]  # fmt: skip
        out.append({"restatement": r, "changes": changes})
    return out


def restated_fields(restatements: list[Restatement]) -> dict[str, dict[str, str]]:
    """For each corrected figure, the first old value and the latest new value."""
    fields: dict[str, dict[str, str]] = {}
    for r in restatements:
        for name, pair in (r.changes or {}).items():
            entry = fields.setdefault(name, {"old": _plain(pair.get("old"))})
            entry["new"] = _plain(pair.get("new"))
    return fields


def _restatements_by_report(report_ids: list[int]) -> dict[int, list[Restatement]]:
    out: dict[int, list[Restatement]] = {}
    if not report_ids:
        return out
    for r in Restatement.objects.filter(report_id__in=report_ids).select_related("restated_by").order_by("id"):
        out.setdefault(r.report_id, []).append(r)
    return out


def _restatement_title(restatements: list[Restatement]) -> str:
    parts = []
    for name, pair in restated_fields(restatements).items():
        parts.append(f"{FIGURE_LABELS.get(name, name)} {pair['old']} → {pair['new']}")
    return _("已更正：") + "；".join(parts) if parts else ""


def _plans_in_force(project_ids: list[int], year: int, month: int) -> dict[int, dict[str, Any]]:
    """The plan in force at (year, month) and the original plan, per project."""
    if not project_ids:
        return {}
    rows = (
        AnnualPlan.objects.filter(project_id__in=project_ids, year=year)
        .annotate(_planned=rates.in_force("planned_investment", month, MONEY))
        .values("project_id", "pk", "_planned", "planned_investment", "original_planned_investment")
    )
    return {r["project_id"]: r for r in rows}


def _detail_context(request: HttpRequest, project: Project) -> dict[str, Any]:
    """What projects/detail_base.html needs (the header and the tabs)."""
    user = request.user
    return {
        "nav": "projects",
        "project": project,
        "tab": "reports",
        "can_edit": project_access.can_edit_project(user, project),
        "can_delete": project_access.can_delete_project(user, project),
    }


def _filters_invalid(filter_form: ProjectFilter) -> bool:
    return bool(filter_form.is_bound and filter_form.errors)
