"""The problem filter's `status=done` (已办结, 已回访, 已销号) and `on_time` (按期办结): the list page and the
API list select exactly those problems; forged values are field errors; the cockpit's 办结 and 按期办结
figures link to lists that show what they count.

The problems are those of the cockpit tests (tests/test_dashboard.py): P1 已交办, P2 办理中, P3 已办结 on
time, P4 已回访 late, P5 已销号 on time, P6 待交办, P7 已部署.
"""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import translation

from keyprojects.api.auth import issue_token
from keyprojects.audit.models import AuditRecord
from keyprojects.dashboard import figures
from keyprojects.problems.forms import DONE, ProblemFilter
from keyprojects.problems.models import DONE_STATUSES, Problem
from tests.test_api import ApiClient, errors_at
from tests.test_dashboard import PERIOD, _shown, cw, district_data  # noqa: F401 (fixture)
from tests.test_rates import district  # noqa: F401 (fixture)

ALL = {"P1 用地指标", "P2 电力接入", "P3", "P4", "P5", "P6", "P7 环评"}
DONE_TITLES = {"P3", "P4", "P5"}
ON_TIME_TITLES = {"P3", "P5"}


def page_titles(client, params: dict) -> set[str]:
    r = client.get(reverse("problem-list"), params)
    assert r.status_code == 200
    assert r.context["page"].paginator.count == len(r.context["page"].object_list)  # all on one page
    return {p.title for p in r.context["page"].object_list}


def api(client, user) -> ApiClient:
    raw, _token = issue_token(user, name="test")
    return ApiClient(client, raw)


def api_titles(client_api: ApiClient, params: dict) -> set[str]:
    r = client_api.get("/problems", params)
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["count"] == len(body["items"])
    return {item["title"] for item in body["items"]}


def test_the_filter_offers_done_and_on_time():
    field = ProblemFilter.base_fields["status"]
    choices = [(str(value), str(label)) for value, label in field.choices]
    assert choices[:3] == [("", "全部状态"), ("open", "计时中（未办结）"), (DONE, "已办结（含回访、销号）")]
    assert str(ProblemFilter.base_fields["on_time"].label) == "按期办结"
    assert "on_time" in ProblemFilter.CHECKBOXES
    with translation.override("en"):
        assert str(dict(field.choices)[DONE]) == "Resolved (incl. rated and closed)"
        assert str(ProblemFilter.base_fields["on_time"].label) == "Resolved on time"


# ---------------------------------------------------------------------------------------------
# The list page


def test_page_done_and_on_time(cw, client):  # noqa: F811
    client.force_login(cw.dispatcher)
    assert page_titles(client, {}) == ALL
    assert page_titles(client, {"status": "done"}) == DONE_TITLES
    assert set(Problem.objects.filter(status__in=DONE_STATUSES).values_list("title", flat=True)) == DONE_TITLES
    assert page_titles(client, {"on_time": "on"}) == ON_TIME_TITLES
    assert page_titles(client, {"status": "done", "on_time": "on"}) == ON_TIME_TITLES
    assert page_titles(client, {"status": "rated", "on_time": "on"}) == set()  # P4 was late
    assert page_titles(client, {"status": "closed"}) == {"P5"}  # the single statuses still work
    assert page_titles(client, {"status": "done", "lead_unit": cw.hongmen.pk}) == {"P3", "P4"}
    assert page_titles(client, {"status": "open"}) == {"P1 用地指标", "P2 电力接入", "P7 环评"}
    assert page_titles(client, {"on_time": ""}) == ALL  # an unticked box: no filter


def test_page_shows_the_new_filters(cw, client):  # noqa: F811
    client.force_login(cw.dispatcher)
    body = client.get(reverse("problem-list"), {"status": "done", "on_time": "on"}).content.decode()
    assert '<option value="done" selected>已办结（含回访、销号）</option>' in body
    # A check box in the row of check boxes (with 只看逾期, 只看挂牌督办), ticked.
    row = body[body.index('<div class="d-flex flex-wrap align-items-center gap-3 mt-3">') :]
    assert 'name="on_time"' in row and 'name="overdue"' in row and 'name="supervised"' in row
    assert '<input type="checkbox" name="on_time" class="form-check-input" id="id_on_time" checked>' in row
    assert '<label class="form-check-label" for="id_on_time">按期办结</label>' in row
    grid = body[: body.index('<div class="d-flex flex-wrap align-items-center gap-3 mt-3">')]
    assert 'name="on_time"' not in grid


