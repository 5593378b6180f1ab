"""Evaluating a scheme (考评方案) per unit for a period: the contract other modules code against.

    result = evaluate("sangeyipi", "2026H1")          # or "2026", "2026Q3", "2026-10"
    result.rows[0].total, result.rows[0].indicators   # ranked, ties share a rank (1, 2, 2, 4)
    as_dict(result)                                   # JSON-ready (Decimals as strings)

How a unit's total is made (every step is visible in `UnitScore.indicators`):

1. Each indicator's raw value comes from its data source (`sources.py`) for the period.
2. Its rule turns the raw value into 0–100 points (`rules.py`; rank-based rules rank the evaluated
   units that have data). A unit without data is scored by the indicator's `no_data` rule: 0 points,
   the average points of the units with data, or excluded, its weight shared out proportionally among
   the unit's other indicators of the group (among the other groups when a whole group has no data).
3. weight = group weight × indicator weight ÷ 100 (the indicator's share of the 100 points), 2 decimals;
   weighted = points × weight ÷ 100, 2 decimals. Bonus and penalty items have weight 0 and weighted =
   their signed points.
4. total = Σ weighted. Units are ranked by total; equal totals share a rank.

Errors: an unknown scheme code raises `Scheme.DoesNotExist`; an unreadable period `PeriodError` (a
ValueError with a Chinese message); a scheme whose weights or rules are broken `SchemeInvalid` (a
ValidationError listing every problem, naming the group). No data never raises.

Queries: a constant number whatever the number of projects and units (about 3 for the scheme and
units plus each data source group's few aggregates; see `sources.py`). The result is cached
(`rollups.cache`, keyed by the data versions of projects, progress and problems, the scheme's every
field, the closed tours, the day and the language), so a page that shows it again costs 4 queries.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from keyprojects.evaluation import presets
from keyprojects.evaluation.models import (
    Basis,
    Indicator,
    IndicatorGroup,
    NoData,
    ObservationTour,
    Rule,
    Scheme,
    TourStatus,
    UnitKind,
)
from keyprojects.evaluation.periods import Period, PeriodError, parse_period
from keyprojects.evaluation.rules import (
    HUNDRED,
    ZERO,
    adjustment_points,
    competition_ranks,
    describe,
    linear_points,
    mean,
    number,
    parse_steps,
    q2,
    rank_points,
    scheme_problems,
    threshold_points,
)
from keyprojects.evaluation.sources import SOURCES, Context
from keyprojects.org.models import Unit
from keyprojects.projects.models import Project
from keyprojects.rollups.cache import cached

__all__ = [
    "EvaluationResult",
    "IndicatorScore",
    "PeriodError",
    "SchemeInvalid",
    "UnitScore",
    "as_dict",
    "evaluate",
    "PRESET_THREE_BATCHES",
    "PRESET_FOUR_COMPARISONS",
]

# Codes of the two preset schemes (keyprojects.evaluation.presets).
PRESET_THREE_BATCHES = presets.THREE_BATCHES
PRESET_FOUR_COMPARISONS = presets.FOUR_COMPARISONS


@dataclass
class IndicatorScore:
    """One indicator of one unit: the raw figure, the rule applied and the points it gave."""

    code: str
    name: str
    raw: Decimal | None
    points: Decimal
    weight: Decimal
    weighted: Decimal
    rule: str
    note: str
    group: str = ""
    unit: str = ""  # of `raw`: "%", "个", "万元"…
    source: str = ""


@dataclass
class UnitScore:
    """One unit's total, its rank (shared on ties) and the indicators that produced the total."""

    unit_id: int
    unit_name: str
    total: Decimal
    rank: int
    indicators: list[IndicatorScore]
    unit_kind: str = ""


@dataclass
class EvaluationResult:
    """A scheme evaluated for a period: one row per unit, ranked."""

    scheme_code: str
    scheme_name: str
    period: str
    start: datetime.date
    end: datetime.date
    rows: list[UnitScore]  # ranked, ties share a rank
    period_label: str = ""
    notes: list[str] = field(default_factory=list)


