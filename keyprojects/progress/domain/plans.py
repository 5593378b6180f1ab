"""Annual plans: `save_annual_plan` sets a project's plan for a year or revises it (every revision kept,
with its reason and the month it applies from); `plan_in_force` is the version a month's rates use.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from keyprojects.audit.models import AuditRecord
from keyprojects.audit.trail import record, snapshot
from keyprojects.org.models import User
from keyprojects.progress import access, rules
from keyprojects.progress.domain.common import (
    MAX_REASON,
    ZERO,
    ConflictError,
    _lock_project,
    _refuse,
    _text,
    _today,
    locked_through,
)
from keyprojects.progress.models import AnnualPlan, AnnualPlanRevision
from keyprojects.projects.models import Project

# --- annual plans -----------------------------------------------------------------------------------------------

PLAN_FLAGS = {"to_start": "计划年内开工", "to_complete": "计划年内竣工", "to_commission": "计划年内投产"}
PLAN_FIELDS = {"planned_investment", "monthly_plan", *PLAN_FLAGS}


def _flag(raw: Any, label: str) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in {"true", "1", "是", "yes"}:
        return True
    if isinstance(raw, str) and raw.strip().lower() in {"false", "0", "否", "no", ""}:
        return False
    if isinstance(raw, int) and raw in (0, 1):
        return bool(raw)
    raise ValidationError(f"{label}应为“是”或“否”。")


def _parse_plan(data: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    values = dict(current)
    for key in data:
        if key not in PLAN_FIELDS:
            errors.setdefault(key, []).append("该字段不可填写。")
    if "planned_investment" in data:
        try:
            values["planned_investment"] = rules.parse_amount(data["planned_investment"], "年度计划投资", required=True)
        except ValidationError as exc:
            errors["planned_investment"] = exc.messages
    for key, label in PLAN_FLAGS.items():
        if key in data:
            try:
                values[key] = _flag(data[key], label)
            except ValidationError as exc:
                errors[key] = exc.messages
    if "monthly_plan" in data:
        raw = data["monthly_plan"]
        if not raw:
            values["monthly_plan"] = []
        elif not isinstance(raw, (list, tuple)) or len(raw) != 12:
            errors["monthly_plan"] = ["分月计划须填写1至12月共12个数（或全部留空）。"]
        else:
            months = []
            for i, v in enumerate(raw, start=1):
                try:
                    months.append(rules.parse_amount(v, f"{i}月计划投资", required=True))
                except ValidationError as exc:
                    errors.setdefault("monthly_plan", []).extend(exc.messages)
            if len(months) == 12:
                values["monthly_plan"] = [str(m) for m in months]
    if errors:
        raise ValidationError(errors)
    if values.get("planned_investment") is None:
        raise ValidationError({"planned_investment": ["请填写年度计划投资。"]})
    if values["monthly_plan"]:
        total = sum((Decimal(v) for v in values["monthly_plan"]), ZERO)
        if total != values["planned_investment"]:
            planned = rules.wan(values["planned_investment"])
            raise ValidationError({"monthly_plan": [f"分月计划合计{rules.wan(total)}与年度计划{planned}不一致。"]})
    return values


def _plan_values(plan: AnnualPlan) -> dict[str, Any]:
    return {
        "planned_investment": plan.planned_investment, "to_start": plan.to_start, "to_complete": plan.to_complete,
        "to_commission": plan.to_commission, "monthly_plan": list(plan.monthly_plan or []),
    }  # fmt: skip


@transaction.atomic
def save_annual_plan(project: Project, *, by: User, year: int, data: dict[str, Any], reason: str = "",
                     effective_month: int | None = None, expected_version: int | None = None,
                     now: datetime.datetime | None = None) -> AnnualPlan:  # fmt: skip
    """Set a project's plan for a year, or revise it (a new kept version, with a reason).

    A revision applies from `effective_month` (default: the current month during the year, January
    before it, December after it); never from a closed month nor from before the previous revision.
    """
    access.ensure_project_visible(by, project)
    _refuse(access.plan_refusal(by, project))
    project = _lock_project(project.pk)
    today = _today(now)
    message = rules.invalid_month(year, 1)
    if message or year > today.year + 1:
        raise ValidationError({"year": [message or f"只能制定{today.year + 1}年及以前的年度计划。"]})
    plan = AnnualPlan.objects.select_for_update().filter(project=project, year=year).first()
    if plan is None:
        values = _parse_plan(data, {"planned_investment": None, "to_start": False, "to_complete": False,
                                    "to_commission": False, "monthly_plan": []})  # fmt: skip
        _check_plan_total(values, project)
        plan = AnnualPlan(project=project, year=year, original_planned_investment=values["planned_investment"],
                          created_by=by, **values)  # fmt: skip
        plan.save()
        AnnualPlanRevision.objects.create(plan=plan, number=1, effective_month=1, created_by=by,
                                          reason=_text(reason, "说明", limit=MAX_REASON) or "年初计划",
                                          **values)  # fmt: skip
        record(actor=by, action=AuditRecord.Action.CREATE, obj=plan, after=snapshot(plan), project_id=project.pk,
               reason=reason)  # fmt: skip
        return plan

    if expected_version is not None and plan.version != expected_version:
        raise ConflictError()
    old = _plan_values(plan)
    values = _parse_plan(data, old)
    _check_plan_total(values, project)
    diff = {k: {"old": rules.plain(old[k]), "new": rules.plain(values[k])} for k in old if old[k] != values[k]}
    if not diff:
        return plan
    reason = _text(reason, "调整理由", required=True, limit=MAX_REASON)
    last = plan.revisions.order_by("-number").first()
    if effective_month is None:
        effective_month = 1 if today.year < year else 12 if today.year > year else today.month
        effective_month = max(effective_month, last.effective_month)
    message = rules.invalid_month(year, effective_month)
    if message:
        raise ValidationError({"effective_month": [message]})
    if effective_month < last.effective_month:
        raise ValidationError(
            {"effective_month": [f"上一次调整自{last.effective_month}月起执行，本次调整不能早于该月。"]}
        )
    message = rules.closed_month(year, effective_month, locked_through())
    if message:
        raise ValidationError({"effective_month": [f"年度计划调整不能追溯到已锁定的月份：{message}"]})
    before = snapshot(plan)
    for key, value in values.items():
        setattr(plan, key, value)
    plan.revision_count += 1
    plan.effective_month = effective_month
    plan.version += 1
    plan.save()
    AnnualPlanRevision.objects.create(plan=plan, number=last.number + 1, effective_month=effective_month,
                                      changes=diff, reason=reason, created_by=by, **values)  # fmt: skip
    record(actor=by, action=AuditRecord.Action.UPDATE, obj=plan, before=before, after=snapshot(plan),
           project_id=project.pk, reason=f"{reason}（自{effective_month}月起执行）")  # fmt: skip
    return plan


def _check_plan_total(values: dict[str, Any], project: Project) -> None:
    if values["planned_investment"] > project.total_investment:
        raise ValidationError(
            {"planned_investment": [f"年度计划投资不能超过项目总投资{rules.wan(project.total_investment)}。"]}
        )


def plan_in_force(plan: AnnualPlan, month: int) -> AnnualPlanRevision:
    """The version of the plan that the rates of `month` use."""
    return plan.revisions.filter(effective_month__lte=month).order_by("-number").first()
