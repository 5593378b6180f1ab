"""季度观摩: organising a tour, judges' score sheets (and every refusal), aggregation and ranking.

The tour of the `tour` fixture visits project_a (东街街道) and project_b (洪门镇) with four judges
(the leader, the dispatcher, a second leader and the 自然资源局 officer) on the default criteria
(规模体量 20, 建设进度 25, 科技含量 20, 带动效应 20, 形象展示 15).
"""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from keyprojects.audit.models import AuditRecord
from keyprojects.evaluation import tours
from keyprojects.evaluation.models import ObservationTour, ScoreItem, ScoreSheet, TourStatus, TownMethod
from keyprojects.org.models import DataScope, Role
from tests.conftest import make_user

D = Decimal
DEFAULTS = ["规模体量", "建设进度", "科技含量", "带动效应", "形象展示"]


def tour_data(**changes) -> dict:
    data = {"year": 2026, "quarter": 3, "title": "2026年第三季度重点项目观摩", "held_on": datetime.date(2026, 9, 18),
            "trim_count": 1, "trim_min_judges": 3, "town_method": TownMethod.MEAN, "note": ""}  # fmt: skip
    return {**data, **changes}


@pytest.fixture
def tour(world):
    w = world
    w.leader2 = make_user("leader2", w.leadership, Role.LEADER)
    t = tours.create_tour(by=w.dispatcher, data=tour_data())
    tours.add_projects(t, by=w.dispatcher, project_ids=[w.project_a.pk, w.project_b.pk])
    tours.add_judges(t, by=w.dispatcher, user_ids=[w.leader.pk, w.dispatcher.pk, w.leader2.pk, w.dept_officer.pk])
    tours.open_tour(t, by=w.dispatcher)
    w.tour = t
    w.criteria = {c.name: c for c in t.criteria.all()}
    return t


def points_for(w, total: str) -> dict[int, Decimal]:
    """Points adding up to `total`, each within its maximum (shares of 20/25/20/20/15)."""
    t = D(total)
    shares = {"规模体量": D("0.20"), "建设进度": D("0.25"), "科技含量": D("0.20"), "带动效应": D("0.20")}
    out = {w.criteria[n].pk: (t * s).quantize(D("0.01")) for n, s in shares.items()}
    out[w.criteria["形象展示"].pk] = t - sum(out.values())
    return out


def test_a_new_tour_has_the_default_criteria_and_is_audited(world):
    t = tours.create_tour(by=world.dispatcher, data=tour_data())
    assert [(c.name, c.max_points) for c in t.criteria.all()] == [
        ("规模体量", D("20.00")), ("建设进度", D("25.00")), ("科技含量", D("20.00")), ("带动效应", D("20.00")),
        ("形象展示", D("15.00")),
    ]  # fmt: skip
    assert t.status == TourStatus.DRAFT
    record = AuditRecord.objects.get(object_type="observationtour", object_id=str(t.pk), action="create")
    assert record.after["评分项"][0] == "规模体量 20"


@pytest.mark.parametrize("persona", ["leader", "town_officer", "enterprise", "sysadmin"])
def test_only_dispatchers_organise_tours(world, persona):
    with pytest.raises(PermissionDenied):
        tours.create_tour(by=getattr(world, persona), data=tour_data())
    assert not ObservationTour.objects.exists()


def test_trim_settings_must_leave_a_score(world):
    with pytest.raises(ValidationError) as exc:
        tours.create_tour(by=world.dispatcher, data=tour_data(trim_count=2, trim_min_judges=3))
    assert "评委数下限应不少于5" in str(exc.value.message_dict["trim_min_judges"])
    assert not ObservationTour.objects.exists()


def test_projects_come_from_the_dispatchers_scope(world):
    w = world
    w.dispatcher.data_scope = DataScope.UNIT  # the service center's own projects: none
    w.dispatcher.save()
    w.dispatcher._scope_unit_ids = None
    t = tours.create_tour(by=w.dispatcher, data=tour_data())
    with pytest.raises(ValidationError) as exc:
        tours.add_projects(t, by=w.dispatcher, project_ids=[w.project_a.pk])
    assert exc.value.message_dict["project"] == [f"项目不存在或不在您的数据范围内（编号 {w.project_a.pk}）。"]
    assert not t.tour_projects.exists()


