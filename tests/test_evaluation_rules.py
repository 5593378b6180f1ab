"""Evaluation schemes: the scoring rules, the trimmed mean, ranking ties, weights and the no-data rules,
against hand-computed fixtures; `evaluate()` end to end with its data sources faked, then with real
data (the district of tests/test_rates.py); the presets; the admin's weight checks; query counts.
"""

from __future__ import annotations

import datetime
import json
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from keyprojects.audit.models import AuditRecord
from keyprojects.evaluation import presets, scoring, sources
from keyprojects.evaluation.models import Indicator, IndicatorGroup, NoData, Rule, Scheme
from keyprojects.evaluation.periods import PeriodError, parse_period
from keyprojects.evaluation.rules import (
    adjustment_points,
    competition_ranks,
    indicator_problems,
    linear_points,
    number,
    rank_points,
    threshold_points,
    trimmed_mean,
    weight_problems,
)
from keyprojects.evaluation.scoring import SchemeInvalid, as_dict, evaluate
from keyprojects.org.models import Unit
from keyprojects.progress import rates
from keyprojects.progress.models import MonthlyReport
from keyprojects.projects.models import Project
from tests.test_rates import district as district  # noqa: F401 (fixture)

D = Decimal


# ---------------------------------------------------------------------------------------------
# The rules, by hand


@pytest.mark.parametrize(
    "raw, points",
    [("40", "0.00"), ("50", "0.00"), ("60", "20.00"), ("80", "60.00"), ("87.345", "74.69"), ("100", "100.00"),
     ("135", "100.00")],
)  # fmt: skip
def test_linear_with_floor_and_cap(raw, points):
    assert linear_points(D(raw), D("50"), D("100")) == D(points)


@pytest.mark.parametrize(
    "raw, points", [("95", "100.00"), ("90", "100.00"), ("89.99", "80.00"), ("80", "80.00"), ("61", "50.00"),
                    ("59.9", "0.00"), ("-3", "0.00")],
)  # fmt: skip
def test_thresholds_take_the_highest_step_reached(raw, points):
    steps = [(D("60"), D("50")), (D("90"), D("100")), (D("80"), D("80"))]  # any order
    assert threshold_points(D(raw), steps) == D(points)


def test_thresholds_with_negative_steps():
    steps = [(D("0"), D("100")), (D("-5"), D("85")), (D("-10"), D("70"))]
    assert threshold_points(D("2.5"), steps) == D("100.00")
    assert threshold_points(D("-4.99"), steps) == D("85.00")
    assert threshold_points(D("-10"), steps) == D("70.00")
    assert threshold_points(D("-10.01"), steps) == D("0.00")


def test_ranking_ties_share_a_rank_and_the_next_skips():
    ranks = competition_ranks({"a": D("90"), "b": D("85"), "c": D("85"), "d": D("70"), "e": D("90.00")})
    assert ranks == {"a": 1, "e": 1, "b": 3, "c": 3, "d": 5}
    assert competition_ranks({"x": D("3"), "y": D("1"), "z": D("1")}, lower_is_better=True) == {"y": 1, "z": 1, "x": 3}
    assert competition_ranks({}) == {}


def test_rank_points_step_down_to_the_minimum():
    assert [rank_points(r, D("100"), D("10"), D("70")) for r in (1, 2, 3, 4, 5, 9)] == [
        D("100.00"), D("90.00"), D("80.00"), D("70.00"), D("70.00"), D("70.00")
    ]  # fmt: skip
    assert rank_points(3, D("100"), D("2.5"), D("0")) == D("95.00")


