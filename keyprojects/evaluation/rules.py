"""The scoring rules, pure arithmetic on `Decimal`, and the checks of a scheme's rules and weights.

Points of an indicator are a score rate from 0 to 100; `scoring.evaluate` weights them. Points are
rounded to 2 decimals (half up) once, at the end of each rule, so a breakdown can be redone by hand.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from django.utils.translation import gettext as _

if TYPE_CHECKING:
    from keyprojects.evaluation.models import Indicator, IndicatorGroup

ZERO = Decimal("0")
HUNDRED = Decimal("100")
CENT = Decimal("0.01")


def q2(value: Decimal) -> Decimal:
    """Two decimals, half up (12.345 → 12.35)."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def number(value: Decimal | None) -> str:
    """A number without trailing zeros for rule texts (60.00 → 60, 0.50 → 0.5)."""
    if value is None:
        return "—"
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


# --- the rules ---------------------------------------------------------------------------------------------------


def linear_points(raw: Decimal, floor: Decimal, cap: Decimal) -> Decimal:
    """0 at or below `floor`, 100 at or above `cap`, proportional in between."""
    if raw <= floor:
        return q2(ZERO)
    if raw >= cap:
        return q2(HUNDRED)
    return q2((raw - floor) * HUNDRED / (cap - floor))


def threshold_points(raw: Decimal, steps: Sequence[tuple[Decimal, Decimal]]) -> Decimal:
    """The points of the highest step whose "at least" value `raw` reaches; 0 below every step."""
    best: tuple[Decimal, Decimal] | None = None
    for at_least, points in steps:
        if raw >= at_least and (best is None or at_least > best[0]):
            best = (at_least, points)
    return q2(best[1] if best else ZERO)


def competition_ranks(values: dict[Hashable, Decimal], *, lower_is_better: bool = False) -> dict[Hashable, int]:
    """Ranks where equal values share a rank and the next rank skips (1, 2, 2, 4)."""
    ordered = sorted(values.items(), key=lambda kv: kv[1], reverse=not lower_is_better)
    ranks: dict[Hashable, int] = {}
    previous: Decimal | None = None
    rank = 0
    for position, (key, value) in enumerate(ordered, start=1):
        if previous is None or value != previous:
            rank = position
            previous = value
        ranks[key] = rank
    return ranks


def rank_points(rank: int, first: Decimal, step: Decimal, minimum: Decimal) -> Decimal:
    """`first` for rank 1, `step` less for each rank below, never below `minimum`."""
    return q2(max(first - (rank - 1) * step, minimum))


def adjustment_points(raw: Decimal, per_item: Decimal, limit: Decimal, *, penalty: bool) -> Decimal:
    """Bonus (+) or penalty (−): `raw` × `per_item`, at most `limit` in size."""
    size = q2(min(max(raw, ZERO) * per_item, limit))
    return -size if penalty and size else size  # never -0.00


@dataclass
class Trimmed:
    """The outcome of a trimmed mean: the mean, the values kept and dropped, and whether it trimmed."""

    mean: Decimal | None
    kept: list[Decimal]
    dropped: list[Decimal]
    trimmed: bool


def trimmed_mean(values: Iterable[Decimal], *, trim: int, min_count: int) -> Trimmed:
    """The mean after dropping the `trim` highest and `trim` lowest values.

    Only when there are at least `min_count` values and more than 2 × `trim` of them; otherwise the
    plain mean of all. None when there are no values. Rounded to 2 decimals.
    """
    ordered = sorted(values)
    if not ordered:
        return Trimmed(None, [], [], False)
    if trim > 0 and len(ordered) >= min_count and len(ordered) > 2 * trim:
        kept = ordered[trim:-trim]
        dropped = ordered[:trim] + ordered[-trim:]
        return Trimmed(q2(sum(kept, ZERO) / len(kept)), kept, dropped, True)
    return Trimmed(q2(sum(ordered, ZERO) / len(ordered)), ordered, [], False)


def mean(values: Sequence[Decimal]) -> Decimal | None:
    return q2(sum(values, ZERO) / len(values)) if values else None


# --- steps --------------------------------------------------------------------------------------------------------