def test_judges_must_be_business_accounts(world):
    t = tours.create_tour(by=world.dispatcher, data=tour_data())
    with pytest.raises(ValidationError) as exc:
        tours.add_judges(t, by=world.dispatcher, user_ids=[world.leader.pk, world.auditor.pk])
    assert "评委须为在职的业务账号" in exc.value.message_dict["judge"][0]
    assert not t.judges.exists()


def test_opening_needs_projects_judges_and_criteria(world):
    t = tours.create_tour(by=world.dispatcher, data=tour_data(), criteria=[])
    with pytest.raises(ValidationError) as exc:
        tours.open_tour(t, by=world.dispatcher)
    assert exc.value.messages == ["请先添加观摩项目、评委、评分项，再开始评分。"]
    t.refresh_from_db()
    assert t.status == TourStatus.DRAFT


def test_criteria_are_configurable_until_scoring_starts(world, tour):
    w = world
    t2 = tours.create_tour(by=w.dispatcher, data=tour_data(title="另一次观摩"))
    tours.set_criteria(t2, by=w.dispatcher, rows=[("投资强度", "40", ""), ("亩均税收", "60", "")])
    assert [c.name for c in t2.criteria.all()] == ["投资强度", "亩均税收"]
    with pytest.raises(ValidationError) as exc:
        tours.set_criteria(t2, by=w.dispatcher, rows=[("投资强度", "0", ""), ("投资强度", "abc", "")])
    assert exc.value.message_dict["criteria"] == ["“投资强度”的满分应在0.5到100之间。", "“投资强度”的满分不是数字。"]
    with pytest.raises(ValidationError) as exc:
        tours.set_criteria(tour, by=w.dispatcher, rows=[("投资强度", "100", "")])
    assert exc.value.messages == ["评分已经开始，评分项不能再修改。"]
    assert [c.name for c in tour.criteria.all()] == DEFAULTS


# ---------------------------------------------------------------------------------------------
# Score sheets


def test_a_judge_scores_and_edits_their_own_sheet(world, tour):
    w = world
    s, created = tours.save_sheet(tour, by=w.leader, project=w.project_a, points=points_for(w, "86.5"), comment="好")
    assert created and s.total == D("86.50") and s.items.count() == 5
    # A second sheet for the same project is refused, whatever the points…
    with pytest.raises(ValidationError) as exc:
        tours.save_sheet(tour, by=w.leader, project=w.project_a, points=points_for(w, "70"))
    assert exc.value.code == "duplicate_sheet"
    assert exc.value.messages == ["您已为该项目评过分，不能再提交第二张评分表；请打开原评分表修改。"]
    s.refresh_from_db()
    assert s.total == D("86.50") and ScoreSheet.objects.count() == 1
    # …the second save of the judge's own sheet (with its version) edits it.
    s2, created = tours.save_sheet(tour, by=w.leader, project=w.project_a, points=points_for(w, "90"),
                                   expected_version=s.version)  # fmt: skip
    assert not created and s2.pk == s.pk and s2.total == D("90.00") and s2.version == s.version + 1
    assert ScoreSheet.objects.count() == 1 and ScoreItem.objects.count() == 5
    # A stale version is a conflict.
    with pytest.raises(tours.ConflictError):
        tours.save_sheet(tour, by=w.leader, project=w.project_a, points=points_for(w, "50"), expected_version=1)
    s.refresh_from_db()
    assert s.total == D("90.00")
    actions = list(AuditRecord.objects.filter(object_type="scoresheet", object_id=str(s.pk)).values_list(
        "action", flat=True).order_by("id"))  # fmt: skip
    assert actions == ["create", "update"]
    update = AuditRecord.objects.get(object_type="scoresheet", action="update")
    assert update.before["总分"] == "86.50" and update.after["总分"] == "90.00"
    assert update.project_id == w.project_a.pk


@pytest.mark.parametrize(
    "change, message",
    [
        ({"规模体量": "20.5"}, "“规模体量”的得分不能超过满分20分。"),
        ({"建设进度": "-1"}, "“建设进度”的得分不能为负数。"),
        ({"科技含量": "abc"}, "“科技含量”的得分不是数字。"),
        ({"带动效应": "10.125"}, "“带动效应”的得分最多两位小数。"),
        ({"形象展示": ""}, "请为“形象展示”打分。"),
        ({"形象展示": "NaN"}, "“形象展示”的得分不是数字。"),
    ],
)
def test_bad_points_are_refused_and_nothing_is_stored(world, tour, change, message):
    points = {world.criteria[n].pk: change.get(n, "10") for n in DEFAULTS}
    with pytest.raises(ValidationError) as exc:
        tours.save_sheet(tour, by=world.leader, project=world.project_a, points=points)
    assert message in exc.value.message_dict["points"]
    assert not ScoreSheet.objects.exists() and not ScoreItem.objects.exists()


