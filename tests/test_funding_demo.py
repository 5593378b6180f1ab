"""The demo district's funding matches the seed article, its lines obey the pipeline rules, and the
worker's first pass raises the planted alerts once."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from keyprojects.funding import domain, figures, worker
from keyprojects.funding.models import (
    ApprovalAcceleration,
    Building,
    FundingAlert,
    FundingLine,
    IndustryChain,
    ProjectLand,
    ServiceMatter,
)
from keyprojects.projects.models import Project
from tests.test_seed_demo import run_seed, seeded  # noqa: F401 (the seeded district, once for the class)


def _row(rows, name: str, year: int) -> figures.DistrictRow:
    return next(r for r in rows if r.fund_type.name == name and r.year == year)


@pytest.mark.usefixtures("seeded", "db")
class TestDemoFunding:
    def test_the_article_figures(self):
        this_year = timezone.localdate().year
        rows = figures.district_rows(Project.objects.all())
        bonds = _row(rows, "地方政府专项债券", this_year - 1)
        assert (bonds.issued.projects, bonds.issued.amount) == (9, Decimal("203700"))  # 9 issued, 20.37亿
        assert bonds.disbursed.amount == Decimal("68000")  # 6.8亿 in place
        central = _row(rows, "中央预算内投资", this_year - 1)
        assert (central.approved.projects, central.approved.amount) == (14, Decimal("31000"))  # 14, 3.1亿
        assert central.disbursed.amount == Decimal("25200")  # 2.52亿
        plan = _row(rows, "地方政府专项债券", this_year)
        assert (plan.prepared.projects, plan.prepared.amount) == (14, Decimal("983000"))  # 14 prepared, 98.3亿
        central_plan = _row(rows, "中央预算内投资", this_year)
        assert (central_plan.prepared.projects, central_plan.prepared.amount) == (13, Decimal("38000"))
        assert figures.matter_counts() == {"total": 1358, "at_most_once": 1358, "on_the_spot": 942,
                                           "near_home": 76, "online": 1358}  # fmt: skip

    def test_every_seeded_line_obeys_the_pipeline(self):
        lines = FundingLine.objects.select_related("fund_type").prefetch_related("steps")
        assert lines.count() > 50
        for line in lines:
            errors = domain.validate_pipeline(line.fund_type, domain.step_values(line), rejected=line.rejected,
                                              bond=domain.bond_values(line))  # fmt: skip
            assert errors == {}, (str(line), errors)

    def test_measures_land_and_registries(self):
        assert ApprovalAcceleration.objects.filter(on_promise=True).exists()
        assert ApprovalAcceleration.objects.filter(agent__isnull=False).exists()
        land = figures.land_to_start(Project.objects.all())
        assert land.rows and land.on_target > 0 and land.avg_to_start is not None
        checked = ProjectLand.objects.filter(is_standard=True, checked_on__isnull=False)
        assert checked.exists() and all(g.gap is not None for g in figures.indicator_gaps(checked.first()))
        assert IndustryChain.objects.count() >= 5 and Building.objects.count() == 11
        assert ServiceMatter.objects.values("code").distinct().count() == 1358

    def test_the_first_worker_pass_raises_the_planted_alerts_once(self):
        now = timezone.now()
        fired = worker.run_pass(now)
        assert fired >= 2 and FundingAlert.objects.filter(fired=True, kind="idle").count() >= 2
        assert worker.run_pass(now) == 0

    def test_a_second_seed_adds_no_funding(self):
        before = (FundingLine.objects.count(), ServiceMatter.objects.count(), ApprovalAcceleration.objects.count(),
                  ProjectLand.objects.count(), IndustryChain.objects.count(), Building.objects.count())  # fmt: skip
        run_seed()
        after = (FundingLine.objects.count(), ServiceMatter.objects.count(), ApprovalAcceleration.objects.count(),
                 ProjectLand.objects.count(), IndustryChain.objects.count(), Building.objects.count())  # fmt: skip
        assert after == before
