"""The evaluation and observation-tour endpoints of /api/v1/: tokens, the scope matrix, the judge's
sheet (create, edit, every refusal with nothing changed), results after closing, and the 422 shape."""

from __future__ import annotations

from decimal import Decimal

import pytest

from keyprojects.audit.models import AuditRecord
from keyprojects.evaluation import presets, tours
from keyprojects.evaluation.models import IndicatorGroup, ScoreSheet
from tests.conftest import PERSONAS, SEES
from tests.test_api import ApiClient, api_as, errors_at, has_chinese
from tests.test_evaluation_pages import ADMINS, EVALUATES, JUDGES, close_with_scores
from tests.test_evaluation_tours import DEFAULTS, tour_data
from tests.test_evaluation_tours import tour as tour  # noqa: F401 (fixture)

EVAL = f"/evaluations/{presets.THREE_BATCHES}/2026H1"


def scores(w, values=("18", "22.5", "16", "17", "13")) -> list[dict]:
    return [{"criterion": w.criteria[n].pk, "points": v} for n, v in zip(DEFAULTS, values, strict=True)]


@pytest.mark.parametrize(
    "method, path",
    [("GET", EVAL), ("GET", "/observation-tours"), ("GET", "/observation-tours/1/results"),
     ("GET", "/observation-tours/1/scores"), ("POST", "/observation-tours/1/scores")],
)  # fmt: skip
def test_every_endpoint_needs_a_token(client, world, method, path):
    r = ApiClient(client).call(method, path, {} if method == "POST" else None)
    assert r.status_code == 401 and has_chinese(r.json()["detail"])


@pytest.mark.parametrize("persona", PERSONAS)
def test_evaluation_follows_the_scope(client, world, persona):
    r = api_as(client, getattr(world, persona)).get(EVAL)
    rows = EVALUATES.get(persona)
    if persona in ADMINS or rows is None:
        assert r.status_code == 403 and has_chinese(r.json()["detail"])
        return
    assert r.status_code == 200
    data = r.json()
    names = {row["unit_name"] for row in data["rows"]}
    assert names == ({"东街街道", "洪门镇"} if rows == "all" else rows)
    assert data["scheme_code"] == presets.THREE_BATCHES and data["period"] == "2026H1"
    assert data["start"] == "2026-01-01" and data["end"] == "2026-06-30" and has_chinese(data["rule"])


def test_evaluation_rows_carry_their_breakdown(client, world):
    data = api_as(client, world.leader).get(EVAL, params={"kind": "town"}).json()
    assert [r["rank"] for r in data["rows"]] == sorted(r["rank"] for r in data["rows"])
    row = data["rows"][0]
    total = sum(Decimal(i["weighted"]) for i in row["indicators"])
    assert Decimal(row["total"]) == total
    item = row["indicators"][0]
    assert set(item) == {"code", "name", "group", "source", "unit", "raw", "points", "weight", "weighted", "rule",
                         "note"}  # fmt: skip
    assert item["group"] == "项目谋划储备" and item["rule"].startswith("排名")


def test_evaluation_bad_input(client, world):
    api = api_as(client, world.dispatcher)
    r = api.get(f"/evaluations/{presets.THREE_BATCHES}/2026H3")
    assert errors_at(r) == {
        "period": ["无效的考评期间“2026H3”：应为 2026H1（半年）、2026（全年）、2026Q3（季度）或 2026-10（月）。"]
    }
    assert r.json()["detail"][0]["loc"] == ["path", "period"]
    r = api.get("/evaluations/nope/2026")
    assert r.status_code == 404 and r.json() == {"detail": "考评方案不存在。"}
    assert api.get(EVAL, params={"kind": "enterprise"}).status_code == 422
    IndicatorGroup.objects.filter(scheme__code=presets.THREE_BATCHES, name="服务保障").update(weight=Decimal("5"))
    r = api.get(EVAL)
    assert errors_at(r)["scheme"] == [
        "各指标组权重合计为95，应为100（项目谋划储备10、签约落地30、开工投产30、投产达效20、服务保障5）。"
    ]


