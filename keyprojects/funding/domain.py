"""Domain functions of funding and the investment-environment measures. Every change goes through here.

Each function validates the whole new state first and raises `ValidationError` (Chinese messages,
keyed by field) before anything is written, so a refused change saves nothing; then it writes the
rows inside one transaction and the audit trail (`keyprojects.audit.trail.record`) itself. Callers
(pages, API, the demo seed) check access first through `funding.access`.

**The pipeline of a funding line** (`validate_pipeline`): steps 储备 → 申报 → 发改审核通过 → 财政审核通过
→ 额度下达 → 发行 → 拨付 → 支出; any may be skipped except 储备 (every line starts as a reserve amount:
the line's place in the project's funding plan). Each recorded step needs an amount and a date; along
the steps recorded

- amounts never go backwards: a step's amount is at most the previous recorded step's (spent above
  disbursed or allocated, issued above allocated or approved… are refused);
- dates never go backwards: no step is dated before the previous recorded step;
- 发行 exists only for fund types with issuance (bonds), and there a bond is disbursed and spent
  only after it is issued; the issued step needs the bond's name, term and rate;
- a line marked 审核未通过 stops at 申报.

Amounts of 拨付 and 支出 are cumulative to their date. Audit records of funding use Chinese keys
(资金类型, 储备, …) so that the project's history page reads as it is.
"""

from __future__ import annotations

import datetime
import itertools
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from keyprojects.audit.models import AuditRecord
from keyprojects.audit.trail import record
from keyprojects.funding.models import (
    INDICATORS,
    STEP_ORDER,
    ApprovalAcceleration,
    BondDetail,
    Building,
    FundingLine,
    FundingStep,
    FundType,
    IndustryChain,
    ProjectLand,
    PromiseOutcome,
    Step,
    tax_band_for,
)
from keyprojects.funding.worker import schedule
from keyprojects.lib.money import format_wan
from keyprojects.org.models import Unit, User
from keyprojects.projects.models import MAX_INVESTMENT_WAN, ApprovalItem, Project

EARLIEST = datetime.date(2000, 1, 1)
MAX_TEXT = 500


class ConflictError(Exception):
    """The line changed since the user loaded it (optimistic locking on `version`)."""

    message = "该资金信息已被他人修改，请刷新后重新编辑（您的修改未保存）。"


@dataclass
class StepValue:
    """One step as entered: amount (万元), date and document number."""

    amount: Decimal | None = None
    date: datetime.date | None = None
    document_number: str = ""

    @property
    def given(self) -> bool:
        return self.amount is not None or self.date is not None or bool(self.document_number)


def _label(step: str) -> str:
    return str(Step(step).label)


def _add(errors: dict[str, list[str]], key: str, message: str) -> None:
    errors.setdefault(key, []).append(message)


def _money_error(value: Any, label: str, *, positive: bool = False) -> str | None:
    if not isinstance(value, Decimal):
        return _("%(label)s应为数字。") % {"label": label}
    if not value.is_finite():
        return _("%(label)s应为有限的数字。") % {"label": label}
    if value < 0 or (positive and value == 0):
        return (_("%(label)s必须大于0。") if positive else _("%(label)s不能为负数。")) % {"label": label}
    if value > MAX_INVESTMENT_WAN:
        return _("%(label)s超过1万亿元，请核对单位是否为万元。") % {"label": label}
    if value != value.quantize(Decimal("0.01")):
        return _("%(label)s最多两位小数（单位：万元）。") % {"label": label}
    return None


