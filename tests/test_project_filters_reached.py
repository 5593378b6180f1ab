"""The project filter's 阶段及以后 (`reached`) and 融资模式 (`financing_model`): the list page, the Excel
ledger (page and API) and the API list select exactly the same projects; forged values are field errors;
the cockpit's funnel, pipeline and financing-model figures link to lists that show what they count.

The district is the completion-rate fixture of tests/test_rates.py (A 在建, B 签约, C 前期手续, D 在建,
E 竣工, F 达效) with A and D on EPC, C on PPP and the others without a financing model.
"""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import translation

from keyprojects.api.auth import issue_token
from keyprojects.audit.models import AuditRecord
from keyprojects.dashboard import figures
from keyprojects.projects.filters import ProjectFilter
from keyprojects.projects.models import FinancingModel, Project, Stage
from tests.test_api import ApiClient, errors_at
from tests.test_dashboard import PERIOD, _shown, cw, district_data  # noqa: F401 (fixture)
from tests.test_excel_export import _body, sheet_rows
from tests.test_rates import district  # noqa: F401 (fixture)

# The projects at or after each stage, by hand.
REACHED = {
    "planning": "ABCDEF",
    "signed": "ABCDEF",
    "preparation": "ACDEF",
    "started": "ADEF",
    "construction": "ADEF",
    "completed": "EF",
    "commissioned": "F",
    "effective": "F",
}


@pytest.fixture
def pf(district):  # noqa: F811
    w = district
    w.epc, w.ppp = FinancingModel.objects.get(name="EPC"), FinancingModel.objects.get(name="PPP")
    w.bot = FinancingModel.objects.get(name="BOT")  # nobody uses it
    Project.objects.filter(pk__in=[w.a.pk, w.d.pk]).update(financing_model=w.epc)
    Project.objects.filter(pk=w.c.pk).update(financing_model=w.ppp)
    return w


def names(w, letters: str) -> set[str]:
    return {getattr(w, letter.lower()).name for letter in letters}


def page_names(client, params: dict) -> set[str]:
    r = client.get(reverse("project-list"), params)
    assert r.status_code == 200
    assert r.context["page"].paginator.count == len(r.context["page"].object_list)  # all on one page
    return {p.name for p in r.context["page"].object_list}


def api(client, user) -> ApiClient:
    raw, _token = issue_token(user, name="test")
    return ApiClient(client, raw)


def api_ids(client_api: ApiClient, params: dict) -> set[int]:
    r = client_api.get("/projects", params)
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["count"] == len(body["items"])
    return {item["id"] for item in body["items"]}


def ids(w, letters: str) -> set[int]:
    return {getattr(w, letter.lower()).pk for letter in letters}


# ---------------------------------------------------------------------------------------------
# The one definition of the stage order


def test_reached_is_the_stage_and_every_later_one():
    assert Stage.reached(Stage.STARTED) == ["started", "construction", "completed", "commissioned", "effective"]
    assert Stage.reached(Stage.PLANNING) == list(Stage.values)
    assert Stage.reached(Stage.EFFECTIVE) == ["effective"]
    for stage in Stage.values:
        assert Stage.reached(stage) == [s for s in Stage.values if Stage.order(s) >= Stage.order(stage)]


def test_the_filter_offers_every_stage_and_every_financing_model(pf):
    form = ProjectFilter()
    choices = [(value, str(label)) for value, label in form.fields["reached"].choices]
    assert choices[0] == ("", "不限")
    assert choices[1:] == [(value, f"{label}及以后") for value, label in Stage.choices]
    assert ("started", "开工及以后") in choices
    models = [(str(value), label) for value, label in form.fields["financing_model"].choices]
    assert models[0] == ("", "全部融资模式")
    assert (str(pf.epc.pk), "EPC") in models and len(models) == FinancingModel.objects.count() + 1
    with translation.override("en"):
        assert str(ProjectFilter().fields["reached"].choices[4][1]) == "Started or later"
        assert str(ProjectFilter().fields["reached"].label) == "Stage reached"
        assert str(ProjectFilter().fields["financing_model"].empty_label) == "All financing models"


# ---------------------------------------------------------------------------------------------
# The list page


@pytest.mark.parametrize("stage", REACHED)
def test_page_reached(pf, client, stage):
    client.force_login(pf.dispatcher)
    assert page_names(client, {"reached": stage}) == names(pf, REACHED[stage])


def test_page_financing_model_and_combinations(pf, client):
    client.force_login(pf.dispatcher)
    assert page_names(client, {"financing_model": pf.epc.pk}) == names(pf, "AD")
    assert page_names(client, {"financing_model": pf.ppp.pk}) == names(pf, "C")
    assert page_names(client, {"financing_model": pf.bot.pk}) == set()
    assert page_names(client, {"financing_model": pf.epc.pk, "reached": "completed"}) == set()
    assert page_names(client, {"financing_model": pf.ppp.pk, "reached": "preparation"}) == names(pf, "C")
    assert page_names(client, {"reached": "started", "stage": "construction"}) == names(pf, "AD")
    assert page_names(client, {"reached": "started", "town": pf.hongmen.pk}) == names(pf, "DE")


