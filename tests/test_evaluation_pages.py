"""The tour and evaluation pages: who may see and do what (the personas of conftest), the phone scoring
form and its refusals, the results and the evaluation drill-down, and bounded query counts.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from keyprojects.audit.models import AuditRecord
from keyprojects.evaluation import presets, tours
from keyprojects.evaluation.models import ObservationTour, ScoreSheet, TourStatus
from tests.conftest import PERSONAS, SEES
from tests.test_evaluation_tours import DEFAULTS, points_for, tour_data
from tests.test_evaluation_tours import tour as tour  # noqa: F401 (fixture)

ADMINS = [p for p in PERSONAS if not SEES[p]]
JUDGES = {"leader", "dispatcher", "leader2", "dept_officer"}
MANAGERS = {"dispatcher"}
# Evaluation results: scope 全部 sees every unit, unit officers their own units' rows; others 403.
EVALUATES = {"dispatcher": "all", "leader": "all", "town_officer": {"东街街道"}, "dept_officer": set(),
             "other_town_officer": {"洪门镇"}}  # fmt: skip


def signed_in(client, world, persona):
    client.force_login(getattr(world, persona))
    return client


@pytest.fixture
def only_b(world):
    """A second tour visiting only project_b (洪门镇), no judges, closed without scores."""
    t = tours.create_tour(by=world.dispatcher, data=tour_data(title="洪门镇专场", quarter=2))
    tours.add_projects(t, by=world.dispatcher, project_ids=[world.project_b.pk])
    return t


# ---------------------------------------------------------------------------------------------
# Tours: the matrix


def test_anonymous_users_go_to_login(client, world, tour):
    for url in (reverse("tour-list"), reverse("tour-detail", args=[tour.pk]), reverse("tour-results", args=[tour.pk]),
                reverse("tour-score-start", args=[tour.pk]), reverse("scheme-list"),
                reverse("evaluation-result", args=[presets.THREE_BATCHES, "2026H1"])):  # fmt: skip
        r = client.get(url)
        assert r.status_code == 302 and r["Location"].startswith(reverse("login")), url


@pytest.mark.parametrize("persona", PERSONAS)
def test_tour_list_and_detail_follow_the_scope(client, world, tour, only_b, persona):
    signed_in(client, world, persona)
    r = client.get(reverse("tour-list"))
    if persona in ADMINS:
        assert r.status_code == 403
        assert client.get(reverse("tour-detail", args=[tour.pk])).status_code == 403
        return
    body = r.content.decode()
    assert r.status_code == 200
    assert tour.title in body  # both projects: every business persona sees one of them
    sees_b = "project_b" in SEES[persona]
    assert (only_b.title in body) == sees_b
    assert client.get(reverse("tour-detail", args=[tour.pk])).status_code == 200
    assert client.get(reverse("tour-detail", args=[only_b.pk])).status_code == (200 if sees_b else 404)


@pytest.mark.parametrize("persona", PERSONAS)
def test_score_form_is_for_judges(client, world, tour, persona):
    signed_in(client, world, persona)
    url = reverse("tour-score", args=[tour.pk, world.project_a.pk])
    r = client.get(url)
    expected = 403 if persona in ADMINS else (200 if persona in JUDGES else 403)
    assert r.status_code == expected
    body = {f"c{world.criteria[n].pk}": "10" for n in DEFAULTS}
    r = client.post(url, body)
    assert r.status_code == (302 if persona in JUDGES else 403)
    assert ScoreSheet.objects.filter(judge=getattr(world, persona)).count() == (1 if persona in JUDGES else 0)


@pytest.mark.parametrize("persona", PERSONAS)
def test_only_dispatchers_manage_tours(client, world, tour, persona):
    signed_in(client, world, persona)
    allowed = persona in MANAGERS
    assert client.get(reverse("tour-create")).status_code == (200 if allowed else 403)
    assert client.get(reverse("tour-edit", args=[tour.pk])).status_code == (200 if allowed else 403)
    r = client.post(reverse("tour-close", args=[tour.pk]))
    assert r.status_code == (302 if allowed else 403)
    tour.refresh_from_db()
    assert tour.status == (TourStatus.CLOSED if allowed else TourStatus.OPEN)


def test_dispatcher_builds_a_tour_on_the_pages(client, world):
    w = world
    signed_in(client, w, "dispatcher")
    data = {**{k: str(v) for k, v in tour_data(title="页面新建的观摩").items()}, "criteria-TOTAL_FORMS": "3",
            "criteria-INITIAL_FORMS": "0", "criteria-0-name": "投资强度", "criteria-0-max_points": "60",
            "criteria-1-name": "形象进度", "criteria-1-max_points": "40", "criteria-2-name": ""}  # fmt: skip
    r = client.post(reverse("tour-create"), data)
    assert r.status_code == 302
    t = ObservationTour.objects.get(title="页面新建的观摩")
    assert [(c.name, c.max_points) for c in t.criteria.all()] == [("投资强度", Decimal("60.00")),
                                                                    ("形象进度", Decimal("40.00"))]  # fmt: skip
    r = client.get(reverse("tour-detail", args=[t.pk]), {"q": "联东"})
    assert "联东U谷红旗科创园" in r.content.decode()
    r = client.post(reverse("tour-add-projects", args=[t.pk]), {"project": [w.project_a.pk, w.project_b.pk]})
    assert r.status_code == 302 and t.tour_projects.count() == 2
    client.post(reverse("tour-add-judges", args=[t.pk]), {"judges": [w.leader.pk, w.dispatcher.pk]})
    assert t.judges.count() == 2
    client.post(reverse("tour-open", args=[t.pk]))
    t.refresh_from_db()
    assert t.status == TourStatus.OPEN
    assert AuditRecord.objects.filter(object_type="observationtour", object_id=str(t.pk), channel="web").count() >= 4


def test_bad_tour_form_shows_the_errors(client, world):
    signed_in(client, world, "dispatcher")
    data = {**{k: str(v) for k, v in tour_data(trim_count=2, trim_min_judges=4).items()},
            "criteria-TOTAL_FORMS": "1", "criteria-INITIAL_FORMS": "0", "criteria-0-name": "投资强度",
            "criteria-0-max_points": "120"}  # fmt: skip
    r = client.post(reverse("tour-create"), data)
    assert r.status_code == 400
    body = r.content.decode()
    assert "确保该值小于或等于 100。" in body.replace("&nbsp;", " ") or "确保该值小于或等于100。" in body
    assert "去掉最高分、最低分各2个后至少要留下1个分数，评委数下限应不少于5。" in body
    assert not ObservationTour.objects.exists()


# ---------------------------------------------------------------------------------------------
# The scoring form


def test_phone_form_saves_moves_on_and_edits_the_same_sheet(client, world, tour):
    w = world
    signed_in(client, w, "leader")
    r = client.get(reverse("tour-score-start", args=[tour.pk]))
    assert r["Location"] == reverse("tour-score", args=[tour.pk, w.project_a.pk])
    page = client.get(r["Location"]).content.decode()
    assert 'inputmode="decimal"' in page and "满分 25" in page and "保存，评下一个" in page
    assert "<script>" not in page.replace('<script src="', "")
    body = {f"c{w.criteria[n].pk}": v for n, v in zip(DEFAULTS, ["18", "22.5", "16", "17", "13"], strict=True)}
    r = client.post(reverse("tour-score", args=[tour.pk, w.project_a.pk]), {**body, "next": "1"})
    assert r.status_code == 302 and r["Location"] == reverse("tour-score", args=[tour.pk, w.project_b.pk])
    sheet = ScoreSheet.objects.get(judge=w.leader, project=w.project_a)
    assert sheet.total == Decimal("86.50")
    page = client.get(reverse("tour-score", args=[tour.pk, w.project_a.pk])).content.decode()
    assert "您已为本项目评分（总分 86.50 分）" in page and f'value="{sheet.version}"' in page
    r = client.post(reverse("tour-score", args=[tour.pk, w.project_a.pk]),
                    {**body, f"c{w.criteria['规模体量'].pk}": "20", "version": str(sheet.version)})  # fmt: skip
    assert r.status_code == 302
    sheet.refresh_from_db()
    assert sheet.total == Decimal("88.50") and ScoreSheet.objects.count() == 1


def test_phone_form_refusals_change_nothing(client, world, tour):
    w = world
    signed_in(client, w, "leader")
    url = reverse("tour-score", args=[tour.pk, w.project_a.pk])
    body = {f"c{w.criteria[n].pk}": "10" for n in DEFAULTS}
    r = client.post(url, {**body, f"c{w.criteria['形象展示'].pk}": "16"})
    assert r.status_code == 400 and "“形象展示”的得分不能超过满分15分。" in r.content.decode()
    r = client.post(url, {**body, f"c{w.criteria['形象展示'].pk}": "-2"})
    assert r.status_code == 400 and "“形象展示”的得分不能为负数。" in r.content.decode()
    assert not ScoreSheet.objects.exists()
    assert client.post(url, body).status_code == 302
    # A second sheet (a form opened before the first save: no version) is refused.
    r = client.post(url, {**body, f"c{w.criteria['形象展示'].pk}": "15"})
    assert r.status_code == 409 and "不能再提交第二张评分表" in r.content.decode()
    assert ScoreSheet.objects.get().total == Decimal("50.00")
    # A project outside the tour: not found.
    from tests.test_rates import new_project

    outside = new_project(w, "外面的项目", total_investment=Decimal("1000"))
    assert client.post(reverse("tour-score", args=[tour.pk, outside.pk]), body).status_code == 404
    # After the tour is closed.
    tours.close_tour(tour, by=w.dispatcher)
    r = client.post(url, {**body, "version": "1"})
    assert r.status_code == 409 and "观摩评分已结束" in r.content.decode()
    assert ScoreSheet.objects.get().total == Decimal("50.00")


# ---------------------------------------------------------------------------------------------
# Results


def close_with_scores(w, tour):
    for persona, total in (("leader", "70"), ("dispatcher", "80"), ("leader2", "90"), ("dept_officer", "100")):
        tours.save_sheet(tour, by=getattr(w, persona), project=w.project_a, points=points_for(w, total))
    for persona, total in (("leader", "60"), ("dispatcher", "90")):
        tours.save_sheet(tour, by=getattr(w, persona), project=w.project_b, points=points_for(w, total))
    tours.close_tour(tour, by=w.dispatcher)


def test_judges_see_only_their_own_scores_until_closed(client, world, tour):
    w = world
    tours.save_sheet(tour, by=w.leader, project=w.project_a, points=points_for(w, "70"))
    tours.save_sheet(tour, by=w.leader2, project=w.project_a, points=points_for(w, "93"))
    signed_in(client, w, "leader")
    body = client.get(reverse("tour-results", args=[tour.pk])).content.decode()
    assert "结果在结束后公布" in body and "70.00" in body and "93.00" not in body
    signed_in(client, w, "dispatcher")
    body = client.get(reverse("tour-detail", args=[tour.pk])).content.decode()
    assert "93.00" not in body and "2 / 4" in body


@pytest.mark.parametrize("persona", [p for p in PERSONAS if p not in ADMINS])
def test_results_follow_the_scope(client, world, tour, persona):
    w = world
    close_with_scores(w, tour)
    signed_in(client, w, persona)
    r = client.get(reverse("tour-results", args=[tour.pk]))
    body = r.content.decode()
    assert r.status_code == 200
    sees_all = persona in ("dispatcher", "leader") or persona in JUDGES
    assert ("联东U谷红旗科创园" in body) == (sees_all or "project_a" in SEES[persona])
    assert ("洪门镇智能传感器产业园" in body) == (sees_all or "project_b" in SEES[persona])
    if "project_a" in SEES[persona] or sees_all:
        assert "85.00" in body  # 70, 80, 90, 100 → drop 70 and 100


def test_results_page_states_the_rule_and_marks_dropped_scores(client, world, tour, django_assert_max_num_queries):
    close_with_scores(world, tour)
    signed_in(client, world, "leader")
    with django_assert_max_num_queries(16):
        r = client.get(reverse("tour-results", args=[tour.pk]))
    body = r.content.decode()
    assert "评委不少于3人时，去掉1个最高分和1个最低分后取平均分" in body
    assert '<span class="kp-dropped">70.00</span>' in body and '<span class="kp-dropped">100.00</span>' in body
    assert "乡镇街道排名" in body and "75.00" in body


def test_tour_pages_query_counts(client, world, tour, django_assert_max_num_queries):
    signed_in(client, world, "dispatcher")
    with django_assert_max_num_queries(14):
        assert client.get(reverse("tour-list")).status_code == 200
    with django_assert_max_num_queries(20):
        assert client.get(reverse("tour-detail", args=[tour.pk])).status_code == 200
    signed_in(client, world, "leader")
    with django_assert_max_num_queries(16):
        assert client.get(reverse("tour-score", args=[tour.pk, world.project_a.pk])).status_code == 200


# ---------------------------------------------------------------------------------------------
# Evaluations


@pytest.mark.parametrize("persona", PERSONAS)
def test_evaluation_pages_follow_the_scope(client, world, persona):
    signed_in(client, world, persona)
    scheme_list = client.get(reverse("scheme-list"))
    scheme = client.get(reverse("scheme-detail", args=[presets.THREE_BATCHES]))
    result = client.get(reverse("evaluation-result", args=[presets.THREE_BATCHES, "2026H1"]))
    if persona in ADMINS:
        assert (scheme_list.status_code, scheme.status_code, result.status_code) == (403, 403, 403)
        return
    assert scheme_list.status_code == 200 and scheme.status_code == 200
    assert "项目谋划储备" in scheme.content.decode()
    rows = EVALUATES.get(persona)
    if rows is None:
        assert result.status_code == 403
        return
    assert result.status_code == 200
    body = result.content.decode()
    for name in ("东街街道", "洪门镇"):
        shown = f">{name}</td>" in body
        assert shown == (rows == "all" or name in rows), (persona, name)
    for unit, name in ((world.dongjie, "东街街道"), (world.hongmen, "洪门镇")):
        r = client.get(reverse("evaluation-unit", args=[presets.THREE_BATCHES, "2026H1", unit.pk]))
        assert r.status_code == (200 if rows == "all" or name in rows else 404)


def test_breakdown_shows_the_numbers_behind_the_total(client, world, django_assert_max_num_queries):
    signed_in(client, world, "leader")
    with django_assert_max_num_queries(45):
        r = client.get(reverse("evaluation-unit", args=[presets.THREE_BATCHES, "2026H1", world.dongjie.pk]))
    body = r.content.decode()
    for text in ("原始值", "计分规则", "权重", "计入总分", "线性：60%及以下得0分，100%及以上得满分，其间按比例", "总分",
                 "谋划储备项目数", "加减分项"):  # fmt: skip
        assert text in body, text


def test_evaluation_kind_filter_and_bad_input(client, world):
    signed_in(client, world, "dispatcher")
    r = client.get(reverse("evaluation-result", args=[presets.FOUR_COMPARISONS, "2026"]), {"kind": "town"})
    assert r.status_code == 200 and "东街街道" in r.content.decode()
    assert client.get(reverse("evaluation-result", args=["nope", "2026"])).status_code == 404
    assert client.get(reverse("evaluation-result", args=[presets.THREE_BATCHES, "2026H3"])).status_code == 404
    r = client.get(reverse("scheme-list"), {"scheme": presets.THREE_BATCHES, "period": "2026Q3"})
    assert r["Location"] == reverse("evaluation-result", args=[presets.THREE_BATCHES, "2026Q3"])
    r = client.get(reverse("scheme-list"), {"scheme": presets.THREE_BATCHES, "period": "2026Q9"})
    assert r.status_code == 400 and "无效的考评期间" in r.content.decode()


def test_a_scheme_with_broken_weights_says_which_group(client, world):
    from keyprojects.evaluation.models import IndicatorGroup

    IndicatorGroup.objects.filter(scheme__code=presets.THREE_BATCHES, name="签约落地").update(weight=Decimal("25"))
    signed_in(client, world, "dispatcher")
    r = client.get(reverse("evaluation-result", args=[presets.THREE_BATCHES, "2026"]))
    assert r.status_code == 422
    assert "各指标组权重合计为95，应为100（项目谋划储备10、签约落地25、开工投产30、投产达效20、服务保障10）。" in (
        r.content.decode()
    )
    r = client.get(reverse("scheme-detail", args=[presets.THREE_BATCHES]))
    assert "该方案暂不能计算" in r.content.decode()


def test_menu_has_the_entry(client, world):
    signed_in(client, world, "town_officer")
    body = client.get(reverse("tour-list")).content.decode()
    assert f'href="{reverse("tour-list")}">观摩考评</a>' in body


# ---------------------------------------------------------------------------------------------
# The admin refuses weights that do not add up


@pytest.fixture
def staff(world, client):
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_superuser("root", "root@example.com", "Root@2026!x")
    client.force_login(user)
    return client


def test_admin_refuses_group_weights_that_do_not_add_up(staff, world):
    from keyprojects.evaluation.models import Scheme

    scheme = Scheme.objects.get(code=presets.FOUR_COMPARISONS)
    groups = list(scheme.groups.all())
    data = {"code": scheme.code, "name": scheme.name, "description": scheme.description, "unit_kind": "both",
            "basis": "unit", "with_projects_only": "on", "is_active": "on", "position": "2",
            "groups-TOTAL_FORMS": str(len(groups)), "groups-INITIAL_FORMS": str(len(groups)),
            "groups-MIN_NUM_FORMS": "0", "groups-MAX_NUM_FORMS": "1000"}  # fmt: skip
    for i, g in enumerate(groups):
        prefix = f"groups-{i}-"
        data.update({prefix + "id": str(g.pk), prefix + "scheme": str(scheme.pk), prefix + "position": str(g.position),
                     prefix + "name": g.name, prefix + "weight": "30" if i == 0 else str(g.weight)})  # fmt: skip
    r = staff.post(reverse("admin:evaluation_scheme_change", args=[scheme.pk]), data)
    assert r.status_code == 200
    assert "各指标组权重合计为105，应为100（比谋划看储备30、比招引看投资25、比开工看进度25、比服务看实效25）。" in (
        r.content.decode()
    )
    assert [g.weight for g in scheme.groups.all()] == [Decimal("25.00")] * 4
    data["groups-0-weight"] = "25"
    data["groups-1-weight"] = "20"
    data["groups-2-weight"] = "30"
    r = staff.post(reverse("admin:evaluation_scheme_change", args=[scheme.pk]), data)
    assert r.status_code == 302
    assert [g.weight for g in scheme.groups.all()] == [Decimal(v) for v in ("25", "20", "30", "25")]
    assert AuditRecord.objects.filter(object_type="indicatorgroup", action="update").count() == 2


def test_admin_refuses_indicator_weights_that_do_not_add_up(staff, world):
    from keyprojects.evaluation.models import IndicatorGroup

    group = IndicatorGroup.objects.get(scheme__code=presets.FOUR_COMPARISONS, name="比开工看进度")
    items = list(group.indicators.all())
    data = {"scheme": str(group.scheme_id), "position": "3", "name": group.name, "weight": "25",
            "indicators-TOTAL_FORMS": str(len(items)), "indicators-INITIAL_FORMS": str(len(items)),
            "indicators-MIN_NUM_FORMS": "0", "indicators-MAX_NUM_FORMS": "1000"}  # fmt: skip
    for i, ind in enumerate(items):
        for field in ("position", "code", "name", "source", "weight", "rule", "no_data", "note", "floor", "cap",
                      "rank_first", "rank_step", "rank_min", "per_item", "limit"):  # fmt: skip
            value = getattr(ind, field)
            data[f"indicators-{i}-{field}"] = "" if value is None else str(value)
        data[f"indicators-{i}-id"] = str(ind.pk)
        data[f"indicators-{i}-group"] = str(group.pk)
        data[f"indicators-{i}-steps"] = ""
    data["indicators-0-weight"] = "50"
    r = staff.post(reverse("admin:evaluation_indicatorgroup_change", args=[group.pk]), data)
    assert r.status_code == 200
    assert "指标组“比开工看进度”的指标权重合计为120，应为100（开工率50、年度投资完成率40、季度观摩得分30）。" in (
        r.content.decode()
    )
    data["indicators-0-weight"] = "30"
    data["indicators-1-floor"] = "100"  # floor ≥ cap
    r = staff.post(reverse("admin:evaluation_indicatorgroup_change", args=[group.pk]), data)
    assert r.status_code == 200 and "上限（100）必须大于下限（100）。" in r.content.decode()
    assert [i.weight for i in group.indicators.all()] == [Decimal("30.00"), Decimal("40.00"), Decimal("30.00")]