def validate_pipeline(
    fund_type: FundType,
    steps: dict[str, StepValue],
    *,
    rejected: bool = False,
    bond: dict[str, Any] | None = None,
    today: datetime.date | None = None,
) -> dict[str, list[str]]:
    """The pipeline's errors keyed by ``<step>_amount`` / ``<step>_date`` / ``bond_*`` (empty: valid)."""
    today = today or timezone.localdate()
    errors: dict[str, list[str]] = {}
    amounts: list[tuple[str, Decimal]] = []  # the steps with a valid amount, in order
    dates: list[tuple[str, datetime.date]] = []  # the steps with a valid date, in order
    for step in STEP_ORDER:
        value = steps.get(step)
        if value is None or not value.given:
            continue
        label = _label(step)
        if step == Step.ISSUED and not fund_type.has_issuance:
            _add(errors, f"{step}_amount", _("“%(type)s”没有发行环节。") % {"type": fund_type.name})
            continue
        if value.amount is None:
            _add(errors, f"{step}_amount", _("请填写%(step)s金额。") % {"step": label})
        else:
            message = _money_error(value.amount, _("%(step)s金额") % {"step": label}, positive=step == Step.RESERVE)
            if message:
                _add(errors, f"{step}_amount", message)
            else:
                amounts.append((step, value.amount))
        if value.date is None:
            _add(errors, f"{step}_date", _("请填写%(step)s日期。") % {"step": label})
        elif value.date < EARLIEST:
            _add(errors, f"{step}_date", _("%(step)s日期早于2000年，请核对。") % {"step": label})
        elif value.date > today:
            _add(errors, f"{step}_date", _("%(step)s日期不能晚于今天。") % {"step": label})
        else:
            dates.append((step, value.date))
        if len(value.document_number) > 80:
            _add(errors, f"{step}_document_number", _("文号不能超过80个字。"))
    if not (steps.get(Step.RESERVE) and steps[Step.RESERVE].given):
        _add(errors, f"{Step.RESERVE}_amount", _("请填写储备金额和日期：每条资金都从储备开始。"))
    # Amounts and dates never go backwards along the recorded steps (each checked where it is valid).
    for (prev, before), (step, amount) in itertools.pairwise(amounts):
        if amount > before:
            message = _("%(step)s金额（%(a)s）不能超过%(prev)s金额（%(b)s）。")
            _add(errors, f"{step}_amount", message % {"step": _label(step), "a": format_wan(amount),
                                                      "prev": _label(prev), "b": format_wan(before)})  # fmt: skip
    for (prev, before), (step, day) in itertools.pairwise(dates):
        if day < before:
            _add(errors, f"{step}_date", _("%(step)s日期（%(d)s）不能早于%(prev)s日期（%(p)s）。") % {
                "step": _label(step), "d": day.isoformat(), "prev": _label(prev), "p": before.isoformat()})  # fmt: skip
    given = {s for s in STEP_ORDER if steps.get(s) and steps[s].given}
    if fund_type.has_issuance and Step.ISSUED not in given:
        for step in (Step.DISBURSED, Step.SPENT):
            if step in given:
                _add(errors, f"{step}_amount", _("债券资金须先发行，才能%(step)s。") % {"step": _label(step)})
    if rejected:
        beyond = [s for s in given if Step.order(s) > Step.order(Step.APPLIED)]
        if beyond:
            _add(errors, "rejected", _("审核未通过的资金不能有“%(steps)s”环节。") % {
                "steps": "、".join(_label(s) for s in STEP_ORDER if s in beyond)})  # fmt: skip
    bond = bond or {}
    bond_given = any(v not in (None, "") for v in bond.values())
    if bond_given and not fund_type.has_issuance:
        _add(errors, "bond_name", _("“%(type)s”不是债券，不填写债券信息。") % {"type": fund_type.name})
    elif Step.ISSUED in given or bond_given:
        _bond_errors(bond, errors)
    return errors


