"""The cockpit's unit ranking: the latest issued 月点评's, as its snapshot stores it; before one is issued (or
for a user who may not open it), the completion table's responsible units by 年度投资完成率.

The district is tests/test_dashboard.py's (March 2026). The 月点评 made on 2026-04-08 reviews March.
"""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from keyprojects.bulletins import domain
from keyprojects.bulletins.models import Bulletin, Kind
from keyprojects.dashboard import figures
from keyprojects.dashboard.data import cockpit_data
from keyprojects.dashboard.views import cockpit_for
from keyprojects.problems.access import visible_problems
from keyprojects.progress import domain as progress_domain
from keyprojects.progress.forms import last_month
from keyprojects.projects.access import visible_projects
from keyprojects.projects.models import Project, Stage
from tests.test_dashboard import api, cw  # noqa: F401 (fixture)
from tests.test_rates import district  # noqa: F401 (fixture)

YEAR, MONTH = 2026, 3
PERIOD = {"year": YEAR, "month": MONTH}
MARCH_REVIEW = datetime.date(2026, 4, 8)
FALLBACK = "尚无已印发的月点评，按年度投资完成率排序"


def today() -> datetime.date:
    return timezone.localdate()


def review(w, as_of: datetime.date = MARCH_REVIEW, *, issue: bool = True) -> Bulletin:
    b = domain.create_draft(kind=Kind.MONTHLY, as_of=as_of, by=w.dispatcher)
    if issue:
        domain.issue(b, by=w.dispatcher)
    return Bulletin.objects.get(pk=b.pk)


def ranking_of(user, year: int = YEAR, month: int = MONTH) -> dict:
    return cockpit_data(cockpit_for(user, year, month, today()))["ranking"]


def stored(b: Bulletin) -> list[tuple[str, list[tuple]]]:
    """The snapshot's ranking tables: (title, [(name, rank, values, ranks)]) — what the cockpit must show."""
    tables = b.figures["tables"]
    return [(tables[key]["title"], [(r["name"], r["rank"], r["values"], r["ranks"]) for r in tables[key]["rows"]])
            for key in ("town", "unit")]  # fmt: skip


def shown(ranking: dict) -> list[tuple[str, list[tuple]]]:
    return [(t["title"], [(r["name"], r["rank"], r["values"], r["ranks"]) for r in t["rows"]])
            for t in ranking["tables"]]  # fmt: skip


# ---------------------------------------------------------------------------------------------
# The issued 月点评's ranking


def test_the_cockpit_shows_the_latest_issued_reviews_ranking_as_stored(cw):  # noqa: F811
    b = review(cw)
    ranking = ranking_of(cw.leader)
    assert ranking["source"] == "review"
    assert ranking["title"] == "2026年3月月点评 排名"
    assert ranking["bulletin"]["id"] == b.pk and ranking["bulletin"]["link"] == f"/bulletins/{b.pk}/"
    assert ranking["bulletin"]["document_number"] == b.document_number
    assert [i["code"] for i in ranking["indicators"]] == [i["code"] for i in b.figures["indicators"]]
    assert shown(ranking) == stored(b)
    towns = ranking["tables"][0]
    assert towns["key"] == "town" and towns["title"] == "乡镇街道"
    # 东街街道 (A, C: 4,800 of 7,000) before 洪门镇 (B, D: 27,500 of 42,000), as the bulletin ranks them
    assert [(r["name"], r["rank"], r["values"]["annual_rate"]) for r in towns["rows"]] == [
        ("东街街道", 1, "68.6"), ("洪门镇", 2, "65.5")]  # fmt: skip
    assert ranking["tables"][1]["title"] == "区直部门"
    assert [r["name"] for r in ranking["tables"][1]["rows"]] == [r[0] for r in stored(b)[1][1]]


def test_the_review_is_never_recomputed(cw):  # noqa: F811
    b = review(cw)
    before = cockpit_data(cockpit_for(cw.leader, YEAR, MONTH, today()))
    # The data moves on: A's plan grows tenfold. The bulletin, and so the cockpit's ranking, does not.
    progress_domain.save_annual_plan(cw.a, by=cw.dispatcher, year=2026, data={"planned_investment": "60000"},
                                     reason="追加投资", effective_month=3)  # fmt: skip
    after = cockpit_data(cockpit_for(cw.leader, YEAR, MONTH, today()))
    assert after["ranking"] == before["ranking"] and shown(after["ranking"]) == stored(Bulletin.objects.get(pk=b.pk))
    # ... while the completion table's ranking (unit_ranking, the big screen's chart) follows the data.
    assert after["unit_ranking"] != before["unit_ranking"]