class SchemeInvalid(ValidationError):
    """The scheme cannot be computed: weights that do not add up or broken rules (messages name them)."""


# --- the scheme ----------------------------------------------------------------------------------------------


def load_scheme(code: str) -> tuple[Scheme, list[IndicatorGroup]]:
    """The scheme with its groups and indicators (two queries); Scheme.DoesNotExist when unknown."""
    scheme = Scheme.objects.prefetch_related(
        Prefetch("groups", queryset=IndicatorGroup.objects.order_by("position", "id").prefetch_related(
            Prefetch("indicators", queryset=Indicator.objects.order_by("position", "id"))))
    ).get(code=code)  # fmt: skip
    return scheme, list(scheme.groups.all())


def check_scheme(groups: list[IndicatorGroup]) -> list[str]:
    return scheme_problems(groups, {g.pk: list(g.indicators.all()) for g in groups})


def scheme_units(scheme: Scheme) -> list[Unit]:
    """The units a scheme evaluates: active first-level units of its kinds (a town's office or a
    department's section counts for its parent), only those with projects when the scheme says so.
    Two queries."""
    kinds = {
        UnitKind.TOWN: [Unit.Kind.TOWN],
        UnitKind.DEPARTMENT: [Unit.Kind.DEPARTMENT],
        UnitKind.BOTH: [Unit.Kind.TOWN, Unit.Kind.DEPARTMENT],
    }[scheme.unit_kind]
    units = list(
        Unit.objects.filter(is_active=True, kind__in=kinds).exclude(parent__kind__in=kinds).order_by("kind", "id")
    )
    if not scheme.with_projects_only:
        return units
    key = "town_id" if scheme.basis == Basis.TOWN else "responsible_unit_id"
    owner = _owner_map(units)
    keys = Project.objects.order_by().values_list(key, flat=True).distinct()
    having = {owner[k] for k in keys if k in owner}
    return [u for u in units if u.pk in having]


def _owner_map(units: list[Unit]) -> dict[int, int]:
    """Each non-enterprise unit id → the nearest evaluated unit at or above it (one query)."""
    evaluated = {u.pk for u in units}
    owner: dict[int, int] = {}
    for pk, path in Unit.objects.exclude(kind=Unit.Kind.ENTERPRISE).values_list("pk", "path"):
        ids = [int(part) for part in path.strip("/").split("/") if part.isdigit()] or [pk]
        for candidate in reversed(ids):
            if candidate in evaluated:
                owner[pk] = candidate
                break
    for pk in evaluated:
        owner.setdefault(pk, pk)
    return owner


# --- evaluating ----------------------------------------------------------------------------------------------


@dataclass
class _Cell:
    raw: Decimal | None
    points: Decimal | None = None  # None: excluded (no data, weights renormalised)
    note: str = ""


ZERO_POINTS = Decimal("0.00")


class _Texts:
    """The notes of a breakdown, translated once per evaluation (not once per cell)."""

    def __init__(self) -> None:
        self.rank = _("第%(rank)s名（共%(n)s个有数据单位）")
        self.no_adjustment = _("无数据，不加不减")
        self.zero = _("无数据，按规定计0分")
        self.nobody = _("无数据，且没有单位有数据，计0分")
        self.average = _("无数据，按有数据单位的平均分%(avg)s计")
        self.excluded = _("无数据，不计该项，权重按比例分给其他指标")
        self.reweighted = _("权重由%(a)s按比例调整为%(b)s")


def _base_points(ind: Indicator, raws: dict[int, Decimal | None], texts: _Texts) -> dict[int, _Cell]:
    """Points of the units with data (rank rules rank them among themselves); no-data units unscored."""
    cells = {uid: _Cell(raw) for uid, raw in raws.items()}
    have = {uid: raw for uid, raw in raws.items() if raw is not None}
    if ind.rule == Rule.LINEAR:
        for uid, raw in have.items():
            cells[uid].points = linear_points(raw, ind.floor, ind.cap)
    elif ind.rule == Rule.THRESHOLDS:
        steps = parse_steps(ind.steps)
        for uid, raw in have.items():
            cells[uid].points = threshold_points(raw, steps)
    elif ind.rule == Rule.RANK:
        ranks = competition_ranks(have, lower_is_better=ind.lower_is_better)
        points = {r: rank_points(r, ind.rank_first, ind.rank_step, ind.rank_min) for r in set(ranks.values())}
        for uid, rank in ranks.items():
            cells[uid].points = points[rank]
            cells[uid].note = texts.rank % {"rank": rank, "n": len(ranks)}
    else:
        penalty = ind.rule == Rule.PENALTY
        for uid, raw in have.items():
            cells[uid].points = adjustment_points(raw, ind.per_item, ind.limit, penalty=penalty)
    return cells