def parse_steps(value: Any) -> list[tuple[Decimal, Decimal]]:
    """[[at least, points], …] (numbers or strings) as Decimal pairs; ValueError with a message."""
    if not isinstance(value, list):
        raise ValueError(_("分档应为 [[达到值, 得分], …] 形式的列表。"))
    steps = []
    for item in value:
        if not isinstance(item, (list, tuple)) or len(item) != 2:
            raise ValueError(_("每一档应为 [达到值, 得分] 两个数。"))
        try:
            at_least, points = (Decimal(str(v)) for v in item)
        except (InvalidOperation, ValueError, TypeError):
            raise ValueError(_("分档中“%(item)s”不是数字。") % {"item": item}) from None
        if not at_least.is_finite() or not points.is_finite():
            raise ValueError(_("分档中“%(item)s”不是数字。") % {"item": item})
        steps.append((at_least, points))
    return steps


def steps_text(steps: Sequence[tuple[Decimal, Decimal]]) -> str:
    """One line per step, "at least points", as the admin form shows them."""
    return "\n".join(f"{number(a)} {number(p)}" for a, p in sorted(steps, key=lambda s: s[0], reverse=True))


# --- describing a rule ----------------------------------------------------------------------------------------


def describe(indicator: Indicator, unit: str = "") -> str:
    """The rule in words, as the scheme page and every breakdown show it."""
    from keyprojects.evaluation.models import Rule

    u = unit
    if indicator.rule == Rule.LINEAR:
        return _("线性：%(floor)s%(u)s及以下得0分，%(cap)s%(u)s及以上得满分，其间按比例") % {
            "floor": number(indicator.floor), "cap": number(indicator.cap), "u": u,
        }  # fmt: skip
    if indicator.rule == Rule.THRESHOLDS:
        try:
            steps = sorted(parse_steps(indicator.steps), key=lambda s: s[0], reverse=True)
        except ValueError:
            steps = []
        parts = "；".join(_("≥%(a)s%(u)s得%(p)s分") % {"a": number(a), "u": u, "p": number(p)} for a, p in steps)
        return _("分档：%(parts)s；其余得0分") % {"parts": parts}
    if indicator.rule == Rule.RANK:
        order = _("由小到大") if indicator.lower_is_better else _("由大到小")
        return _("排名（%(order)s，并列同名次）：第1名%(first)s分，每降一名减%(step)s分，最低%(min)s分") % {
            "order": order, "first": number(indicator.rank_first), "step": number(indicator.rank_step),
            "min": number(indicator.rank_min),
        }  # fmt: skip
    if indicator.rule == Rule.BONUS:
        return _("加分：每个加%(per)s分，最多加%(limit)s分") % {
            "per": number(indicator.per_item), "limit": number(indicator.limit),
        }  # fmt: skip
    if indicator.rule == Rule.PENALTY:
        return _("减分：每个减%(per)s分，最多减%(limit)s分") % {
            "per": number(indicator.per_item), "limit": number(indicator.limit),
        }  # fmt: skip
    return indicator.rule


# --- checks ---------------------------------------------------------------------------------------------------