def test_unknown_criterion_and_missing_ones_are_refused(world, tour):
    other = tours.create_tour(by=world.dispatcher, data=tour_data(title="另一次"))
    foreign = other.criteria.first()
    points = {world.criteria["规模体量"].pk: "10", foreign.pk: "5"}
    with pytest.raises(ValidationError) as exc:
        tours.save_sheet(tour, by=world.leader, project=world.project_a, points=points)
    messages = exc.value.message_dict["points"]
    assert f"评分项“{foreign.pk}”不属于本次观摩。" in messages
    assert "请为“建设进度”打分。" in messages
    assert not ScoreSheet.objects.exists()


def test_a_project_outside_the_tour_is_refused(world, tour):
    from tests.test_rates import new_project

    outside = new_project(world, "未列入观摩的项目", total_investment=D("1000"))
    with pytest.raises(ValidationError) as exc:
        tours.save_sheet(tour, by=world.leader, project=outside, points=points_for(world, "80"))
    assert exc.value.message_dict["project"] == ["该项目不在本次观摩名单中，不能评分。"]
    assert not ScoreSheet.objects.exists()


@pytest.mark.parametrize("persona", ["town_officer", "enterprise", "sysadmin"])
def test_only_the_tours_judges_score(world, tour, persona):
    with pytest.raises(PermissionDenied):
        tours.save_sheet(tour, by=getattr(world, persona), project=world.project_a, points=points_for(world, "80"))
    assert not ScoreSheet.objects.exists()


def test_no_scoring_before_opening_or_after_closing(world, tour):
    w = world
    s, _created = tours.save_sheet(tour, by=w.leader, project=w.project_a, points=points_for(w, "80"))
    tours.close_tour(tour, by=w.dispatcher)
    for kwargs in ({"by": w.leader2}, {"by": w.leader, "expected_version": s.version}):
        with pytest.raises(ValidationError) as exc:
            tours.save_sheet(tour, project=w.project_a, points=points_for(w, "99"), **kwargs)
        assert exc.value.code == "invalid_state"
        assert exc.value.messages == ["观摩评分已结束，不能再评分或修改评分。"]
    s.refresh_from_db()
    assert s.total == D("80.00") and ScoreSheet.objects.count() == 1
    draft = tours.create_tour(by=w.dispatcher, data=tour_data(title="筹备中"))
    tours.add_projects(draft, by=w.dispatcher, project_ids=[w.project_a.pk])
    tours.add_judges(draft, by=w.dispatcher, user_ids=[w.leader.pk])
    with pytest.raises(ValidationError) as exc:
        tours.save_sheet(draft, by=w.leader, project=w.project_a, points={})
    assert exc.value.messages == ["观摩尚未开始评分。"]
    # A closed tour cannot be reopened, changed or closed again.
    for action in (lambda: tours.open_tour(tour, by=w.dispatcher), lambda: tours.close_tour(tour, by=w.dispatcher),
                   lambda: tours.update_tour(tour, by=w.dispatcher, data={"title": "改名"}),
                   lambda: tours.add_projects(tour, by=w.dispatcher, project_ids=[w.project_a.pk])):  # fmt: skip
        with pytest.raises(ValidationError):
            action()
    tour.refresh_from_db()
    assert tour.title == "2026年第三季度重点项目观摩"


def test_scored_projects_and_judges_stay_on_the_tour(world, tour):
    w = world
    tours.save_sheet(tour, by=w.leader, project=w.project_a, points=points_for(w, "80"))
    with pytest.raises(ValidationError) as exc:
        tours.remove_project(tour, by=w.dispatcher, project_id=w.project_a.pk)
    assert exc.value.messages == ["已有评委为该项目评分，不能移出观摩名单。"]
    with pytest.raises(ValidationError):
        tours.remove_judge(tour, by=w.dispatcher, user_id=w.leader.pk)
    tours.remove_project(tour, by=w.dispatcher, project_id=w.project_b.pk)
    tours.remove_judge(tour, by=w.dispatcher, user_id=w.leader2.pk)
    assert list(tour.tour_projects.values_list("project_id", flat=True)) == [w.project_a.pk]
    assert tour.judges.count() == 3