def _apply_no_data(ind: Indicator, cells: dict[int, _Cell], texts: _Texts) -> None:
    missing = [uid for uid, c in cells.items() if c.raw is None]
    if not missing:
        return
    if ind.is_adjustment:
        points, note = ZERO_POINTS, texts.no_adjustment
    elif ind.no_data == NoData.ZERO:
        points, note = ZERO_POINTS, texts.zero
    elif ind.no_data == NoData.AVERAGE:
        average = mean([c.points for c in cells.values() if c.raw is not None and c.points is not None])
        if average is None:
            points, note = ZERO_POINTS, texts.nobody
        else:
            points, note = average, texts.average % {"avg": average}
    else:
        points, note = None, texts.excluded
    for uid in missing:
        cells[uid].points, cells[uid].note = points, note


def _unit_weights(groups: list[tuple[IndicatorGroup, list[Indicator]]], excluded: set[int],
                  nominal: dict[int, Decimal]) -> dict[int, Decimal]:  # fmt: skip
    """Each regular indicator's weight in a unit's total (2 decimals), after renormalising around the
    indicators `excluded` for lack of data: inside their group first, across groups when a whole group
    has no data."""
    if not excluded:
        return nominal
    base_total = sum((g.weight for g, _items in groups), ZERO)
    live = [(g, [i for i in items if i.pk not in excluded], items) for g, items in groups]
    live_total = sum((g.weight for g, kept, _items in live if kept), ZERO)
    weights: dict[int, Decimal] = {}
    for group, kept, items in live:
        for ind in items:
            weights[ind.pk] = ZERO_POINTS
        if not kept or not live_total:
            continue
        group_weight = group.weight * base_total / live_total
        kept_total = sum((i.weight for i in kept), ZERO)
        for ind in kept:
            weights[ind.pk] = q2(group_weight * ind.weight / kept_total)
    return weights


def evaluate(scheme_code: str, period: str, *, units: Iterable[Unit | int] | None = None,
             today: datetime.date | None = None) -> EvaluationResult:  # fmt: skip
    """Compute the scheme for every unit (the scheme's units, or `units`) over the period.

    The result is cached (`rollups.cache`) until a project, report, plan, problem or unit changes, the
    scheme is edited, a tour closes, or the day changes; a hit costs four small queries.
    """
    p: Period = parse_period(period)
    scheme, groups = load_scheme(scheme_code)
    problems = check_scheme(groups)
    if problems:
        raise SchemeInvalid(problems)
    ids = None if units is None else sorted({u.pk if isinstance(u, Unit) else int(u) for u in units})
    today = today or timezone.localdate()
    closed_tours = list(ObservationTour.objects.filter(status=TourStatus.CLOSED).values_list("pk", "closed_at"))
    parts = (_fingerprint(scheme, groups), p.code, ids, today, closed_tours, translation.get_language())
    return cached("evaluation", ("projects", "progress", "problems"), parts,
                  lambda: _compute(scheme, groups, p, ids, today))  # fmt: skip


def _fingerprint(scheme: Scheme, groups: list[IndicatorGroup]) -> tuple:
    """Everything of the scheme that the result depends on."""

    def fields(obj) -> tuple:
        return tuple((f.attname, getattr(obj, f.attname)) for f in obj._meta.concrete_fields)

    return (fields(scheme), tuple((fields(g), tuple(fields(i) for i in g.indicators.all())) for g in groups))


