"""The deferred-join paginator returns exactly what plain OFFSET slicing returns."""

from __future__ import annotations

from decimal import Decimal

from keyprojects.lib.pagination import DeferredJoinPaginator, window
from keyprojects.projects import domain
from keyprojects.projects.models import Project, ProjectType


def test_windows_match_plain_slices(world, django_assert_num_queries):
    for i in range(23):
        domain.create_project(
            by=world.dispatcher,
            data=dict(name=f"项目{i:02d}", owner_name="某公司", industry=world.industry,
                      project_type=ProjectType.FILING, total_investment=Decimal(1000 + (i * 37) % 11),
                      responsible_unit=world.hongmen),
        )  # fmt: skip
    ordered = Project.objects.select_related("town").order_by("-total_investment", "-id")
    expected = list(ordered)
    for offset in (0, 5, 20, 24, 30):
        assert window(ordered, offset, 7) == expected[offset : offset + 7]
    with django_assert_num_queries(2):
        rows = window(ordered, 10, 5)
        [row.town for row in rows]  # joined, no extra query
    assert len(expected) == 25
    paginator = DeferredJoinPaginator(ordered, 10, orphans=5)  # the last 5 join page 2
    assert paginator.num_pages == 2
    assert list(paginator.page(2).object_list) == expected[10:]
    assert list(DeferredJoinPaginator(ordered, 10).page(3).object_list) == expected[20:]
    assert window(ordered, 0, 0) == [] and window(ordered, 1000, 5) == []
