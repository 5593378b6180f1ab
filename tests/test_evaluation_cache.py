"""Evaluation results are cached until the data, the scheme or a closed tour changes (transactional:
the roll-up cache only serves committed data)."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from keyprojects.evaluation import presets
from keyprojects.evaluation.models import Indicator
from keyprojects.evaluation.scoring import as_dict, evaluate
from keyprojects.projects.models import Project

D = Decimal
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def test_results_are_cached_until_the_data_the_scheme_or_a_tour_changes(world, django_assert_max_num_queries):
    from keyprojects.evaluation import tours
    from tests.test_evaluation_tours import points_for, tour_data

    w = world
    today = datetime.date(2026, 11, 1)
    first = evaluate(presets.FOUR_COMPARISONS, "2026", today=today)
    with django_assert_max_num_queries(5):
        again = evaluate(presets.FOUR_COMPARISONS, "2026", today=today)
    assert as_dict(again) == as_dict(first)
    # The scheme is edited: recomputed.
    Indicator.objects.filter(group__scheme__code=presets.FOUR_COMPARISONS, code="start_rate").update(floor=D("10"))
    edited = evaluate(presets.FOUR_COMPARISONS, "2026", today=today)
    rules = {s.code: s.rule for s in edited.rows[0].indicators}
    assert rules["start_rate"].startswith("线性：10%及以下得0分")
    # A tour closes: its scores appear.
    tour = tours.create_tour(by=w.dispatcher, data=tour_data(held_on=datetime.date(2026, 9, 18)))
    tours.add_projects(tour, by=w.dispatcher, project_ids=[w.project_a.pk])
    tours.add_judges(tour, by=w.dispatcher, user_ids=[w.leader.pk])
    tours.open_tour(tour, by=w.dispatcher)
    w.criteria = {c.name: c for c in tour.criteria.all()}
    tours.save_sheet(tour, by=w.leader, project=w.project_a, points=points_for(w, "88"))
    before = evaluate(presets.FOUR_COMPARISONS, "2026", today=today)
    assert {s.code: s.raw for s in before.rows[0].indicators}["tour_score"] is None
    tours.close_tour(tour, by=w.dispatcher)
    after = evaluate(presets.FOUR_COMPARISONS, "2026", today=today)
    dongjie = next(r for r in after.rows if r.unit_id == w.dongjie.pk)
    assert {s.code: s.raw for s in dongjie.indicators}["tour_score"] == D("88.00")
    # A project changes: recomputed (the roll-up tokens).
    project = Project.objects.get(pk=w.project_b.pk)
    project.total_investment = D("9000")
    project.save()
    with CaptureQueriesContext(connection) as ctx:
        evaluate(presets.FOUR_COMPARISONS, "2026", today=today)
    assert len(ctx.captured_queries) > 5