def test_page_follows_the_scope(pf, client):
    # 东街街道 sees A, C (its town) and F (its responsible unit, no town).
    client.force_login(pf.town_officer)
    assert page_names(client, {}) == names(pf, "ACF")
    assert page_names(client, {"reached": "started"}) == names(pf, "AF")
    assert page_names(client, {"financing_model": pf.epc.pk}) == names(pf, "A")


def test_page_shows_the_new_filters_in_the_filter_bar(pf, client):
    client.force_login(pf.dispatcher)
    body = client.get(reverse("project-list"), {"reached": "started", "financing_model": pf.epc.pk}).content.decode()
    assert '<select name="reached"' in body and '<select name="financing_model"' in body
    assert "阶段及以后" in body and "融资模式" in body
    assert '<option value="started" selected>开工及以后</option>' in body
    assert f'<option value="{pf.epc.pk}" selected>EPC</option>' in body
    assert '<option value="">全部融资模式</option>' in body


@pytest.mark.parametrize(
    ("params", "field"),
    [({"reached": "bogus"}, "reached"), ({"financing_model": "999999"}, "financing_model"),
     ({"financing_model": "abc"}, "financing_model"), ({"reached": "Started"}, "reached")],
)  # fmt: skip
def test_page_forged_values_are_field_errors_and_change_nothing(pf, client, params, field):
    client.force_login(pf.dispatcher)
    before = (Project.objects.count(), AuditRecord.objects.count(),
              list(Project.objects.order_by("pk").values_list("stage", "financing_model_id")))  # fmt: skip
    r = client.get(reverse("project-list"), params)
    assert r.status_code == 200
    assert set(r.context["filter_form"].errors) == {field}
    body = r.content.decode()
    assert "筛选条件有误" in body and "选择一个有效的选项" in body
    label = "阶段及以后" if field == "reached" else "融资模式"
    assert f"{label}：选择一个有效的选项" in body
    assert {p.name for p in r.context["page"].object_list} == names(pf, "ABCDEF")  # the filter is ignored
    after = (Project.objects.count(), AuditRecord.objects.count(),
             list(Project.objects.order_by("pk").values_list("stage", "financing_model_id")))  # fmt: skip
    assert after == before


# ---------------------------------------------------------------------------------------------
# The Excel ledger (page and API)


def ledger_of(response) -> set[str]:
    assert response.status_code == 200, response.content[:300]
    ws, _headers, rows = sheet_rows(_body(response))
    return {row["项目名称"] for row in rows}, " ".join(str(c.value or "") for row in ws.iter_rows(max_row=2)
                                                    for c in row)  # fmt: skip


def test_page_ledger_export_selects_the_same_projects(pf, client):
    client.force_login(pf.dispatcher)
    url = reverse("project-export")
    got, heading = ledger_of(client.get(url, {**PERIOD, "reached": "started"}))
    assert got == names(pf, "ADEF")
    assert "阶段及以后：开工及以后" in heading
    got, heading = ledger_of(client.get(url, {**PERIOD, "financing_model": pf.epc.pk}))
    assert got == names(pf, "AD")
    assert "融资模式：EPC" in heading
    got, _heading = ledger_of(client.get(url, {**PERIOD, "financing_model": pf.epc.pk, "reached": "commissioned"}))
    assert got == set()
    # As on the page, a forged value is ignored (every project), never an error page.
    got, heading = ledger_of(client.get(url, {**PERIOD, "reached": "bogus"}))
    assert got == names(pf, "ABCDEF") and "筛选条件：无" in heading


def test_api_ledger_export_selects_the_same_projects(pf, client):
    ledger = api(client, pf.dispatcher)
    got, _heading = ledger_of(ledger.get("/projects/export.xlsx", {**PERIOD, "reached": "completed"}))
    assert got == names(pf, "EF")
    got, _heading = ledger_of(ledger.get("/projects/export.xlsx", {**PERIOD, "financing_model": pf.ppp.pk}))
    assert got == names(pf, "C")
    assert set(errors_at(ledger.get("/projects/export.xlsx", {**PERIOD, "reached": "bogus"}))) == {"reached"}
    r = ledger.get("/projects/export.xlsx", {**PERIOD, "financing_model": "999999"})
    assert set(errors_at(r)) == {"financing_model"}
    assert r.json()["detail"][0]["loc"] == ["query", "financing_model"]


# ---------------------------------------------------------------------------------------------
# The API list


@pytest.mark.parametrize("stage", REACHED)
def test_api_reached(pf, client, stage):
    assert api_ids(api(client, pf.dispatcher), {"reached": stage}) == ids(pf, REACHED[stage])