def test_the_page_shows_the_reviews_ranking_in_order_with_a_link_to_it(cw, client):  # noqa: F811
    b = review(cw)
    client.force_login(cw.leader)
    body = client.get(reverse("dashboard"), PERIOD).content.decode()
    section = body[body.index('id="kp-ranking-title"') : body.index('id="kp-overdue-title"')]
    assert "2026年3月月点评 排名" in section and f'href="/bulletins/{b.pk}/"' in section
    assert FALLBACK not in section and 'data-kp-ranking="review"' in section
    names = [r[0] for _title, rows in stored(b) for r in rows]
    positions = [section.index(f">{name}</th>") for name in names]
    assert positions == sorted(positions)  # in the bulletin's order
    for _title, rows in stored(b):
        for _name, _rank, values, _ranks in rows:
            for value in values.values():
                if value is not None:
                    assert f"{value}%" in section


def test_the_api_returns_the_same_ranking(cw, client):  # noqa: F811
    b = review(cw)
    data = api(client, cw.leader).get("/dashboard", PERIOD).json()
    assert data["ranking"] == ranking_of(cw.leader)
    assert data["ranking"]["source"] == "review" and shown(data["ranking"]) == stored(b)
    assert data["unit_ranking"]  # the completion table's ranking is still there


def test_the_latest_review_for_or_before_the_month(cw):  # noqa: F811
    february = review(cw, datetime.date(2026, 3, 6))
    march = review(cw)
    assert ranking_of(cw.leader, 2026, 3)["bulletin"]["id"] == march.pk
    assert ranking_of(cw.leader, 2026, 2)["bulletin"]["id"] == february.pk
    assert ranking_of(cw.leader, 2026, 2)["title"] == "2026年2月月点评 排名"
    assert ranking_of(cw.leader, 2026, 6)["bulletin"]["id"] == march.pk  # no later one yet
    assert ranking_of(cw.leader, 2026, 1)["source"] == "completion"  # none for January or before


def test_english_labels_translate_the_stored_titles(cw, client):  # noqa: F811
    from django.utils import translation

    review(cw)
    with translation.override("en"):
        ranking = ranking_of(cw.leader)
    assert ranking["title"] == "Monthly review 2026-3: ranking"
    assert [t["title"] for t in ranking["tables"]] == ["Town/subdistrict", "District departments"]
    assert ranking["indicators"][0]["short"] == "Investment"
    assert ranking["tables"][0]["rows"][0]["name"] == "东街街道"  # names are data, shown as stored


# ---------------------------------------------------------------------------------------------
# The fallback


def test_with_only_a_draft_the_cockpit_falls_back_to_the_completion_table(cw, client):  # noqa: F811
    review(cw, issue=False)
    for user in (cw.dispatcher, cw.leader):  # even those who may open the draft
        ranking = ranking_of(user)
        assert ranking["source"] == "completion" and ranking["bulletin"] is None
        assert ranking["note"] == FALLBACK
        table = cockpit_data(cockpit_for(user, YEAR, MONTH, today()))["unit_ranking"]
        assert [r["name"] for r in ranking["tables"][0]["rows"]] == [r["label"] for r in table]
        assert [r["values"]["annual_rate"] for r in ranking["tables"][0]["rows"]] == [r["annual_rate"] for r in table]
    client.force_login(cw.leader)
    body = client.get(reverse("dashboard"), PERIOD).content.decode()
    assert FALLBACK in body and 'data-kp-ranking="completion"' in body and "月点评 排名" not in body


# ---------------------------------------------------------------------------------------------
# Scope: the same rule as the bulletin pages


def test_a_town_officer_sees_what_the_issued_review_publishes_to_him(cw, client):  # noqa: F811
    review(cw, issue=False)
    # A draft is invisible to him: his own scope's completion table only, nothing of 洪门镇.
    ranking = ranking_of(cw.town_officer)
    assert ranking["source"] == "completion"
    assert [r["name"] for r in ranking["tables"][0]["rows"]] == ["东街街道"]
    b = review(cw, datetime.date(2026, 4, 9))  # the same month's review, issued
    client.force_login(cw.town_officer)
    assert client.get(reverse("bulletin-detail", args=[b.pk])).status_code == 200  # he may open it
    ranking = ranking_of(cw.town_officer)
    assert ranking["source"] == "review" and shown(ranking) == stored(b)  # exactly what the bulletin publishes
    body = client.get(reverse("dashboard"), PERIOD).content.decode()
    assert f'href="/bulletins/{b.pk}/"' in body