# ---------------------------------------------------------------------------------------------
# Tours


@pytest.mark.parametrize("persona", PERSONAS)
def test_tour_list_follows_the_scope(client, world, tour, persona):
    only_b = tours.create_tour(by=world.dispatcher, data=tour_data(title="洪门镇专场"))
    tours.add_projects(only_b, by=world.dispatcher, project_ids=[world.project_b.pk])
    r = api_as(client, getattr(world, persona)).get("/observation-tours")
    if persona in ADMINS:
        assert r.status_code == 403
        return
    titles = {t["title"] for t in r.json()["items"]}
    assert tour.title in titles
    assert ("洪门镇专场" in titles) == ("project_b" in SEES[persona])
    item = next(t for t in r.json()["items"] if t["id"] == tour.pk)
    assert item["is_judge"] == (persona in JUDGES)
    assert (item["status"], item["projects"], item["judges"], len(item["criteria"])) == ("open", 2, 4, 5)
    assert item["criteria"][0] == {"id": world.criteria["规模体量"].pk, "name": "规模体量", "max_points": "20.00",
                                   "description": "总投资、占地、建设规模与年度投资完成情况"}  # fmt: skip


def test_a_judge_posts_and_edits_a_sheet(client, world, tour):
    w = world
    api = api_as(client, w.leader)
    path = f"/observation-tours/{tour.pk}/scores"
    r = api.post(path, {"project": w.project_a.pk, "scores": scores(w), "comment": "现场整洁"})
    assert r.status_code == 201, r.content
    sheet = r.json()
    assert sheet["total"] == "86.50" and sheet["version"] == 1 and len(sheet["items"]) == 5
    assert sheet["items"][1] == {"criterion": w.criteria["建设进度"].pk, "criterion_name": "建设进度",
                                 "max_points": "25.00", "points": "22.50"}  # fmt: skip
    # A second sheet for the same project: refused (409), nothing changed.
    r = api.post(path, {"project": w.project_a.pk, "scores": scores(w, ("1", "1", "1", "1", "1"))})
    assert r.status_code == 409 and "不能再提交第二张评分表" in r.json()["detail"]
    # Editing the judge's own sheet with its version.
    r = api.post(path, {"project": w.project_a.pk, "scores": scores(w, ("20", "25", "20", "20", "15")), "version": 1})
    assert r.status_code == 200 and r.json()["total"] == "100.00" and r.json()["version"] == 2
    r = api.post(path, {"project": w.project_a.pk, "scores": scores(w), "version": 1})
    assert r.status_code == 409 and "已在别处修改" in r.json()["detail"]
    assert ScoreSheet.objects.get().total == Decimal("100.00")
    assert AuditRecord.objects.filter(object_type="scoresheet", channel="api").count() == 2
    mine = api.get(path).json()
    assert [s["project"] for s in mine] == [w.project_a.pk]
    assert api_as(client, w.leader2).get(path).json() == []  # other judges' sheets are not shown


@pytest.mark.parametrize(
    "change, loc, message",
    [
        ({"scores": "over"}, "scores", "“形象展示”的得分不能超过满分15分。"),
        ({"scores": "negative"}, "scores", "“形象展示”的得分不能为负数。"),
        ({"scores": "missing"}, "scores", "请为“形象展示”打分。"),
        ({"scores": "twice"}, "criterion", "评分项重复。"),
        ({"scores": "text"}, "points", '请输入有效的数字（如 "150000.00"）。'),
        ({"project": "outside"}, "project", "该项目不在本次观摩名单中，不能评分。"),
        ({"extra": 1}, "extra", "不支持该字段（字段名有误，或该字段不能通过此接口修改）。"),
    ],
)
def test_bad_sheets_are_422_at_the_field(client, world, tour, change, loc, message):
    w = world
    body = {"project": w.project_a.pk, "scores": scores(w)}
    kind = change.get("scores")
    if kind == "over":
        body["scores"][4]["points"] = "15.5"
    elif kind == "negative":
        body["scores"][4]["points"] = "-1"
    elif kind == "missing":
        body["scores"] = body["scores"][:4]
    elif kind == "twice":
        body["scores"].append(dict(body["scores"][0]))
    elif kind == "text":
        body["scores"][0]["points"] = "很好"
    if change.get("project") == "outside":
        from tests.test_rates import new_project

        body["project"] = new_project(w, "外面的项目", total_investment=Decimal("1000")).pk
    if "extra" in change:
        body["extra"] = 1
    r = api_as(client, w.leader).post(f"/observation-tours/{tour.pk}/scores", body)
    assert message in errors_at(r)[loc]
    assert not ScoreSheet.objects.exists()