def test_bonus_and_penalty_within_their_limits():
    assert adjustment_points(D("2"), D("1"), D("3"), penalty=False) == D("2.00")
    assert adjustment_points(D("7"), D("1"), D("3"), penalty=False) == D("3.00")
    assert adjustment_points(D("3"), D("0.5"), D("2"), penalty=True) == D("-1.50")
    assert adjustment_points(D("10"), D("0.5"), D("2"), penalty=True) == D("-2.00")
    assert adjustment_points(D("0"), D("0.5"), D("2"), penalty=True) == D("0.00")
    assert str(adjustment_points(D("0"), D("0.5"), D("2"), penalty=True)) == "0.00"  # never "-0.00"


@pytest.mark.parametrize(
    "values, trim, minimum, mean, dropped, trimmed",
    [
        (["70", "80", "90", "100", "60"], 1, 3, "80.00", ["60", "100"], True),
        (["85.5", "90", "88"], 1, 3, "88.00", ["85.5", "90"], True),
        (["80", "90"], 1, 3, "85.00", [], False),  # fewer than 3 judges: plain mean
        (["80", "90", "70"], 1, 4, "80.00", [], False),  # below the configured minimum
        (["80", "90", "70", "75"], 2, 3, "78.75", [], False),  # trimming 2+2 would leave nothing
        (["80", "90", "70", "75", "77"], 2, 3, "77.00", ["70", "75", "80", "90"], True),
        (["81", "82", "83.5"], 0, 3, "82.17", [], False),  # no trimming configured
        (["90", "90", "90", "60", "60"], 1, 3, "80.00", ["60", "90"], True),  # equal values: one of each dropped
    ],
)
def test_trimmed_mean(values, trim, minimum, mean, dropped, trimmed):
    result = trimmed_mean([D(v) for v in values], trim=trim, min_count=minimum)
    assert result.mean == D(mean)
    assert sorted(result.dropped) == sorted(D(v) for v in dropped)
    assert result.trimmed is trimmed
    assert len(result.kept) + len(result.dropped) == len(values)


def test_trimmed_mean_of_nothing_is_none():
    assert trimmed_mean([], trim=1, min_count=3).mean is None


@pytest.mark.parametrize(
    "text, code, start, end",
    [("2026H1", "2026H1", "2026-01-01", "2026-06-30"), ("2026h2", "2026H2", "2026-07-01", "2026-12-31"),
     ("2026", "2026", "2026-01-01", "2026-12-31"), ("2026Q3", "2026Q3", "2026-07-01", "2026-09-30"),
     ("2024-2", "2024-02", "2024-02-01", "2024-02-29"), ("2026-10", "2026-10", "2026-10-01", "2026-10-31")],
)  # fmt: skip
def test_periods(text, code, start, end):
    p = parse_period(text)
    assert (p.code, p.start.isoformat(), p.end.isoformat()) == (code, start, end)


@pytest.mark.parametrize("text", ["", "2026H3", "2026Q5", "2026-13", "26H1", "1999", "2026-1-1", "H1"])
def test_bad_periods_are_refused_in_chinese(text):
    with pytest.raises(PeriodError) as exc:
        parse_period(text)
    assert any("\u4e00" <= ch <= "\u9fff" for ch in str(exc.value))


# ---------------------------------------------------------------------------------------------
# Broken rules and weights


def _ind(**kw) -> Indicator:
    base = dict(code="x", name="指标", source="annual_rate", weight=D("50"), rule=Rule.LINEAR, floor=D("60"),
                cap=D("100"))  # fmt: skip
    return Indicator(**{**base, **kw})


