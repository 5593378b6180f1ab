"""The funding rates and district figures: the one place they are defined.

**Per line** (amounts of the recorded steps; 拨付 and 支出 cumulative):

- approved (审核通过) = the 财政审核通过 amount, else the 发改审核通过 amount;
- allocated (下达) = the 额度下达 amount; for a type without 下达 (a loan, own funds) its 拨付 amount
  stands in as the money the project may spend;
- **下达率** = 额度下达 ÷ 审核通过;
- **支出进度** = 支出 ÷ allocated (spent ÷ allocated, the 资金支付率 of central-budget practice);
- **资金到位率** = 拨付 ÷ 储备 (money in place ÷ the amount planned for the line).

**Per project** the same rates over all its lines (the project's whole funding plan): ratios of sums.
**District** (`district_rows`): per fund type and year, for each step the projects that reached it
(distinct projects with the step recorded; 审核通过 = either review step) and the amounts, plus the
rates as ratios of the sums. Rates above 100% are shown as they are; None when the denominator is 0.
Every function runs a constant number of queries over the projects it is given (callers pass
`access.visible_projects(user)`).

Also here: the "拿地即开工" figures (working days, `workcal.calendar.workdays_between`), the 标准地
gaps, the service-matter counts and the registry counts the cockpit shows.
"""

from __future__ import annotations

import datetime
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum

from keyprojects.funding.models import (
    INDICATORS,
    STEP_ORDER,
    Building,
    FundingLine,
    FundingSettings,
    FundingStep,
    FundType,
    IndustryChain,
    ProjectLand,
    ServiceMatter,
    Step,
)
from keyprojects.projects.models import ApprovalItem, ApprovalStatus, Project
from keyprojects.workcal.calendar import workdays_between

ZERO = Decimal("0")
HUNDRED = Decimal(100)
PERMIT_ITEM = "施工许可证"


def ratio(numerator: Decimal | None, denominator: Decimal | None) -> Decimal | None:
    if numerator is None or not denominator:
        return None
    return Decimal(numerator) / Decimal(denominator)


def percent(value: Decimal | None) -> str:
    """A ratio as "81.3%" (never capped), or "—"."""
    if value is None:
        return "—"
    return f"{(value * HUNDRED).quantize(Decimal('0.1'), rounding=ROUND_HALF_UP)}%"