@pytest.mark.parametrize("persona", PERSONAS)
def test_only_judges_post_sheets(client, world, tour, persona):
    w = world
    r = api_as(client, getattr(w, persona)).post(f"/observation-tours/{tour.pk}/scores",
                                                 {"project": w.project_a.pk, "scores": scores(w)})  # fmt: skip
    assert r.status_code == (201 if persona in JUDGES else 403)
    assert ScoreSheet.objects.count() == (1 if persona in JUDGES else 0)


def test_results_are_published_when_the_tour_closes(client, world, tour):
    w = world
    api = api_as(client, w.leader)
    path = f"/observation-tours/{tour.pk}/results"
    r = api.get(path)
    assert r.status_code == 409 and r.json() == {"detail": "观摩评分尚未结束，结果在结束后公布。"}
    close_with_scores(w, tour)
    data = api.get(path).json()
    a, b = data["projects"]
    assert (a["name"], a["rank"], a["score"], a["trimmed"], a["dropped"]) == (
        "联东U谷红旗科创园",
        1,
        "85.00",
        True,
        ["70.00", "100.00"],
    )
    assert a["totals"] == ["70.00", "80.00", "90.00", "100.00"] and a["judges"] == 4
    assert (b["rank"], b["score"], b["trimmed"]) == (2, "75.00", False)
    assert [(t["name"], t["rank"], t["score"]) for t in data["towns"]] == [("东街街道", 1, "85.00"),
                                                                           ("洪门镇", 2, "75.00")]  # fmt: skip
    assert "去掉1个最高分和1个最低分" in data["tour"]["rule"]
    # After closing, a judge's sheet cannot change.
    r = api.post(f"/observation-tours/{tour.pk}/scores", {"project": w.project_a.pk, "scores": scores(w), "version": 1})
    assert r.status_code == 409 and r.json()["detail"] == "观摩评分已结束，不能再评分或修改评分。"
    assert ScoreSheet.objects.get(judge=w.leader, project=w.project_a).total == Decimal("70.00")
    # A town officer sees their own project's row and town only.
    data = api_as(client, w.other_town_officer).get(path).json()
    assert [p["name"] for p in data["projects"]] == ["洪门镇智能传感器产业园"]
    assert [t["name"] for t in data["towns"]] == ["洪门镇"]


def test_unknown_or_invisible_tours_are_404(client, world, tour):
    only_b = tours.create_tour(by=world.dispatcher, data=tour_data(title="洪门镇专场"))
    tours.add_projects(only_b, by=world.dispatcher, project_ids=[world.project_b.pk])
    api = api_as(client, world.town_officer)
    assert api.get(f"/observation-tours/{only_b.pk}/results").status_code == 404
    assert api.get("/observation-tours/999999/scores").status_code == 404
    r = api.post(f"/observation-tours/{only_b.pk}/scores", {"project": world.project_b.pk, "scores": []})
    assert r.status_code == 404


def test_api_query_counts(client, world, tour, django_assert_max_num_queries):
    close_with_scores(world, tour)
    api = api_as(client, world.dispatcher)
    with django_assert_max_num_queries(10):
        assert api.get("/observation-tours").status_code == 200
    with django_assert_max_num_queries(14):
        assert api.get(f"/observation-tours/{tour.pk}/results").status_code == 200
    with django_assert_max_num_queries(45):
        assert api.get(EVAL).status_code == 200