@pytest.mark.parametrize(
    "changes, field, message",
    [
        ({"floor": D("100"), "cap": D("100")}, "cap", "上限（100）必须大于下限（100）。"),
        ({"floor": D("120")}, "cap", "上限（100）必须大于下限（120）。"),
        ({"floor": None}, "floor", "线性折算须填写下限。"),
        ({"source": "gdp"}, "source", "未知的数据来源“gdp”。"),
        ({"rule": Rule.THRESHOLDS, "steps": []}, "steps", "分档计分须至少填写一档。"),
        ({"rule": Rule.THRESHOLDS, "steps": [["90", "100"], ["90", "80"]]}, "steps", "分档的达到值不能重复。"),
        ({"rule": Rule.THRESHOLDS, "steps": [["90", "120"]]}, "steps", "每档得分应在0到100之间。"),
        ({"rule": Rule.THRESHOLDS, "steps": [["九十", "100"]]}, "steps", "分档中“['九十', '100']”不是数字。"),
        ({"rule": Rule.RANK, "rank_first": D("80"), "rank_step": D("5"), "rank_min": D("90")}, "rank_min",
         "排名最低得分不能高于第一名得分。"),
        ({"rule": Rule.RANK, "rank_first": None, "rank_step": D("5"), "rank_min": D("0")}, "rank_first",
         "按排名计分须填写第一名得分。"),
        ({"rule": Rule.BONUS, "weight": D("0"), "per_item": D("1"), "limit": None}, "limit",
         "加减分项须填写上限（大于0）。"),
        ({"rule": Rule.PENALTY, "weight": D("10"), "per_item": D("1"), "limit": D("2")}, "weight",
         "加减分项不占权重，组内权重应为0。"),
        ({"weight": D("0")}, "weight", "请填写组内权重（大于0）。"),
    ],
)  # fmt: skip
def test_broken_rules_are_named(changes, field, message):
    errors = indicator_problems(_ind(**changes))
    assert message in errors.get(field, []), errors
    with pytest.raises(ValidationError):
        _ind(**changes).clean()


def test_weights_must_add_up_at_each_level_naming_the_group():
    g1 = IndicatorGroup(pk=1, name="签约落地", weight=D("30"))
    g2 = IndicatorGroup(pk=2, name="开工投产", weight=D("60"))
    inds = {1: [_ind(code="a", name="甲", weight=D("60")), _ind(code="b", name="乙", weight=D("30"))],
            2: [_ind(code="c", name="丙", weight=D("100"))]}  # fmt: skip
    problems = weight_problems([g1, g2], inds)
    assert "各指标组权重合计为90，应为100（签约落地30、开工投产60）。" in problems
    assert "指标组“签约落地”的指标权重合计为90，应为100（甲60、乙30）。" in problems
    g2.weight = D("70")
    inds[1][1].weight = D("40")
    assert weight_problems([g1, g2], inds) == []


def test_adjustment_groups_hold_only_bonus_and_penalty_items():
    g1 = IndicatorGroup(pk=1, name="全部", weight=D("100"))
    g2 = IndicatorGroup(pk=2, name="加减分项", weight=D("0"), is_adjustment=True)
    bonus = _ind(code="b", name="加分", rule=Rule.BONUS, weight=D("0"), per_item=D("1"), limit=D("3"))
    problems = weight_problems([g1, g2], {1: [_ind(code="a", weight=D("100")), bonus], 2: [_ind(code="c", name="丙")]})
    assert "加分、减分项应放在加减分项组，不能放在“全部”：加分。" in problems
    assert "加减分项组“加减分项”只能包含加分或减分项：丙。" in problems


# ---------------------------------------------------------------------------------------------
# evaluate() with faked data sources: every number by hand


def make_scheme(code="test", groups=None) -> Scheme:
    """A scheme from [(group name, weight, adjustment, [indicator kwargs…])]."""
    scheme = Scheme.objects.create(code=code, name="测试方案", unit_kind="both", with_projects_only=False)
    for gi, (name, weight, adjust, items) in enumerate(groups or [], start=1):
        group = IndicatorGroup.objects.create(scheme=scheme, position=gi, name=name, weight=D(weight),
                                              is_adjustment=adjust)  # fmt: skip
        for ii, kw in enumerate(items, start=1):
            Indicator.objects.create(group=group, position=ii, **kw)
    return scheme