def to_yi(amount: Decimal | None) -> Decimal | None:
    """万元 → 亿元 with 2 decimals (20.37亿)."""
    if amount is None:
        return None
    return (amount / Decimal(10000)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


@dataclass
class Amounts:
    """Step amounts of one line, or sums over lines (approved/allocated already resolved per line)."""

    steps: dict[str, Decimal] = field(default_factory=dict)
    approved: Decimal = ZERO
    allocated_base: Decimal = ZERO  # 下达, or 拨付 where the line has no 下达

    def add_line(self, amounts: dict[str, Decimal]) -> None:
        for step, amount in amounts.items():
            self.steps[step] = self.steps.get(step, ZERO) + amount
        self.approved += line_approved(amounts) or ZERO
        self.allocated_base += line_allocated(amounts) or ZERO

    def get(self, step: str) -> Decimal | None:
        return self.steps.get(step)

    @property
    def allocation_rate(self) -> Decimal | None:
        return ratio(self.steps.get(Step.ALLOCATED), self.approved)

    @property
    def spending_progress(self) -> Decimal | None:
        return ratio(self.steps.get(Step.SPENT, ZERO), self.allocated_base) if self.allocated_base else None

    @property
    def in_place_rate(self) -> Decimal | None:
        return ratio(self.steps.get(Step.DISBURSED, ZERO), self.steps.get(Step.RESERVE))

    @property
    def idle(self) -> Decimal:
        """Allocated money not spent yet."""
        return max(self.allocated_base - self.steps.get(Step.SPENT, ZERO), ZERO)


def line_approved(amounts: dict[str, Decimal]) -> Decimal | None:
    return amounts.get(Step.MOF_APPROVED, amounts.get(Step.NDRC_APPROVED))


def line_allocated(amounts: dict[str, Decimal]) -> Decimal | None:
    return amounts.get(Step.ALLOCATED, amounts.get(Step.DISBURSED))


def line_amounts(line: FundingLine) -> Amounts:
    """The rates of one line (uses `line.steps.all()`, prefetch it for lists)."""
    result = Amounts()
    result.add_line({s.step: s.amount for s in line.steps.all()})
    return result


def project_amounts(lines: list[FundingLine]) -> Amounts:
    """The project's whole funding plan: sums over its lines (rejected lines left out)."""
    result = Amounts()
    for line in lines:
        if not line.rejected:
            result.add_line({s.step: s.amount for s in line.steps.all()})
    return result


# --- the district view -----------------------------------------------------------------------------------


@dataclass
class StepFigure:
    projects: int = 0
    amount: Decimal = ZERO


@dataclass
class DistrictRow:
    fund_type: FundType
    year: int
    lines: int = 0
    steps: dict[str, StepFigure] = field(default_factory=dict)  # step or "approved"
    amounts: Amounts = field(default_factory=Amounts)

    def figure(self, key: str) -> StepFigure:
        return self.steps.get(key) or StepFigure()

    @property
    def prepared(self) -> StepFigure:
        return self.figure(Step.RESERVE)

    @property
    def applied(self) -> StepFigure:
        return self.figure(Step.APPLIED)

    @property
    def approved(self) -> StepFigure:
        return self.figure("approved")

    @property
    def allocated(self) -> StepFigure:
        return self.figure(Step.ALLOCATED)

    @property
    def issued(self) -> StepFigure:
        return self.figure(Step.ISSUED)

    @property
    def disbursed(self) -> StepFigure:
        return self.figure(Step.DISBURSED)

    @property
    def spent(self) -> StepFigure:
        return self.figure(Step.SPENT)

    @property
    def allocation_rate(self) -> Decimal | None:
        return self.amounts.allocation_rate

    @property
    def spending_progress(self) -> Decimal | None:
        return self.amounts.spending_progress

    @property
    def in_place_rate(self) -> Decimal | None:
        return self.amounts.in_place_rate

    def summary(self) -> str:
        """The row as the district reports it: "储备项目14个、98.30亿元；…"."""
        parts = []
        for label, key in (("储备", Step.RESERVE), ("申报", Step.APPLIED), ("审核通过", "approved"),
                           ("额度下达", Step.ALLOCATED), ("发行", Step.ISSUED), ("拨付到位", Step.DISBURSED),
                           ("支出", Step.SPENT)):  # fmt: skip
            f = self.steps.get(key)
            if f and f.projects:
                parts.append(f"{label}{f.projects}个项目、{to_yi(f.amount)}亿元")
        return "；".join(parts)


ROW_KEYS = [Step.RESERVE, Step.APPLIED, "approved", Step.ALLOCATED, Step.ISSUED, Step.DISBURSED, Step.SPENT]


def district_rows(
    projects: QuerySet[Project], *, year: int | None = None, fund_type: FundType | None = None
) -> list[DistrictRow]:
    """Per fund type and year (newest first within a type): projects and amounts at each step.

    Two queries: the fund types and the step rows of the lines of `projects` (not rejected ones).
    """
    types = {t.pk: t for t in FundType.objects.all()}
    steps = FundingStep.objects.filter(line__project__in=projects.values("pk"), line__rejected=False)
    if year is not None:
        steps = steps.filter(line__year=year)
    if fund_type is not None:
        steps = steps.filter(line__fund_type=fund_type)
    per_line: dict[int, dict[str, Any]] = {}
    for line_id, type_id, line_year, project_id, step, amount in steps.values_list(
        "line_id", "line__fund_type_id", "line__year", "line__project_id", "step", "amount"
    ):
        entry = per_line.setdefault(line_id, {"key": (type_id, line_year), "project": project_id, "amounts": {}})
        entry["amounts"][step] = amount
    rows: dict[tuple[int, int], DistrictRow] = {}
    reached: dict[tuple[int, int], dict[str, set[int]]] = defaultdict(lambda: defaultdict(set))
    for entry in per_line.values():
        key = entry["key"]
        row = rows.get(key)
        if row is None:
            row = rows[key] = DistrictRow(fund_type=types[key[0]], year=key[1])
        row.lines += 1
        amounts = entry["amounts"]
        row.amounts.add_line(amounts)
        for step in amounts:
            reached[key][step].add(entry["project"])
        if line_approved(amounts) is not None:
            reached[key]["approved"].add(entry["project"])
    for key, row in rows.items():
        for k in ROW_KEYS:
            amount = row.amounts.approved if k == "approved" else row.amounts.steps.get(k, ZERO)
            row.steps[k] = StepFigure(len(reached[key][k]), amount)
    return sorted(rows.values(), key=lambda r: (r.fund_type.position, r.fund_type.pk, -r.year))


def funding_years(projects: QuerySet[Project]) -> list[int]:
    return sorted(
        set(FundingLine.objects.filter(project__in=projects.values("pk")).values_list("year", flat=True)), reverse=True
    )


# --- 拿地即开工 and 标准地 ------------------------------------------------------------------------------------


@dataclass
class LandRow:
    project_id: int
    name: str
    certificate_on: datetime.date
    permit_on: datetime.date | None
    started_on: datetime.date | None
    to_permit: int | None
    to_start: int | None
    on_target: bool


@dataclass
class LandFigures:
    rows: list[LandRow]
    target: int
    with_permit: int = 0
    started: int = 0
    on_target: int = 0
    avg_to_permit: Decimal | None = None
    avg_to_start: Decimal | None = None
    median_to_start: Decimal | None = None


def _avg(values: list[int]) -> Decimal | None:
    if not values:
        return None
    return (Decimal(sum(values)) / len(values)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def permit_dates(project_ids: list[int]) -> dict[int, datetime.date]:
    """The date each project got its construction permit (the 施工许可证 item done), one query."""
    rows = ApprovalItem.objects.filter(
        project_id__in=project_ids, name=PERMIT_ITEM, status=ApprovalStatus.DONE, actual_date__isnull=False
    ).values_list("project_id", "actual_date")
    out: dict[int, datetime.date] = {}
    for pk, day in rows:
        out[pk] = min(day, out.get(pk, day))
    return out


def land_row(project: Project, land: ProjectLand, permit_on: datetime.date | None, target: int) -> LandRow:
    cert = land.certificate_on
    to_permit = workdays_between(cert, permit_on) if permit_on else None
    to_start = workdays_between(cert, project.actual_start) if project.actual_start else None
    return LandRow(project.pk, project.name, cert, permit_on, project.actual_start, to_permit, to_start,
                   to_start is not None and to_start <= target)  # fmt: skip


def land_to_start(projects: QuerySet[Project]) -> LandFigures:
    """ "拿地即开工": working days from the land certificate to the permit and to the actual start."""
    target = FundingSettings.load().land_to_start_target
    lands = list(
        ProjectLand.objects.filter(project__in=projects.values("pk"), certificate_on__isnull=False)
        .select_related("project")
        .order_by("-certificate_on", "project_id")
    )
    permits = permit_dates([land.project_id for land in lands])
    rows = [land_row(land.project, land, permits.get(land.project_id), target) for land in lands]
    to_permit = [r.to_permit for r in rows if r.to_permit is not None]
    to_start = [r.to_start for r in rows if r.to_start is not None]
    return LandFigures(
        rows=rows, target=target, with_permit=len(to_permit), started=len(to_start),
        on_target=sum(1 for r in rows if r.on_target), avg_to_permit=_avg(to_permit), avg_to_start=_avg(to_start),
        median_to_start=Decimal(str(statistics.median(to_start))) if to_start else None,
    )  # fmt: skip


@dataclass
class IndicatorGap:
    key: str
    label: str
    unit: str
    promised: Decimal | None
    checked: Decimal | None
    higher_is_better: bool

    @property
    def gap(self) -> Decimal | None:
        if self.promised is None or self.checked is None:
            return None
        return self.checked - self.promised

    @property
    def met(self) -> bool | None:
        if self.gap is None:
            return None
        return self.gap >= 0 if self.higher_is_better else self.gap <= 0


def indicator_gaps(land: ProjectLand) -> list[IndicatorGap]:
    """The 标准地 indicators promised at the sale and checked at 达产复核, with the gap."""
    return [
        IndicatorGap(key, str(label), str(unit), getattr(land, f"promised_{key}"), getattr(land, f"checked_{key}"), up)
        for key, label, unit, up in INDICATORS
    ]


# --- service matters, chains, buildings -----------------------------------------------------------------------


def matter_counts(matters: QuerySet[ServiceMatter] | None = None) -> dict[str, int]:
    """The catalogue's headline counts (active matters), one query."""
    matters = ServiceMatter.objects.filter(is_active=True) if matters is None else matters
    return matters.aggregate(
        total=Count("pk"),
        at_most_once=Count("pk", filter=Q(at_most_once=True)),
        on_the_spot=Count("pk", filter=Q(on_the_spot=True)),
        near_home=Count("pk", filter=Q(near_home=True)),
        online=Count("pk", filter=Q(online=True)),
    )


def matter_departments(matters: QuerySet[ServiceMatter] | None = None) -> list[dict[str, Any]]:
    """Counts per handling department, one query."""
    matters = ServiceMatter.objects.filter(is_active=True) if matters is None else matters
    return list(
        matters.values("department_name")
        .annotate(
            total=Count("pk"),
            on_the_spot=Count("pk", filter=Q(on_the_spot=True)),
            near_home=Count("pk", filter=Q(near_home=True)),
            online=Count("pk", filter=Q(online=True)),
        )
        .order_by("-total", "department_name")
    )


def cockpit(projects: QuerySet[Project]) -> dict[str, Any]:
    """Counts and totals for the cockpit: chains, buildings, service matters, funding (this year and all).

    Chain figures count only the given (visible) projects. A constant number of queries.
    """
    visible = projects.values("pk")
    on_chains = IndustryChain.projects.through.objects.values("project_id")
    chain_projects = (
        Project.objects.filter(pk__in=visible)
        .filter(pk__in=on_chains)
        .aggregate(n=Count("pk"), total=Sum("total_investment"))
    )
    buildings = Building.objects.aggregate(
        count=Count("pk"), tax=Sum("annual_tax"), tenants=Sum("tenant_count"),
        starred=Count("pk", filter=Q(star_rating__gte=4)),
    )  # fmt: skip
    funding = Amounts()
    for line in FundingLine.objects.filter(project__in=visible, rejected=False).prefetch_related("steps"):
        funding.add_line({s.step: s.amount for s in line.steps.all()})
    return {
        "chains": IndustryChain.objects.count(),
        "chain_projects": chain_projects["n"],
        "chain_investment": chain_projects["total"] or ZERO,
        "buildings": buildings["count"],
        "building_tax": buildings["tax"] or ZERO,
        "building_tenants": buildings["tenants"] or 0,
        "starred_buildings": buildings["starred"],
        "matters": matter_counts(),
        "funding": funding,
    }


STEP_LABELS = {s: Step(s).label for s in STEP_ORDER}
