"""The cockpit's figures (驾驶舱): one cached set per (scope, year, month, day).

**One definition of each number.** What other modules define is read from them, never re-stated:

- investment against plan, 时序进度, 开工率/竣工率/投产率: the completion table of `progress.rates` grouped
  by responsible unit (its total row is the district's headline);
- the unit ranking: the latest issued 月点评 the user may open (`bulletins.access`), as its snapshot stores
  it, never recomputed (`review`); before any is issued, the completion table's units by 年度投资完成率
  (`unit_ranking`);
- problems open, overdue, resolved, resolved on time, 办结率/按期办结率/满意率: `problems.figures.scope_figures`;
- reports late: `progress.rates.overdue_reports` (the same list as the overdue-reports page);
- which reports count: `progress.rates.counted_reports()`.

**Defined here** (over the projects of the scope, each with a constant number of aggregate queries):

- counts and total investment by size band, industry, town, level, financing model, stage and status.
  A size band counts the projects whose total investment reaches its threshold (≥1亿 includes ≥10亿),
  which is what the project list's 规模 filter selects;
- the stage funnel 签约 → 开工 → 投产 → 达效: the projects whose current stage is that stage or a later
  one (a project only moves forward through dated transitions, so it has passed every earlier stage);
- the "三个一批" phases: the members of each phase's 签约/开工/投产一批, and for the projects signed in a
  phase the pipeline 履约率 → 开工率 → 投产率 → 达效率: of those projects, the share that went on to
  前期手续 or later (履约: the contract is being performed), to 开工 or later, to 投产 or later, to 达效;
- the monthly cumulative investment of the year and of the year before: for each month m, the sum over
  the projects of their year-to-date at m as `rates` defines it (Σ counted `investment` of the year up to
  m, plus the part of a baseline that falls in that year once it applies), so the curve's last point is
  the completion table's `ytd`; the plan line is the plans in force × m ÷ 12 (按时序进度应完成).

**Links.** Every figure carries the URL of the list that shows exactly the projects or problems it
counts (`/projects/?…`, `/problems/?…`), built only from parameters the list's filter form accepts
(`ProjectFilter`, `ProblemFilter`); a link the form would refuse is None rather than a list that shows
something else. The funnel and the pipeline link with `reached` (the stage or a later one, `Stage.reached`,
the definition they count with), the resolved problems with `status=done`, those on time with `on_time`.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.db.models import Count, Q, QuerySet, Sum
from django.urls import reverse

from keyprojects.bulletins.models import Bulletin
from keyprojects.bulletins.models import Kind as BulletinKind
from keyprojects.bulletins.models import Status as BulletinStatus
from keyprojects.funding import figures as funding_figures
from keyprojects.org.models import Unit
from keyprojects.problems import figures as problem_figures
from keyprojects.problems.forms import ProblemFilter
from keyprojects.problems.models import OPEN_STATUSES, Problem
from keyprojects.progress import rates
from keyprojects.progress.models import MONTH_COLUMNS, InvestmentBaseline, InvestmentSeries, ProgressSettings
from keyprojects.projects.filters import ProjectFilter
from keyprojects.projects.models import (
    Batch,
    BatchMembership,
    FinancingModel,
    Industry,
    Level,
    Project,
    SizeBand,
    Stage,
    Status,
)
from keyprojects.rollups.cache import cached, queryset_key

ZERO = Decimal("0")
TOPICS = ("projects", "progress", "problems", "funding")
# Part of the cache key: raise it when `Cockpit` changes shape or what it holds (3: the links of the
# funnel, the financing models and the resolved problems; 4: the latest issued 月点评's ranking), so that
# a shared cache (Redis) never hands a new release an entry pickled by the old one.
VERSION = 4
FUNNEL = (Stage.SIGNED, Stage.STARTED, Stage.COMMISSIONED, Stage.EFFECTIVE)
# The pipeline of the projects signed in a phase: (key, the stage reached).
PIPELINE = (("performed", Stage.PREPARATION), ("started", Stage.STARTED), ("commissioned", Stage.COMMISSIONED),
            ("effective", Stage.EFFECTIVE))  # fmt: skip
OVERDUE_LIST = 10
REVIEW_TABLES = ("town", "unit")  # the 月点评's tables in the bulletin's order (towns, then departments)


# --- links -------------------------------------------------------------------------------------------------


def _accepts(form_class: type[forms.Form], params: dict[str, str]) -> bool:
    """Whether the list's filter form has every parameter and (for fixed choices) accepts its value."""
    for name, value in params.items():
        form_field = form_class.base_fields.get(name)
        if form_field is None:
            return False
        fixed = isinstance(form_field, forms.ChoiceField) and not isinstance(form_field, forms.ModelChoiceField)
        if fixed and str(value) not in {str(key) for key, _label in form_field.choices}:
            return False
    return True