@pytest.mark.parametrize("persona", ["officer", "enterprise"])
def test_who_may_not_open_the_review_gets_the_fallback_over_their_scope(cw, client, persona):  # noqa: F811
    b = review(cw)
    user = getattr(cw, persona)
    client.force_login(user)
    assert client.get(reverse("bulletin-detail", args=[b.pk])).status_code == 403
    ranking = ranking_of(user)
    assert ranking["source"] == "completion" and ranking["bulletin"] is None
    assert [r["name"] for r in ranking["tables"][0]["rows"]] == ["东街街道"]  # project A's responsible unit only
    body = client.get(reverse("dashboard"), PERIOD).content.decode()
    assert FALLBACK in body and f"/bulletins/{b.pk}/" not in body and "洪门镇" not in body
    data = api(client, user).get("/dashboard", PERIOD).json()
    assert data["ranking"] == ranking


# ---------------------------------------------------------------------------------------------
# Queries: one to find the review (none for a user who may not read bulletins), one to read it


def test_the_review_costs_one_query_to_find_and_one_to_read(cw, django_assert_num_queries):  # noqa: F811
    b = review(cw)
    projects, problems = visible_projects(cw.leader), visible_problems(cw.leader)
    with CaptureQueriesContext(connection) as without:
        figures.compute_cockpit(projects, problems, YEAR, MONTH, today=today())
    with CaptureQueriesContext(connection) as with_review:
        fig = figures.compute_cockpit(projects, problems, YEAR, MONTH, today=today(), review_id=b.pk)
    assert fig.review is not None and len(with_review) == len(without) + 1
    with django_assert_num_queries(1):
        assert figures.latest_review(Bulletin.objects.all(), YEAR, MONTH) == b.pk
    from keyprojects.dashboard.views import review_for

    visible_projects(cw.officer)  # reads the roles, as every cockpit request does first
    with django_assert_num_queries(0):
        assert review_for(cw.officer, YEAR, MONTH) is None


def test_the_page_with_a_review_stays_within_the_bound(cw, client, django_assert_max_num_queries):  # noqa: F811
    review(cw)
    client.force_login(cw.leader)
    # tests/test_dashboard.py's bound for the pages (34), plus finding and reading the review
    for name in ("dashboard", "dashboard-screen", "dashboard-data"):
        with django_assert_max_num_queries(36):
            assert client.get(reverse(name), PERIOD).status_code == 200, name


# ---------------------------------------------------------------------------------------------
# The cache: issuing a review shows on the next load (these tests commit, like tests/test_dashboard_cache.py)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_issuing_a_review_invalidates_the_cached_cockpit(world, client):
    w = world
    year, month = last_month()
    Project.objects.filter(pk=w.project_a.pk).update(stage=Stage.CONSTRUCTION,
                                                     actual_start=datetime.date(year - 1, 6, 1))  # fmt: skip
    progress_domain.save_annual_plan(Project.objects.get(pk=w.project_a.pk), by=w.dispatcher, year=year,
                                     data={"planned_investment": "12000"})  # fmt: skip
    client.force_login(w.leader)
    period = {"year": year, "month": month}
    assert client.get(reverse("dashboard-data"), period).json()["ranking"]["source"] == "completion"
    body = client.get(reverse("dashboard"), period).content.decode()
    assert FALLBACK in body
    with CaptureQueriesContext(connection) as warm:
        assert FALLBACK in client.get(reverse("dashboard"), period).content.decode()
    sql = [q["sql"] for q in warm]
    assert not any('FROM "projects_project"' in q for q in sql), sql  # served from the cache
    assert sum('FROM "bulletins_bulletin"' in q for q in sql) == 1  # finding the review: the one extra query

    b = domain.create_draft(kind=Kind.MONTHLY, as_of=timezone.localdate(), by=w.dispatcher)
    assert FALLBACK in client.get(reverse("dashboard"), period).content.decode()  # a draft changes nothing
    domain.issue(b, by=w.dispatcher)
    b = Bulletin.objects.get(pk=b.pk)
    data = client.get(reverse("dashboard-data"), period).json()
    assert data["ranking"]["source"] == "review" and data["ranking"]["bulletin"]["id"] == b.pk
    assert shown(data["ranking"]) == stored(b)
    body = client.get(reverse("dashboard"), period).content.decode()
    assert FALLBACK not in body and f'href="/bulletins/{b.pk}/"' in body
    assert f"{year}年{month}月月点评 排名" in body