def _bond_errors(bond: dict[str, Any], errors: dict[str, list[str]]) -> None:
    name = (bond.get("name") or "").strip()
    if not name:
        _add(errors, "bond_name", _("已发行的债券须填写债券名称。"))
    elif len(name) > 120:
        _add(errors, "bond_name", _("债券名称不能超过120个字。"))
    if len((bond.get("code") or "").strip()) > 40:
        _add(errors, "bond_code", _("债券代码不能超过40个字。"))
    term = bond.get("term_years")
    if term is None:
        _add(errors, "bond_term_years", _("请填写债券期限（年）。"))
    elif isinstance(term, bool) or not isinstance(term, int) or not 1 <= term <= 50:
        _add(errors, "bond_term_years", _("债券期限应为1到50之间的整数（年）。"))
    rate = bond.get("rate")
    if rate is None:
        _add(errors, "bond_rate", _("请填写票面利率（%）。"))
    elif not isinstance(rate, Decimal) or not rate.is_finite() or not Decimal("0") < rate <= Decimal("20"):
        _add(errors, "bond_rate", _("票面利率应在0到20（%）之间。"))
    elif rate != rate.quantize(Decimal("0.001")):
        _add(errors, "bond_rate", _("票面利率最多三位小数。"))


def _header_errors(data: dict[str, Any], errors: dict[str, list[str]]) -> None:
    fund_type = data.get("fund_type")
    if not isinstance(fund_type, FundType):
        _add(errors, "fund_type", _("请选择资金类型。"))
    year = data.get("year")
    if year is None or isinstance(year, bool) or not isinstance(year, int):
        _add(errors, "year", _("请填写年度。"))
    elif not 2000 <= year <= 2100:
        _add(errors, "year", _("年度应在2000到2100之间。"))
    if len(data.get("batch") or "") > 40:
        _add(errors, "batch", _("批次不能超过40个字。"))
    if len(data.get("note") or "") > MAX_TEXT:
        _add(errors, "note", _("备注不能超过500个字。"))


def _clean_data(data: dict[str, Any]) -> dict[str, Any]:
    steps = {}
    for step, value in (data.get("steps") or {}).items():
        if step not in STEP_ORDER:
            raise ValidationError({"steps": [_("无效的环节：%(step)s。") % {"step": step}]})
        if isinstance(value, StepValue):
            steps[step] = value
        elif value is not None:
            steps[step] = StepValue(
                value.get("amount"), value.get("date"), (value.get("document_number") or "").strip()
            )
    bond = data.get("bond") or {}
    return {
        "fund_type": data.get("fund_type"),
        "year": data.get("year"),
        "batch": (data.get("batch") or "").strip(),
        "rejected": bool(data.get("rejected")),
        "note": (data.get("note") or "").strip(),
        "steps": steps,
        "bond": {k: (v.strip() if isinstance(v, str) else v) for k, v in bond.items()},
    }


def _validate_line(project: Project, clean: dict[str, Any], *, exclude_pk: int | None, today) -> None:
    errors: dict[str, list[str]] = {}
    _header_errors(clean, errors)
    if not errors:
        errors.update(validate_pipeline(clean["fund_type"], clean["steps"], rejected=clean["rejected"],
                                        bond=clean["bond"], today=today))  # fmt: skip
        same = FundingLine.objects.filter(project=project, fund_type=clean["fund_type"], year=clean["year"],
                                          batch=clean["batch"])  # fmt: skip
        if exclude_pk:
            same = same.exclude(pk=exclude_pk)
        if same.exists():
            _add(errors, "fund_type", _("该项目已有%(year)s年%(batch)s的“%(type)s”资金，请直接修改那一条。") % {
                "year": clean["year"], "batch": clean["batch"], "type": clean["fund_type"].name})  # fmt: skip
    if errors:
        raise ValidationError(errors)


def furthest_step(steps: dict[str, StepValue]) -> str:
    given = [s for s in STEP_ORDER if steps.get(s) and steps[s].given]
    return given[-1] if given else Step.RESERVE


