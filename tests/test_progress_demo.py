"""`seed_demo`'s annual plans and monthly reports: calibration (112.9 % last year), seasonality, states, consistency.

The district is seeded once for the class inside a transaction rolled back at its end (as in test_seed_demo).
"""

from __future__ import annotations

import datetime
import time
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import transaction
from django.db.models import Sum
from django.test import override_settings
from django.utils import timezone

from keyprojects.audit.models import AuditRecord
from keyprojects.progress import demo, domain, excel_common, rates
from keyprojects.progress.models import (
    COUNTED_STATUSES,
    AnnualPlan,
    AnnualPlanRevision,
    InvestmentBaseline,
    MonthlyReport,
    ReportStatus,
    Restatement,
    period_of,
)
from keyprojects.projects.models import Project

FAST_HASHER = ["django.contrib.auth.hashers.MD5PasswordHasher"]
TIMING: dict[str, float] = {}


@pytest.fixture(scope="class")
def seeded(django_db_setup, django_db_blocker):
    original = demo.seed

    def timed(seeder):
        started = time.monotonic()
        try:
            return original(seeder)
        finally:
            TIMING["progress"] = time.monotonic() - started

    with django_db_blocker.unblock(), override_settings(PASSWORD_HASHERS=FAST_HASHER, DEMO_MODE=True):
        demo.seed = timed
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            call_command("seed_demo", stdout=StringIO())
            yield
        finally:
            demo.seed = original
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


def months():
    ly, lm = excel_common.last_month(timezone.localdate())
    return ly, lm


@pytest.mark.usefixtures("seeded", "db")
class TestProgressDemo:
    def test_last_full_year_lands_near_the_seed_figure(self):
        ly, _ = months()
        table = rates.completion_table(Project.objects.all(), ly - 1, 12, "district")
        rate = rates.as_percent(table.total.annual_rate)
        assert Decimal("111.4") <= rate <= Decimal("114.4"), rate
        assert table.total.plan_projects >= 50 and table.total.ytd_in_plan > 1_000_000  # over 100亿

    def test_this_year_has_plans_and_reports_up_to_last_month(self):
        ly, lm = months()
        assert AnnualPlan.objects.filter(year=ly).count() >= 80
        assert AnnualPlan.objects.filter(year=ly - 1).count() >= 50
        last = MonthlyReport.objects.order_by("-period").first()
        assert (last.year, last.month) == (ly, lm)
        assert not MonthlyReport.objects.filter(period__gt=period_of(ly, lm)).exists()
        assert not MonthlyReport.objects.filter(period__lt=period_of(ly - 1, 1)).exists()
        table = rates.completion_table(Project.objects.all(), ly, lm, "unit")
        assert len(table.rows) >= 10 and table.total.annual_rate > Decimal("0.5")

    def test_seasonality(self):
        ly, _ = months()
        by_month = dict(
            MonthlyReport.objects.filter(year=ly - 1, status__in=COUNTED_STATUSES)
            .values_list("month")
            .annotate(total=Sum("investment"))
        )
        year = sum(by_month.values())
        share = {m: by_month[m] / year for m in range(1, 13)}
        q = [sum(share[m] for m in range(3 * i + 1, 3 * i + 4)) for i in range(4)]
        assert share[1] + share[2] < Decimal("0.1")  # slow January–February
        assert q[1] > q[0] and q[1] > q[2] and q[3] > q[2] and q[3] == max(q)  # strong Q2 and Q4

    def test_last_year_is_confirmed_locked_and_corrected_explicitly(self):
        ly, _ = months()
        assert domain.locked_through() >= period_of(ly - 1, 12)
        assert set(MonthlyReport.objects.filter(year=ly - 1).values_list("status", flat=True)) == {
            ReportStatus.CONFIRMED
        }
        restatements = list(Restatement.objects.select_related("report"))
        assert len(restatements) == demo.RESTATEMENTS
        for r in restatements:
            assert r.report.year == ly - 1 and r.report.is_restated and r.reason
            assert set(r.changes) >= {"investment"}

    def test_last_months_states(self):
        ly, lm = months()
        last = MonthlyReport.objects.filter(year=ly, month=lm)
        statuses = set(last.values_list("status", flat=True))
        assert {ReportStatus.SUBMITTED, ReportStatus.REVIEWED, ReportStatus.RETURNED, ReportStatus.DRAFT} <= statuses
        returned = last.filter(status=ReportStatus.RETURNED)
        assert returned.count() == demo.RETURNED
        assert all(r.return_reason and r.returned_by_id and r.ytd_investment is None for r in returned)
        overdue = rates.overdue_reports(Project.objects.all(), ly, lm, today=domain.due_date(ly, lm)
                                        + datetime.timedelta(days=1))  # fmt: skip
        missing = [i for g in overdue for i in g.items if i.status == "missing"]
        assert len(missing) >= demo.MISSING
        older = MonthlyReport.objects.filter(period__lt=period_of(ly, lm) - 1)
        assert set(older.values_list("status", flat=True)) == {ReportStatus.CONFIRMED}

    def test_late_and_flagged_reports(self):
        reports = MonthlyReport.objects.exclude(status=ReportStatus.DRAFT)
        late = reports.filter(submitted_late=True)
        assert 0 < late.count() < reports.count() / 8
        for r in late[:20]:
            assert r.submitted_at.date() > domain.due_date(r.year, r.month)
        flagged = [r for r in reports if r.warnings]
        assert len(flagged) >= 5
        assert all(r.explanation for r in flagged)
        assert {"spike"} <= {w["code"] for r in flagged for w in r.warnings}

    def test_stored_totals_are_what_the_domain_computes(self):
        for project in Project.objects.filter(monthly_reports__isnull=False).distinct():
            assert domain.recompute_totals(project) == [], project
        for r in MonthlyReport.objects.filter(status__in=COUNTED_STATUSES).select_related("project")[:400]:
            assert r.since_start_investment <= r.project.total_investment

    def test_plans_are_consistent(self):
        for plan in AnnualPlan.objects.all():
            assert plan.revisions.filter(number=1).exists()
            if plan.monthly_plan:
                assert sum(Decimal(v) for v in plan.monthly_plan) == plan.planned_investment
            assert plan.planned_investment <= plan.project.total_investment
        assert AnnualPlanRevision.objects.filter(number=2).count() >= 1
        assert InvestmentBaseline.objects.count() >= 10

    def test_a_second_run_changes_nothing(self):
        before = (MonthlyReport.objects.count(), AnnualPlan.objects.count(), AuditRecord.objects.count())
        call_command("seed_demo", stdout=StringIO())
        assert (MonthlyReport.objects.count(), AnnualPlan.objects.count(), AuditRecord.objects.count()) == before

    def test_batches_are_audited_and_fast(self):
        for object_type in ("monthlyreport", "annualplan", "investmentbaseline"):
            assert AuditRecord.objects.filter(object_type=object_type, object_id="seed_demo").count() == 1
        assert TIMING["progress"] < 20
