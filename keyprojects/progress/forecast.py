"""Year-end projection (全年预计) and early warning (滞后预警) of annual investment. See docs/forecast.md.

**Method.** The district's past years give the monthly profile of investment: the share of a year's
investment that was done by the end of each month (cumulative share c(M)). It is pooled over the last
`YEARS_BACK` years that have counted reports in all twelve months from at least `MIN_PROFILE_PROJECTS`
projects each; without such a year the default seasonal profile `DEFAULT_MONTHLY_SHARES` applies (slow
January–February, strong second and fourth quarters). A project's year-end projection is its
year-to-date (YTD, the stored totals that `rates` uses) divided by the share of the year's profile
that its months cover: c(M) for a project that could invest all year, c(M) − c(s − 1) for one that
started in month s of this year. The projection never exceeds what is left of the project's total
investment, never falls below the YTD, and is the YTD itself for a project that is completed, stopped
or terminated, and in December. A unit's projection is the sum of its projects'.

**Risk.** Every project with an annual plan for the year gets a score from: the projected shortfall
against the plan in force (1 point per percent, at most 60), months without a counted report since it
could invest and until it was completed (8 each, at most 3 months; 6 more when the last month is among them), its status
(滞后 +10, 停工 +20) and its open problems (3 each, at most 4). Score ≥ 30 is 高, ≥ 10 is 中. The
滞后预警 list holds the 高 and 中 projects, highest score first, with the reasons in Chinese.

Everything is plain data (dataclasses, Decimals); a constant number of queries (four), whatever the
number of projects.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import (
    Case,
    Count,
    DecimalField,
    Exists,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from keyprojects.progress import rates
from keyprojects.progress.models import AnnualPlan, period_of
from keyprojects.projects.models import Project, Stage, Status
from keyprojects.rollups.cache import cached, queryset_key

ZERO = Decimal("0")
ONE = Decimal("1")
HUNDRED = Decimal("100")
MONEY = Decimal("0.01")
SHARE = Decimal("0.000001")

YEARS_BACK = 3
MIN_PROFILE_PROJECTS = 5
# The default seasonal profile: percent of a year's investment done in each month (sums to 100).
DEFAULT_MONTHLY_SHARES = (3, 3, 8, 8, 9, 11, 7, 7, 9, 9, 11, 15)

HIGH, MEDIUM, LOW = "high", "medium", "low"
LEVEL_LABELS = {HIGH: "高", MEDIUM: "中", LOW: "低"}
HIGH_SCORE, MEDIUM_SCORE = 30, 10


def _money():
    return DecimalField(max_digits=14, decimal_places=2)


def wan(value: Decimal | None) -> str:
    return "—" if value is None else f"{value.quantize(MONEY, rounding=ROUND_HALF_UP):,}万元"


def pct(value: Decimal | None) -> str:
    return "—" if value is None else f"{(value * HUNDRED).quantize(Decimal('0.1'), rounding=ROUND_HALF_UP)}%"


def _month_end(year: int, month: int) -> datetime.date:
    return datetime.date(year + month // 12, month % 12 + 1, 1) - datetime.timedelta(days=1)


# --- the figures of projects at a month (shared with the ledger export) ---------------------------------------


def with_figures(projects: QuerySet[Project], year: int, month: int) -> QuerySet[Project]:
    """`projects` annotated with their figures at (year, month), as `rates.completion_table` reads them.

    `fig_ytd` and `fig_since_start`: the stored totals of the project's latest counted report up to the
    month (in the year, for YTD), or its baseline; `fig_plan`: the annual plan in force at the month
    (None without a plan); `fig_plan_original`: the plan as first set. Correlated subqueries on the
    (project, period) index: one query, whatever the number of projects.
    """
    money = _money()
    period = period_of(year, month)
    latest = rates.counted_reports().filter(project=OuterRef("pk"), period__lte=period).order_by("-period")
    in_year = latest.filter(period__gte=period_of(year, 1))
    applies = Q(investment_baseline__first_year__lt=year) | Q(
        investment_baseline__first_year=year, investment_baseline__first_month__lte=month + 1
    )
    if month == 12:
        applies |= Q(investment_baseline__first_year=year + 1, investment_baseline__first_month=1)
    applies_in_year = Q(investment_baseline__first_year=year, investment_baseline__first_month__lte=month + 1)
    plan = AnnualPlan.objects.filter(project=OuterRef("pk"), year=year)
    return projects.annotate(
        fig_since_start=Coalesce(
            Subquery(latest.values("since_start_investment")[:1]),
            Case(When(applies, then=F("investment_baseline__amount")), default=Value(ZERO), output_field=money),
            output_field=money,
        ),
        fig_ytd=Coalesce(
            Subquery(in_year.values("ytd_investment")[:1]),
            Case(When(applies_in_year, then=F("investment_baseline__ytd_amount")), default=Value(ZERO),
                 output_field=money),
            output_field=money,
        ),
        fig_plan=Subquery(
            plan.annotate(_p=rates.in_force("planned_investment", month, money)).values("_p")[:1], output_field=money
        ),
        fig_plan_original=Subquery(plan.values("original_planned_investment")[:1], output_field=money),
    )  # fmt: skip


# --- the seasonal profile --------------------------------------------------------------------------------------


@dataclass
class Profile:
    """Cumulative share of a year's investment done by the end of each month (12 values, the last 1)."""

    cumulative: list[Decimal]
    source: str  # "history" or "default"
    years: list[int] = field(default_factory=list)

    def share(self, month: int) -> Decimal:
        return self.cumulative[month - 1]

    def share_between(self, first: int, last: int) -> Decimal:
        """The share of the year done from the start of month `first` to the end of month `last`."""
        before = self.cumulative[first - 2] if first > 1 else ZERO
        return self.cumulative[last - 1] - before

    @property
    def monthly(self) -> list[Decimal]:
        return [self.cumulative[0], *(b - a for a, b in zip(self.cumulative, self.cumulative[1:], strict=False))]

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "source_label": "往年月报" if self.source == "history" else "默认季节规律",
            "years": self.years,
            "cumulative": [c.quantize(SHARE) for c in self.cumulative],
            "monthly": [m.quantize(SHARE) for m in self.monthly],
        }


