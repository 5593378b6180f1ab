"""The monthly investment series (`progress.InvestmentSeries`) kept by database triggers, and the
cockpit's use of it and of the completion pass's owing list.

The series must equal the counted reports summed by (project, year, month) after every way a report
changes: submission, confirmation, return and resubmission, restatement of a locked month, deletion, a
bulk insert and a bulk update that bypass the model. Reinstalling the triggers (every migrate) must not
count a report twice.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Sum

from keyprojects.dashboard import figures
from keyprojects.problems.models import Problem
from keyprojects.progress import domain, rates, series
from keyprojects.progress.models import (
    COUNTED_STATUSES,
    MONTH_COLUMNS,
    InvestmentSeries,
    MonthlyReport,
    ReportStatus,
    period_of,
)
from keyprojects.projects.models import Project
from tests.test_rates import at, file
from tests.test_rates import district as district  # the fixture, requested by name

D = Decimal
CENT = D("0.01")


def from_reports() -> dict[tuple[int, int], list[Decimal]]:
    sums = (
        MonthlyReport.objects.filter(status__in=COUNTED_STATUSES)
        .values("project_id", "year", "month")
        .annotate(amount=Sum("investment"))
    )
    out: dict[tuple[int, int], list[Decimal]] = defaultdict(lambda: [D(0)] * 12)
    for row in sums:
        out[(row["project_id"], row["year"])][row["month"] - 1] += (row["amount"] or D(0)).quantize(CENT)
    return {key: months for key, months in out.items() if any(months)}


def stored() -> dict[tuple[int, int], list[Decimal]]:
    out = {}
    for row in InvestmentSeries.objects.values("project_id", "year", *MONTH_COLUMNS):
        months = [D(row[col]).quantize(CENT) for col in MONTH_COLUMNS]
        if any(months):  # a series whose reports were all taken out again stays, at zero
            out[(row["project_id"], row["year"])] = months
    return out


def test_series_equal_the_reports_after_each_kind_of_change(district):
    w = district
    expected = from_reports()
    assert expected and stored() == expected
    # The returned March report of C did not count; corrected and submitted again, it does.
    c_march = MonthlyReport.objects.get(project=w.c, year=2026, month=3)
    assert c_march.status == ReportStatus.RETURNED
    assert stored()[(w.c.pk, 2026)][2] == 0
    domain.update_report(c_march, by=w.dispatcher, data={"investment": "450"})
    domain.submit(c_march, by=w.dispatcher, explanation="已补发票", now=at(2026, 4, 9))
    assert stored()[(w.c.pk, 2026)][2] == D("450.00")
    # A confirmed report of a locked month, restated.
    jan = MonthlyReport.objects.get(project=w.a, year=2026, month=1)
    assert jan.status == ReportStatus.CONFIRMED
    for pending in MonthlyReport.objects.filter(period__lte=period_of(2026, 1), status=ReportStatus.SUBMITTED):
        reviewer = {w.dongjie.pk: w.town_officer, w.resources.pk: w.dept_officer, w.hongmen.pk: w.other_town_officer}
        domain.review(pending, by=reviewer[pending.project.responsible_unit_id])
        domain.confirm(pending, by=w.dispatcher)
    domain.lock_month(2026, 1, by=w.dispatcher)
    domain.restate(jan, by=w.dispatcher, changes={"investment": "1234.56"}, reason="发票更正")
    assert stored()[(w.a.pk, 2026)][0] == D("1234.56")
    # A return takes a submitted report out.
    feb = MonthlyReport.objects.get(project=w.b, year=2026, month=2)
    domain.return_report(feb, by=w.dispatcher, reason="数据待核实", now=at(2026, 3, 5))
    assert stored()[(w.b.pk, 2026)][1] == 0
    # A draft never counts, and deleting it changes nothing.
    draft = MonthlyReport.objects.get(project=w.b, year=2026, month=4)
    before = stored()
    domain.delete_draft(draft, by=w.dispatcher)
    assert stored() == before
    # Bulk paths that bypass the model: the triggers see them too.
    MonthlyReport.objects.filter(project=w.d, year=2026, month=3).update(investment=D("11000.10"))
    template = MonthlyReport.objects.get(project=w.d, year=2026, month=3)
    MonthlyReport.objects.bulk_create(
        [MonthlyReport(project=w.d, year=2026, month=m, investment=D("100.25"), ytd_investment=D(0),
                       since_start_investment=D(0), status=ReportStatus.SUBMITTED, on_behalf=True,
                       submitted_at=template.submitted_at)
         for m in (4, 5)]
    )  # fmt: skip
    MonthlyReport.objects.filter(project=w.a, year=2025, month=11).delete()
    assert stored() == from_reports()
    assert stored()[(w.d.pk, 2026)][2:5] == [D("11000.10"), D("100.25"), D("100.25")]
    assert (w.a.pk, 2025) in stored() and stored()[(w.a.pk, 2025)][10] == 0


def test_reinstalling_the_triggers_counts_each_report_once(district):
    w = district
    series.ensure_triggers(connection)
    series.ensure_triggers(connection)
    file(w, w.c, 2026, 4, "250")
    assert stored()[(w.c.pk, 2026)][3] == D("250.00")
    assert stored() == from_reports()


def test_rebuild_recomputes_a_damaged_series(district):
    InvestmentSeries.objects.update(m01=D("999999"))
    series.rebuild(connection)
    assert stored() == from_reports()


def test_the_curve_reads_the_series(district, django_assert_num_queries):
    """The curve equals the reports summed month by month (and the baseline), in two queries."""
    table = rates.completion_table(Project.objects.all(), 2026, 3, "district")
    with django_assert_num_queries(2):
        curve = figures._curve(Project.objects.all(), 2026, 3, table)
    by_month = defaultdict(lambda: D(0))
    for (_project, year), months in from_reports().items():
        for m, amount in enumerate(months, start=1):
            by_month[(year, m)] += amount
    # D joined in February 2026 with 5,000 of the year already done (counts from January).
    assert curve.this_year[:3] == [
        by_month[(2026, 1)] + 5000,
        by_month[(2026, 1)] + by_month[(2026, 2)] + 5000,
        by_month[(2026, 1)] + by_month[(2026, 2)] + by_month[(2026, 3)] + 5000,
    ]
    assert curve.this_year[3:] == [None] * 9
    assert curve.last_year[10:] == [by_month[(2025, 11)], by_month[(2025, 11)] + by_month[(2025, 12)]]


@pytest.mark.parametrize("bound", [rates.OWING_LOOKUP_MAX, 0])
def test_late_reports_from_the_owing_list_equal_the_full_search(district, monkeypatch, bound):
    """`overdue_reports(owing=table.owing)` finds the same late projects as the search over the scope,
    also when the list is too long to pass and the search runs instead."""
    monkeypatch.setattr(rates, "OWING_LOOKUP_MAX", bound)
    today = datetime.date(2026, 4, 30)
    projects = Project.objects.all()
    table = rates.compute_completion_table(projects, 2026, 3, "unit")
    assert table.owing  # C (returned) owes its March report

    def flat(groups):
        return [(g.unit_id, i.project_id, i.status, i.report_id) for g in groups for i in g.items]

    full = flat(rates.overdue_reports(projects, 2026, 3, today=today))
    assert full and flat(rates.overdue_reports(projects, 2026, 3, today=today, owing=table.owing)) == full
    assert sorted(pid for _u, pid, _s, _r in full) == table.owing


def test_nothing_owed_costs_no_query(district, django_assert_num_queries):
    with django_assert_num_queries(1):  # the due date's settings only
        assert rates.overdue_reports(Project.objects.all(), 2026, 3, today=datetime.date(2026, 4, 30), owing=[]) == []


def test_cockpit_late_list_follows_the_completion_table(district):
    w = district
    cockpit = figures.compute_cockpit(Project.objects.all(), Problem.objects.all(), 2026, 3,
                                      today=datetime.date(2026, 4, 30))  # fmt: skip
    late = {i.project_id for g in cockpit.reports_late for i in g.items}
    assert w.c.pk in late and late == set(cockpit.table.owing)