HAND_SCHEME = [
    ("完成投资", "60", False, [
        dict(code="a1", name="年度投资完成率", source="annual_rate", weight=D("50"), rule=Rule.LINEAR,
             floor=D("50"), cap=D("100"), no_data=NoData.EXCLUDE),
        dict(code="a2", name="开工率", source="start_rate", weight=D("50"), rule=Rule.THRESHOLDS,
             steps=[["90", "100"], ["80", "80"], ["60", "50"]], no_data=NoData.AVERAGE),
    ]),
    ("签约", "40", False, [
        dict(code="b1", name="签约项目数", source="signed_count", weight=D("100"), rule=Rule.RANK,
             rank_first=D("100"), rank_step=D("10"), rank_min=D("70")),
    ]),
    ("加减分项", "0", True, [
        dict(code="c1", name="大项目加分", source="big_signed_count", weight=D("0"), rule=Rule.BONUS,
             per_item=D("1"), limit=D("3")),
        dict(code="c2", name="逾期问题减分", source="overdue_problem_count", weight=D("0"), rule=Rule.PENALTY,
             per_item=D("0.5"), limit=D("2")),
    ]),
]  # fmt: skip


@pytest.fixture
def four_units(world):
    w = world
    return [w.dongjie, w.hongmen, w.resources, w.housing]


@pytest.fixture
def fake_sources(monkeypatch, four_units):
    u1, u2, u3, u4 = (u.pk for u in four_units)
    values = {
        "annual_rate": {u1: D("80"), u2: D("100"), u3: None, u4: D("40")},
        "start_rate": {u1: D("85"), u2: None, u3: D("95"), u4: D("60")},
        "signed_count": {u1: D("5"), u2: D("3"), u3: D("5"), u4: D("0")},
        "big_signed_count": {u1: D("5"), u2: D("1"), u3: D("0"), u4: D("0")},
        "overdue_problem_count": {u1: D("0"), u2: D("2"), u3: D("10"), u4: D("1")},
    }
    monkeypatch.setattr(sources.Context, "values", lambda self, code: values[code])
    return values


def scores_of(row) -> dict[str, tuple]:
    return {s.code: (s.raw, s.points, s.weight, s.weighted) for s in row.indicators}


def test_evaluate_by_hand(world, four_units, fake_sources):
    """Weights: a1 = a2 = 60 × 50 ÷ 100 = 30, b1 = 40.

    东街 (U1): a1 (80−50)/50 = 60 → 18.00; a2 ≥80 → 80 → 24.00; b1 5 (rank 1, tied) → 100 → 40.00;
      bonus min(5, 3) = +3; penalty 0 → 85.00.
    洪门 (U2): a1 100 → 30.00; a2 no data → average of 80, 100, 50 = 76.67 → 23.00; b1 3 (rank 3) → 80 →
      32.00; +1; −1.00 → 85.00 (tied with 东街).
    自然资源局 (U3): a1 no data, excluded: a2 takes the group's 60 → 100 → 60.00; b1 rank 1 → 40.00; −2 (limit)
      → 98.00.
    城乡建设局 (U4): a1 40 → 0; a2 60 → 50 → 15.00; b1 0 (rank 4) → 70 → 28.00; −0.5 → 42.50.
    """
    make_scheme(groups=HAND_SCHEME)
    result = evaluate("test", "2026H1", units=four_units, today=datetime.date(2026, 11, 1))
    by_unit = {r.unit_id: r for r in result.rows}
    u1, u2, u3, u4 = (by_unit[u.pk] for u in four_units)
    assert scores_of(u1) == {
        "a1": (D("80"), D("60.00"), D("30.00"), D("18.00")), "a2": (D("85"), D("80.00"), D("30.00"), D("24.00")),
        "b1": (D("5"), D("100.00"), D("40.00"), D("40.00")), "c1": (D("5"), D("3.00"), D("0.00"), D("3.00")),
        "c2": (D("0"), D("0.00"), D("0.00"), D("0.00")),
    }  # fmt: skip
    assert scores_of(u2)["a2"] == (None, D("76.67"), D("30.00"), D("23.00"))
    assert scores_of(u2)["c2"] == (D("2"), D("-1.00"), D("0.00"), D("-1.00"))
    assert scores_of(u3)["a1"] == (None, D("0.00"), D("0.00"), D("0.00"))
    assert scores_of(u3)["a2"] == (D("95"), D("100.00"), D("60.00"), D("60.00"))
    assert scores_of(u4)["b1"] == (D("0"), D("70.00"), D("40.00"), D("28.00"))
    assert [(r.unit_name, r.total, r.rank) for r in result.rows] == [
        ("自然资源局", D("98.00"), 1), ("东街街道", D("85.00"), 2), ("洪门镇", D("85.00"), 2),
        ("城乡建设局", D("42.50"), 4),
    ]  # fmt: skip
    notes = {s.code: s.note for s in u3.indicators}
    assert notes["a1"] == "无数据，不计该项，权重按比例分给其他指标"
    assert notes["a2"] == "权重由30.00按比例调整为60.00"
    assert {s.code: s.note for s in u2.indicators}["a2"] == "无数据，按有数据单位的平均分76.67计"
    assert {s.code: s.note for s in u1.indicators}["b1"] == "第1名（共4个有数据单位）"
    assert u1.indicators[0].rule == "线性：50%及以下得0分，100%及以上得满分，其间按比例"
    # Every total is the sum of what the breakdown shows.
    for row in result.rows:
        assert row.total == sum(s.weighted for s in row.indicators)