# ---------------------------------------------------------------------------------------------
# Aggregation


def score_all(w, tour, totals: dict[str, list[tuple[str, str]]]) -> None:
    for key, pairs in totals.items():
        for persona, total in pairs:
            tours.save_sheet(tour, by=getattr(w, persona), project=getattr(w, key), points=points_for(w, total))


def test_results_drop_the_highest_and_lowest_and_rank_projects_and_towns(world, tour):
    """project_a: 70, 80, 90, 100 → drop 70 and 100 → 85.00; project_b: 60, 90 (two judges) → 75.00."""
    w = world
    score_all(w, tour, {
        "project_a": [("leader", "70"), ("dispatcher", "80"), ("leader2", "90"), ("dept_officer", "100")],
        "project_b": [("leader", "60"), ("dispatcher", "90")],
    })  # fmt: skip
    r = tours.tour_results(tour)
    a, b = r.projects
    assert (a.name, a.score, a.rank, a.trimmed, a.dropped, a.kept) == (
        "联东U谷红旗科创园",
        D("85.00"),
        1,
        True,
        [D("70.00"), D("100.00")],
        [D("80.00"), D("90.00")],
    )
    assert (b.score, b.rank, b.trimmed, b.dropped) == (D("75.00"), 2, False, [])
    assert a.marked_totals == [(D("70.00"), True), (D("80.00"), False), (D("90.00"), False), (D("100.00"), True)]
    assert [(t.name, t.score, t.rank) for t in r.towns] == [("东街街道", D("85.00"), 1), ("洪门镇", D("75.00"), 2)]
    assert r.max_total == D("100.00")
    assert a.criteria_means[0] == D("17.00")  # 规模体量: 14, 16, 18, 20
    assert "去掉1个最高分和1个最低分后取平均分" in r.rule and "少于3人时取全部评委总分的平均分" in r.rule


def test_equal_scores_share_a_rank(world, tour):
    w = world
    score_all(w, tour, {"project_a": [("leader", "80"), ("dispatcher", "90")],
                        "project_b": [("leader", "85"), ("dispatcher", "85")]})  # fmt: skip
    r = tours.tour_results(tour)
    assert sorted((p.score, p.rank) for p in r.projects) == [(D("85.00"), 1), (D("85.00"), 1)]
    assert [(t.score, t.rank) for t in r.towns] == [(D("85.00"), 1), (D("85.00"), 1)]


def test_town_score_by_sum_and_trim_settings(world, tour):
    w = world
    tours.update_tour(tour, by=w.dispatcher, data={"town_method": TownMethod.SUM, "trim_count": 0})
    tours.add_projects(tour, by=w.dispatcher, project_ids=[])  # nothing to add: no change
    from tests.test_rates import new_project

    c = new_project(w, "东街第二个项目", total_investment=D("1000"))
    tours.add_projects(tour, by=w.dispatcher, project_ids=[c.pk])
    w.project_c = c
    score_all(w, tour, {"project_a": [("leader", "70"), ("dispatcher", "80"), ("leader2", "90")],
                        "project_c": [("leader", "60")]})  # fmt: skip
    r = tours.tour_results(tour)
    scores = {p.name: p.score for p in r.projects}
    assert scores["联东U谷红旗科创园"] == D("80.00")  # no trimming configured: plain mean
    assert [(t.name, t.score, t.projects) for t in r.towns] == [("东街街道", D("140.00"), 2), ("洪门镇", None, 1)]
    assert r.towns[1].rank is None
    assert "项目得分为全部评委总分的平均分" in r.rule and "之和" in r.rule


def test_tour_scores_feed_the_evaluation_source(world, tour):
    w = world
    score_all(w, tour, {"project_a": [("leader", "70"), ("dispatcher", "80"), ("leader2", "90")]})
    assert tours.project_scores_between(datetime.date(2026, 7, 1), datetime.date(2026, 9, 30)) == {}  # still open
    tours.close_tour(tour, by=w.dispatcher)
    assert tours.project_scores_between(datetime.date(2026, 7, 1), datetime.date(2026, 9, 30)) == {
        w.project_a.pk: [D("80.00")]
    }
    assert tours.project_scores_between(datetime.date(2026, 10, 1), datetime.date(2026, 12, 31)) == {}