def default_profile() -> Profile:
    total = Decimal(sum(DEFAULT_MONTHLY_SHARES))
    running, cumulative = ZERO, []
    for share in DEFAULT_MONTHLY_SHARES:
        running += Decimal(share)
        cumulative.append(running / total)
    return Profile(cumulative=cumulative, source="default")


def seasonal_profile(year: int, *, years_back: int | None = None, min_projects: int | None = None) -> Profile:
    """The district's monthly profile from the counted reports of the `years_back` years before `year`.

    A past year qualifies when every one of its twelve months has counted reports from at least
    `min_projects` projects and its total is positive; qualifying years are pooled (each weighs by its
    total). One query. The district's reports, whatever the caller sees: the profile is a statistic.
    Defaults: `YEARS_BACK`, `MIN_PROFILE_PROJECTS`.
    """
    years_back = YEARS_BACK if years_back is None else years_back
    min_projects = MIN_PROFILE_PROJECTS if min_projects is None else min_projects
    rows = (
        rates.counted_reports()
        .filter(year__gte=year - years_back, year__lt=year)
        .order_by()
        .values("year", "month")
        .annotate(total=Sum("investment"), n=Count("pk"))
    )
    by_year: dict[int, dict[int, tuple[Decimal, int]]] = defaultdict(dict)
    for r in rows:
        by_year[r["year"]][r["month"]] = (r["total"] or ZERO, r["n"])
    years = sorted(
        y for y, months in by_year.items()
        if len(months) == 12 and all(n >= min_projects for _, n in months.values())
        and sum((t for t, _ in months.values()), ZERO) > 0
    )  # fmt: skip
    if not years:
        return default_profile()
    grand = sum((t for y in years for t, _ in by_year[y].values()), ZERO)
    running, cumulative = ZERO, []
    for m in range(1, 13):
        running += sum((by_year[y][m][0] for y in years), ZERO)
        cumulative.append(running / grand)
    cumulative[-1] = ONE
    return Profile(cumulative=cumulative, source="history", years=years)


# --- per project -------------------------------------------------------------------------------------------------


@dataclass
class ProjectForecast:
    project_id: int
    name: str
    code: str | None
    unit_id: int
    unit_name: str
    status: str
    status_label: str
    stage: str
    stage_label: str
    total_investment: Decimal
    plan: Decimal
    original_plan: Decimal | None
    ytd: Decimal
    since_start: Decimal
    projection: Decimal
    basis: str
    share: Decimal | None
    missing_months: list[int] = field(default_factory=list)
    open_problems: int = 0
    score: int = 0
    level: str = LOW
    reasons: list[str] = field(default_factory=list)

    @property
    def annual_rate(self) -> Decimal | None:
        return self.ytd / self.plan if self.plan else None

    @property
    def projected_rate(self) -> Decimal | None:
        return self.projection / self.plan if self.plan else None

    @property
    def shortfall(self) -> Decimal:
        return max(ZERO, self.plan - self.projection)

    @property
    def level_label(self) -> str:
        return LEVEL_LABELS[self.level]

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(annual_rate=self.annual_rate, projected_rate=self.projected_rate, shortfall=self.shortfall,
                    level_label=self.level_label)  # fmt: skip
        return data