def test_no_data_scored_zero(world, four_units, fake_sources):
    make_scheme(groups=HAND_SCHEME)
    Indicator.objects.filter(code="a2").update(no_data=NoData.ZERO)
    Indicator.objects.filter(code="a1").update(no_data=NoData.ZERO)
    result = evaluate("test", "2026H1", units=four_units)
    by_unit = {r.unit_id: r for r in result.rows}
    assert scores_of(by_unit[world.hongmen.pk])["a2"] == (None, D("0.00"), D("30.00"), D("0.00"))
    assert scores_of(by_unit[world.resources.pk])["a1"] == (None, D("0.00"), D("30.00"), D("0.00"))
    assert by_unit[world.resources.pk].total == D("68.00")  # 30 (a2) + 40 (b1) − 2


def test_a_whole_group_without_data_passes_its_weight_to_the_other_groups(world, four_units, fake_sources):
    make_scheme(groups=HAND_SCHEME)
    Indicator.objects.filter(code="a2").update(no_data=NoData.EXCLUDE)
    fake_sources["start_rate"][world.resources.pk] = None
    result = evaluate("test", "2026H1", units=four_units)
    row = next(r for r in result.rows if r.unit_id == world.resources.pk)
    assert scores_of(row)["b1"] == (D("5"), D("100.00"), D("100.00"), D("100.00"))
    assert row.total == D("98.00")


def test_a_unit_without_any_data_is_scored_not_crashed(world, four_units, monkeypatch):
    make_scheme(groups=HAND_SCHEME[:1])
    IndicatorGroup.objects.filter(name="完成投资").update(weight=D("100"))
    monkeypatch.setattr(sources.Context, "values", lambda self, code: dict.fromkeys(self.unit_ids))
    result = evaluate("test", "2026", units=four_units)
    assert [r.total for r in result.rows] == [D("0.00")] * 4
    assert [r.rank for r in result.rows] == [1, 1, 1, 1]


