"""Year-end forecast and early warning against a hand-computed district (June 2026).

History (the profile): project H reported every month of 2025, 100 100 200 200 200 200 100 100 200 200 200 200
(total 2000), so the cumulative share by the end of each month is
.05 .10 .20 .30 .40 .50 .55 .60 .70 .80 .90 1.

2026 up to June (万元):

- A 东街, total 150000, started 2025-06, plan 6000, 400 a month Jan–Jun → YTD 2400; c(6) = .5 → projection
  4800 (80%, shortfall 1200): 20 points; rate 40% < 时序进度 50%; two open problems: 6 → 26, 中.
- B 洪门, total 8000, started 2026-04-10, plan 3000, April 300, May 300, June missing → YTD 600; its share is
  c(6) − c(3) = .3 → projection 2000 (66.7%): 33.3 points, June missing: 8 + 6 → 47, 高.
- C 东街, total 5000, completed 2026-05-20, plan 1000, 200 a month Jan–May → projection = YTD 1000: 0, 低.
- E 洪门, total 20000, 停工, plan 5000, 250 a month Jan–Jun → YTD 1500 = projection (30%): 60 (cap) + 20 → 80, 高.
- F 东街, total 50000, 前期手续 (not started), plan 2000, nothing → projection 0: 60, 高.

Units: 东街 A + C + F: plan 9000, YTD 3400, projection 5800. 洪门 B + E: plan 8000, YTD 2100, projection 3500.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from keyprojects.api.auth import issue_token
from keyprojects.problems.models import Category, Problem, Source
from keyprojects.problems.models import Status as ProblemStatus
from keyprojects.progress import domain, forecast, rates
from keyprojects.progress.models import AnnualPlan, MonthlyReport, ReportStatus
from keyprojects.projects import domain as project_domain
from keyprojects.projects.models import Project, ProjectType, Stage, Status
from tests.conftest import PERSONAS, SEES

D = Decimal
HISTORY = [100, 100, 200, 200, 200, 200, 100, 100, 200, 200, 200, 200]


def reports(project, year, amounts: dict[int, int]) -> None:
    MonthlyReport.objects.bulk_create(
        MonthlyReport(project=project, year=year, month=m, investment=D(v), status=ReportStatus.CONFIRMED)
        for m, v in amounts.items()
    )
    domain.recompute_totals(project)


def plan(w, project, amount, year=2026):
    AnnualPlan.objects.filter(project=project, year=year).delete()
    domain.save_annual_plan(project, by=w.dispatcher, year=year, data={"planned_investment": str(amount)},
                            now=timezone.make_aware(datetime.datetime(year, 1, 10, 9)))  # fmt: skip


def project(w, name, *, town, total, stage=Stage.CONSTRUCTION, start=None, end=None, status=Status.NORMAL):
    return project_domain.create_project(by=w.dispatcher, data=dict(
        name=name, owner_name=name + "公司", industry=w.industry, project_type=ProjectType.FILING,
        total_investment=D(total), town=town, responsible_unit=town, actual_start=start, actual_end=end,
        status=status), stage=stage, stage_on=end or start or datetime.date(2025, 1, 1))  # fmt: skip


@pytest.fixture
def district(world):
    w = world
    h = project(w, "历史项目", town=w.dongjie, total=100000, start=datetime.date(2024, 5, 1))
    reports(h, 2025, dict(enumerate(HISTORY, start=1)))
    Project.objects.filter(pk=w.project_a.pk).update(stage=Stage.CONSTRUCTION, actual_start=datetime.date(2025, 6, 1))
    Project.objects.filter(pk=w.project_b.pk).update(stage=Stage.CONSTRUCTION, actual_start=datetime.date(2026, 4, 10))
    w.a, w.b = Project.objects.get(pk=w.project_a.pk), Project.objects.get(pk=w.project_b.pk)
    w.c = project(w, "已竣工项目", town=w.dongjie, total=5000, stage=Stage.COMPLETED, start=datetime.date(2025, 3, 1),
                  end=datetime.date(2026, 5, 20))  # fmt: skip
    w.e = project(w, "停工项目", town=w.hongmen, total=20000, start=datetime.date(2025, 2, 1), status=Status.STOPPED)
    w.f = project(w, "未开工项目", town=w.dongjie, total=50000, stage=Stage.PREPARATION)
    for p, amount in ((w.a, 6000), (w.b, 3000), (w.c, 1000), (w.e, 5000), (w.f, 2000)):
        plan(w, p, amount)
    reports(w.a, 2026, {m: 400 for m in range(1, 7)})
    reports(w.b, 2026, {4: 300, 5: 300})
    reports(w.c, 2026, {m: 200 for m in range(1, 6)})
    reports(w.e, 2026, {m: 250 for m in range(1, 7)})
    for i in range(2):
        Problem.objects.create(project=w.a, source=Source.ENTERPRISE, category=Category.LAND, title=f"用地问题{i}",
                               received_on=datetime.date(2026, 5, 1), status=ProblemStatus.ASSIGNED)  # fmt: skip
    return w


def run(w, user=None, month=6, **kw):
    from keyprojects.projects.access import visible_projects

    return forecast.forecast(visible_projects(user or w.dispatcher), 2026, month, min_projects=1, **kw)


def by_id(result):
    return {p.project_id: p for p in result.projects}


def test_profile_from_history(district):
    profile = forecast.seasonal_profile(2026, min_projects=1)
    assert profile.source == "history" and profile.years == [2025]
    expected = [".05", ".10", ".20", ".30", ".40", ".50", ".55", ".60", ".70", ".80", ".90", "1"]
    assert profile.cumulative == [D(x) for x in expected]
    assert profile.share_between(4, 6) == D("0.3")
    # With too few projects reporting, the default seasonal profile applies.
    fallback = forecast.seasonal_profile(2026)
    assert fallback.source == "default"
    assert fallback.share(6) == D("0.42") and fallback.share(12) == 1
    assert fallback.share(2) < D("0.1")  # slow January–February


def test_projections_by_hand(district):
    w = district
    p = by_id(run(w))
    a, b, c, e, f = (p[x.pk] for x in (w.a, w.b, w.c, w.e, w.f))
    assert (a.ytd, a.projection, a.basis, a.share) == (D("2400"), D("4800.00"), "profile", D("0.5"))
    assert (b.ytd, b.projection, b.share) == (D("600"), D("2000.00"), D("0.3"))
    assert (c.projection, c.basis) == (D("1000.00"), "completed")
    assert (e.projection, e.basis) == (D("1500.00"), Status.STOPPED)
    assert (f.projection, f.basis) == (D("0.00"), "not_started")
    assert historic_not_listed(w, p)


def historic_not_listed(w, p) -> bool:
    return Project.objects.get(name="历史项目").pk not in p  # no 2026 plan: not in the forecast


def test_scores_levels_and_reasons(district):
    w = district
    result = run(w)
    p = by_id(result)
    a, b, c, e, f = (p[x.pk] for x in (w.a, w.b, w.c, w.e, w.f))
    assert (a.score, a.level, a.open_problems, a.missing_months) == (26, "medium", 2, [])
    assert any("为年度计划6,000.00万元的80.0%" in r and "缺口1,200.00万元" in r for r in a.reasons)
    assert any("低于时序进度10.0个百分点" in r for r in a.reasons)
    assert any("2个问题尚未办结" in r for r in a.reasons)
    assert (b.score, b.level, b.missing_months) == (47, "high", [6])
    assert any("1个月没有有效月报（6月）" in r for r in b.reasons)
    assert (c.score, c.level, c.missing_months) == (0, "low", [])
    assert (e.score, e.level) == (80, "high") and "项目处于停工状态" in e.reasons
    assert (f.score, f.level) == (60, "high") and any("尚未开工" in r for r in f.reasons)
    assert [x.project_id for x in result.warnings] == [w.e.pk, w.f.pk, w.b.pk, w.a.pk]


def test_units_and_total(district):
    w = district
    result = run(w)
    units = {u.key: u for u in result.units}
    dongjie, hongmen = units[w.dongjie.pk], units[w.hongmen.pk]
    assert (dongjie.plan, dongjie.ytd, dongjie.projection) == (D("9000"), D("3400"), D("5800.00"))
    assert (hongmen.plan, hongmen.ytd, hongmen.projection) == (D("8000"), D("2100"), D("3500.00"))
    assert (dongjie.high, dongjie.medium, hongmen.high) == (1, 1, 2)
    assert result.total.projection == D("9300.00") and result.total.plan == D("17000")
    # The YTD it starts from is the rate table's.
    table = rates.completion_table(Project.objects.all(), 2026, 6, "district")
    assert result.total.ytd == table.total.ytd_in_plan


def test_projection_never_exceeds_what_is_left(district):
    w = district
    Project.objects.filter(pk=w.a.pk).update(total_investment=D("3000"))
    a = by_id(run(w))[w.a.pk]
    assert a.projection == D("3000.00")  # 2400 done this year, nothing before: at most 3000


def test_december_is_the_actual(district):
    w = district
    a = by_id(run(w, month=12))[w.a.pk]
    assert (a.projection, a.basis) == (D("2400.00"), "year_end")


def test_scope_and_constant_queries(district, django_assert_num_queries):
    w = district
    run(w, user=w.town_officer)  # the user's roles and units are cached on first use
    with django_assert_num_queries(4):
        result = run(w, user=w.town_officer)
    assert {p.project_id for p in result.projects} == {w.a.pk, w.c.pk, w.f.pk}  # 东街 only


def test_api(district, client, monkeypatch):
    monkeypatch.setattr(forecast, "MIN_PROFILE_PROJECTS", 1)
    raw, _ = issue_token(district.dispatcher, name="t")
    r = client.get("/api/v1/stats/forecast", {"year": 2026, "month": 6, "limit": 2},
                   HTTP_AUTHORIZATION=f"Bearer {raw}")  # fmt: skip
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["warning_count"] == 4 and len(body["warnings"]) == 2
    assert body["warnings"][0]["project_id"] == district.e.pk
    assert body["warnings"][0]["reasons"] and body["profile"]["cumulative"][-1] == "1.000000"
    assert body["total"]["projection"] == "9300.00"
    assert client.get("/api/v1/stats/forecast", {"month": 13}, HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 422
    assert client.get("/api/v1/stats/forecast").status_code == 401


# --- the page ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", PERSONAS)
def test_page_access_follows_the_scope(district, client, persona):
    w = district
    client.force_login(getattr(w, persona))
    r = client.get("/rates/forecast/", {"year": 2026, "month": 6})
    if not SEES[persona]:
        assert r.status_code == 403  # 三员 accounts see no business data
        return
    assert r.status_code == 200
    page = r.content.decode()
    from keyprojects.projects.access import visible_projects

    visible = set(visible_projects(getattr(w, persona)).values_list("pk", flat=True))
    for flagged in (w.e, w.f, w.b, w.a):  # every project of the 滞后预警 list, shown only within the scope
        assert (flagged.name in page) == (flagged.pk in visible), flagged.name


def test_page_shows_the_hand_computed_figures_and_reasons(district, client, monkeypatch):
    monkeypatch.setattr(forecast, "MIN_PROFILE_PROJECTS", 1)
    w = district
    client.force_login(w.dispatcher)
    page = client.get("/rates/forecast/", {"year": 2026, "month": 6}).content.decode()
    assert "9,300.00" in page or "0.93亿元" in page  # the district's projection
    assert "项目处于停工状态" in page and "1个月没有有效月报（6月）" in page
    # Highest risk first: 停工项目 (80) before 未开工项目 (60), 洪门项目 (47) and A (26).
    order = [page.index(p.name) for p in (w.e, w.f, w.b, w.a)]
    assert order == sorted(order)
    assert "月度规律取自 2025 年的已报月报" in page


def test_page_login_required_and_bounded_queries(district, client, django_assert_max_num_queries):
    assert client.get("/rates/forecast/").status_code == 302
    client.force_login(district.dispatcher)
    client.get("/rates/forecast/", {"year": 2026, "month": 6})
    with django_assert_max_num_queries(20):
        assert client.get("/rates/forecast/", {"year": 2026, "month": 6, "page": 2}).status_code == 200