def _compute(scheme: Scheme, groups: list[IndicatorGroup], p: Period, ids: list[int] | None,
             today: datetime.date) -> EvaluationResult:  # fmt: skip
    chosen = Unit.objects.filter(pk__in=ids or []).order_by("kind", "id")
    unit_list = scheme_units(scheme) if ids is None else list(chosen)
    unit_ids = [u.pk for u in unit_list]
    ctx = Context(
        period=p,
        key_field="town_id" if scheme.basis == Basis.TOWN else "responsible_unit_id",
        owner=_owner_map(unit_list),
        unit_ids=unit_ids,
        today=today,
    )
    texts = _Texts()
    tree = [(g, list(g.indicators.all())) for g in groups]
    regular = [(g, items) for g, items in tree if not g.is_adjustment]
    indicators = [i for _g, items in tree for i in items]
    cells: dict[int, dict[int, _Cell]] = {}
    for ind in indicators:
        raws = ctx.values(ind.source)
        cells[ind.pk] = _base_points(ind, {uid: raws.get(uid) for uid in unit_ids}, texts)
        _apply_no_data(ind, cells[ind.pk], texts)

    nominal = {i.pk: q2(g.weight * i.weight / HUNDRED) for g, items in regular for i in items}
    # What every unit's breakdown repeats, computed once per indicator.
    fixed = [
        (ind, cells[ind.pk], dict(code=ind.code, name=ind.name, rule=describe(ind, SOURCES[ind.source].unit),
                                  group=g.name, unit=str(SOURCES[ind.source].unit), source=ind.source))
        for g, items in tree for ind in items
    ]  # fmt: skip
    rows: list[UnitScore] = []
    for unit in unit_list:
        uid = unit.pk
        excluded = {i.pk for i in indicators if not i.is_adjustment and cells[i.pk][uid].points is None}
        weights = _unit_weights(regular, excluded, nominal)
        scores: list[IndicatorScore] = []
        total = ZERO
        for ind, by_unit, common in fixed:
            cell = by_unit[uid]
            points = cell.points if cell.points is not None else ZERO_POINTS
            note = cell.note
            if ind.is_adjustment:
                weight, weighted = ZERO_POINTS, points
            else:
                weight = weights[ind.pk]
                weighted = q2(points * weight / HUNDRED)
                if cell.points is not None and weight != nominal[ind.pk]:
                    adjusted = texts.reweighted % {"a": nominal[ind.pk], "b": weight}
                    note = f"{note}；{adjusted}" if note else adjusted
            total += weighted
            scores.append(IndicatorScore(raw=cell.raw, points=points, weight=weight, weighted=weighted, note=note,
                                         **common))  # fmt: skip
        rows.append(UnitScore(unit_id=uid, unit_name=str(unit), total=q2(total), rank=0, indicators=scores,
                              unit_kind=unit.kind))  # fmt: skip
    ranks = competition_ranks({r.unit_id: r.total for r in rows})
    for r in rows:
        r.rank = ranks[r.unit_id]
    rows.sort(key=lambda r: (r.rank, r.unit_name, r.unit_id))
    notes = []
    if p.end >= today:
        notes.append(_("考评期间尚未结束，结果为截至%(d)s的数据。") % {"d": today.isoformat()})
    return EvaluationResult(
        scheme_code=scheme.code, scheme_name=scheme.name, period=p.code, start=p.start, end=p.end, rows=rows,
        period_label=p.label, notes=notes,
    )  # fmt: skip


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def as_dict(result: EvaluationResult) -> dict[str, Any]:
    """JSON-ready: Decimals as strings with 2 decimals, dates as YYYY-MM-DD, None as null."""
    return _plain(asdict(result))


def rule_summary() -> str:
    """The aggregation rule in words, for pages and the API description."""
    return _(
        "得分 = Σ（指标得分 × 权重 ÷ 100）+ 加分 − 减分；指标得分为0–100分，权重为指标占总分的分值"
        "（指标组权重 × 组内权重 ÷ 100）。总分相同的单位名次并列。"
    )


__all__ += ["number", "rule_summary", "load_scheme", "check_scheme", "scheme_units"]