def test_rank_rule_among_units_with_data_only(world, four_units, monkeypatch):
    make_scheme(groups=[("全部", "100", False, [
        dict(code="r", name="储备投资", source="reserve_investment", weight=D("100"), rule=Rule.RANK,
             rank_first=D("100"), rank_step=D("5"), rank_min=D("0"), lower_is_better=True, no_data=NoData.AVERAGE),
    ])])  # fmt: skip
    u1, u2, u3, u4 = (u.pk for u in four_units)
    values = {u1: D("10"), u2: D("30"), u3: D("10"), u4: None}
    monkeypatch.setattr(sources.Context, "values", lambda self, code: values)
    rows = {r.unit_id: r for r in evaluate("test", "2026", units=four_units).rows}
    assert [rows[u].indicators[0].points for u in (u1, u2, u3, u4)] == [D("100.00"), D("90.00"), D("100.00"),
                                                                        D("96.67")]  # fmt: skip
    assert [rows[u].rank for u in (u1, u3, u4, u2)] == [1, 1, 3, 4]


def test_weights_not_adding_up_refuse_to_compute(world, four_units):
    make_scheme(groups=HAND_SCHEME)
    IndicatorGroup.objects.filter(name="签约").update(weight=D("30"))
    Indicator.objects.filter(code="a2").update(weight=D("40"))
    with pytest.raises(SchemeInvalid) as exc:
        evaluate("test", "2026H1", units=four_units)
    assert exc.value.messages == [
        "各指标组权重合计为90，应为100（完成投资60、签约30）。",
        "指标组“完成投资”的指标权重合计为90，应为100（年度投资完成率50、开工率40）。",
    ]


def test_unknown_scheme_and_bad_period(world):
    with pytest.raises(Scheme.DoesNotExist):
        evaluate("nope", "2026")
    with pytest.raises(PeriodError):
        evaluate(presets.THREE_BATCHES, "2026H5")


def test_as_dict_is_json_ready(world, four_units, fake_sources):
    make_scheme(groups=HAND_SCHEME)
    data = as_dict(evaluate("test", "2026Q2", units=four_units, today=datetime.date(2026, 11, 1)))
    json.dumps(data)
    assert data["period"] == "2026Q2" and data["start"] == "2026-04-01" and data["end"] == "2026-06-30"
    row = data["rows"][0]
    assert set(row) >= {"unit_id", "unit_name", "total", "rank", "indicators"}
    assert row["total"] == "98.00" and row["rank"] == 1
    first = row["indicators"][0]
    assert set(first) >= {"code", "name", "raw", "points", "weight", "weighted", "rule", "note"}
    assert first["raw"] is None and first["points"] == "0.00"


# ---------------------------------------------------------------------------------------------
# The presets


def test_presets_exist_are_valid_and_ensure_is_idempotent(world):
    for code, weights in ((presets.THREE_BATCHES, ["10", "30", "30", "20", "10", "0"]),
                          (presets.FOUR_COMPARISONS, ["25", "25", "25", "25"])):  # fmt: skip
        scheme, groups = scoring.load_scheme(code)
        assert [number(g.weight) for g in groups] == weights
        assert scoring.check_scheme(groups) == []
    names = [g.name for g in scoring.load_scheme(presets.THREE_BATCHES)[1]]
    assert names[:5] == ["项目谋划储备", "签约落地", "开工投产", "投产达效", "服务保障"]
    names = [g.name for g in scoring.load_scheme(presets.FOUR_COMPARISONS)[1]]
    assert names == ["比谋划看储备", "比招引看投资", "比开工看进度", "比服务看实效"]
    # An edited preset is kept as it is; a deleted one comes back, audited.
    IndicatorGroup.objects.filter(scheme__code=presets.THREE_BATCHES, name="签约落地").update(name="签约落地（改）")
    assert presets.ensure_presets() == []
    assert IndicatorGroup.objects.filter(name="签约落地（改）").exists()
    Scheme.objects.filter(code=presets.FOUR_COMPARISONS).delete()
    made = presets.ensure_presets()
    assert [s.code for s in made] == [presets.FOUR_COMPARISONS]
    assert AuditRecord.objects.filter(object_type="scheme", object_id=str(made[0].pk), action="create").exists()


