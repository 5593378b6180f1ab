"""Cached roll-ups: served from the cache while nothing changed, recomputed on the next load after a change."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from keyprojects.problems import figures
from keyprojects.problems.models import Problem
from keyprojects.progress import rates
from keyprojects.progress.models import AnnualPlan
from keyprojects.projects.models import Project
from keyprojects.rollups import cache as rollup_cache
from keyprojects.rollups.models import DataVersion

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def test_completion_table_is_cached_until_a_plan_changes(world):
    project = world.project_a
    plan = AnnualPlan.objects.create(project=project, year=2026, planned_investment=Decimal("100"),
                                     original_planned_investment=Decimal("100"), effective_month=1)  # fmt: skip
    first = rates.completion_table(Project.objects.all(), 2026, 10, "district")
    assert first.total.planned == Decimal("100")

    with CaptureQueriesContext(connection) as queries:
        again = rates.completion_table(Project.objects.all(), 2026, 10, "district")
    assert again.total.planned == Decimal("100")
    assert len(queries) == 1, "a cache hit reads only the data versions"

    plan.planned_investment = Decimal("250")
    plan.save()
    after = rates.completion_table(Project.objects.all(), 2026, 10, "district")
    assert after.total.planned == Decimal("250")


def test_different_scopes_are_cached_apart(world):
    AnnualPlan.objects.create(project=world.project_a, year=2026, planned_investment=Decimal("100"),
                              original_planned_investment=Decimal("100"), effective_month=1)  # fmt: skip
    AnnualPlan.objects.create(project=world.project_b, year=2026, planned_investment=Decimal("7"),
                              original_planned_investment=Decimal("7"), effective_month=1)  # fmt: skip
    a = rates.completion_table(Project.objects.filter(pk=world.project_a.pk), 2026, 10, "district")
    b = rates.completion_table(Project.objects.filter(pk=world.project_b.pk), 2026, 10, "district")
    assert (a.total.planned, b.total.planned) == (Decimal("100"), Decimal("7"))


def test_problem_figures_follow_a_change_and_the_day(world):
    import datetime

    today = datetime.date(2026, 11, 2)
    before = figures.scope_figures(Problem.objects.all(), today=today)
    tokens = dict(DataVersion.objects.values_list("topic", "token"))
    Problem.objects.create(
        project=world.project_a, source="enterprise", category="land", title="用地指标未落实",
        received_on=datetime.date(2026, 11, 1), lead_unit=world.project_a.responsible_unit,
        status="assigned", current_due=datetime.date(2026, 11, 5),
    )  # fmt: skip
    assert dict(DataVersion.objects.values_list("topic", "token")).get("problems") != tokens.get("problems")
    after = figures.scope_figures(Problem.objects.all(), today=today)
    assert after.total.assigned == before.total.assigned + 1
    assert after.total.overdue == before.total.overdue
    later = figures.scope_figures(Problem.objects.all(), today=datetime.date(2026, 11, 9))
    assert later.total.overdue == before.total.overdue + 1


def test_a_transaction_sees_its_own_changes_before_commit(world):
    from django.db import transaction

    AnnualPlan.objects.create(project=world.project_a, year=2026, planned_investment=Decimal("100"),
                              original_planned_investment=Decimal("100"), effective_month=1)  # fmt: skip
    rates.completion_table(Project.objects.all(), 2026, 10, "district")
    with transaction.atomic():
        AnnualPlan.objects.filter(project=world.project_a).first().save()  # pending bump, not yet committed
        AnnualPlan.objects.filter(project=world.project_a).update(planned_investment=Decimal("300"))
        inside = rates.completion_table(Project.objects.all(), 2026, 10, "district")
        assert inside.total.planned == Decimal("300")
        transaction.set_rollback(True)
    assert rates.completion_table(Project.objects.all(), 2026, 10, "district").total.planned == Decimal("100")


def test_deferred_bumps_bump_once_and_not_on_error(world):
    start = dict(DataVersion.objects.values_list("topic", "token"))
    with pytest.raises(RuntimeError), rollup_cache.deferred_bumps():
        rollup_cache.bump("progress")
        raise RuntimeError
    assert dict(DataVersion.objects.values_list("topic", "token")) == start
    with rollup_cache.deferred_bumps():
        rollup_cache.bump("progress")
        rollup_cache.bump("progress", "problems")
        assert dict(DataVersion.objects.values_list("topic", "token")) == start
    now = dict(DataVersion.objects.values_list("topic", "token"))
    assert now.get("progress") != start.get("progress") and now.get("problems") != start.get("problems")


def test_unknown_topic_is_refused():
    with pytest.raises(ValueError):
        rollup_cache.bump("everything")