def line_snapshot(line: FundingLine) -> dict[str, Any]:
    """The line as the audit trail and the history page show it (Chinese keys)."""
    data: dict[str, Any] = {
        "资金类型": line.fund_type.name,
        "年度": line.year,
        "批次": line.batch,
        "审核未通过": line.rejected,
        "备注": line.note,
    }
    steps = {s.step: s for s in line.steps.all()}
    for step in STEP_ORDER:
        s = steps.get(step)
        data[_label(step)] = " ".join(filter(None, [f"{s.amount:.2f}万元", s.date.isoformat(), s.document_number])) \
            if s else None  # fmt: skip
    bond = getattr(line, "bond", None) if line.pk else None  # the reverse one-to-one raises AttributeError
    data["债券"] = f"{bond.name}（期限{bond.term_years}年，票面利率{bond.rate}%）" if bond else None
    return data


def _write_steps(line: FundingLine, clean: dict[str, Any]) -> None:
    existing = {s.step: s for s in line.steps.all()}
    for step in STEP_ORDER:
        value = clean["steps"].get(step)
        row = existing.get(step)
        if value is None or not value.given:
            if row is not None:
                row.delete()
            continue
        if row is None:
            FundingStep.objects.create(line=line, step=step, amount=value.amount, date=value.date,
                                       document_number=value.document_number)  # fmt: skip
        elif (row.amount, row.date, row.document_number) != (value.amount, value.date, value.document_number):
            row.amount, row.date, row.document_number = value.amount, value.date, value.document_number
            row.save(update_fields=["amount", "date", "document_number"])
    bond = clean["bond"]
    keep = clean["fund_type"].has_issuance and (Step.ISSUED in clean["steps"] or any(bond.values()))
    if keep and bond.get("name"):
        BondDetail.objects.update_or_create(line=line, defaults={
            "name": bond["name"], "code": bond.get("code") or "", "term_years": bond["term_years"],
            "rate": bond["rate"]})  # fmt: skip
    else:
        BondDetail.objects.filter(line=line).delete()
    if hasattr(line, "_prefetched_objects_cache"):
        line._prefetched_objects_cache = {}
    line._state.fields_cache.pop("bond", None)


def _reschedule(line: FundingLine) -> None:
    line.next_check_at = schedule(line)
    FundingLine.objects.filter(pk=line.pk).update(next_check_at=line.next_check_at)


@transaction.atomic
def create_line(*, by: User | None, project: Project, data: dict[str, Any],
                today: datetime.date | None = None) -> FundingLine:  # fmt: skip
    """Add a funding line to a project (data: fund_type, year, batch, rejected, note, steps, bond)."""
    clean = _clean_data(data)
    _validate_line(project, clean, exclude_pk=None, today=today)
    line = FundingLine(project=project, fund_type=clean["fund_type"], year=clean["year"], batch=clean["batch"],
                       rejected=clean["rejected"], note=clean["note"], stage=furthest_step(clean["steps"]),
                       created_by=by if by and by.pk else None)  # fmt: skip
    try:
        with transaction.atomic():
            line.save()
    except IntegrityError:
        raise ValidationError({"fund_type": [_("该项目已有同年度同批次的同类资金，请直接修改那一条。")]}) from None
    _write_steps(line, clean)
    _reschedule(line)
    record(actor=by, action=AuditRecord.Action.CREATE, obj=line, after=line_snapshot(line), project_id=project.pk)
    return line


@transaction.atomic
def update_line(line: FundingLine, *, by: User | None, data: dict[str, Any], expected_version: int | None = None,
                today: datetime.date | None = None) -> FundingLine:  # fmt: skip
    """Replace the line's header, steps and bond with `data` (a full new state). Unchanged: no record."""
    current = FundingLine.objects.select_for_update().select_related("fund_type", "project").get(pk=line.pk)
    if expected_version is not None and current.version != expected_version:
        raise ConflictError()
    clean = _clean_data(data)
    _validate_line(current.project, clean, exclude_pk=current.pk, today=today)
    before = line_snapshot(current)
    current.fund_type, current.year, current.batch = clean["fund_type"], clean["year"], clean["batch"]
    current.rejected, current.note, current.stage = clean["rejected"], clean["note"], furthest_step(clean["steps"])
    _write_steps(current, clean)
    after = line_snapshot(current)
    if after == before:
        return current
    current.version += 1
    try:
        with transaction.atomic():
            current.save()
    except IntegrityError:
        raise ValidationError({"fund_type": [_("该项目已有同年度同批次的同类资金，请直接修改那一条。")]}) from None
    _reschedule(current)
    record(actor=by, action=AuditRecord.Action.UPDATE, obj=current, before=before, after=after,
           project_id=current.project_id)  # fmt: skip
    return current