def test_presets_compute_on_an_empty_district(world):
    for code in (presets.THREE_BATCHES, presets.FOUR_COMPARISONS):
        result = evaluate(code, "2026")
        assert {r.unit_name for r in result.rows} == {"东街街道", "洪门镇"}  # the units with projects
        for row in result.rows:
            assert row.total == sum(s.weighted for s in row.indicators)


# ---------------------------------------------------------------------------------------------
# Real data: the district of tests/test_rates.py (end of March 2026)


def real_scheme():
    return make_scheme("real", groups=[("全部", "100", False, [
        dict(code=code, name=code, source=code, weight=D(weight), rule=Rule.LINEAR, floor=D("0"), cap=D("100"))
        for code, weight in (("annual_rate", "20"), ("time_gap", "10"), ("start_rate", "10"),
                             ("commission_rate", "10"), ("report_timeliness", "10"), ("signed_count", "10"),
                             ("started_count", "10"), ("reserve_count", "10"), ("commissioned_count", "10"))
    ])])  # fmt: skip


def test_sources_follow_the_completion_table_and_reports(district):
    w = district
    real_scheme()
    MonthlyReport.objects.filter(project=w.c, year=2026, month=2).update(submitted_late=True)
    units = [w.dongjie, w.hongmen, w.resources]
    result = evaluate("real", "2026Q1", units=units, today=datetime.date(2026, 4, 30))
    raw = {r.unit_id: {s.code: s.raw for s in r.indicators} for r in result.rows}
    table = {row.key: row for row in rates.completion_table(Project.objects.all(), 2026, 3, group_by="unit").rows}
    for unit in units:
        row = table[unit.pk]
        assert raw[unit.pk]["annual_rate"] == (row.annual_rate * 100).quantize(D("0.01"))
        assert raw[unit.pk]["time_gap"] == row.gap_points.quantize(D("0.01"))
    assert raw[w.dongjie.pk]["annual_rate"] == D("68.57")  # (4500 + 300) ÷ (6000 + 1000)
    assert raw[w.hongmen.pk]["annual_rate"] == D("125.00")
    assert raw[w.hongmen.pk]["start_rate"] == D("200.00")  # B targeted and started, E started untargeted
    assert raw[w.dongjie.pk]["start_rate"] is None  # no start targeted: no data
    assert raw[w.dongjie.pk]["commission_rate"] == D("50.00")  # A of A, C
    # Reports due Jan–Mar: 东街 A ×3, C ×3 (February late) → 5/6; 洪门 B ×3; 自然资源局 D from February.
    assert raw[w.dongjie.pk]["report_timeliness"] == D("83.33")
    assert raw[w.hongmen.pk]["report_timeliness"] == D("100.00")
    assert raw[w.resources.pk]["report_timeliness"] == D("100.00")
    # Counts in the quarter: E started (洪门), B started (洪门); A commissioned (东街, first time), F's 达效
    # is not a first commissioning; C, F… reserve: nothing in 谋划储备 at the end of March.
    assert raw[w.hongmen.pk]["started_count"] == D("2")
    assert raw[w.dongjie.pk]["commissioned_count"] == D("1")
    assert raw[w.dongjie.pk]["reserve_count"] == D("0")