@dataclass
class GroupForecast:
    key: Any
    label: str
    projects: int = 0
    plan: Decimal = ZERO
    ytd: Decimal = ZERO
    projection: Decimal = ZERO
    high: int = 0
    medium: int = 0

    @property
    def annual_rate(self) -> Decimal | None:
        return self.ytd / self.plan if self.plan else None

    @property
    def projected_rate(self) -> Decimal | None:
        return self.projection / self.plan if self.plan else None

    @property
    def shortfall(self) -> Decimal:
        return max(ZERO, self.plan - self.projection)

    def add(self, p: ProjectForecast) -> None:
        self.projects += 1
        self.plan += p.plan
        self.ytd += p.ytd
        self.projection += p.projection
        self.high += p.level == HIGH
        self.medium += p.level == MEDIUM

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "annual_rate": self.annual_rate, "projected_rate": self.projected_rate,
                "shortfall": self.shortfall}  # fmt: skip


@dataclass
class Forecast:
    year: int
    month: int
    profile: Profile
    projects: list[ProjectForecast]
    units: list[GroupForecast]
    total: GroupForecast

    @property
    def time_progress(self) -> Decimal:
        return rates.time_progress(self.month)

    @property
    def warnings(self) -> list[ProjectForecast]:
        """The 滞后预警 list: 高 and 中 risk, highest score first, then the largest shortfall."""
        flagged = [p for p in self.projects if p.level != LOW]
        return sorted(flagged, key=lambda p: (-p.score, -p.shortfall, p.project_id))

    def as_dict(self, *, limit: int | None = None) -> dict[str, Any]:
        warnings = self.warnings
        return {
            "year": self.year,
            "month": self.month,
            "time_progress": self.time_progress,
            "method": "全年预计 = 年度累计 ÷ 往年同期累计占全年比重（按项目本年可投资月份计），不超过剩余总投资",
            "profile": self.profile.as_dict(),
            "total": self.total.as_dict(),
            "units": [u.as_dict() for u in self.units],
            "warning_count": len(warnings),
            "warnings": [p.as_dict() for p in (warnings[:limit] if limit else warnings)],
        }


def _open_problems(project_ids: QuerySet) -> dict[int, int]:
    """Open problems per project (the problems app, read-only; empty when it is not installed)."""
    try:
        from keyprojects.problems.models import OPEN_STATUSES, Problem
    except ImportError:  # pragma: no cover - the app is part of the project
        return {}
    rows = (
        Problem.objects.filter(project__in=project_ids, status__in=OPEN_STATUSES)
        .order_by()
        .values("project_id")
        .annotate(n=Count("pk"))
    )
    return {r["project_id"]: r["n"] for r in rows}


def _score(p: ProjectForecast, month: int) -> None:
    reasons: list[str] = []
    score = Decimal(0)
    rate = p.projected_rate
    if p.ytd == 0 and p.basis == "not_started":
        reasons.append("计划年内投资，但项目尚未开工，本年尚无完成投资")
    if rate is not None and rate < 1:
        score += min(Decimal(60), (ONE - rate) * HUNDRED)
        reasons.append(
            f"按往年月度规律预计全年完成{wan(p.projection)}，为年度计划{wan(p.plan)}的{pct(rate)}，"
            f"预计缺口{wan(p.shortfall)}"
        )
    annual = p.annual_rate
    progress = rates.time_progress(month)
    if annual is not None and annual < progress and month < 12:
        gap = ((progress - annual) * HUNDRED).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
        reasons.append(f"年度完成率{pct(annual)}，低于时序进度{gap}个百分点")
    if p.missing_months:
        score += 8 * min(len(p.missing_months), 3)
        listed = "、".join(f"{m}月" for m in p.missing_months)
        reasons.append(f"{len(p.missing_months)}个月没有有效月报（{listed}）")
        if month in p.missing_months:
            score += 6
    if p.status == Status.STOPPED:
        score += 20
        reasons.append("项目处于停工状态")
    elif p.status == Status.BEHIND:
        score += 10
        reasons.append("项目推进状态为滞后")
    if p.open_problems:
        score += 3 * min(p.open_problems, 4)
        reasons.append(f"有{p.open_problems}个问题尚未办结")
    p.score = int(score.to_integral_value(rounding=ROUND_HALF_UP))
    p.level = HIGH if p.score >= HIGH_SCORE else MEDIUM if p.score >= MEDIUM_SCORE else LOW
    p.reasons = reasons