@transaction.atomic
def delete_line(line: FundingLine, *, by: User | None) -> None:
    before = line_snapshot(line)
    record(actor=by, action=AuditRecord.Action.DELETE, obj=line, before=before, project_id=line.project_id)
    line.delete()


def step_values(line: FundingLine) -> dict[str, StepValue]:
    """The line's steps as `StepValue`s (the full state a form or a PATCH starts from)."""
    return {s.step: StepValue(s.amount, s.date, s.document_number) for s in line.steps.all()}


def bond_values(line: FundingLine) -> dict[str, Any]:
    try:
        b = line.bond
    except BondDetail.DoesNotExist:
        return {}
    return {"name": b.name, "code": b.code, "term_years": b.term_years, "rate": b.rate}


# --- acceleration measures on approvals ------------------------------------------------------------------

ACCELERATION_LABELS = {
    "on_promise": "信用承诺制办理", "promise_content": "承诺内容", "promise_deadline": "承诺期限",
    "promise_outcome": "承诺履行", "promise_checked_on": "核查日期", "agent": "代办员",
    "agent_started_on": "代办受理日期",
}  # fmt: skip


def _acceleration_snapshot(a: ApprovalAcceleration) -> dict[str, Any]:
    return {
        "信用承诺制办理": a.on_promise,
        "承诺内容": a.promise_content,
        "承诺期限": a.promise_deadline.isoformat() if a.promise_deadline else None,
        "承诺履行": str(PromiseOutcome(a.promise_outcome).label) if a.on_promise else None,
        "核查日期": a.promise_checked_on.isoformat() if a.promise_checked_on else None,
        "代办员": str(a.agent) if a.agent_id else None,
        "代办受理日期": a.agent_started_on.isoformat() if a.agent_started_on else None,
    }


def validate_acceleration(a: ApprovalAcceleration, *, today: datetime.date | None = None) -> dict[str, list[str]]:
    today = today or timezone.localdate()
    errors: dict[str, list[str]] = {}
    if a.on_promise:
        if not a.promise_deadline:
            _add(errors, "promise_deadline", _("信用承诺制办理须填写承诺期限。"))
        if a.promise_outcome != PromiseOutcome.PENDING and not a.promise_checked_on:
            _add(errors, "promise_checked_on", _("登记承诺是否兑现时须填写核查日期。"))
        if a.promise_checked_on and a.promise_checked_on > today:
            _add(errors, "promise_checked_on", _("核查日期不能晚于今天。"))
        if a.promise_outcome == PromiseOutcome.PENDING and a.promise_checked_on:
            _add(errors, "promise_outcome", _("已核查的承诺请选择“已兑现”或“未兑现”。"))
    else:
        if (
            a.promise_deadline
            or a.promise_content
            or a.promise_checked_on
            or a.promise_outcome != PromiseOutcome.PENDING
        ):
            _add(errors, "on_promise", _("未采用信用承诺制时，不填写承诺内容、期限和履行情况。"))
    if len(a.promise_content) > 300:
        _add(errors, "promise_content", _("承诺内容不能超过300个字。"))
    if a.promise_deadline and a.promise_deadline < EARLIEST:
        _add(errors, "promise_deadline", _("承诺期限早于2000年，请核对。"))
    if a.agent_started_on:
        if not a.agent_id:
            _add(errors, "agent", _("填写代办受理日期时须选择代办员。"))
        if a.agent_started_on > today:
            _add(errors, "agent_started_on", _("代办受理日期不能晚于今天。"))
        elif a.agent_started_on < EARLIEST:
            _add(errors, "agent_started_on", _("代办受理日期早于2000年，请核对。"))
        actual = a.item.actual_date
        if actual and a.agent_started_on > actual:
            _add(errors, "agent_started_on", _("代办受理日期（%(d)s）不能晚于事项办结日期（%(e)s）。") % {
                "d": a.agent_started_on.isoformat(), "e": actual.isoformat()})  # fmt: skip
    elif a.agent_id:
        _add(errors, "agent_started_on", _("选择代办员时须填写代办受理日期。"))
    if a.agent_id and not a.agent.is_active:
        _add(errors, "agent", _("代办员账号已停用。"))
    return errors