def test_reports_owed_agree_with_expected_reporters_month_by_month(district):
    """The one-query count of reports owed equals Σ over the months of `rates.expected_reporters`."""
    w = district
    units = [w.dongjie, w.hongmen, w.resources]
    ctx = sources.Context(period=parse_period("2026Q1"), key_field="responsible_unit_id",
                          owner=scoring._owner_map(units), unit_ids=[u.pk for u in units],
                          today=datetime.date(2026, 4, 30))  # fmt: skip
    by_month = {u.pk: D(0) for u in units}
    for month in (1, 2, 3):
        for unit_id in rates.expected_reporters(Project.objects.all(), 2026, month).values_list(
            "responsible_unit_id", flat=True
        ):
            by_month[unit_id] += 1
    assert ctx.values("owed_report_count") == by_month
    assert by_month[w.resources.pk] == D(2)  # D joined the system in February
    # March not yet due at the end of March: only January and February count.
    ctx = sources.Context(period=parse_period("2026Q1"), key_field="responsible_unit_id",
                          owner=scoring._owner_map(units), unit_ids=[u.pk for u in units],
                          today=datetime.date(2026, 3, 31))  # fmt: skip
    assert ctx.values("owed_report_count") == {w.dongjie.pk: D(4), w.hongmen.pk: D(2), w.resources.pk: D(1)}
    ctx = sources.Context(period=parse_period("2026Q1"), key_field="responsible_unit_id",
                          owner=scoring._owner_map(units), unit_ids=[u.pk for u in units],
                          today=datetime.date(2026, 2, 5))  # fmt: skip
    assert ctx.values("report_timeliness") == dict.fromkeys([u.pk for u in units])  # nothing due yet: no data


def test_units_sub_units_count_for_their_parent(district):
    """A project of 东街街道经济办 counts for 东街街道; a problem led by it too."""
    from keyprojects.problems import domain as problem_domain

    w = district
    real_scheme()
    p = Project.objects.create(
        name="经济办储备项目", owner_name="某公司", industry=w.industry, project_type="filing",
        total_investment=D("1000"), responsible_unit=w.dongjie_office, town=w.dongjie,
    )  # fmt: skip
    from keyprojects.projects.models import StageTransition

    StageTransition.objects.create(project=p, from_stage="", to_stage="planning", happened_on=datetime.date(2026, 2, 1))
    problem = problem_domain.raise_problem(
        by=w.dispatcher, project=p, title="用地指标", category="land", source="weekly_meeting"
    )
    problem_domain.assign(problem, by=w.dispatcher, lead_unit=w.dongjie_office)
    result = evaluate("real", "2026Q1", units=[w.dongjie, w.hongmen], today=datetime.date(2026, 4, 30))
    raw = {r.unit_id: {s.code: s.raw for s in r.indicators} for r in result.rows}
    assert raw[w.dongjie.pk]["reserve_count"] == D("1")
    ctx = sources.Context(period=parse_period("2026"), key_field="responsible_unit_id",
                          owner=scoring._owner_map([w.dongjie, w.hongmen]), unit_ids=[w.dongjie.pk, w.hongmen.pk],
                          today=datetime.date(2026, 11, 1))  # fmt: skip
    assert ctx.values("overdue_problem_count") == {w.dongjie.pk: D("0"), w.hongmen.pk: D("0")}
    assert ctx.values("problem_closure") == {w.dongjie.pk: D("0.0"), w.hongmen.pk: None}  # 0 of 1 resolved


def test_query_count_is_constant(world, django_assert_max_num_queries):
    """Both presets, all sources: the same number of queries for 2 units and for 12 with 30 projects."""

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            evaluate(presets.THREE_BATCHES, "2026", today=datetime.date(2027, 2, 1))
            evaluate(presets.FOUR_COMPARISONS, "2026", today=datetime.date(2027, 2, 1))
        return len(ctx.captured_queries)

    small = count()
    for i in range(10):
        town = Unit.objects.create(name=f"测试镇{i}", kind=Unit.Kind.TOWN, parent=world.leadership)
        for j in range(3):
            Project.objects.create(name=f"项目{i}-{j}", owner_name="某公司", industry=world.industry,
                                   project_type="filing", total_investment=D("1000"), responsible_unit=town,
                                   town=town)  # fmt: skip
    from django.core.cache import cache

    cache.clear()
    assert count() == small
    with django_assert_max_num_queries(45):
        evaluate(presets.THREE_BATCHES, "2026", today=datetime.date(2027, 2, 1))
