"""Completion rates and roll-ups (年度投资完成率, 总投资完成率, 时序进度, 开工率/竣工率/投产率).

**Which reports count.** A monthly report's figures count from its submission: reports in
`models.COUNTED_STATUSES` (已提交, 已审核, 已确认). A returned report stops counting until it is
submitted again; drafts never count. This is the one definition for the stored year-to-date and
since-start totals on reports, for every table here, and for the cockpit later: import
`counted_reports()` / `COUNTED_STATUSES`, never re-state the filter. (Figures of a closed month are by
construction all confirmed: `domain.lock_month` refuses while any is pending.)

**Definitions** for a month (Y, M), over a project queryset (callers pass
`access.visible_projects(user)`, filtered as they like):

- YTD = Σ counted `investment` of year Y up to month M (+ the baseline's part of year Y for a
  project that joined the system in Y, see `models.InvestmentBaseline`).
- since-start = the project's baseline + Σ counted `investment` up to (Y, M).
- Both are read from the stored `ytd_investment` / `since_start_investment` of the project's
  latest counted report up to (Y, M) (in Y, for YTD), which the domain keeps equal to those sums
  (`domain.recompute_totals` for bulk loaders); a project with no such report has its baseline.
- plan in force = the latest `AnnualPlanRevision` of the project's plan for Y whose
  `effective_month` ≤ M; the original plan (revision 1) is shown beside it.
- 年度投资完成率 = YTD of the projects that have a plan for Y ÷ Σ plans in force.
- 总投资完成率 = since-start ÷ Σ total investment (all projects of the group).
- 时序进度 = M ÷ 12; the gap in percentage points = (年度投资完成率 − 时序进度) × 100.
- 开工率 = projects whose actual start falls in Y up to the end of M ÷ projects whose plan in force
  targets a start in Y (竣工率: actual end; 投产率: the first transition to 投产 or later dated in
  that span). The numerator counts every project of the group, targeted or not, as Chinese
  practice does ("竣工率104%"); `*_targeted` give the targeted part.
- Rates above 100% are never capped. Ratios are raw `Decimal` fractions (1.129 = 112.9%), None
  when the denominator is zero; `percent()` and `points()` format them to 0.1.

Every roll-up runs a constant number of queries, whatever the number of projects or groups.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import (
    BooleanField,
    Case,
    CharField,
    Count,
    DecimalField,
    Exists,
    F,
    FilteredRelation,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce

from keyprojects.lib.aggregates import CommaList, Unindexed
from keyprojects.org.models import Unit
from keyprojects.progress.models import (
    COUNTED_STATUSES,
    AnnualPlan,
    AnnualPlanRevision,
    InvestmentBaseline,
    MonthlyReport,
    ProgressSettings,
    ReportStatus,
    period_of,
)
from keyprojects.projects.models import Industry, Level, Project, SizeBand, Stage, StageTransition, Status
from keyprojects.rollups.cache import cached, queryset_key

ZERO = Decimal("0")
HUNDRED = Decimal("100")
MONEY = Decimal("0.01")
GROUPINGS = {
    "unit": "责任单位",
    "town": "乡镇街道",
    "industry": "行业",
    "level": "项目级别",
    "size_band": "规模档次",
    "district": "全区",
}
DISTRICT_LABEL = "全区"
NO_TOWN_LABEL = "未指定乡镇街道"


def counted_reports() -> QuerySet[MonthlyReport]:
    """The reports whose figures count (see the module docstring)."""
    return MonthlyReport.objects.filter(status__in=COUNTED_STATUSES)


# --- display helpers ---------------------------------------------------------------------------------------


def as_percent(ratio: Decimal | None) -> Decimal | None:
    """A ratio as a percentage rounded to 0.1 (1.12949 → 112.9)."""
    if ratio is None:
        return None
    return (ratio * HUNDRED).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def percent(ratio: Decimal | None) -> str:
    value = as_percent(ratio)
    return "—" if value is None else f"{value}%"


def points(gap: Decimal | None) -> str:
    """The gap to 时序进度: "超时序进度12.3个百分点" / "低于时序进度4.0个百分点"."""
    if gap is None:
        return "—"
    value = gap.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    if value >= 0:
        return f"超时序进度{value}个百分点"
    return f"低于时序进度{-value}个百分点"


def _ratio(numerator: Decimal | int, denominator: Decimal | int) -> Decimal | None:
    if not denominator:
        return None
    return Decimal(numerator) / Decimal(denominator)


def time_progress(month: int) -> Decimal:
    """时序进度: months elapsed ÷ 12 (October = 0.8333…)."""
    return Decimal(month) / Decimal(12)


# --- rows ----------------------------------------------------------------------------------------------------------


@dataclass
class RateRow:
    """One group's sums (万元 and counts) and the rates computed from them."""

    key: Any
    label: str
    year: int
    month: int
    projects: int = 0
    total_investment: Decimal = ZERO
    plan_projects: int = 0
    planned: Decimal = ZERO
    original_planned: Decimal = ZERO
    ytd: Decimal = ZERO
    ytd_in_plan: Decimal = ZERO
    since_start: Decimal = ZERO
    reports: int = 0
    start_target: int = 0
    started: int = 0
    started_targeted: int = 0
    complete_target: int = 0
    completed: int = 0
    completed_targeted: int = 0
    commission_target: int = 0
    commissioned: int = 0
    commissioned_targeted: int = 0

    SUMMED = (
        "projects", "total_investment", "plan_projects", "planned", "original_planned", "ytd", "ytd_in_plan",
        "since_start", "reports", "start_target", "started", "started_targeted", "complete_target", "completed",
        "completed_targeted", "commission_target", "commissioned", "commissioned_targeted",
    )  # fmt: skip

    @property
    def plan_revised(self) -> bool:
        return self.planned != self.original_planned

    @property
    def annual_rate(self) -> Decimal | None:
        """年度投资完成率 (YTD ÷ plan in force)."""
        return _ratio(self.ytd_in_plan, self.planned)

    @property
    def original_plan_rate(self) -> Decimal | None:
        """The same against the original plans, shown where the plan was revised."""
        return _ratio(self.ytd_in_plan, self.original_planned)

    @property
    def total_rate(self) -> Decimal | None:
        """总投资完成率 (since-start ÷ total investment)."""
        return _ratio(self.since_start, self.total_investment)

    @property
    def time_progress(self) -> Decimal:
        return time_progress(self.month)

    @property
    def gap_points(self) -> Decimal | None:
        """Completion rate − 时序进度, in percentage points (positive = ahead)."""
        rate = self.annual_rate
        return None if rate is None else (rate - self.time_progress) * HUNDRED

    @property
    def start_rate(self) -> Decimal | None:
        return _ratio(self.started, self.start_target)

    @property
    def complete_rate(self) -> Decimal | None:
        return _ratio(self.completed, self.complete_target)

    @property
    def commission_rate(self) -> Decimal | None:
        return _ratio(self.commissioned, self.commission_target)

    def as_dict(self) -> dict[str, Any]:
        """Plain data (raw Decimals) for the API and exports."""
        data = {"key": self.key, "label": self.label, **{name: getattr(self, name) for name in self.SUMMED}}
        for name in ("annual_rate", "original_plan_rate", "total_rate", "time_progress", "gap_points", "start_rate",
                     "complete_rate", "commission_rate", "plan_revised"):  # fmt: skip
            data[name] = getattr(self, name)
        return data