@transaction.atomic
def save_acceleration(item: ApprovalItem, *, by: User | None, data: dict[str, Any],
                      today: datetime.date | None = None) -> ApprovalAcceleration:  # fmt: skip
    """Set the 信用承诺 / 全程代办 measures of one approval item (a promise needs a deadline)."""
    current = ApprovalAcceleration.objects.select_for_update().filter(item=item).first()
    creating = current is None
    a = current or ApprovalAcceleration(item=item)
    a.item = item
    before = None if creating else _acceleration_snapshot(a)
    for field in ACCELERATION_LABELS:
        if field in data:
            value = data[field]
            if field == "agent":
                a.agent = value
            elif isinstance(value, str):
                setattr(a, field, value.strip())
            else:
                setattr(a, field, value)
    if a.promise_outcome not in PromiseOutcome.values:
        raise ValidationError({"promise_outcome": [_("无效的承诺履行情况。")]})
    errors = validate_acceleration(a, today=today)
    if errors:
        raise ValidationError(errors)
    after = _acceleration_snapshot(a)
    if before == after:
        return a
    a.save()
    record(actor=by, action=AuditRecord.Action.CREATE if creating else AuditRecord.Action.UPDATE, obj=a,
           before=before, after=after, project_id=item.project_id,
           reason=f"前期手续：{item.name}")  # fmt: skip
    return a


# --- land and 标准地 ---------------------------------------------------------------------------------------

LAND_FIELDS = (
    ["certificate_on", "area_mu", "is_standard", "sold_on"]
    + [f"{kind}_{key}" for kind in ("promised", "checked") for key, *_rest in INDICATORS]
    + ["checked_on"]
)


def _land_snapshot(land: ProjectLand) -> dict[str, Any]:
    out = {}
    for name in LAND_FIELDS:
        field = ProjectLand._meta.get_field(name)
        value = getattr(land, name)
        if isinstance(value, datetime.date):
            value = value.isoformat()
        elif isinstance(value, Decimal):
            value = str(value)
        out[str(field.verbose_name)] = value
    return out


def validate_land(land: ProjectLand, *, today: datetime.date | None = None) -> dict[str, list[str]]:
    today = today or timezone.localdate()
    errors: dict[str, list[str]] = {}
    for name in ("certificate_on", "sold_on", "checked_on"):
        value = getattr(land, name)
        label = str(ProjectLand._meta.get_field(name).verbose_name)
        if value and value > today:
            _add(errors, name, _("%(label)s不能晚于今天。") % {"label": label})
        elif value and value < EARLIEST:
            _add(errors, name, _("%(label)s早于2000年，请核对。") % {"label": label})
    for name in LAND_FIELDS:
        value = getattr(land, name)
        if isinstance(value, Decimal) and (not value.is_finite() or value < 0):
            label = str(ProjectLand._meta.get_field(name).verbose_name)
            _add(errors, name, _("%(label)s不能为负数。") % {"label": label})
    if land.sold_on and land.certificate_on and land.certificate_on < land.sold_on:
        _add(errors, "certificate_on", _("取得不动产权证日期不能早于出让日期。"))
    promised = [f"promised_{key}" for key, *_r in INDICATORS]
    checked = [f"checked_{key}" for key, *_r in INDICATORS]
    if land.is_standard:
        if not land.sold_on:
            _add(errors, "sold_on", _("标准地须填写出让日期。"))
        for name in promised:
            if getattr(land, name) is None:
                label = str(ProjectLand._meta.get_field(name).verbose_name)
                _add(errors, name, _("标准地须填写出让时承诺的%(label)s。") % {"label": label.removeprefix("承诺")})
    else:
        if any(getattr(land, n) is not None for n in promised + checked) or land.checked_on:
            _add(errors, "is_standard", _("只有标准地项目登记承诺指标和达产复核。"))
    if any(getattr(land, n) is not None for n in checked) and not land.checked_on:
        _add(errors, "checked_on", _("登记复核指标时须填写达产复核日期。"))
    if land.checked_on:
        if land.sold_on and land.checked_on < land.sold_on:
            _add(errors, "checked_on", _("达产复核日期不能早于出让日期。"))
        if all(getattr(land, n) is None for n in checked):
            _add(errors, "checked_on", _("填写达产复核日期时须登记复核指标。"))
    return errors