def _link(url_name: str, form_class: type[forms.Form] | None, params: dict[str, Any]) -> str | None:
    params = {k: str(v) for k, v in params.items()}
    if form_class is not None and not _accepts(form_class, params):
        return None
    url = reverse(url_name)
    return f"{url}?{urlencode(params)}" if params else url


def project_link(**params: Any) -> str | None:
    """The project list showing exactly the projects selected by `params` (None if it cannot)."""
    return _link("project-list", ProjectFilter, params)


def problem_link(**params: Any) -> str | None:
    """The problem list showing exactly the problems selected by `params` (None if it cannot)."""
    return _link("problem-list", ProblemFilter, params)


# --- the figures ---------------------------------------------------------------------------------------------


@dataclass
class Group:
    """Projects of one category: how many, their total investment (万元), and the list behind them."""

    key: Any
    label: str
    projects: int = 0
    total_investment: Decimal = ZERO
    link: str | None = None


@dataclass
class Phase:
    """One "三个一批" phase: the members of each list and the pipeline of the projects it signed."""

    id: int
    number: int
    name: str
    held_on: datetime.date | None
    members: dict[str, int] = field(default_factory=dict)  # batch -> projects
    links: dict[str, str | None] = field(default_factory=dict)
    signed_reached: dict[str, int] = field(default_factory=dict)  # PIPELINE key -> projects


@dataclass
class Curve:
    """Cumulative investment (万元) month by month: this year up to the month, last year in full."""

    this_year: list[Decimal | None]
    last_year: list[Decimal]
    plan: list[Decimal]  # plans in force at the month × m ÷ 12
    annual_plan: Decimal


@dataclass
class Review:
    """The ranking of an issued 月点评 exactly as its snapshot stores it (`bulletins.snapshot.monthly`).

    `tables`: one per kind of unit ("town" 乡镇街道, "unit" 区直部门), each {"key", "title", "rows"}, a row
    {"id", "name", "rank", "values": {indicator: "75.0" | None}, "ranks": {indicator: 1 | None}} in the
    bulletin's order (by the first indicator, ties sharing a rank).
    """

    id: int
    title: str
    document_number: str
    issued_at: datetime.datetime | None
    year: int
    month: int
    indicators: list[dict[str, str]]  # {"code", "name", "short"}, the first one decides the rank
    tables: list[dict[str, Any]]


@dataclass
class Cockpit:
    year: int
    month: int
    today: datetime.date
    table: rates.RateTable  # by responsible unit; `table.total` is the scope's headline
    projects: int
    total_investment: Decimal
    size_bands: list[Group]
    breakdowns: dict[str, list[Group]]  # industry, town, level, financing_model, stage, status
    funnel: list[Group]
    phases: list[Phase]
    curve: Curve
    problems: problem_figures.Figures
    overdue_problems: list[dict[str, Any]]
    reports_late: list[rates.OverdueGroup]
    reports_due: datetime.date
    links: dict[str, str | None]
    environment: dict[str, Any]  # chains, buildings, service matters, funding (`funding.figures.cockpit`)
    review: Review | None = None  # the latest issued 月点评's ranking; None: rank by `unit_ranking(table)`