@dataclass
class RateTable:
    year: int
    month: int
    group_by: str
    rows: list[RateRow] = field(default_factory=list)
    total: RateRow | None = None
    # The projects that owe a report for the month and have no counted one (`owes_report`), read in the
    # same pass over the projects: `overdue_reports(owing=…)` then looks up only those.
    owing: list[int] = field(default_factory=list)


# --- the roll-up ---------------------------------------------------------------------------------------------------


def _month_end(year: int, month: int) -> datetime.date:
    return datetime.date(year + month // 12, month % 12 + 1, 1) - datetime.timedelta(days=1)


def _key_expression(group_by: str, prefix: str, bands: list[SizeBand]):
    columns = {"unit": "responsible_unit_id", "town": "town_id", "industry": "industry_id", "level": "level"}
    if group_by in columns:
        # The pass over the projects themselves scans them rather than walking the column's index.
        return Unindexed(F(columns[group_by])) if not prefix else F(f"{prefix}{columns[group_by]}")
    if group_by == "size_band":
        below = f"{bands[0].name.lstrip('≥')}以下" if bands else ""
        whens = [When(**{f"{prefix}total_investment__gte": b.min_investment}, then=Value(b.name))
                 for b in sorted(bands, key=lambda b: b.min_investment, reverse=True)]  # fmt: skip
        return Case(*whens, default=Value(below)) if whens else Value(below)
    if group_by == "district":
        return Value("all")
    raise ValueError(f"unknown grouping {group_by!r}; use one of {sorted(GROUPINGS)}")


def _labels(group_by: str, keys: list[Any]) -> dict[Any, str]:
    """The display names of the group keys (one small query for units, towns and industries).

    Read apart from the roll-up so that its GROUP BY stays on the key alone (no join to the names)."""
    ids = [k for k in keys if k is not None]
    if group_by in ("unit", "town"):
        names = {pk: short or name for pk, name, short in Unit.objects.filter(pk__in=ids)
                 .values_list("pk", "name", "short_name")}  # fmt: skip
        return {k: NO_TOWN_LABEL if k is None else names.get(k, str(k)) for k in keys}
    if group_by == "industry":
        names = dict(Industry.objects.filter(pk__in=ids).values_list("pk", "name"))
        return {k: names.get(k, str(k)) for k in keys}
    if group_by == "level":
        return {k: str(Level(k).label) if k in Level.values else str(k) for k in keys}
    if group_by == "district":
        return {k: DISTRICT_LABEL for k in keys}
    return {k: str(k) for k in keys}


COMMISSIONED_STAGES = [Stage.COMMISSIONED, Stage.EFFECTIVE]


def restrict_to(queryset: QuerySet, projects: QuerySet[Project], field: str) -> QuerySet:
    """`queryset` limited to rows whose `field` (a project id) is in `projects` (skipped when unfiltered)."""
    if not projects.query.where:
        return queryset
    return queryset.filter(**{f"{field}__in": projects.order_by().values("pk")})


def in_force(name: str, month: int, output_field):
    """A plan field as the version in force at `month` (annotate on `AnnualPlan`).

    The current version applies from `AnnualPlan.effective_month`; only for plans revised after
    `month` is the older version looked up among the revisions.
    """
    older = AnnualPlanRevision.objects.filter(plan=OuterRef("pk"), effective_month__lte=month).order_by("-number")
    return Case(
        When(effective_month__lte=month, then=F(name)),
        default=Subquery(older.values(name)[:1]),
        output_field=output_field,
    )


PLAN_VERSION_FIELDS = ("planned_investment", "to_start", "to_complete", "to_commission")


def _plan_sums(project: str, jan1: datetime.date, end: datetime.date, prefix: str = "") -> dict[str, Any]:
    """Aggregates over plans; `prefix` names the annotations holding an older version's values."""
    started = {f"{project}actual_start__gte": jan1, f"{project}actual_start__lte": end}
    completed = {f"{project}actual_end__gte": jan1, f"{project}actual_end__lte": end}
    to_start, to_complete = Q(**{f"{prefix}to_start": True}), Q(**{f"{prefix}to_complete": True})
    return {
        "plans": Count("pk"),
        "planned": Sum(f"{prefix}planned_investment"),
        "start_target": Count("pk", filter=to_start),
        "started_targeted": Count("pk", filter=to_start & Q(**started)),
        "complete_target": Count("pk", filter=to_complete),
        "completed_targeted": Count("pk", filter=to_complete & Q(**completed)),
        "commission_target": Count("pk", filter=Q(**{f"{prefix}to_commission": True})),
    }


def completion_table(projects: QuerySet[Project], year: int, month: int, group_by: str = "unit") -> RateTable:
    """The rates of every group of `projects` for (year, month), with the total row.

    Cached until a project, plan or report changes (`rollups.cache`: one query to check), so the
    pages, the API and the cockpit share one computation; see `compute_completion_table` (which
    refuses an unknown grouping or month, and then nothing is cached).
    """
    parts = (queryset_key(projects), year, month, group_by)
    return cached("completion", ("projects", "progress"), parts,
                  lambda: compute_completion_table(projects, year, month, group_by))  # fmt: skip


def compute_completion_table(projects: QuerySet[Project], year: int, month: int, group_by: str = "unit") -> RateTable:
    """`completion_table` without the cache.

    Six queries at most, whatever the number of projects: size bands (for that grouping), projects
    with their totals, plans (as they are, and the older versions of plans revised later),
    commissionings, and the groups' names. Totals come from the stored `ytd_investment` /
    `since_start_investment` of each project's latest counted report, which the domain keeps equal to
    the sums they stand for.
    """
    if group_by not in GROUPINGS:
        raise ValueError(f"unknown grouping {group_by!r}; use one of {sorted(GROUPINGS)}")
    if not 1 <= month <= 12:
        raise ValueError("month must be 1..12")
    bands = list(SizeBand.objects.order_by("min_investment")) if group_by == "size_band" else []
    period = period_of(year, month)
    jan1, end = datetime.date(year, 1, 1), _month_end(year, month)
    rows: dict[Any, RateRow] = {}

    def row(key: Any) -> RateRow:
        if key not in rows:
            rows[key] = RateRow(key=key, label=str(key), year=year, month=month)
        return rows[key]

    # 1. One pass over the projects: counts, total investment, starts and completions in the year up
    # to the month, and the year-to-date and since-start totals. Those are stored on the project's
    # report of the month (joined); for a project without a counted report that month, on its latest
    # earlier one (looked up only for those), or else they are its baseline.
    money = DecimalField(max_digits=14, decimal_places=2)
    latest = counted_reports().filter(project=OuterRef("pk"), period__lte=period).order_by("-period")
    in_year = latest.filter(period__gte=period_of(year, 1))
    # The baseline covers everything before its first month: it applies from the month before that.
    applies = Q(investment_baseline__first_year__lt=year) | Q(
        investment_baseline__first_year=year, investment_baseline__first_month__lte=month + 1
    )
    if month == 12:
        applies |= Q(investment_baseline__first_year=year + 1, investment_baseline__first_month=1)
    applies_in_year = Q(investment_baseline__first_year=year, investment_baseline__first_month__lte=month + 1)
    reported = Q(_report__id__isnull=False)
    project_rows = (
        projects.order_by()
        .annotate(
            # By (year, month) rather than period, to read the covering `report_month_rollup_idx`.
            _report=FilteredRelation("monthly_reports", condition=Q(monthly_reports__year=year,
                                                                    monthly_reports__month=month,
                                                                    monthly_reports__status__in=COUNTED_STATUSES)),
            _plan=FilteredRelation("annual_plans", condition=Q(annual_plans__year=year)),
        )
        .annotate(
            _k=_key_expression(group_by, "", bands),
            _ss=Case(
                When(reported, then=F("_report__since_start_investment")),
                default=Coalesce(
                    Subquery(latest.values("since_start_investment")[:1]),
                    Case(When(applies, then=F("investment_baseline__amount")), default=Value(ZERO), output_field=money),
                ),
                output_field=money,
            ),
            _ytd=Case(
                When(reported, then=F("_report__ytd_investment")),
                default=Coalesce(
                    Subquery(in_year.values("ytd_investment")[:1]),
                    Case(When(applies_in_year, then=F("investment_baseline__ytd_amount")), default=Value(ZERO),
                         output_field=money),
                ),
                output_field=money,
            ),
        )
        .values("_k")
        .annotate(
            n=Count("pk"),
            total=Sum("total_investment"),
            started=Count("pk", filter=Q(actual_start__gte=jan1, actual_start__lte=end)),
            completed=Count("pk", filter=Q(actual_end__gte=jan1, actual_end__lte=end)),
            since_start=Sum("_ss"),
            ytd=Sum("_ytd"),
            ytd_in_plan=Sum("_ytd", filter=Q(_plan__id__isnull=False)),
            reports=Count("_report__id"),
            owing=CommaList(Cast("pk", CharField()),
                            filter=owes_report(year, month, Q(_plan__id__isnull=False)) & ~reported),
        )
    )  # fmt: skip
    owing: list[int] = []
    for values in project_rows:
        owing.extend(int(pk) for pk in (values["owing"] or "").split(",") if pk)
        r = row(values["_k"])
        r.projects += values["n"]
        r.total_investment += values["total"] or ZERO
        r.started += values["started"]
        r.completed += values["completed"]
        r.since_start += values["since_start"] or ZERO
        r.ytd += values["ytd"] or ZERO
        r.ytd_in_plan += values["ytd_in_plan"] or ZERO
        r.reports += values["reports"]

    # 2. Plans in force at the month: plan sums and the year's targets. Most plans apply as they are
    # (their current version applies from a month ≤ the month asked about); for the few revised after
    # it, the version in force then is read from the revisions.
    current = (
        restrict_to(AnnualPlan.objects.filter(year=year, effective_month__lte=month), projects, "project_id")
        .order_by()
        .annotate(_k=_key_expression(group_by, "project__", bands))
        .values("_k")
        .annotate(**_plan_sums("project__", jan1, end), original=Sum("original_planned_investment"))
    )
    version = AnnualPlanRevision.objects.filter(plan=OuterRef("pk"), effective_month__lte=month).order_by("-number")
    older = (
        restrict_to(AnnualPlan.objects.filter(year=year, effective_month__gt=month), projects, "project_id")
        .order_by()
        .annotate(
            _k=_key_expression(group_by, "project__", bands),
            **{f"_{name}": Subquery(version.values(name)[:1]) for name in PLAN_VERSION_FIELDS},
        )
        .values("_k")
        .annotate(**_plan_sums("project__", jan1, end, prefix="_"), original=Sum("original_planned_investment"))
    )
    for values in [*current, *older]:
        r = row(values["_k"])
        r.plan_projects += values["plans"]
        r.planned += values["planned"] or ZERO
        r.original_planned += values["original"] or ZERO
        for name in ("start_target", "started_targeted", "complete_target", "completed_targeted",
                     "commission_target"):  # fmt: skip
            setattr(r, name, getattr(r, name) + values[name])

    # 3. Commissionings: the projects that first reached 投产 (or later) in the year up to the month.
    earlier = StageTransition.objects.filter(project=OuterRef("project_id"), to_stage__in=COMMISSIONED_STAGES,
                                             happened_on__lt=jan1)  # fmt: skip
    targeted = (
        AnnualPlan.objects.filter(project=OuterRef("project_id"), year=year)
        .annotate(_tm=in_force("to_commission", month, BooleanField()))
        .filter(_tm=True)
    )
    commission_rows = (
        restrict_to(StageTransition.objects.filter(to_stage__in=COMMISSIONED_STAGES, happened_on__gte=jan1,
                                                 happened_on__lte=end), projects, "project_id")
        .filter(~Exists(earlier))
        .order_by()
        .annotate(_k=_key_expression(group_by, "project__", bands))
        .values("_k")
        .annotate(
            n=Count("project_id", distinct=True),
            targeted=Count("project_id", distinct=True, filter=Q(Exists(targeted))),
        )
    )  # fmt: skip
    for values in commission_rows:
        r = row(values["_k"])
        r.commissioned += values["n"]
        r.commissioned_targeted += values["targeted"]

    labels = _labels(group_by, list(rows))
    for r in rows.values():
        r.label = labels[r.key]
    ordered = sorted(rows.values(), key=lambda r: (r.key is None, _sort_key(group_by, r, bands)))
    total = RateRow(key="total", label="合计", year=year, month=month)
    for r in ordered:
        for name in RateRow.SUMMED:
            setattr(total, name, getattr(total, name) + getattr(r, name))
    return RateTable(year=year, month=month, group_by=group_by, rows=ordered, total=total, owing=sorted(owing))


def _sort_key(group_by: str, r: RateRow, bands: list[SizeBand]):
    if group_by == "level":
        return (Level.values.index(r.key) if r.key in Level.values else 99, "")
    if group_by == "size_band":
        order = {b.name: -i for i, b in enumerate(bands)}
        return (order.get(r.key, 1), "")
    return (0, r.label)


# --- one project's monthly series ---------------------------------------------------------------------------


def project_series(project: Project, year: int) -> dict[str, Any]:
    """Monthly actual against plan for a chart: this year and last, cumulative and per month.

    Lists have 12 entries (January first). Months without a counted report are None in `actual`
    and `last_year`; cumulative lines stop at the last counted month. `plan` is the current plan's
    monthly breakdown (None when it has none). Three queries.
    """
    reports = dict(
        ((y, m), v)
        for y, m, v in counted_reports()
        .filter(project=project, year__in=[year - 1, year])
        .values_list("year", "month", "investment")
    )
    baseline = InvestmentBaseline.objects.filter(project=project).first()
    plan = AnnualPlan.objects.filter(project=project, year=year).first()

    def series(y: int) -> tuple[list[Decimal | None], list[Decimal | None]]:
        monthly = [reports.get((y, m)) for m in range(1, 13)]
        cumulative: list[Decimal | None] = []
        running = baseline.ytd_amount if baseline and baseline.first_year == y else ZERO
        last = max((m for m in range(1, 13) if monthly[m - 1] is not None), default=0)
        for m in range(1, 13):
            running += monthly[m - 1] or ZERO
            cumulative.append(running if m <= last else None)
        return monthly, cumulative

    actual, actual_cum = series(year)
    last_year, last_year_cum = series(year - 1)
    plan_months = plan.monthly_amounts() if plan else None
    plan_cum = None
    if plan_months:
        plan_cum, running = [], ZERO
        for v in plan_months:
            running += v
            plan_cum.append(running)
    return {
        "year": year,
        "months": list(range(1, 13)),
        "actual": actual,
        "actual_cumulative": actual_cum,
        "last_year": last_year,
        "last_year_cumulative": last_year_cum,
        "plan": plan_months,
        "plan_cumulative": plan_cum,
        "annual_plan": plan.planned_investment if plan else None,
        "original_annual_plan": plan.original_planned_investment if plan else None,
    }


# --- overdue reports -------------------------------------------------------------------------------------------


@dataclass
class OverdueItem:
    project_id: int
    project_name: str
    status: str  # "missing", "draft" or "returned"
    report_id: int | None
    days_overdue: int


@dataclass
class OverdueGroup:
    unit_id: int
    unit_name: str
    items: list[OverdueItem] = field(default_factory=list)


OVERDUE_LABELS = {"missing": "未填报", ReportStatus.DRAFT: "草稿未提交", ReportStatus.RETURNED: "退回未重报"}


def owes_report(year: int, month: int, in_plan: Q) -> Q:
    """On projects: owes a report for (year, month). `in_plan` says the project has an `AnnualPlan` for
    the year (an EXISTS, or a join the query already has); not 终止; already reporting in the system (not
    before its baseline month)."""
    later_start = Q(investment_baseline__first_year__gt=year) | Q(
        investment_baseline__first_year=year, investment_baseline__first_month__gt=month
    )
    return in_plan & ~Q(status=Status.TERMINATED) & ~later_start


def expected_reporters(projects: QuerySet[Project], year: int, month: int) -> QuerySet[Project]:
    """The projects that owe a report for (year, month) (`owes_report`)."""
    return projects.filter(owes_report(year, month, Q(Exists(AnnualPlan.objects.filter(project=OuterRef("pk"),
                                                                                        year=year)))))  # fmt: skip


# Above this many owing projects, `overdue_reports` asks the database again rather than passing the list
# (a bound on the statement's parameters; early in a month nearly every project owes its report).
OWING_LOOKUP_MAX = 2000


def overdue_reports(projects: QuerySet[Project], year: int, month: int, *, today: datetime.date,
                    settings: ProgressSettings | None = None,
                    owing: list[int] | None = None) -> list[OverdueGroup]:  # fmt: skip
    """Per responsible unit, the projects whose report for (year, month) is missing, a draft, or
    returned and not resubmitted, once the due day of the next month has passed. Two queries.

    `owing`: the `RateTable.owing` of `completion_table(projects, year, month)`, when the caller has it:
    then only those projects are read (none when the list is empty), not every project of the scope.
    """
    from keyprojects.progress.domain import due_date

    due = due_date(year, month, settings or ProgressSettings.load())
    if today <= due or owing == []:
        return []
    report = MonthlyReport.objects.filter(project=OuterRef("pk"), year=year, month=month)
    pending = [ReportStatus.DRAFT, ReportStatus.RETURNED]
    if owing is not None and len(owing) <= OWING_LOOKUP_MAX:
        late = Project.objects.filter(pk__in=owing)
    else:
        # One NOT EXISTS per project (the report index alone); the report's status and id are then
        # looked up only for the late ones.
        late = expected_reporters(projects, year, month).filter(~Exists(report.exclude(status__in=pending)))
    rows = (
        late.order_by()
        .annotate(_status=Subquery(report.values("status")[:1]), _report=Subquery(report.values("pk")[:1]))
        .values("pk", "name", "responsible_unit_id", "responsible_unit__name", "responsible_unit__short_name",
                "_status", "_report")
    )  # fmt: skip
    groups: dict[int, OverdueGroup] = {}
    days = (today - due).days
    # Sorted here, not by the database: ordered by unit, SQLite walks the projects through the unit
    # index, one random row read each (180 ms against 95 ms at 50,000 projects), for the few late ones.
    for values in sorted(rows, key=lambda v: (v["responsible_unit_id"], v["pk"])):
        unit = values["responsible_unit_id"]
        if unit not in groups:
            name = values["responsible_unit__short_name"] or values["responsible_unit__name"]
            groups[unit] = OverdueGroup(unit_id=unit, unit_name=name)
        groups[unit].items.append(
            OverdueItem(
                project_id=values["pk"],
                project_name=values["name"],
                status=values["_status"] or "missing",
                report_id=values["_report"],
                days_overdue=days,
            )  # fmt: skip
        )
    return list(groups.values())
