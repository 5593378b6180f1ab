"""Completion rates and roll-ups against a hand-computed district (2026, with a look at 2025).

The district at the end of March 2026 (万元; unit / town; plan in force in March):

- A 东街街道/东街街道, 先进制造业, 区重点, total 150000, plan 6000 (to commission: did on 3-25),
  reports 2025-11 2000, 2025-12 3000, then 1000, 1500, 2000 → YTD 4500, since start 9500.
- B 洪门镇/洪门镇, 先进制造业, 区重点, total 8000, plan 2000 (to start: did on 2-15),
  reports 500, 700, 1300 → YTD 2500 (125% of plan), since start 2500.
- C 东街街道/东街街道, 电子信息, 市重点, total 20000, plan 1000 (to commission: not yet),
  reports 0, 300, March returned (400, not counted) → YTD 300.
- D 自然资源局/洪门镇, 电子信息, 省重点, total 600000, plan 50000 revised to 40000 from March
  (to complete: not yet); baseline 100000 before February, of which 5000 in January 2026;
  reports February 8000, March 12000 → YTD 25000, since start 120000.
- E 洪门镇/洪门镇, 新材料, 区重点, total 3000, no plan, started 1-05 and completed 3-20.
- F 东街街道/no town, 新材料, 区重点, total 5000, no plan, commissioned in 2025, 达效 2026-02-01.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from keyprojects.progress import domain, rates
from keyprojects.progress.models import AnnualPlan, AnnualPlanRevision, MonthlyReport, ReportStatus
from keyprojects.projects import domain as project_domain
from keyprojects.projects.access import visible_projects
from keyprojects.projects.models import Industry, Level, Project, ProjectType, Stage, StageTransition

D = Decimal


def at(year, month, day=3):
    return timezone.make_aware(datetime.datetime(year, month, day, 10))


def file(w, project, year, month, amount, *, status="submitted"):
    nxt = (year + month // 12, month % 12 + 1)
    report = domain.create_report(project, by=w.dispatcher, year=year, month=month, data={"investment": amount},
                                  now=at(*nxt))  # fmt: skip
    domain.submit(report, by=w.dispatcher, explanation="前期费用/设备款", now=at(*nxt))
    if status == "confirmed":
        domain.review(report, by=w.town_officer, now=at(*nxt))
        domain.confirm(report, by=w.dispatcher, now=at(*nxt))
    elif status == "returned":
        domain.return_report(report, by=w.dispatcher, reason="数据待核实", now=at(*nxt))
    return report


def new_project(w, name, **data):
    stage = data.pop("stage", Stage.PLANNING)
    stage_on = data.pop("stage_on", datetime.date(2026, 1, 1))
    base = dict(name=name, owner_name=name + "公司", industry=w.industry, project_type=ProjectType.FILING,
                responsible_unit=w.dongjie, town=w.dongjie)  # fmt: skip
    return project_domain.create_project(by=w.dispatcher, data={**base, **data}, stage=stage, stage_on=stage_on)


@pytest.fixture
def district(world):
    w = world
    electronics = Industry.objects.get(name="电子信息")
    materials = Industry.objects.get(name="新材料")
    Project.objects.filter(pk=w.project_a.pk).update(stage=Stage.CONSTRUCTION, actual_start=datetime.date(2025, 6, 1))
    Project.objects.filter(pk=w.project_b.pk).update(actual_start=datetime.date(2026, 2, 15))
    w.a, w.b = Project.objects.get(pk=w.project_a.pk), Project.objects.get(pk=w.project_b.pk)
    w.c = new_project(w, "C 智能终端", industry=electronics, level=Level.CITY, total_investment=D("20000"),
                      stage=Stage.PREPARATION)  # fmt: skip
    w.d = new_project(w, "D 新型显示基地", industry=electronics, level=Level.PROVINCE, total_investment=D("600000"),
                      responsible_unit=w.resources, town=w.hongmen, stage=Stage.CONSTRUCTION,
                      actual_start=datetime.date(2024, 5, 1))  # fmt: skip
    w.e = new_project(w, "E 仓储中心", industry=materials, total_investment=D("3000"), responsible_unit=w.hongmen,
                      town=w.hongmen, stage=Stage.COMPLETED, stage_on=datetime.date(2026, 3, 20),
                      actual_start=datetime.date(2026, 1, 5), actual_end=datetime.date(2026, 3, 20))  # fmt: skip
    w.f = new_project(w, "F 新材料车间", industry=materials, total_investment=D("5000"), town=None,
                      stage=Stage.EFFECTIVE, stage_on=datetime.date(2026, 2, 1),
                      actual_start=datetime.date(2024, 1, 1), actual_end=datetime.date(2025, 6, 30))  # fmt: skip
    StageTransition.objects.create(project=w.f, from_stage=Stage.COMPLETED, to_stage=Stage.COMMISSIONED,
                                   happened_on=datetime.date(2025, 10, 1))  # fmt: skip
    StageTransition.objects.create(project=w.a, from_stage=Stage.CONSTRUCTION, to_stage=Stage.COMMISSIONED,
                                   happened_on=datetime.date(2026, 3, 25))  # fmt: skip

    def plan(project, amount, **targets):
        domain.save_annual_plan(project, by=w.dispatcher, year=2026, data={"planned_investment": amount, **targets},
                                now=at(2026, 1, 10))  # fmt: skip

    plan(w.a, "6000", to_commission=True)
    plan(w.b, "2000", to_start=True)
    plan(w.c, "1000", to_commission=True)
    plan(w.d, "50000", to_complete=True)
    domain.save_annual_plan(w.d, by=w.dispatcher, year=2026, data={"planned_investment": "40000"},
                            reason="设备采购推迟至明年", effective_month=3, now=at(2026, 3, 15))  # fmt: skip
    domain.set_baseline(w.d, by=w.dispatcher, amount="100000", ytd_amount="5000", first_year=2026, first_month=2)

    for month, amount in ((11, "2000"), (12, "3000")):
        file(w, w.a, 2025, month, amount)
    file(w, w.a, 2026, 1, "1000", status="confirmed")
    file(w, w.a, 2026, 2, "1500")
    file(w, w.a, 2026, 3, "2000")
    for month, amount in ((1, "500"), (2, "700"), (3, "1300")):
        file(w, w.b, 2026, month, amount)
    file(w, w.c, 2026, 1, "0")
    file(w, w.c, 2026, 2, "300")
    file(w, w.c, 2026, 3, "400", status="returned")
    file(w, w.d, 2026, 2, "8000")
    file(w, w.d, 2026, 3, "12000")
    domain.create_report(w.b, by=w.dispatcher, year=2026, month=4, data={"investment": "9999"}, now=at(2026, 4, 20))
    return w


def test_district_totals_by_hand(district):
    table = rates.completion_table(Project.objects.all(), 2026, 3, "district")
    assert len(table.rows) == 1
    row = table.rows[0]
    assert row.label == "全区"
    assert (row.projects, row.total_investment) == (6, D("786000"))
    assert (row.plan_projects, row.planned, row.original_planned) == (4, D("49000"), D("59000"))
    assert (row.ytd, row.ytd_in_plan, row.since_start, row.reports) == (D("32300"), D("32300"), D("132300"), 3)
    assert row.annual_rate == D("32300") / D("49000")
    assert rates.percent(row.annual_rate) == "65.9%"
    assert rates.percent(row.original_plan_rate) == "54.7%" and row.plan_revised
    assert rates.percent(row.time_progress) == "25.0%"
    assert rates.points(row.gap_points) == "超时序进度40.9个百分点"
    assert rates.percent(row.total_rate) == "16.8%"
    assert (row.start_target, row.started, row.started_targeted) == (1, 2, 1)
    assert rates.percent(row.start_rate) == "200.0%"  # never capped
    assert (row.complete_target, row.completed, row.completed_targeted) == (1, 1, 0)
    assert (row.commission_target, row.commissioned, row.commissioned_targeted) == (2, 1, 1)
    assert rates.percent(row.commission_rate) == "50.0%"
    assert table.total.as_dict()["ytd"] == D("32300")


def test_the_plan_in_force_depends_on_the_month(district):
    feb = rates.completion_table(Project.objects.all(), 2026, 2, "district").total
    assert (feb.planned, feb.original_planned, feb.ytd) == (D("59000"), D("59000"), D("17000"))
    assert not feb.plan_revised
    assert rates.percent(feb.annual_rate) == "28.8%"
    assert rates.points(feb.gap_points) == "超时序进度12.1个百分点"
    assert feb.started == 2 and feb.commissioned == 0  # E started 1-05, B 2-15; A commissioned only in March
    jan = rates.completion_table(Project.objects.all(), 2026, 1, "district").total
    # A 1000 + B 500 + C 0, and D's January inside its baseline (it joined the system in February).
    assert jan.started == 1 and jan.ytd == D("6500") and jan.since_start == D("106500")
    assert rates.points(jan.gap_points) == "超时序进度2.7个百分点"  # 6500/59000 − 1/12


def rows_by_label(table):
    return {r.label: r for r in table.rows}


def test_by_unit(district):
    rows = rows_by_label(rates.completion_table(Project.objects.all(), 2026, 3, "unit"))
    assert set(rows) == {"东街街道", "洪门镇", "自然资源局"}
    dongjie, hongmen, resources = rows["东街街道"], rows["洪门镇"], rows["自然资源局"]
    assert (dongjie.projects, dongjie.planned, dongjie.ytd, dongjie.since_start) == (3, D("7000"), D("4800"),
                                                                                   D("9800"))  # fmt: skip
    assert rates.percent(dongjie.annual_rate) == "68.6%"
    assert (dongjie.commission_target, dongjie.commissioned) == (2, 1)  # F (commissioned 2025) does not count
    assert rates.percent(hongmen.annual_rate) == "125.0%"  # above 100%, not capped
    assert rates.points(hongmen.gap_points) == "超时序进度100.0个百分点"
    assert (hongmen.start_target, hongmen.started) == (1, 2) and rates.percent(hongmen.start_rate) == "200.0%"
    assert hongmen.complete_rate is None and hongmen.completed == 1
    assert (resources.planned, resources.original_planned) == (D("40000"), D("50000"))
    assert rates.percent(resources.annual_rate) == "62.5%" and rates.percent(resources.original_plan_rate) == "50.0%"
    assert rates.percent(resources.total_rate) == "20.0%"
    assert rates.percent(resources.complete_rate) == "0.0%"


def test_by_town_with_projects_outside_any_town(district):
    table = rates.completion_table(Project.objects.all(), 2026, 3, "town")
    rows = rows_by_label(table)
    assert set(rows) == {"东街街道", "洪门镇", "未指定乡镇街道"}
    assert (rows["东街街道"].planned, rows["东街街道"].ytd) == (D("7000"), D("4800"))
    assert (rows["洪门镇"].planned, rows["洪门镇"].ytd) == (D("42000"), D("27500"))
    assert rows["未指定乡镇街道"].annual_rate is None and rows["未指定乡镇街道"].projects == 1
    assert table.rows[-1].label == "未指定乡镇街道"


def test_by_industry(district):
    rows = rows_by_label(rates.completion_table(Project.objects.all(), 2026, 3, "industry"))
    assert rates.percent(rows["先进制造业"].annual_rate) == "87.5%"
    assert rates.percent(rows["电子信息"].annual_rate) == "61.7%"
    assert rows["新材料"].annual_rate is None and rows["新材料"].projects == 2


def test_by_level_in_order(district):
    table = rates.completion_table(Project.objects.all(), 2026, 3, "level")
    assert [r.label for r in table.rows] == ["省重点", "市重点", "区重点"]
    assert [rates.percent(r.annual_rate) for r in table.rows] == ["62.5%", "30.0%", "87.5%"]


def test_by_size_band_in_order(district):
    table = rates.completion_table(Project.objects.all(), 2026, 3, "size_band")
    assert [(r.label, r.projects) for r in table.rows] == [("≥50亿", 1), ("≥10亿", 1), ("≥1亿", 1), ("1亿以下", 3)]
    rows = rows_by_label(table)
    assert rates.percent(rows["≥10亿"].annual_rate) == "75.0%"
    assert rates.percent(rows["1亿以下"].annual_rate) == "125.0%"


def test_the_groups_add_up_to_the_district(district):
    district_row = rates.completion_table(Project.objects.all(), 2026, 3, "district").total
    for group_by in ("unit", "town", "industry", "level", "size_band"):
        total = rates.completion_table(Project.objects.all(), 2026, 3, group_by).total
        assert total.as_dict() | {"key": None, "label": None} == district_row.as_dict() | {"key": None, "label": None}


def test_rates_follow_the_callers_scope(district):
    mine = rates.completion_table(visible_projects(district.town_officer), 2026, 3, "district").total
    assert (mine.projects, mine.planned, mine.ytd) == (3, D("7000"), D("4800"))


def test_only_counted_reports_count(district):
    w = district
    c_march = MonthlyReport.objects.get(project=w.c, year=2026, month=3)
    assert c_march.status == ReportStatus.RETURNED
    domain.update_report(c_march, by=w.dispatcher, data={"investment": "400"})
    domain.submit(c_march, by=w.dispatcher, explanation="已补发票", now=at(2026, 4, 9))
    total = rates.completion_table(Project.objects.all(), 2026, 3, "district").total
    assert total.ytd == D("32700") and total.reports == 4


def test_stored_totals_equal_the_rates_for_every_project(district):
    for project in Project.objects.all():
        latest = rates.counted_reports().filter(project=project, year=2026, month__lte=3).order_by("-month").first()
        row = rates.completion_table(Project.objects.filter(pk=project.pk), 2026, 3, "district").total
        if latest:
            assert (latest.ytd_investment, latest.since_start_investment) == (row.ytd, row.since_start)


def test_unknown_grouping_is_an_error(district):
    with pytest.raises(ValueError):
        rates.completion_table(Project.objects.all(), 2026, 3, "owner")


def test_project_series(district):
    series = rates.project_series(district.a, 2026)
    assert series["actual"][:4] == [D("1000"), D("1500"), D("2000"), None]
    assert series["actual_cumulative"][:4] == [D("1000"), D("2500"), D("4500"), None]
    assert series["last_year"][10:] == [D("2000"), D("3000")] and series["last_year"][0] is None
    assert series["last_year_cumulative"][11] == D("5000")
    assert series["annual_plan"] == D("6000") and series["plan"] is None
    d = rates.project_series(district.d, 2026)
    assert d["actual_cumulative"][:3] == [D("5000"), D("13000"), D("25000")]  # baseline's January included
    assert (d["annual_plan"], d["original_annual_plan"]) == (D("40000"), D("50000"))


def test_display_helpers():
    assert rates.percent(D("1.12949")) == "112.9%"
    assert rates.percent(D("1.12950")) == "113.0%"
    assert rates.percent(None) == "—"
    assert rates.as_percent(D("2.5")) == D("250.0")
    assert rates.points(D("-4.05")) == "低于时序进度4.1个百分点"
    assert rates.time_progress(10) == D(10) / D(12)


@pytest.mark.parametrize("count", [5, 60])
@pytest.mark.parametrize("group_by", sorted(rates.GROUPINGS))
def test_query_count_is_constant(world, django_assert_max_num_queries, count, group_by):
    w = world
    projects = Project.objects.bulk_create(
        Project(name=f"项目{i}", owner_name="公司", industry=w.industry, project_type=ProjectType.FILING,
                total_investment=D(1000 * (i + 1)), responsible_unit=(w.dongjie, w.hongmen, w.resources)[i % 3],
                town=(w.dongjie, w.hongmen, None)[i % 3], level=Level.values[i % 3])
        for i in range(count)
    )  # fmt: skip
    plans = AnnualPlan.objects.bulk_create(
        AnnualPlan(
            project=p,
            year=2026,
            planned_investment=D("500"),
            original_planned_investment=D("500"),
            to_start=bool(i % 2),
        )
        for i, p in enumerate(projects)  # fmt: skip
    )
    AnnualPlanRevision.objects.bulk_create(
        AnnualPlanRevision(plan=p, number=1, effective_month=1, planned_investment=D("500")) for p in plans
    )
    MonthlyReport.objects.bulk_create(
        MonthlyReport(project=p, year=2026, month=m, investment=D("10"), status=ReportStatus.SUBMITTED,
                      ytd_investment=D(10 * m), since_start_investment=D(10 * m))
        for p in projects for m in (1, 2, 3)
    )  # fmt: skip
    scoped = visible_projects(w.town_officer)
    with django_assert_max_num_queries(5):
        table = rates.completion_table(Project.objects.all(), 2026, 3, group_by)
    assert table.total.projects == count + 2 and table.total.ytd == D(30 * count)
    assert table.total.since_start == D(30 * count)
    with django_assert_max_num_queries(5):
        rates.completion_table(scoped, 2026, 3, group_by)


def test_overdue_query_count(world, django_assert_max_num_queries):
    with django_assert_max_num_queries(2):
        rates.overdue_reports(Project.objects.all(), 2026, 3, today=datetime.date(2026, 4, 20))
