"""The cockpit (驾驶舱): every figure against a hand-computed district, scope, links, pages, API, queries.

The district is the completion-rate fixture of tests/test_rates.py at the end of March 2026 (see its
docstring: projects A–F, plans, reports, a baseline), plus:

- A uses EPC financing; the others have none;
- phase 第二十期: A and B in its 签约一批, D in its 开工一批;
- problems (T = today): P1 A/东街 已交办 due T−3 (overdue), P2 A/东街 办理中 due T+5, P3 B/洪门 已办结 on time,
  P4 B/洪门 已回访 late and 满意, P5 D/自然资源局 已销号 on time and 基本满意, P6 A 待交办 (not counted),
  P7 D/洪门 已部署 due T−1 (overdue);
- coordinates for A and D.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from keyprojects.api.auth import issue_token
from keyprojects.dashboard import figures
from keyprojects.dashboard.data import cockpit_data
from keyprojects.dashboard.views import cockpit_for
from keyprojects.problems.models import Problem
from keyprojects.progress import rates
from keyprojects.progress.models import AnnualPlan, MonthlyReport, ReportStatus
from keyprojects.projects.models import (
    Batch,
    BatchMembership,
    FinancingModel,
    Phase,
    Project,
    ProjectType,
    SizeBand,
    Stage,
)
from tests.conftest import PERSONAS, SEES
from tests.test_api import ApiClient, errors_at
from tests.test_rates import district  # noqa: F401 (fixture)

D = Decimal
YEAR, MONTH = 2026, 3
PERIOD = {"year": YEAR, "month": MONTH}
ADMINS = [p for p in PERSONAS if not SEES[p]]
BUSINESS = [p for p in PERSONAS if SEES[p]]
PAGES = ["dashboard", "dashboard-data", "dashboard-map", "dashboard-map-points", "dashboard-screen"]


def today() -> datetime.date:
    return timezone.localdate()


def problem(w, project, lead, status, *, due=None, on_time=None, rating="", title="问题"):
    return Problem.objects.create(
        project=project, source="enterprise", category="land", title=title,
        received_on=today() - datetime.timedelta(30), lead_unit=lead, status=status, current_due=due,
        resolved_on_time=on_time, rating=rating,
    )  # fmt: skip


@pytest.fixture
def cw(district):  # noqa: F811
    w = district
    T = today()
    w.epc = FinancingModel.objects.get(name="EPC")
    Project.objects.filter(pk=w.a.pk).update(financing_model=w.epc, latitude=D("35.302"), longitude=D("113.910"))
    Project.objects.filter(pk=w.d.pk).update(latitude=D("35.283"), longitude=D("113.962"))
    w.phase = Phase.objects.create(number=20, name="第二十期", held_on=datetime.date(2025, 10, 10))
    BatchMembership.objects.create(project=w.a, phase=w.phase, batch=Batch.SIGN)
    BatchMembership.objects.create(project=w.b, phase=w.phase, batch=Batch.SIGN)
    BatchMembership.objects.create(project=w.d, phase=w.phase, batch=Batch.START)
    days = datetime.timedelta
    w.p1 = problem(w, w.a, w.dongjie, "assigned", due=T - days(3), title="P1 用地指标")
    w.p2 = problem(w, w.a, w.dongjie, "in_progress", due=T + days(5), title="P2 电力接入")
    w.p3 = problem(w, w.b, w.hongmen, "resolved", on_time=True, title="P3")
    w.p4 = problem(w, w.b, w.hongmen, "rated", on_time=False, rating="satisfied", title="P4")
    w.p5 = problem(w, w.d, w.resources, "closed", on_time=True, rating="basic", title="P5")
    w.p6 = problem(w, w.a, None, "new", title="P6")
    w.p7 = problem(w, w.d, w.hongmen, "deployed", due=T - days(1), title="P7 环评")
    return w


def district_data(w) -> dict:
    return cockpit_data(figures.compute_cockpit(Project.objects.all(), Problem.objects.all(), YEAR, MONTH,
                                                today=today()))  # fmt: skip


def by_key(groups: list[dict]) -> dict:
    return {g["key"]: (g["projects"], g["total_investment"]) for g in groups}


# ---------------------------------------------------------------------------------------------
# Figures by hand


def test_headline_figures_by_hand(cw):
    h = district_data(cw)["headline"]
    assert (h["projects"]["value"], h["total_investment"]["value"]) == (6, "786000.00")
    assert h["total_investment"]["display"] == "78.60亿元"
    assert [(b["label"], b["projects"]) for b in h["size_bands"]] == [("≥50亿", 1), ("≥10亿", 2), ("≥1亿", 3)]
    assert [b["total_investment"] for b in h["size_bands"]] == ["600000.00", "750000.00", "770000.00"]
    inv = h["investment"]
    assert (inv["planned"], inv["original_planned"], inv["ytd_in_plan"], inv["plan_projects"]) == (
        "49000.00", "59000.00", "32300.00", 4)  # fmt: skip
    assert (inv["annual_rate"], inv["time_progress"], inv["gap_points"], inv["total_rate"]) == (
        "65.9", "25.0", "40.9", "16.8")  # fmt: skip
    assert (h["start"]["done"], h["start"]["target"], h["start"]["rate"]) == (2, 1, "200.0")  # never capped
    assert (h["complete"]["done"], h["complete"]["target"], h["complete"]["rate"]) == (1, 1, "100.0")
    assert (h["commission"]["done"], h["commission"]["target"], h["commission"]["rate"]) == (1, 2, "50.0")
    p = h["problems"]
    assert (p["assigned"]["value"], p["open"]["value"], p["overdue"]["value"]) == (6, 3, 2)
    assert (p["resolved"]["value"], p["on_time"]["value"]) == (3, 2)
    assert (p["closure_rate"], p["on_time_rate"], p["satisfaction_rate"]) == ("50.0", "66.7", "100.0")
    late = h["reports_late"]
    assert late["value"] == 1  # C's March report was returned and not resubmitted
    assert late["by_unit"] == [{"unit_id": cw.dongjie.pk, "label": "东街街道", "value": 1}]
    assert late["due"] == "2026-04-05"


def test_the_headline_is_the_completion_tables_total(cw):
    table = rates.completion_table(Project.objects.all(), YEAR, MONTH, "district")
    fig = figures.compute_cockpit(Project.objects.all(), Problem.objects.all(), YEAR, MONTH, today=today())
    for name in rates.RateRow.SUMMED:
        assert getattr(fig.table.total, name) == getattr(table.total, name), name


def test_breakdowns_by_hand(cw):
    b = district_data(cw)["breakdowns"]
    assert by_key(b["industry"]) == {
        cw.industry.pk: (2, "158000.00"),
        cw.c.industry_id: (2, "620000.00"),
        cw.e.industry_id: (2, "8000.00"),
    }
    assert [g["label"] for g in b["industry"]] == ["电子信息", "先进制造业", "新材料"]  # by investment
    assert by_key(b["town"]) == {cw.hongmen.pk: (3, "611000.00"), cw.dongjie.pk: (2, "170000.00"), None: (1, "5000.00")}
    assert b["town"][-1]["label"] == "未指定乡镇街道" and b["town"][-1]["link"] is None
    assert [(g["key"], g["label"], g["projects"]) for g in b["level"]] == [
        ("province", "省重点", 1), ("city", "市重点", 1), ("district", "区重点", 4)]  # fmt: skip
    assert by_key(b["financing_model"]) == {cw.epc.pk: (1, "150000.00"), None: (5, "636000.00")}
    stages = {g["key"]: g["projects"] for g in b["stage"]}
    assert stages == {"planning": 0, "signed": 1, "preparation": 1, "started": 0, "construction": 2, "completed": 1,
                      "commissioned": 0, "effective": 1}  # fmt: skip
    assert {g["key"]: g["projects"] for g in b["status"]}["normal"] == 6


def test_funnel_counts_projects_at_or_beyond_each_stage(cw):
    funnel = district_data(cw)["funnel"]
    assert [(g["key"], g["label"], g["projects"]) for g in funnel] == [
        ("signed", "签约", 6), ("started", "开工", 4), ("commissioned", "投产", 1), ("effective", "达效", 1),
    ]  # fmt: skip
    assert [g["ratio"] for g in funnel] == [None, "66.7", "25.0", "100.0"]
    assert funnel[3]["link"] == "/projects/?stage=effective"


def test_phases_and_the_pipeline_of_signed_projects(cw):
    (phase,) = district_data(cw)["phases"]
    assert (phase["number"], phase["name"], phase["held_on"]) == (20, "第二十期", "2025-10-10")
    assert {b: v["projects"] for b, v in phase["batches"].items()} == {"sign": 2, "start": 1, "commission": 0}
    assert phase["batches"]["sign"]["link"] == f"/projects/?phase={cw.phase.pk}&batch=sign"
    # Signed: A (在建) and B (签约). 履约 = 前期手续 or later.
    assert {k: (v["projects"], v["rate"]) for k, v in phase["pipeline"].items()} == {
        "performed": (1, "50.0"), "started": (1, "50.0"), "commissioned": (0, "0.0"), "effective": (0, "0.0"),
    }  # fmt: skip


def test_cumulative_curve_by_hand(cw):
    curve = district_data(cw)["curve"]
    # January: A 1000 + B 500 + C 0, plus D's baseline share of 2026 (5000, from the month before February).
    assert curve["this_year"][:3] == ["6500.00", "17000.00", "32300.00"]
    assert curve["this_year"][3:] == [None] * 9
    assert curve["last_year"] == ["0.00"] * 10 + ["2000.00", "5000.00"]
    assert curve["plan"][2] == "12250.00" and curve["plan"][11] == "49000.00"
    assert curve["annual_plan"] == "49000.00"


def test_the_curve_ends_at_the_completion_tables_ytd_every_month(cw):
    for month in (1, 2, 3):
        fig = figures.compute_cockpit(Project.objects.all(), Problem.objects.all(), YEAR, month, today=today())
        assert fig.curve.this_year[month - 1] == fig.table.total.ytd, month


def test_unit_ranking_by_completion_rate(cw):
    ranking = district_data(cw)["unit_ranking"]
    assert [(r["label"], r["annual_rate"], r["gap_points"], r["projects"]) for r in ranking] == [
        ("洪门镇", "125.0", "100.0", 2),
        ("东街街道", "68.6", "43.6", 3),
        ("自然资源局", "62.5", "37.5", 1),
    ]  # fmt: skip
    assert ranking[0]["link"] == f"/projects/?responsible_unit={cw.hongmen.pk}"


def test_overdue_problems_longest_first(cw):
    overdue = district_data(cw)["overdue_problems"]
    assert [(p["title"], p["days_overdue"], p["lead_unit"]) for p in overdue] == [
        ("P1 用地指标", 3, "东街街道"), ("P7 环评", 1, "洪门镇")]  # fmt: skip
    assert overdue[0]["link"] == reverse("problem-detail", args=[cw.p1.pk])


def test_only_counted_reports_count(cw):
    before = district_data(cw)
    MonthlyReport.objects.filter(project=cw.b, year=2026, month=4).update(investment=D("1"))  # a draft
    report = MonthlyReport.objects.get(project=cw.c, year=2026, month=3)
    assert report.status == ReportStatus.RETURNED
    assert district_data(cw)["curve"] == before["curve"]


# ---------------------------------------------------------------------------------------------
# Scope


def test_a_town_officers_cockpit_counts_only_the_towns_projects(cw):
    data = cockpit_data(cockpit_for(cw.town_officer, YEAR, MONTH, today()))
    h = data["headline"]
    # 东街街道 sees A, C (its town) and F (its responsible unit, no town); not B, D, E.
    assert (h["projects"]["value"], h["total_investment"]["value"]) == (3, "175000.00")
    assert (h["investment"]["planned"], h["investment"]["ytd_in_plan"], h["investment"]["annual_rate"]) == (
        "7000.00", "4800.00", "68.6")  # fmt: skip
    assert by_key(data["breakdowns"]["town"]) == {cw.dongjie.pk: (2, "170000.00"), None: (1, "5000.00")}
    assert [r["label"] for r in data["unit_ranking"]] == ["东街街道"]
    assert (h["problems"]["assigned"]["value"], h["problems"]["open"]["value"], h["problems"]["overdue"]["value"]) == (
        2, 2, 1)  # fmt: skip
    assert [p["title"] for p in data["overdue_problems"]] == ["P1 用地指标"]
    assert data["curve"]["this_year"][2] == "4800.00"
    assert data["phases"][0]["batches"]["sign"]["projects"] == 1  # only A


def test_other_town_sees_its_own(cw):
    data = cockpit_data(cockpit_for(cw.other_town_officer, YEAR, MONTH, today()))
    assert data["headline"]["projects"]["value"] == 3  # B, D (town 洪门镇), E
    assert data["headline"]["reports_late"]["value"] == 0


# ---------------------------------------------------------------------------------------------
# Links: every number opens the list that shows exactly what it counts


def _links(data: dict):
    """(link, the number it must show) for every figure with a project or problem list link."""
    h = data["headline"]
    yield h["projects"]["link"], h["projects"]["value"]
    for b in h["size_bands"]:
        yield b["link"], b["projects"]
    for name in ("open", "overdue", "resolved", "on_time"):
        yield h["problems"][name]["link"], h["problems"][name]["value"]
    yield h["reports_late"]["link"], h["reports_late"]["value"]
    for groups in data["breakdowns"].values():
        for g in groups:
            yield g["link"], g["projects"]
    for g in data["funnel"]:
        yield g["link"], g["projects"]
    for p in data["phases"]:
        for b in p["batches"].values():
            yield b["link"], b["projects"]
        for s in p["pipeline"].values():
            yield s["link"], s["projects"]
    for r in data["unit_ranking"]:
        yield r["link"], r["projects"]


def _shown(client, link: str) -> int:
    r = client.get(link)
    assert r.status_code == 200, link
    if link.startswith(reverse("report-overdue")):
        return r.context["total"]
    return r.context["page"].paginator.count


@pytest.mark.parametrize("persona", ["dispatcher", "town_officer"])
def test_every_link_opens_the_list_of_exactly_what_was_counted(cw, client, persona):
    client.force_login(getattr(cw, persona))
    data = client.get(reverse("dashboard-data"), PERIOD).json()
    checked = 0
    for link, value in _links(data):
        if link is None:
            continue
        assert _shown(client, link) == value, link
        checked += 1
    assert checked >= 20


def test_figures_the_lists_cannot_select_yet_have_no_link(cw):
    """A figure links to a list only when the list's filter can select its set; the links appear by
    themselves once the filters learn the parameters (and the test above then checks their counts)."""
    from keyprojects.problems.forms import ProblemFilter
    from keyprojects.projects.filters import ProjectFilter

    data = district_data(cw)
    reached = "reached" in ProjectFilter.base_fields
    assert all((g["link"] is not None) == reached for g in data["funnel"][:3])
    financing = "financing_model" in ProjectFilter.base_fields
    assert all((g["link"] is not None) == (financing and g["key"] is not None)
               for g in data["breakdowns"]["financing_model"])  # fmt: skip
    done = "done" in {str(k) for k, _label in ProblemFilter.base_fields["status"].choices}
    assert (data["headline"]["problems"]["resolved"]["link"] is not None) == done
    assert reached and financing and done  # the lists now select every figure of the cockpit


def test_links_follow_the_filter_forms(cw):
    assert figures.project_link(stage="signed") == "/projects/?stage=signed"
    assert figures.project_link(stage="nonsense") is None
    assert figures.project_link(unknown=1) is None
    assert figures.problem_link(status="open") == "/problems/?status=open"
    assert figures.problem_link(status="no-such-status") is None


# ---------------------------------------------------------------------------------------------
# Pages: who may open them


@pytest.mark.parametrize("persona", PERSONAS)
def test_pages_follow_the_role_matrix(world, client, persona):
    client.force_login(getattr(world, persona))
    for name in PAGES:
        r = client.get(reverse(name), PERIOD)
        assert r.status_code == (200 if SEES[persona] else 403), (persona, name)


def test_anonymous_users_are_sent_to_sign_in(world, client):
    for name in PAGES:
        r = client.get(reverse(name))
        assert r.status_code == 302 and r["Location"].startswith(reverse("login")), name


def test_project_card_follows_the_scope(cw, client):
    client.force_login(cw.town_officer)
    r = client.get(reverse("dashboard-project-card", args=[cw.a.pk]))
    assert r.status_code == 200
    body = r.content.decode()
    assert cw.a.name in body and "15.00亿元" in body and reverse("project-detail", args=[cw.a.pk]) in body
    assert client.get(reverse("dashboard-project-card", args=[cw.d.pk])).status_code == 404


def test_cockpit_page_shows_the_figures_with_their_links(cw, client):
    client.force_login(cw.leader)
    r = client.get(reverse("dashboard"), PERIOD)
    body = r.content.decode()
    assert "驾驶舱" in body and "2026年1—3月" in body
    assert "65.9" in body and "78.60亿元" in body
    assert f'href="/projects/?size_band={SizeBand.objects.get(name="≥50亿").pk}"' in body
    assert 'href="/problems/?overdue=on"' in body
    assert "尚无已印发的月点评，按年度投资完成率排序" in body  # the ranking says what it is based on
    assert 'id="kp-cockpit"' in body and "<script>" not in body  # data by json_script, no inline scripts
    assert "vendor/echarts.min.js" in body and "js/dashboard.js" in body


def test_the_month_picker_defaults_to_last_month(world, client):
    from keyprojects.progress.forms import last_month

    client.force_login(world.leader)
    r = client.get(reverse("dashboard"), {"year": "abc", "month": "13"})
    assert r.status_code == 200
    assert (r.context["year"], r.context["month"]) == last_month(today())


def test_menu_has_the_cockpit(world, client):
    client.force_login(world.town_officer)
    body = client.get(reverse("project-list")).content.decode()
    assert f'href="{reverse("dashboard")}">驾驶舱</a>' in body


def test_map_points_follow_scope_and_filters(cw, client):
    client.force_login(cw.dispatcher)
    r = client.get(reverse("dashboard-map-points"))
    data = r.json()
    assert data["type"] == "FeatureCollection" and data["count"] == 2 and data["unplaced"] == 4
    assert {f["id"] for f in data["features"]} == {cw.a.pk, cw.d.pk}
    a = next(f for f in data["features"] if f["id"] == cw.a.pk)
    assert a["geometry"] == {"type": "Point", "coordinates": [113.91, 35.302]}
    assert a["properties"]["stage"] == "construction" and a["properties"]["total_investment"] == "150000.00"
    r = client.get(reverse("dashboard-map-points"), {"town": cw.hongmen.pk})
    assert [f["id"] for f in r.json()["features"]] == [cw.d.pk]
    assert client.get(reverse("dashboard-map-points"), {"stage": "nonsense"}).status_code == 400
    client.force_login(cw.town_officer)
    assert [f["id"] for f in client.get(reverse("dashboard-map-points")).json()["features"]] == [cw.a.pk]


def test_map_page_passes_towns_and_the_demo_outline(cw, client):
    cw.dongjie.region = cw.district
    client.force_login(cw.leader)
    r = client.get(reverse("dashboard-map"), {"colour": "status", "town": cw.dongjie.pk})
    config = r.context["config"]
    assert config["outline"].endswith("dashboard/demo_district.geojson")
    assert config["colour"] == "status" and config["query"] == f"town={cw.dongjie.pk}"
    assert config["towns_by_name"]["东街街道"] == cw.dongjie.pk
    assert r.context["list_url"] == f"/projects/?town={cw.dongjie.pk}"


def test_screen_page_refreshes_from_the_json(cw, client):
    client.force_login(cw.leader)
    r = client.get(reverse("dashboard-screen"))
    config = r.context["config"]
    assert config["data_url"] == reverse("dashboard-data") and config["refresh_seconds"] > 0
    r = client.get(reverse("dashboard-screen"), PERIOD)
    assert r.context["config"]["data_url"] == reverse("dashboard-data") + "?year=2026&month=3"
    body = r.content.decode()
    assert 'data-kp-screen="true"' in body and "css/dashboard_screen.css" in body and "<script>" not in body


# ---------------------------------------------------------------------------------------------
# Landing page


@pytest.mark.parametrize(
    "persona,landing",
    [("leader", "dashboard"), ("dispatcher", "dashboard"), ("town_officer", "project-list"),
     ("enterprise", "project-list")],
)  # fmt: skip
def test_leaders_and_dispatchers_land_on_the_cockpit(world, client, persona, landing):
    from tests.conftest import PASSWORD

    r = client.post(reverse("login"), {"username": persona, "password": PASSWORD})
    assert r.status_code == 302 and r["Location"] == reverse(landing)


def test_the_site_root_as_next_means_the_landing_page(world, client):
    from tests.conftest import PASSWORD

    r = client.post(reverse("login") + "?next=/", {"username": "leader", "password": PASSWORD})
    assert r["Location"] == reverse("dashboard")
    r = client.post(reverse("login") + "?next=/problems/", {"username": "leader", "password": PASSWORD})
    assert r["Location"] == "/problems/"


# ---------------------------------------------------------------------------------------------
# API


def api(client, user) -> ApiClient:
    raw, _token = issue_token(user, name="test")
    return ApiClient(client, raw)


@pytest.mark.parametrize("persona", PERSONAS)
def test_api_follows_the_role_matrix(world, client, persona):
    a = api(client, getattr(world, persona))
    expected = 200 if SEES[persona] else 403
    r = a.get("/dashboard", PERIOD)
    assert r.status_code == expected, r.content
    if expected == 403:
        assert set(r.json()) == {"detail"}
    assert a.get("/projects/geo").status_code == expected


def test_api_needs_a_token(world, client):
    assert ApiClient(client).get("/dashboard").status_code == 401
    assert ApiClient(client).get("/projects/geo").status_code == 401


def test_api_dashboard_is_the_pages_data(cw, client):
    r = api(client, cw.town_officer).get("/dashboard", PERIOD)
    assert r.status_code == 200
    data = r.json()
    assert data == cockpit_data(cockpit_for(cw.town_officer, YEAR, MONTH, today()))
    assert (data["year"], data["month"]) == (2026, 3)
    assert data["headline"]["projects"]["value"] == 3


def test_api_dashboard_defaults_to_last_month(world, client):
    from keyprojects.progress.forms import last_month

    data = api(client, world.leader).get("/dashboard").json()
    assert (data["year"], data["month"]) == last_month(today())
    data = api(client, world.leader).get("/dashboard", {"year": 2025}).json()
    assert (data["year"], data["month"]) == (2025, 12)


@pytest.mark.parametrize(
    "params,field",
    [({"month": 13}, "month"), ({"month": 0}, "month"), ({"year": 1999}, "year"), ({"year": "abc"}, "year"),
     ({"year": 2100, "month": 1}, "month")],
)  # fmt: skip
def test_api_dashboard_refuses_bad_periods_with_the_one_error_shape(world, client, params, field):
    r = api(client, world.leader).get("/dashboard", params)
    errors = errors_at(r)
    assert field in errors, errors
    assert r.json()["detail"][0]["loc"][0] == "query"


def test_api_geo_follows_scope_and_filters(cw, client):
    r = api(client, cw.dispatcher).get("/projects/geo")
    data = r.json()
    assert data["type"] == "FeatureCollection" and data["count"] == 2
    a = next(f for f in data["features"] if f["id"] == cw.a.pk)
    assert a["properties"]["stage_label"] == "在建" and a["properties"]["status_label"] == "正常推进"
    assert a["geometry"]["coordinates"] == [113.91, 35.302]
    r = api(client, cw.dispatcher).get("/projects/geo", {"level": "province"})
    assert [f["id"] for f in r.json()["features"]] == [cw.d.pk]
    r = api(client, cw.town_officer).get("/projects/geo")
    assert [f["id"] for f in r.json()["features"]] == [cw.a.pk]
    r = api(client, cw.dispatcher).get("/projects/geo", {"stage": "nonsense", "town": "999999"})
    assert set(errors_at(r)) == {"stage", "town"}


def test_geo_is_not_taken_for_a_project_id(cw, client):
    r = api(client, cw.dispatcher).get("/projects/geo")
    assert r.status_code == 200 and "features" in r.json()


def test_api_schema_documents_both_operations(world, client):
    doc = client.get("/api/v1/openapi.json").json()
    assert "/api/v1/dashboard" in doc["paths"] and "/api/v1/projects/geo" in doc["paths"]


# ---------------------------------------------------------------------------------------------
# Queries: a constant number, whatever the size of the district


def _more_projects(w, n: int) -> None:
    projects = Project.objects.bulk_create(
        Project(name=f"批量{i}", owner_name=f"企业{i}", industry=w.industry, project_type=ProjectType.FILING,
                total_investment=D("20000") + i, responsible_unit=w.dongjie if i % 2 else w.hongmen,
                town=w.dongjie if i % 3 else None, stage=Stage.CONSTRUCTION, actual_start=datetime.date(2025, 6, 1),
                financing_model=w.epc if i % 4 else None)
        for i in range(n)
    )  # fmt: skip
    AnnualPlan.objects.bulk_create(
        AnnualPlan(project=p, year=YEAR, planned_investment=D("6000"), original_planned_investment=D("6000"))
        for p in projects
    )
    MonthlyReport.objects.bulk_create(
        MonthlyReport(project=p, year=YEAR, month=m, investment=D("500"), ytd_investment=D(500 * m),
                      since_start_investment=D(500 * m), status=ReportStatus.CONFIRMED)
        for p in projects for m in (1, 2, 3)
    )  # fmt: skip
    for i, p in enumerate(projects[:10]):
        BatchMembership.objects.create(project=p, phase=w.phase, batch=Batch.COMMISSION if i % 2 else Batch.START)
        problem(w, p, w.hongmen, "assigned", due=today() - datetime.timedelta(2))


@pytest.mark.parametrize("extra", [0, 40])
@pytest.mark.parametrize("persona", ["leader", "town_officer"])
def test_figures_take_a_constant_number_of_queries(cw, django_assert_max_num_queries, extra, persona):
    _more_projects(cw, extra)
    user = getattr(cw, persona)
    from keyprojects.problems.access import visible_problems
    from keyprojects.projects.access import visible_projects

    projects, problems = visible_projects(user), visible_problems(user)
    with django_assert_max_num_queries(24):
        figures.compute_cockpit(projects, problems, YEAR, MONTH, today=today())


@pytest.mark.parametrize("extra", [0, 40])
def test_pages_take_a_constant_number_of_queries(cw, client, django_assert_max_num_queries, extra):
    _more_projects(cw, extra)
    client.force_login(cw.leader)
    # (Served from the cache the page takes 3 queries: tests/test_dashboard_cache.py, which commits.)
    for name in ("dashboard", "dashboard-screen", "dashboard-data"):
        with django_assert_max_num_queries(34):
            assert client.get(reverse(name), PERIOD).status_code == 200, name
    for name in ("dashboard-map", "dashboard-map-points"):
        with django_assert_max_num_queries(14):
            assert client.get(reverse(name)).status_code == 200, name


def test_environment_figures_by_hand(cw):
    """Issue 7's registries on the cockpit: chains (only visible projects), buildings, matters, funding."""
    from keyprojects.funding.models import Building, IndustryChain, ServiceMatter

    chain = IndustryChain.objects.create(name="新能源电池产业链")
    chain.projects.set([cw.a, cw.b])
    IndustryChain.objects.create(name="生物医药产业链")
    Building.objects.create(name="平原金融中心", star_rating=5, annual_tax=D("12000"), tenant_count=80)
    Building.objects.create(name="科创大厦", star_rating=3, annual_tax=D("800.5"), tenant_count=20)
    for i, (spot, near) in enumerate([(True, False), (True, True), (False, False)]):
        ServiceMatter.objects.create(code=f"M{i}", name=f"事项{i}", category="license", department_name="行政审批局",
                                     on_the_spot=spot, near_home=near, online=True)  # fmt: skip
    env = district_data(cw)["environment"]
    total = cw.a.total_investment + cw.b.total_investment
    assert (env["chains"]["value"], env["chains"]["projects"], env["chains"]["investment"]) == (2, 2, f"{total:.2f}")
    assert (env["buildings"]["value"], env["buildings"]["starred"], env["buildings"]["tax"]) == (2, 1, "12800.50")
    assert env["buildings"]["tenants"] == 100
    m = env["matters"]
    assert (m["total"], m["on_the_spot"], m["near_home"], m["online"]) == (3, 2, 1, 3)
    assert env["funding"]["link"] == reverse("funding-district")
    # A town officer's cockpit counts only the chain projects it may see.
    from keyprojects.projects.access import visible_projects

    town = cockpit_data(figures.compute_cockpit(visible_projects(cw.town_officer), Problem.objects.none(), YEAR,
                                                MONTH, today=today()))  # fmt: skip
    visible = set(visible_projects(cw.town_officer).values_list("pk", flat=True))
    assert town["environment"]["chains"]["projects"] == len(visible & {cw.a.pk, cw.b.pk})
