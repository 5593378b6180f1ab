"""The funding API: the permission matrix of each endpoint, the pipeline rules as 422 at the right
location, PATCH merging steps, the registries, and query counts that do not grow."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from keyprojects.audit.models import AuditRecord
from keyprojects.funding import domain
from keyprojects.funding.models import ApprovalAcceleration, Building, FundingLine, IndustryChain, ProjectLand
from keyprojects.projects import domain as project_domain
from tests.conftest import EDITS, PERSONAS, SEES
from tests.test_api import api_as, errors_at
from tests.test_funding import TODAY, bond_line, bond_type, central_type, line_data
from tests.test_funding_pages import funded  # noqa: F401 (fixture)

ADMINS = [p for p in PERSONAS if not SEES[p]]
PROJECTS = ("project_a", "project_b")


@pytest.fixture(autouse=True)
def _clean_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def as_user(world, client):
    return lambda persona: api_as(client, getattr(world, persona))


def line_body(world, **overrides) -> dict:
    body = {
        "project_id": world.project_a.pk,
        "fund_type_id": bond_type().pk,
        "year": 2025,
        "batch": "第二批",
        "steps": {
            "reserve": {"amount": "1000.00", "date": "2024-09-10"},
            "applied": {"amount": "1000", "date": "2024-11-05", "document_number": "红发改投资〔2024〕30号"},
            "mof": {"amount": "800", "date": "2025-02-12"},
            "allocated": {"amount": "600", "date": "2025-03-15"},
            "issued": {"amount": "600", "date": "2025-04-10"},
            "disbursed": {"amount": "500", "date": "2025-05-08"},
            "spent": {"amount": "200", "date": "2025-06-01"},
        },
        "bond": {"name": "2025年河南省政府专项债券（五期）", "term_years": 20, "rate": "2.280"},
    }
    body.update(overrides)
    return body


def read_status(persona: str, key: str) -> int:
    return 200 if key in SEES[persona] else 404


def write_status(persona: str, key: str, ok: int) -> int:
    if key not in SEES[persona]:
        return 404
    return ok if key in EDITS.get(persona, set()) else 403


# ---------------------------------------------------------------------------------------------
# Funding lines


@pytest.mark.parametrize("persona", PERSONAS)
def test_reading_lines_follows_the_scope(as_user, funded, persona):  # noqa: F811
    api = as_user(persona)
    r = api.get("/funding-lines")
    if persona in ADMINS:
        assert r.status_code == 403
    else:
        assert r.status_code == 200
        ids = {item["project_id"] for item in r.json()["items"]}
        assert ids == {getattr(funded, k).pk for k in SEES[persona]}
    for key, line in (("project_a", funded.line_a), ("project_b", funded.line_b)):
        assert api.get(f"/funding-lines/{line.pk}").status_code == read_status(persona, key), (persona, key)


def test_a_line_reads_with_steps_bond_rates_and_alerts(as_user, funded):  # noqa: F811
    body = as_user("leader").get(f"/funding-lines/{funded.line_a.pk}").json()
    assert body["fund_type"] == "地方政府专项债券" and body["stage"] == "spent" and body["stage_label"] == "支出"
    assert [s["step"] for s in body["steps"]] == ["reserve", "applied", "ndrc", "mof", "allocated", "issued",
                                                   "disbursed", "spent"]  # fmt: skip
    assert body["steps"][6] == {"step": "disbursed", "label": "拨付", "amount": "500.00", "date": "2025-05-08",
                                "document_number": "红财预〔2025〕60号"}  # fmt: skip
    assert body["rates"] == {"allocation_rate": "75.0", "spending_progress": "33.3", "in_place_rate": "50.0"}
    assert body["bond"]["rate"] == "2.280" and body["alerts"] == []


@pytest.mark.parametrize("persona", [p for p in PERSONAS if p not in ADMINS])
@pytest.mark.parametrize("key", PROJECTS)
def test_who_may_create_change_and_delete(as_user, world, persona, key):
    api = as_user(persona)
    project = getattr(world, key)
    r = api.post("/funding-lines", line_body(world, project_id=project.pk))
    assert r.status_code == write_status(persona, key, 201), (persona, key, r.content)
    line = bond_line(world, project) if r.status_code != 201 else FundingLine.objects.get(pk=r.json()["id"])
    r = api.patch(f"/funding-lines/{line.pk}", {"note": "已核对"})
    assert r.status_code == write_status(persona, key, 200)
    r = api.delete(f"/funding-lines/{line.pk}")
    assert r.status_code == write_status(persona, key, 204)
    assert FundingLine.objects.filter(pk=line.pk).exists() == (r.status_code != 204)


def test_admin_roles_get_nothing(as_user, funded):  # noqa: F811
    api = as_user("auditor")
    assert api.post("/funding-lines", line_body(funded)).status_code == 404  # the project is not in their scope
    for path in ("/funding-lines", "/funding-lines/summary", "/funding-lines/fund-types", "/service-matters",
                 "/industry-chains", "/buildings"):  # fmt: skip
        r = api.get(path)
        assert r.status_code == 403 and "没有查看" in r.json()["detail"], path


def test_created_line_is_audited_on_the_api_channel(as_user, world):
    r = as_user("dispatcher").post("/funding-lines", line_body(world))
    assert r.status_code == 201, r.content
    assert r.json()["rates"]["in_place_rate"] == "50.0"
    assert AuditRecord.objects.get(object_type="fundingline").channel == "api"


@pytest.mark.parametrize(
    ("change", "loc", "text"),
    [
        ({"spent": {"amount": "501", "date": "2025-06-01"}}, ["body", "steps", "spent", "amount"], "不能超过拨付金额"),
        (
            {"issued": {"amount": "600", "date": "2025-03-01"}},
            ["body", "steps", "issued", "date"],
            "不能早于额度下达日期",
        ),
        ({"bogus": {"amount": "1"}}, ["body", "steps", "bogus", "[key]"], ""),
        ({"spent": {"amount": "NaN", "date": "2025-06-01"}}, ["body", "steps", "spent", "amount"], ""),
        ({"spent": {"amount": "1", "date": "2025-02-30"}}, ["body", "steps", "spent", "date"], "日期"),
    ],
)
def test_bad_steps_answer_422_at_the_step_and_save_nothing(as_user, world, change, loc, text):
    body = line_body(world)
    body["steps"] = {**body["steps"], **change}
    api = as_user("dispatcher")
    before = (FundingLine.objects.count(), AuditRecord.objects.count())
    r = api.post("/funding-lines", body)
    assert r.status_code == 422, r.content
    items = r.json()["detail"]
    assert any(item["loc"][: len(loc) - 1] == loc[:-1] for item in items), items
    assert any(text in item["msg"] for item in items), items
    assert (FundingLine.objects.count(), AuditRecord.objects.count()) == before


def test_other_refusals_of_create(as_user, world):
    api = as_user("dispatcher")
    r = api.post("/funding-lines", line_body(world, fund_type_id=999999))
    assert errors_at(r) == {"fund_type_id": ["资金类型不存在或已停用。"]}
    r = api.post("/funding-lines", line_body(world, bond=None))
    assert "已发行的债券须填写债券名称。" in errors_at(r)["name"]
    r = api.post("/funding-lines", line_body(world, fund_type_id=central_type().pk))
    found = errors_at(r)
    assert "“中央预算内投资”没有发行环节。" in found["amount"]
    r = api.post("/funding-lines", line_body(world, year=1999))
    assert errors_at(r) == {"year": ["年度应在2000到2100之间。"]}
    assert api.post("/funding-lines", line_body(world, project_id=999999)).status_code == 404
    assert api.post("/funding-lines", {**line_body(world), "extra": 1}).status_code == 422
    assert not FundingLine.objects.exists()


def test_patch_merges_steps_and_checks_the_version(as_user, funded):  # noqa: F811
    api = as_user("town_officer")
    path = f"/funding-lines/{funded.line_a.pk}"
    r = api.patch(path, {"steps": {"spent": {"amount": "450", "date": "2025-09-01"}}, "version": 1})
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["version"] == 2 and len(body["steps"]) == 8 and body["steps"][-1]["amount"] == "450.00"
    assert api.patch(path, {"note": "x", "version": 1}).status_code == 409
    r = api.patch(path, {"steps": {"disbursed": {"amount": "400", "date": "2025-05-08"}}})
    assert errors_at(r) == {"amount": ["支出金额（450.00万元）不能超过拨付金额（400.00万元）。"]}
    r = api.patch(path, {"steps": {"spent": None}})
    assert r.status_code == 200 and [s["step"] for s in r.json()["steps"]][-1] == "disbursed"
    assert FundingLine.objects.get(pk=funded.line_a.pk).version == 3


def test_summary_follows_the_scope(as_user, funded):  # noqa: F811
    rows = as_user("dispatcher").get("/funding-lines/summary").json()
    bonds = next(r for r in rows if r["fund_type"] == "地方政府专项债券")
    assert bonds["issued"] == {"projects": 1, "amount": "600.00"} and bonds["rates"]["allocation_rate"] == "75.0"
    assert bonds["summary"].startswith("储备1个项目、0.10亿元")
    assert {r["fund_type"] for r in as_user("other_town_officer").get("/funding-lines/summary").json()} == {
        "中央预算内投资"
    }
    r = as_user("dispatcher").get("/funding-lines/summary", {"fund_type_id": 999999})
    assert r.status_code == 422
    assert len(as_user("dispatcher").get("/funding-lines/fund-types").json()) == 7


def test_list_query_count_does_not_grow(as_user, funded, django_assert_max_num_queries):  # noqa: F811
    api = as_user("town_officer")
    api.get("/funding-lines")
    with CaptureQueriesContext(connection) as small:
        assert api.get("/funding-lines").status_code == 200
    for i in range(10):
        project = project_domain.create_project(by=funded.dispatcher, data=dict(
            name=f"接口项目{i}", owner_name="某公司", industry=funded.industry, project_type="approval",
            total_investment=Decimal("50000"), town=funded.dongjie, responsible_unit=funded.dongjie))  # fmt: skip
        bond_line(funded, project)
        domain.create_line(by=funded.dispatcher, project=project, today=TODAY, data=line_data(
            reserve=("100", date(2025, 1, 1))))  # fmt: skip
    with django_assert_max_num_queries(len(small.captured_queries)):
        r = api.get("/funding-lines")
    assert r.json()["count"] == 21


# ---------------------------------------------------------------------------------------------
# Land and acceleration measures


@pytest.mark.parametrize("persona", [p for p in PERSONAS if p not in ADMINS])
def test_land_and_measures_follow_the_rules(as_user, world, persona):
    api = as_user(persona)
    r = api.call("PUT", f"/projects/{world.project_a.pk}/land", {"certificate_on": "2025-09-22", "area_mu": "120"})
    assert r.status_code == write_status(persona, "project_a", 200), (persona, r.content)
    item = world.project_a.approvals.get(name="用地预审与选址意见书")
    r = api.call("PUT", f"/projects/{world.project_a.pk}/approvals/{item.pk}/measures",
                 {"on_promise": True, "promise_deadline": "2026-03-01"})  # fmt: skip
    expected = 200 if persona == "dept_officer" else write_status(persona, "project_a", 200)
    assert r.status_code == expected, (persona, r.content)


def test_land_and_measures_bad_input(as_user, world):
    api = as_user("dispatcher")
    r = api.call("PUT", f"/projects/{world.project_a.pk}/land", {"is_standard": True})
    found = errors_at(r)
    assert "标准地须填写出让日期。" in found["sold_on"] and found["promised_investment"]
    assert not ProjectLand.objects.exists()
    item = world.project_a.approvals.get(name="施工许可证")
    path = f"/projects/{world.project_a.pk}/approvals/{item.pk}/measures"
    assert errors_at(api.call("PUT", path, {"on_promise": True})) == {
        "promise_deadline": ["信用承诺制办理须填写承诺期限。"]
    }
    assert errors_at(api.call("PUT", path, {"agent_id": 999999, "agent_started_on": "2025-01-02"})) == {
        "agent_id": ["代办员不存在或已停用。"]
    }
    r = api.call("PUT", path, {"agent_id": world.officer.pk, "agent_started_on": "2025-01-02"})
    assert r.status_code == 200 and r.json()["agent"] == "officer" and r.json()["agent_workdays"] > 0
    assert ApprovalAcceleration.objects.get().agent == world.officer
    assert api.get(path).json()["agent_id"] == world.officer.pk
    assert api.get(f"/projects/{world.project_a.pk}/land").status_code == 404


# ---------------------------------------------------------------------------------------------
# Registries


def test_service_matters_with_counts_and_filters(as_user, funded):  # noqa: F811
    api = as_user("enterprise")
    body = api.get("/service-matters", {"flag": "on_the_spot", "limit": 2}).json()
    assert body["counts"] == {"total": 6, "at_most_once": 6, "on_the_spot": 3, "near_home": 2, "online": 6}
    assert body["count"] == 3 and len(body["items"]) == 2 and body["items"][0]["category_label"] == "行政许可"
    matter = body["items"][0]
    assert api.get(f"/service-matters/{matter['id']}").json()["code"] == matter["code"]
    assert api.get("/service-matters/999999").status_code == 404
    assert api.get("/service-matters", {"flag": "bogus"}).status_code == 422


@pytest.mark.parametrize("persona", [p for p in PERSONAS if p not in ADMINS])
def test_chains_show_only_visible_projects_and_only_dispatchers_change_them(as_user, funded, persona):  # noqa: F811
    api = as_user(persona)
    chain = api.get(f"/industry-chains/{funded.chain.pk}").json()
    assert {p["id"] for p in chain["projects"]} == {getattr(funded, k).pk for k in SEES[persona]}
    assert chain["company_count"] == 2 and chain["leader"] == "leader"
    r = api.post("/industry-chains", {"name": "生物医药产业链", "project_ids": [funded.project_a.pk]})
    assert r.status_code == (201 if persona == "dispatcher" else 403)
    r = api.patch(f"/industry-chains/{funded.chain.pk}", {"description": "链主牵头"})
    assert r.status_code == (200 if persona == "dispatcher" else 403)


def test_chain_bad_input(as_user, funded):  # noqa: F811
    api = as_user("dispatcher")
    path = f"/industry-chains/{funded.chain.pk}"
    assert errors_at(api.patch(path, {"leader_id": funded.dispatcher.pk})) == {
        "leader_id": ["链长须为在用的领导账号。"]
    }
    assert "项目不存在或无权查看：999999。" in errors_at(api.patch(path, {"project_ids": [999999]}))["project_ids"]
    assert errors_at(api.post("/industry-chains", {"name": "高端装备制造产业链"})) == {"name": ["已有同名的产业链。"]}
    assert errors_at(api.patch(path, {"company_ids": [funded.dongjie.pk]}))["company_ids"]
    assert IndustryChain.objects.get().projects.count() == 2


def test_buildings(as_user, funded):  # noqa: F811
    api = as_user("dispatcher")
    r = api.post("/buildings", {"name": "平原金融中心", "annual_tax": "10800", "tenant_count": 96, "star_rating": 5,
                                "town_id": funded.dongjie.pk, "company_ids": [funded.company_b.pk]})  # fmt: skip
    assert r.status_code == 201, r.content
    assert r.json()["tax_band"] == "yi" and r.json()["tax_band_label"] == "亿元楼宇（≥1亿元）"
    pk = r.json()["id"]
    assert errors_at(api.patch(f"/buildings/{pk}", {"tax_band": "below"})) == {
        "tax_band": ["税收档次与年税收（1.08亿元）不符。"]
    }
    assert "入驻企业数（0）少于" in errors_at(api.patch(f"/buildings/{pk}", {"tenant_count": 0}))["tenant_count"][0]
    assert errors_at(api.patch(f"/buildings/{pk}", {"town_id": funded.company_a.pk})) == {
        "town_id": ["乡镇街道不存在。"]
    }
    r = api.patch(f"/buildings/{pk}", {"star_rating": None, "annual_tax": "900"})
    assert r.status_code == 200 and r.json()["star_rating"] is None and r.json()["tax_band"] == "below"
    assert len(as_user("enterprise").get("/buildings").json()) == 2
    assert as_user("enterprise").post("/buildings", {"name": "x"}).status_code == 403
    assert Building.objects.count() == 2