def test_api_financing_model_scope_and_combinations(pf, client):
    dispatcher = api(client, pf.dispatcher)
    assert api_ids(dispatcher, {"reached": "started"}) == ids(pf, "ADEF")
    assert api_ids(dispatcher, {"financing_model": pf.epc.pk}) == ids(pf, "AD")
    assert api_ids(dispatcher, {"financing_model": pf.bot.pk}) == set()
    assert api_ids(dispatcher, {"financing_model": pf.epc.pk, "reached": "construction"}) == ids(pf, "AD")
    assert api_ids(dispatcher, {"reached": ""}) == ids(pf, "ABCDEF")  # the empty choice: no filter
    other_town = api(client, pf.other_town_officer)  # 洪门镇: B, D, E
    assert api_ids(other_town, {"reached": "started"}) == ids(pf, "DE")
    assert api_ids(other_town, {"financing_model": pf.epc.pk}) == ids(pf, "D")


@pytest.mark.parametrize(
    ("params", "fields"),
    [({"reached": "bogus"}, {"reached"}), ({"financing_model": "999999"}, {"financing_model"}),
     ({"financing_model": "x", "reached": "later"}, {"financing_model", "reached"})],
)  # fmt: skip
def test_api_forged_values_are_422_and_change_nothing(pf, client, params, fields):
    dispatcher = api(client, pf.dispatcher)  # issuing the token is audited: count after it
    before = (Project.objects.count(), AuditRecord.objects.count())
    r = dispatcher.get("/projects", params)
    assert set(errors_at(r)) == fields  # errors_at checks each message is Chinese
    assert all(item["loc"][0] == "query" for item in r.json()["detail"])
    assert (Project.objects.count(), AuditRecord.objects.count()) == before


def test_api_document_describes_the_new_parameters(client):
    doc = client.get("/api/v1/openapi.json").json()
    for path in ("/api/v1/projects", "/api/v1/projects/geo", "/api/v1/projects/export.xlsx"):
        params = {p["name"]: p for p in doc["paths"][path]["get"]["parameters"]}
        assert {"reached", "financing_model"} <= set(params), path
        assert params["reached"]["schema"]["enum"] == ["", *Stage.values], path


# ---------------------------------------------------------------------------------------------
# The cockpit's links


def test_funnel_and_financing_links_show_what_the_cockpit_counts(cw, client):  # noqa: F811
    data = district_data(cw)
    funnel = {g["key"]: g for g in data["funnel"]}
    assert [funnel[s]["link"] for s in ("signed", "started", "commissioned")] == [
        "/projects/?reached=signed", "/projects/?reached=started", "/projects/?reached=commissioned"]  # fmt: skip
    financing = {g["key"]: g for g in data["breakdowns"]["financing_model"]}
    assert financing[cw.epc.pk]["link"] == f"/projects/?financing_model={cw.epc.pk}"
    assert financing[None]["link"] is None  # "no financing model" is not a choice of the list
    client.force_login(cw.dispatcher)
    checked = 0
    for g in [*data["funnel"], *data["breakdowns"]["financing_model"]]:
        if g["link"] is not None:
            assert _shown(client, g["link"]) == g["projects"], g["link"]
            checked += 1
    assert checked == 5
    # The projects behind 开工 (and later): the list shows exactly those the funnel counts.
    r = client.get(funnel["started"]["link"])
    assert {p.pk for p in r.context["page"].object_list} == {cw.a.pk, cw.d.pk, cw.e.pk, cw.f.pk}


def test_pipeline_links_show_what_the_cockpit_counts(cw, client):  # noqa: F811
    (phase,) = district_data(cw)["phases"]
    pipeline = phase["pipeline"]
    base = f"/projects/?phase={cw.phase.pk}&batch=sign"
    assert pipeline["performed"]["link"] == f"{base}&reached=preparation"
    assert pipeline["started"]["link"] == f"{base}&reached=started"
    assert pipeline["effective"]["link"] == f"{base}&stage=effective"
    client.force_login(cw.dispatcher)
    for key, step in pipeline.items():
        assert _shown(client, step["link"]) == step["projects"], key
    assert [_shown(client, pipeline[k]["link"]) for k in ("performed", "started")] == [1, 1]  # A (在建)


@pytest.mark.parametrize("persona", ["leader", "town_officer", "other_town_officer"])
def test_the_cockpit_pages_links_follow_the_scope(cw, client, persona):  # noqa: F811
    client.force_login(getattr(cw, persona))
    data = client.get(reverse("dashboard-data"), PERIOD).json()
    groups = [*data["funnel"], *data["breakdowns"]["financing_model"]]
    for p in data["phases"]:
        groups += list(p["pipeline"].values())
    followed = [g for g in groups if g["link"]]
    assert len(followed) >= 4
    for g in followed:
        assert _shown(client, g["link"]) == g["projects"], (persona, g["link"])


def test_no_figure_waits_for_a_list_parameter_any_more():
    assert not hasattr(figures, "WANTED_PROJECT_PARAMS") and not hasattr(figures, "WANTED_PROBLEM_PARAMS")
    assert figures.project_link(reached="started") == "/projects/?reached=started"
    assert figures.project_link(reached="bogus") is None
    assert figures.project_link(financing_model=3) == "/projects/?financing_model=3"