def forecast(projects: QuerySet[Project], year: int, month: int, *, profile: Profile | None = None,
             min_projects: int | None = None) -> Forecast:  # fmt: skip
    """Year-end projection and risk of every project in `projects` with an annual plan for `year`.

    `projects` is what the caller may see (`visible_projects(user)`, filtered as it likes); the profile
    is the district's. Four queries: profile, projects with their figures, counted months, problems.
    """
    if not 1 <= month <= 12:
        raise ValueError("month must be 1..12")
    profile = profile or seasonal_profile(year, min_projects=min_projects)
    end = _month_end(year, month)
    planned = with_figures(
        projects.filter(Exists(AnnualPlan.objects.filter(project=OuterRef("pk"), year=year))), year, month
    ).order_by("responsible_unit_id", "pk")
    rows = list(
        planned.values(
            "pk", "name", "code", "status", "stage", "total_investment", "actual_start", "actual_end",
            "responsible_unit_id", "responsible_unit__name", "responsible_unit__short_name",
            "investment_baseline__first_year", "investment_baseline__first_month",
            "fig_ytd", "fig_since_start", "fig_plan", "fig_plan_original",
        )
    )  # fmt: skip
    ids = planned.order_by().values("pk")
    counted: dict[int, set[int]] = defaultdict(set)
    for pid, m in (
        rates.counted_reports().filter(project__in=ids, year=year, month__lte=month).values_list("project_id", "month")
    ):
        counted[pid].add(m)
    problems = _open_problems(ids)
    statuses, stages = dict(Status.choices), dict(Stage.choices)

    result: list[ProjectForecast] = []
    for r in rows:
        ytd, since_start = r["fig_ytd"] or ZERO, r["fig_since_start"] or ZERO
        plan = r["fig_plan"] or ZERO
        start = r["actual_start"]
        first = 1
        if start is not None and start.year == year:
            first = start.month
        if r["investment_baseline__first_year"] == year:
            first = max(first, r["investment_baseline__first_month"])
        share: Decimal | None = None
        if start is None or start > end:
            basis, projection = "not_started", ytd
        elif r["actual_end"] is not None and r["actual_end"] <= end:
            basis, projection = "completed", ytd
        elif r["status"] in (Status.STOPPED, Status.TERMINATED):
            basis, projection = r["status"], ytd
        elif month == 12:
            basis, projection = "year_end", ytd
        else:
            share = profile.share_between(first if first <= month else month, month)
            if share <= 0:
                share = profile.share(month)
            remaining = max(ZERO, r["total_investment"] - (since_start - ytd))
            projection = max(ytd, min(ytd / share, remaining))
            basis = "profile"
        missing: list[int] = []
        if start is not None and start <= end:
            from_month = start.month if start.year == year else 1
            if r["investment_baseline__first_year"] == year:
                from_month = max(from_month, r["investment_baseline__first_month"])
            to_month = month
            if r["actual_end"] is not None and r["actual_end"] <= end:
                to_month = r["actual_end"].month if r["actual_end"].year == year else 0
            missing = [m for m in range(from_month, to_month + 1) if m not in counted[r["pk"]]]
        p = ProjectForecast(
            project_id=r["pk"], name=r["name"], code=r["code"], unit_id=r["responsible_unit_id"],
            unit_name=r["responsible_unit__short_name"] or r["responsible_unit__name"],
            status=r["status"], status_label=str(statuses.get(r["status"], r["status"])),
            stage=r["stage"], stage_label=str(stages.get(r["stage"], r["stage"])),
            total_investment=r["total_investment"], plan=plan, original_plan=r["fig_plan_original"], ytd=ytd,
            since_start=since_start, projection=projection.quantize(MONEY, rounding=ROUND_HALF_UP), basis=basis,
            share=share.quantize(SHARE) if share is not None else None, missing_months=missing,
            open_problems=problems.get(r["pk"], 0),
        )  # fmt: skip
        _score(p, month)
        result.append(p)

    units: dict[int, GroupForecast] = {}
    total = GroupForecast(key="total", label="合计")
    for p in result:
        if p.unit_id not in units:
            units[p.unit_id] = GroupForecast(key=p.unit_id, label=p.unit_name)
        units[p.unit_id].add(p)
        total.add(p)
    ordered = sorted(units.values(), key=lambda u: (u.projected_rate is None, u.projected_rate or ZERO, u.label))
    return Forecast(year=year, month=month, profile=profile, projects=result, units=ordered, total=total)


def warning_summary(projects: QuerySet[Project], year: int, month: int) -> Forecast:
    """The forecast as the page and the API show it: the profile, the units, the total and the warned
    projects only (`projects` holds just the 滞后预警 list).

    Cached until a project, report or problem changes (`rollups.cache`). Only the warned projects are
    kept because unpickling all 50,000 projections would cost about as much as computing them.
    """

    def compute() -> Forecast:
        full = forecast(projects, year, month)
        full.projects = full.warnings
        return full

    return cached("forecast-warnings", ("projects", "progress", "problems"), (queryset_key(projects), year, month),
                  compute)  # fmt: skip