@pytest.mark.parametrize("params", [{"status": "bogus"}, {"status": "DONE"}, {"status": "done,open"}])
def test_page_forged_status_is_a_field_error_and_changes_nothing(cw, client, params):  # noqa: F811
    client.force_login(cw.dispatcher)
    before = (list(Problem.objects.order_by("pk").values_list("status", "resolved_on_time")),
              AuditRecord.objects.count())  # fmt: skip
    r = client.get(reverse("problem-list"), params)
    assert r.status_code == 200
    assert set(r.context["filter_form"].errors) == {"status"}
    assert "状态：选择一个有效的选项" in r.content.decode()
    assert {p.title for p in r.context["page"].object_list} == ALL  # the filter is ignored
    after = (list(Problem.objects.order_by("pk").values_list("status", "resolved_on_time")),
             AuditRecord.objects.count())  # fmt: skip
    assert after == before


def test_page_follows_the_scope(cw, client):  # noqa: F811
    client.force_login(cw.town_officer)  # 东街街道: the problems of A (none resolved)
    assert page_titles(client, {"status": "done"}) == set()
    assert page_titles(client, {"on_time": "on"}) == set()


# ---------------------------------------------------------------------------------------------
# The API list


def test_api_done_and_on_time(cw, client):  # noqa: F811
    dispatcher = api(client, cw.dispatcher)
    assert api_titles(dispatcher, {"status": "done"}) == DONE_TITLES
    for on in ("on", "true", "1"):
        assert api_titles(dispatcher, {"on_time": on}) == ON_TIME_TITLES, on
    assert api_titles(dispatcher, {"status": "done", "on_time": "true"}) == ON_TIME_TITLES
    assert api_titles(dispatcher, {"on_time": "false"}) == ALL  # false: no filter, as an unticked box
    assert api_titles(api(client, cw.town_officer), {"status": "done"}) == set()


@pytest.mark.parametrize(
    ("params", "fields"),
    [({"status": "bogus"}, {"status"}), ({"on_time": "bogus"}, {"on_time"}),
     ({"status": "finished", "on_time": "true"}, {"status"})],
)  # fmt: skip
def test_api_forged_values_are_422_and_change_nothing(cw, client, params, fields):  # noqa: F811
    dispatcher = api(client, cw.dispatcher)  # issuing the token is audited: count after it
    before = (Problem.objects.filter(status__in=DONE_STATUSES).count(), AuditRecord.objects.count())
    r = dispatcher.get("/problems", params)
    assert set(errors_at(r)) == fields  # errors_at checks each message is Chinese
    assert all(item["loc"][0] == "query" for item in r.json()["detail"])
    assert (Problem.objects.filter(status__in=DONE_STATUSES).count(), AuditRecord.objects.count()) == before


def test_api_document_describes_the_new_values(client):
    doc = client.get("/api/v1/openapi.json").json()
    params = {p["name"]: p for p in doc["paths"]["/api/v1/problems"]["get"]["parameters"]}
    assert DONE in params["status"]["schema"]["enum"]
    assert "on_time" in params


# ---------------------------------------------------------------------------------------------
# The cockpit's links


def test_resolved_and_on_time_links_show_what_the_cockpit_counts(cw, client):  # noqa: F811
    problems = district_data(cw)["headline"]["problems"]
    assert problems["resolved"]["link"] == "/problems/?status=done"
    assert problems["on_time"]["link"] == "/problems/?status=done&on_time=on"
    assert (problems["resolved"]["value"], problems["on_time"]["value"]) == (3, 2)
    client.force_login(cw.dispatcher)
    for name in ("resolved", "on_time"):
        assert _shown(client, problems[name]["link"]) == problems[name]["value"], name
    r = client.get(problems["on_time"]["link"])
    assert {p.title for p in r.context["page"].object_list} == ON_TIME_TITLES


@pytest.mark.parametrize("persona", ["leader", "town_officer", "other_town_officer"])
def test_the_cockpit_pages_problem_links_follow_the_scope(cw, client, persona):  # noqa: F811
    client.force_login(getattr(cw, persona))
    problems = client.get(reverse("dashboard-data"), PERIOD).json()["headline"]["problems"]
    for name in ("resolved", "on_time"):
        assert problems[name]["link"], name
        assert _shown(client, problems[name]["link"]) == problems[name]["value"], (persona, name)


def test_the_cockpit_page_links_the_resolved_and_on_time_figures(cw, client):  # noqa: F811
    client.force_login(cw.leader)
    body = client.get(reverse("dashboard"), PERIOD).content.decode()
    assert 'href="/problems/?status=done&amp;on_time=on">2</a>/' in body
    assert 'href="/problems/?status=done">3</a>' in body


def test_problem_links_follow_the_filter_form():
    assert figures.problem_link(status="done") == "/problems/?status=done"
    assert figures.problem_link(on_time="on") == "/problems/?on_time=on"
    assert figures.problem_link(status="finished") is None