def latest_review(bulletins: QuerySet[Bulletin], year: int, month: int) -> int | None:
    """The id of the latest issued 月点评 among `bulletins` (the ones the user may open, `visible_bulletins`)
    that reviews (year, month) or an earlier month; None when there is none. One query, none for an
    empty queryset (a user who may not read bulletins).
    """
    month_end = datetime.date(year + month // 12, month % 12 + 1, 1) - datetime.timedelta(days=1)
    return (
        bulletins.filter(kind=BulletinKind.MONTHLY, status=BulletinStatus.ISSUED, period_end__lte=month_end)
        .order_by("-period_end", "-as_of", "-pk")
        .values_list("pk", flat=True)
        .first()
    )


def cockpit(projects: QuerySet[Project], problems: QuerySet[Problem], year: int, month: int, *,
            today: datetime.date, review_id: int | None = None) -> Cockpit:  # fmt: skip
    """The cockpit's figures over a scope (`visible_projects(user)`, `visible_problems(user)`).

    `review_id`: the 月点评 whose ranking to show (`latest_review` over what the user may open), None for
    the completion table's ranking. One cache entry per (scope, year, month, day, review), recomputed on
    the next load after any project, report, plan or problem changes (`rollups.cache`); one query when
    nothing changed. An issued bulletin never changes (`Bulletin.save` and a database trigger refuse), so
    its id in the key is its content: a newly issued review is a new id, hence a new entry.
    """
    if not 1 <= month <= 12:
        raise ValueError("month must be 1..12")
    parts = (VERSION, queryset_key(projects), queryset_key(problems), year, month, today, review_id)
    return cached("cockpit", TOPICS, parts, lambda: compute_cockpit(projects, problems, year, month, today=today,
                                                                    review_id=review_id))  # fmt: skip


def compute_cockpit(projects: QuerySet[Project], problems: QuerySet[Problem], year: int, month: int, *,
                    today: datetime.date, review_id: int | None = None) -> Cockpit:  # fmt: skip
    """`cockpit` without the cache: about twenty queries, whatever the number of projects (one more
    with a review)."""
    table = rates.completion_table(projects, year, month, "unit")
    bands = list(SizeBand.objects.order_by("min_investment"))
    categories, stages = _project_groups(projects, bands)
    by_stage = {g.key: g for g in stages["stage"]}
    settings = ProgressSettings.load()
    scope = problem_figures.scope_figures(problems, today=today)
    base = {"year": year, "month": month}
    links = {
        "projects": project_link(),
        "rates": f"{reverse('rates')}?{urlencode({**base, 'group_by': 'unit'})}",
        "rates_district": f"{reverse('rates')}?{urlencode({**base, 'group_by': 'district'})}",
        "reports_late": f"{reverse('report-overdue')}?{urlencode(base)}",
        "problems": problem_link(),
        "problems_open": problem_link(status="open"),
        "problems_overdue": problem_link(overdue="on"),
        "problems_resolved": problem_link(status="done"),
        "problems_on_time": problem_link(status="done", on_time="on"),
    }
    return Cockpit(
        year=year,
        month=month,
        today=today,
        table=table,
        projects=sum(g.projects for g in stages["stage"]),
        total_investment=sum((g.total_investment for g in stages["stage"]), ZERO),
        size_bands=stages["size_band"],
        breakdowns={**categories, "stage": stages["stage"], "status": stages["status"]},
        funnel=_funnel(by_stage),
        phases=_phases(projects),
        curve=_curve(projects, year, month, table),
        problems=scope.total,
        overdue_problems=_overdue_problems(problems, today),
        reports_late=rates.overdue_reports(projects, year, month, today=today, settings=settings, owing=table.owing),
        reports_due=_due(year, month, settings),
        links=links,
        environment=funding_figures.cockpit(projects),
        review=_review(review_id) if review_id is not None else None,
    )


def _review(pk: int) -> Review | None:
    """The ranking part of an issued 月点评's snapshot: one query (None if it is not an issued 月点评)."""
    row = (
        Bulletin.objects.filter(pk=pk, kind=BulletinKind.MONTHLY, status=BulletinStatus.ISSUED)
        .values("pk", "title", "document_number", "issued_at", "figures")
        .first()
    )
    if row is None:
        return None
    fig = row["figures"] or {}
    period = fig.get("period") or {}
    stored = fig.get("tables") or {}
    tables = []
    # In the bulletin's order: jsonb (PostgreSQL) does not keep the keys' order.
    for key in [k for k in REVIEW_TABLES if k in stored] + sorted(k for k in stored if k not in REVIEW_TABLES):
        table = stored[key]
        rows = [
            {"id": r.get("id"), "name": r.get("name", ""), "rank": r.get("rank"), "values": dict(r.get("values") or {}),
             "ranks": dict(r.get("ranks") or {})}
            for r in table.get("rows", [])
        ]  # fmt: skip
        tables.append({"key": key, "title": table.get("title", ""), "rows": rows})
    return Review(
        id=row["pk"], title=row["title"], document_number=row["document_number"], issued_at=row["issued_at"],
        year=int(period.get("year") or 0), month=int(period.get("month") or 0),
        indicators=[dict(i) for i in fig.get("indicators", [])], tables=tables,
    )  # fmt: skip


def _due(year: int, month: int, settings: ProgressSettings) -> datetime.date:
    from keyprojects.progress.domain import due_date

    return due_date(year, month, settings)


def _add(groups: dict[Any, Group], key: Any, label: str, n: int, total: Decimal | None) -> None:
    group = groups.setdefault(key, Group(key=key, label=label))
    group.projects += n
    group.total_investment += total or ZERO


def _project_groups(projects: QuerySet[Project], bands: list[SizeBand]) -> tuple[dict, dict]:
    """Counts and investment by category: two grouped queries over the projects, and the names.

    The names are read apart (three small queries): joining them into the grouped scan doubles its
    time at 50,000 projects.
    """
    by_category = list(
        projects.order_by()
        .values("industry_id", "town_id", "level", "financing_model_id")
        .annotate(n=Count("pk"), total=Sum("total_investment"))
    )
    names = {
        "industry": dict(Industry.objects.filter(pk__in={r["industry_id"] for r in by_category})
                         .values_list("pk", "name")),
        "town": {pk: short or name for pk, name, short in Unit.objects.filter(
            pk__in={r["town_id"] for r in by_category if r["town_id"]}).values_list("pk", "name", "short_name")},
        "financing_model": dict(FinancingModel.objects.filter(
            pk__in={r["financing_model_id"] for r in by_category if r["financing_model_id"]})
            .values_list("pk", "name")),
    }  # fmt: skip
    band_counts = {f"b{b.pk}": Count("pk", filter=Q(total_investment__gte=b.min_investment)) for b in bands} | {
        f"t{b.pk}": Sum("total_investment", filter=Q(total_investment__gte=b.min_investment)) for b in bands
    }
    by_state = projects.order_by().values("stage", "status").annotate(n=Count("pk"), total=Sum("total_investment"),
                                                                      **band_counts)  # fmt: skip
    industry: dict[Any, Group] = {}
    town: dict[Any, Group] = {}
    level: dict[Any, Group] = {}
    financing: dict[Any, Group] = {}
    for row in by_category:
        n, total = row["n"], row["total"]
        _add(industry, row["industry_id"], names["industry"].get(row["industry_id"], ""), n, total)
        _add(town, row["town_id"], names["town"].get(row["town_id"], ""), n, total)
        _add(level, row["level"], row["level"], n, total)
        _add(financing, row["financing_model_id"], names["financing_model"].get(row["financing_model_id"], ""), n,
             total)  # fmt: skip
    stage: dict[Any, Group] = {s: Group(key=s, label=s) for s in Stage.values}
    status: dict[Any, Group] = {s: Group(key=s, label=s) for s in Status.values}
    size_band = {b.pk: Group(key=b.pk, label=b.name) for b in reversed(bands)}
    for row in by_state:
        _add(stage, row["stage"], row["stage"], row["n"], row["total"])
        _add(status, row["status"], row["status"], row["n"], row["total"])
        for b in bands:
            _add(size_band, b.pk, b.name, row[f"b{b.pk}"], row[f"t{b.pk}"])
    for g in industry.values():
        g.link = project_link(industry=g.key)
    for g in town.values():
        g.link = project_link(town=g.key) if g.key is not None else None
    for g in level.values():
        g.link = project_link(level=g.key)
    for g in financing.values():
        g.link = project_link(financing_model=g.key) if g.key is not None else None
    for g in stage.values():
        g.link = project_link(stage=g.key)
    for g in status.values():
        g.link = project_link(status=g.key)
    for g in size_band.values():
        g.link = project_link(size_band=g.key)

    def ordered(groups: dict[Any, Group]) -> list[Group]:
        return sorted(groups.values(), key=lambda g: (g.key is None, -g.total_investment, str(g.label)))

    level_order = {key: i for i, key in enumerate(Level.values)}
    categories = {
        "industry": ordered(industry),
        "town": ordered(town),
        "level": sorted(level.values(), key=lambda g: level_order.get(g.key, 99)),
        "financing_model": ordered(financing),
    }
    states = {"stage": list(stage.values()), "status": list(status.values()), "size_band": list(size_band.values())}
    return categories, states


def _reached(by_stage: dict[str, Group], stage: str) -> tuple[int, Decimal]:
    chosen = [by_stage[key] for key in Stage.reached(stage) if key in by_stage]
    return sum(g.projects for g in chosen), sum((g.total_investment for g in chosen), ZERO)


def _funnel(by_stage: dict[str, Group]) -> list[Group]:
    funnel = []
    for stage in FUNNEL:
        n, total = _reached(by_stage, stage)
        # The last stage has no later one: "reached" is then the list's own stage filter.
        link = project_link(stage=stage) if stage == Stage.EFFECTIVE else project_link(reached=stage)
        funnel.append(Group(key=stage, label=stage, projects=n, total_investment=total, link=link))
    return funnel


def _phases(projects: QuerySet[Project]) -> list[Phase]:
    """Members of each phase's lists, and how far its signed projects went: one grouped query."""
    rows = (
        rates.restrict_to(BatchMembership.objects.all(), projects, "project_id")
        .order_by()
        .values("phase_id", "phase__number", "phase__name", "phase__held_on", "batch", "project__stage")
        .annotate(n=Count("pk"))
    )
    phases: dict[int, Phase] = {}
    for row in rows:
        phase = phases.get(row["phase_id"])
        if phase is None:
            phase = phases[row["phase_id"]] = Phase(
                id=row["phase_id"], number=row["phase__number"],
                name=row["phase__name"] or f"第{row['phase__number']}期", held_on=row["phase__held_on"],
                members={b: 0 for b in Batch.values}, signed_reached={key: 0 for key, _stage in PIPELINE},
            )  # fmt: skip
        phase.members[row["batch"]] = phase.members.get(row["batch"], 0) + row["n"]
        if row["batch"] == Batch.SIGN:
            for key, stage in PIPELINE:
                if row["project__stage"] in Stage.reached(stage):
                    phase.signed_reached[key] += row["n"]
    for phase in phases.values():
        phase.links = {b: project_link(phase=phase.id, batch=b) for b in Batch.values}
        for key, stage in PIPELINE:
            params = {"phase": phase.id, "batch": Batch.SIGN}
            phase.links[key] = project_link(**params, stage=stage) if stage == Stage.EFFECTIVE else project_link(
                **params, reached=stage)  # fmt: skip
    return sorted(phases.values(), key=lambda p: p.number)


def _curve(projects: QuerySet[Project], year: int, month: int, table: rates.RateTable) -> Curve:
    """Cumulative investment by month, this year and last: two grouped queries.

    The months come from `InvestmentSeries` (one row per project and year, kept equal to the counted
    reports by triggers), not from the reports themselves: a tenth of the rows. Both whole years are
    read; `cumulative` stops at `month` this year.
    """
    sums = {col: Sum(col) for col in MONTH_COLUMNS}
    series = (
        rates.restrict_to(InvestmentSeries.objects.filter(year__in=[year - 1, year]), projects, "project_id")
        .order_by()
        .values("year")
        .annotate(**sums)
    )
    amounts = {(r["year"], m): r[col] or ZERO for r in series for m, col in enumerate(MONTH_COLUMNS, start=1)}
    baselines = (
        rates.restrict_to(InvestmentBaseline.objects.filter(first_year__in=[year - 1, year]), projects, "project_id")
        .order_by()
        .values("first_year", "first_month")
        .annotate(amount=Sum("ytd_amount"))
    )
    base = {(r["first_year"], r["first_month"]): r["amount"] or ZERO for r in baselines}

    def cumulative(y: int, last: int) -> list[Decimal]:
        out, running = [], ZERO
        for m in range(1, last + 1):
            running += amounts.get((y, m), ZERO)
            # A baseline's part of its first year counts from the month before its first month.
            applied = sum((v for (by, bm), v in base.items() if by == y and bm <= m + 1), ZERO)
            out.append(running + applied)
        return out

    total = table.total
    planned = total.planned if total else ZERO
    this_year: list[Decimal | None] = [*cumulative(year, month), *([None] * (12 - month))]
    plan = [planned * m / 12 for m in range(1, 13)]
    return Curve(this_year=this_year, last_year=cumulative(year - 1, 12), plan=plan, annual_plan=planned)


def _overdue_problems(problems: QuerySet[Problem], today: datetime.date) -> list[dict[str, Any]]:
    """The longest-overdue problems (on the clock, past the running step's deadline): one query."""
    rows = (
        problems.filter(status__in=OPEN_STATUSES, current_due__lt=today)
        .order_by("current_due", "pk")
        .values("pk", "title", "current_due", "supervised", "project_id", "project__name", "lead_unit__name",
                "lead_unit__short_name")[:OVERDUE_LIST]
    )  # fmt: skip
    return [
        {
            "id": r["pk"],
            "title": r["title"],
            "project_id": r["project_id"],
            "project": r["project__name"],
            "lead_unit": r["lead_unit__short_name"] or r["lead_unit__name"] or "",
            "due": r["current_due"],
            "days_overdue": (today - r["current_due"]).days,
            "supervised": r["supervised"],
            "link": reverse("problem-detail", args=[r["pk"]]),
        }  # fmt: skip
        for r in rows
    ]


def unit_ranking(table: rates.RateTable) -> list[rates.RateRow]:
    """Responsible units by 年度投资完成率, highest first; units without a plan last."""
    rows = [r for r in table.rows if r.key is not None]
    return sorted(rows, key=lambda r: (r.annual_rate is None, -(r.annual_rate or ZERO), r.label))