def indicator_problems(ind: Indicator) -> dict[str, list[str]]:
    """What is wrong with one indicator's rule parameters, by field (empty when it is fine)."""
    from keyprojects.evaluation.models import Rule
    from keyprojects.evaluation.sources import SOURCES

    errors: dict[str, list[str]] = {}

    def add(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    if ind.source not in SOURCES:
        add("source", _("未知的数据来源“%(s)s”。") % {"s": ind.source})
    if ind.rule not in Rule.values:
        add("rule", _("未知的计分规则。"))
    elif ind.rule == Rule.LINEAR:
        if ind.floor is None:
            add("floor", _("线性折算须填写下限。"))
        if ind.cap is None:
            add("cap", _("线性折算须填写上限。"))
        if ind.floor is not None and ind.cap is not None and ind.floor >= ind.cap:
            add(
                "cap",
                _("上限（%(cap)s）必须大于下限（%(floor)s）。") % {"cap": number(ind.cap), "floor": number(ind.floor)},
            )
    elif ind.rule == Rule.THRESHOLDS:
        try:
            steps = parse_steps(ind.steps)
        except ValueError as exc:
            add("steps", str(exc))
        else:
            if not steps:
                add("steps", _("分档计分须至少填写一档。"))
            if len({a for a, _p in steps}) != len(steps):
                add("steps", _("分档的达到值不能重复。"))
            if any(not ZERO <= p <= HUNDRED for _a, p in steps):
                add("steps", _("每档得分应在0到100之间。"))
    elif ind.rule == Rule.RANK:
        for field, label in (("rank_first", _("第一名得分")), ("rank_step", _("名次每降一位减")),
                             ("rank_min", _("排名最低得分"))):  # fmt: skip
            value = getattr(ind, field)
            if value is None:
                add(field, _("按排名计分须填写%(label)s。") % {"label": label})
            elif not ZERO <= value <= HUNDRED:
                add(field, _("%(label)s应在0到100之间。") % {"label": label})
        if ind.rank_first is not None and ind.rank_min is not None and ind.rank_min > ind.rank_first:
            add("rank_min", _("排名最低得分不能高于第一名得分。"))
    else:  # bonus, penalty
        if ind.per_item is None or ind.per_item <= 0:
            add("per_item", _("加减分项须填写每个加减的分数（大于0）。"))
        if ind.limit is None or ind.limit <= 0:
            add("limit", _("加减分项须填写上限（大于0）。"))
    if ind.rule in (Rule.BONUS, Rule.PENALTY):
        if ind.weight:
            add("weight", _("加减分项不占权重，组内权重应为0。"))
    elif ind.weight is None or ind.weight <= 0:
        add("weight", _("请填写组内权重（大于0）。"))
    return errors


def _sum_text(parts: Iterable[tuple[str, Decimal]]) -> str:
    return "、".join(f"{name}{number(w)}" for name, w in parts)


def weight_problems(groups: Sequence[IndicatorGroup], indicators: dict[int, Sequence[Indicator]]) -> list[str]:
    """Each level must add up to 100: the groups' weights, and inside each group its indicators'.

    `indicators` maps a group's id (or position in `groups`, for unsaved groups) to its indicators.
    Adjustment groups (加减分项) weigh 0 and hold only bonus and penalty items.
    """
    problems: list[str] = []
    regular = [g for g in groups if not g.is_adjustment]
    if not regular:
        problems.append(_("方案至少要有一个计权重的指标组。"))
    else:
        total = sum((g.weight or ZERO for g in regular), ZERO)
        if total != HUNDRED:
            problems.append(
                _("各指标组权重合计为%(total)s，应为100（%(parts)s）。")
                % {"total": number(total), "parts": _sum_text((g.name, g.weight or ZERO) for g in regular)}
            )
    for index, group in enumerate(groups):
        items = indicators.get(group.pk if group.pk else index, [])
        if group.is_adjustment:
            if group.weight:
                problems.append(_("指标组“%(g)s”是加减分项组，权重应为0。") % {"g": group.name})
            wrong = [i.name for i in items if not i.is_adjustment]
            if wrong:
                message = _("加减分项组“%(g)s”只能包含加分或减分项：%(items)s。")
                problems.append(message % {"g": group.name, "items": "、".join(wrong)})
            continue
        if not items:
            problems.append(_("指标组“%(g)s”没有指标。") % {"g": group.name})
            continue
        wrong = [i.name for i in items if i.is_adjustment]
        if wrong:
            message = _("加分、减分项应放在加减分项组，不能放在“%(g)s”：%(items)s。")
            problems.append(message % {"g": group.name, "items": "、".join(wrong)})
        total = sum((i.weight or ZERO for i in items if not i.is_adjustment), ZERO)
        if total != HUNDRED:
            problems.append(
                _("指标组“%(g)s”的指标权重合计为%(total)s，应为100（%(parts)s）。")
                % {"g": group.name, "total": number(total),
                   "parts": _sum_text((i.name, i.weight or ZERO) for i in items if not i.is_adjustment)}
            )  # fmt: skip
    return problems


def scheme_problems(groups: Sequence[IndicatorGroup], indicators: dict[int, Sequence[Indicator]]) -> list[str]:
    """Every problem of a scheme: weights, duplicate codes and each indicator's rule."""
    problems = weight_problems(groups, indicators)
    seen: dict[str, str] = {}
    for index, group in enumerate(groups):
        for ind in indicators.get(group.pk if group.pk else index, []):
            if ind.code in seen:
                problems.append(_("指标代码“%(code)s”重复（%(a)s、%(b)s）。") % {"code": ind.code, "a": seen[ind.code],
                                                                           "b": ind.name})  # fmt: skip
            seen[ind.code] = ind.name
            for messages in indicator_problems(ind).values():
                problems.extend(_("指标“%(i)s”：%(m)s") % {"i": ind.name, "m": m} for m in messages)
    return problems
