"""The cockpit's figures are cached and never stale: a new confirmed report, plan or problem shows on the
next load (the data-version tokens are replaced when a transaction commits, so these tests commit)."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from keyprojects.dashboard import figures
from keyprojects.problems.models import Problem
from keyprojects.progress import domain
from keyprojects.progress.forms import last_month
from keyprojects.projects.models import Project, Stage

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

YEAR, MONTH = last_month()
PERIOD = {"year": YEAR, "month": MONTH}


@pytest.fixture
def w(world):
    Project.objects.filter(pk=world.project_a.pk).update(stage=Stage.CONSTRUCTION,
                                                         actual_start=datetime.date(YEAR - 1, 6, 1))  # fmt: skip
    world.project_a.refresh_from_db()
    domain.save_annual_plan(world.project_a, by=world.dispatcher, year=YEAR, data={"planned_investment": "12000"})
    return world


def cockpit_figures() -> figures.Cockpit:
    return figures.cockpit(Project.objects.all(), Problem.objects.all(), YEAR, MONTH, today=timezone.localdate())


def confirmed_report(w, amount: str):
    report = domain.create_report(w.project_a, by=w.enterprise, year=YEAR, month=MONTH, data={"investment": amount})
    domain.submit(report, by=w.enterprise, explanation="按实际完成填报")
    domain.review(report, by=w.town_officer)
    domain.confirm(report, by=w.dispatcher)
    return report


def test_a_new_confirmed_report_shows_on_the_next_load(w):
    first = cockpit_figures()
    assert first.table.total.ytd == 0
    with CaptureQueriesContext(connection) as hit:
        again = cockpit_figures()
    assert len(hit) == 1, "a cache hit reads only the data versions"
    assert again.table.total.ytd == 0

    confirmed_report(w, "3000")
    after = cockpit_figures()
    assert after.table.total.ytd == Decimal("3000")
    assert after.curve.this_year[MONTH - 1] == Decimal("3000")
    assert figures.unit_ranking(after.table)[0].annual_rate == Decimal("3000") / Decimal("12000")


def test_the_page_shows_the_new_report_and_is_cheap_when_nothing_changed(w, client):
    client.force_login(w.leader)
    r = client.get(reverse("dashboard-data"), PERIOD)
    assert r.json()["headline"]["investment"]["ytd_in_plan"] == "0.00"
    with CaptureQueriesContext(connection) as warm:
        r = client.get(reverse("dashboard"), PERIOD)
    assert r.status_code == 200
    # the session, the user with its roles, the unread count, the data versions: no figure is recomputed
    sql = [q["sql"] for q in warm]
    assert len(sql) <= 8, sql
    for table in ("projects_project", "progress_monthlyreport", "progress_annualplan", "problems_problem"):
        assert not any(f'FROM "{table}"' in q for q in sql), (table, sql)

    confirmed_report(w, "4500")
    r = client.get(reverse("dashboard-data"), PERIOD)
    assert r.json()["headline"]["investment"]["ytd_in_plan"] == "4500.00"
    assert r.json()["headline"]["investment"]["annual_rate"] == "37.5"


def test_plans_and_problems_invalidate_too(w):
    before = cockpit_figures()
    domain.save_annual_plan(w.project_a, by=w.dispatcher, year=YEAR, data={"planned_investment": "24000"},
                            reason="追加投资", effective_month=MONTH)  # fmt: skip
    assert cockpit_figures().table.total.planned == Decimal("24000")
    Problem.objects.create(
        project=w.project_a, source="enterprise", category="land", title="用地指标未落实",
        received_on=timezone.localdate(), lead_unit=w.dongjie, status="assigned",
        current_due=timezone.localdate() - datetime.timedelta(days=1),
    )  # fmt: skip
    after = cockpit_figures()
    assert (after.problems.open, after.problems.overdue) == (before.problems.open + 1, before.problems.overdue + 1)


def test_each_scope_and_day_has_its_own_entry(w):
    from keyprojects.dashboard.views import cockpit_for

    today = timezone.localdate()
    town = cockpit_for(w.town_officer, YEAR, MONTH, today)
    other = cockpit_for(w.other_town_officer, YEAR, MONTH, today)
    assert (town.projects, other.projects) == (1, 1)
    assert town.table.total.planned == Decimal("12000") and other.table.total.planned == 0
    Problem.objects.create(
        project=w.project_a, source="enterprise", category="land", title="施工许可办理慢", received_on=today,
        lead_unit=w.dongjie, status="assigned", current_due=today + datetime.timedelta(days=2),
    )  # fmt: skip
    now = cockpit_for(w.town_officer, YEAR, MONTH, today)
    later = cockpit_for(w.town_officer, YEAR, MONTH, today + datetime.timedelta(days=5))
    assert (now.problems.overdue, later.problems.overdue) == (0, 1)