@transaction.atomic
def save_land(project: Project, *, by: User | None, data: dict[str, Any],
              today: datetime.date | None = None) -> ProjectLand:  # fmt: skip
    """Set the project's land certificate date and, for 标准地, the promised and checked indicators."""
    current = ProjectLand.objects.select_for_update().filter(project=project).first()
    creating = current is None
    land = current or ProjectLand(project=project)
    before = None if creating else _land_snapshot(land)
    for name in LAND_FIELDS:
        if name in data:
            setattr(land, name, data[name])
    errors = validate_land(land, today=today)
    if errors:
        raise ValidationError(errors)
    land.full_clean(exclude=["project"])
    after = _land_snapshot(land)
    if before == after:
        return land
    land.save()
    record(actor=by, action=AuditRecord.Action.CREATE if creating else AuditRecord.Action.UPDATE, obj=land,
           before=before, after=after, project_id=project.pk)  # fmt: skip
    return land


# --- registries: industry chains and buildings -----------------------------------------------------------


def _registry_snapshot(obj: IndustryChain | Building, fields: list[str], m2m: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in fields:
        field = obj._meta.get_field(name)
        value = getattr(obj, name)
        if isinstance(value, Decimal) or hasattr(value, "pk"):
            value = str(value)
        elif field.choices and value:
            value = str(dict(field.flatchoices).get(value, value))
        out[str(field.verbose_name)] = value
    if obj.pk:
        for name in m2m:
            field = obj._meta.get_field(name)
            out[str(field.verbose_name)] = sorted(str(o) for o in getattr(obj, name).all())
    return out


CHAIN_FIELDS = ["name", "leader", "lead_company", "description", "position"]
BUILDING_FIELDS = ["name", "address", "town", "star_rating", "tax_band", "annual_tax", "floor_area",
                   "tenant_count", "note"]  # fmt: skip


def _save_registry(obj, *, by: User | None, data: dict[str, Any], fields: list[str], m2m: list[str],
                   check) -> Any:  # fmt: skip
    creating = obj.pk is None
    before = None if creating else _registry_snapshot(obj, fields, m2m)
    for name in fields:
        if name in data:
            value = data[name]
            setattr(obj, name, value.strip() if isinstance(value, str) else value)
    errors = check(obj, data)
    try:
        obj.full_clean(validate_unique=False)  # names are checked above with a clearer message
    except ValidationError as exc:
        for key, messages in exc.message_dict.items():
            for message in messages:
                _add(errors, key, message)
    if errors:
        raise ValidationError(errors)
    obj.save()
    for name in m2m:
        if name in data:
            getattr(obj, name).set(data[name])
    after = _registry_snapshot(obj, fields, m2m)
    if before == after:
        return obj
    record(actor=by, action=AuditRecord.Action.CREATE if creating else AuditRecord.Action.UPDATE, obj=obj,
           before=before, after=after)  # fmt: skip
    return obj


def _chain_errors(chain: IndustryChain, data: dict[str, Any]) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if chain.lead_company_id and chain.lead_company.kind != Unit.Kind.ENTERPRISE:
        _add(errors, "lead_company", _("链主企业必须是企业。"))
    for company in data.get("companies") or []:
        if company.kind != Unit.Kind.ENTERPRISE:
            _add(errors, "companies", _("链上企业必须是企业：%(name)s。") % {"name": company})
            break
    if chain.leader_id and not chain.leader.is_active:
        _add(errors, "leader", _("链长账号已停用。"))
    same = IndustryChain.objects.filter(name=(chain.name or "").strip())
    if chain.pk:
        same = same.exclude(pk=chain.pk)
    if chain.name and same.exists():
        _add(errors, "name", _("已有同名的产业链。"))
    return errors


@transaction.atomic
def save_chain(chain: IndustryChain | None, *, by: User | None, data: dict[str, Any]) -> IndustryChain:
    """Create or change an industry chain (data: name, leader, lead_company, description, position,
    projects, companies); the caller has checked that the projects are ones the user may see."""
    if chain is not None:
        chain = IndustryChain.objects.select_for_update().get(pk=chain.pk)
    return _save_registry(chain or IndustryChain(), by=by, data=data, fields=CHAIN_FIELDS,
                          m2m=["projects", "companies"], check=_chain_errors)  # fmt: skip


def _building_errors(building: Building, data: dict[str, Any]) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if building.town_id and building.town.kind != Unit.Kind.TOWN:
        _add(errors, "town", _("所在地必须是乡镇或街道。"))
    companies = data.get("companies")
    if companies is None and building.pk:
        companies = list(building.companies.all())
    companies = companies or []
    for company in companies:
        if company.kind != Unit.Kind.ENTERPRISE:
            _add(errors, "companies", _("入驻企业必须是企业：%(name)s。") % {"name": company})
            break
    if building.tenant_count is not None and len(companies) > building.tenant_count:
        _add(errors, "tenant_count", _("入驻企业数（%(n)s）少于已关联的系统内企业数（%(m)s）。") % {
            "n": building.tenant_count, "m": len(companies)})  # fmt: skip
    if building.annual_tax is not None:
        message = _money_error(building.annual_tax, _("年税收"))
        if message:
            _add(errors, "annual_tax", message)
        else:
            derived = tax_band_for(building.annual_tax)
            if data.get("tax_band") and data["tax_band"] != derived:  # a band given with the tax must match it
                _add(
                    errors,
                    "tax_band",
                    _("税收档次与年税收（%(tax)s）不符。") % {"tax": format_wan(building.annual_tax)},
                )
            building.tax_band = derived
    same = Building.objects.filter(name=(building.name or "").strip())
    if building.pk:
        same = same.exclude(pk=building.pk)
    if building.name and same.exists():
        _add(errors, "name", _("已有同名的楼宇。"))
    return errors


@transaction.atomic
def save_building(building: Building | None, *, by: User | None, data: dict[str, Any]) -> Building:
    """Create or change a building (data: the model fields and companies). With an annual tax, the tax
    band is derived from it (a band that contradicts it is refused)."""
    if building is not None:
        building = Building.objects.select_for_update().get(pk=building.pk)
    return _save_registry(building or Building(), by=by, data=data, fields=BUILDING_FIELDS, m2m=["companies"],
                          check=_building_errors)  # fmt: skip


def parse_amount(raw: Any) -> Decimal | None:
    """A money input (str/int/Decimal) as Decimal; None when empty; ValueError when not a number."""
    if raw is None or raw == "":
        return None
    if isinstance(raw, (bool, float)):
        raise ValueError(raw)
    try:
        value = Decimal(str(raw).strip().replace(",", ""))
    except InvalidOperation:
        raise ValueError(raw) from None
    return value
