"""The funding pages: each persona of the `world` fixture against each page (SEES / EDITS of conftest),
writes checked in the database and the audit trail, bad input, and query counts that do not grow."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

import openpyxl
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from keyprojects.audit.models import AuditRecord
from keyprojects.funding import domain
from keyprojects.funding.models import (
    ApprovalAcceleration,
    Building,
    FundingLine,
    IndustryChain,
    ProjectLand,
    ServiceMatter,
)
from keyprojects.projects import domain as project_domain
from tests.conftest import EDITS, PERSONAS, SEES
from tests.test_funding import BOND_DETAIL, TODAY, bond_line, bond_type, central_type, line_data

ADMINS = [p for p in PERSONAS if not SEES[p]]
PROJECTS = ["project_a", "project_b"]
MANAGERS = {"dispatcher"}


def read_status(persona: str, key: str) -> int:
    if persona in ADMINS:
        return 403
    return 200 if key in SEES[persona] else 404


def write_status(persona: str, key: str, ok: int = 200) -> int:
    if persona in ADMINS:
        return 403
    if key not in SEES[persona]:
        return 404
    return ok if key in EDITS.get(persona, set()) else 403


def registry_status(persona: str, write: bool = False) -> int:
    if persona in ADMINS:
        return 403
    return 200 if not write or persona in MANAGERS else 403


def signed_in(client, world, persona: str):
    client.force_login(getattr(world, persona))
    return client


@pytest.fixture
def funded(world):
    """A bond line on each project, a land record, a chain with both projects, a building and a few matters."""
    world.line_a = bond_line(world)
    world.line_b = domain.create_line(by=world.dispatcher, project=world.project_b, today=TODAY, data=line_data(
        reserve=("300", date(2024, 10, 1)), ndrc=("250", date(2025, 2, 1))))  # fmt: skip
    world.chain = domain.save_chain(None, by=world.dispatcher, data={
        "name": "高端装备制造产业链", "leader": world.leader, "lead_company": world.company_a,
        "projects": [world.project_a, world.project_b], "companies": [world.company_a, world.company_b]})  # fmt: skip
    world.building = domain.save_building(None, by=world.dispatcher, data={
        "name": "红旗区总部经济大厦", "town": world.dongjie, "star_rating": 5, "annual_tax": Decimal("12600"),
        "tenant_count": 118, "companies": [world.company_a]})  # fmt: skip
    domain.save_land(world.project_a, by=world.dispatcher, today=TODAY, data={"certificate_on": date(2025, 1, 2)})
    ServiceMatter.objects.bulk_create([
        ServiceMatter(code=f"M{i:03d}", name=f"食品经营许可{i}", category="license", department_name="区市场监管局",
                      online=True, on_the_spot=i % 2 == 0, near_home=i % 5 == 0, at_most_once=True)
        for i in range(6)
    ])  # fmt: skip
    return world


def line_post(**changes) -> dict:
    data = {"fund_type": bond_type().pk, "year": "2025", "batch": "第二批", "note": "",
            "bond_name": BOND_DETAIL["name"], "bond_code": "250532", "bond_term_years": "20",
            "bond_rate": "2.280"}  # fmt: skip
    steps = {"reserve": ("1000", "2024-09-10"), "applied": ("1000", "2024-11-05"), "mof": ("800", "2025-02-12"),
             "allocated": ("600", "2025-03-15"), "issued": ("600", "2025-04-10"), "disbursed": ("500", "2025-05-08"),
             "spent": ("200", "2025-06-01")}  # fmt: skip
    for step, (amount, day) in steps.items():
        data[f"{step}_amount"], data[f"{step}_date"] = amount, day
    data.update(changes)
    return data


# ---------------------------------------------------------------------------------------------
# Anonymous users and the menu


def test_anonymous_users_are_sent_to_login(client, funded):
    urls = [reverse("funding-district"), reverse("funding-export"), reverse("funding-land"), reverse("matter-list"),
            reverse("matter-import"), reverse("matter-export"), reverse("chain-list"), reverse("building-list"),
            reverse("funding-line-create", args=[funded.project_a.pk]),
            reverse("funding-line-edit", args=[funded.line_a.pk])]  # fmt: skip
    for url in urls:
        r = client.get(url)
        assert r.status_code == 302 and r["Location"].startswith(reverse("login")), url
    r = client.post(reverse("funding-line-delete", args=[funded.line_a.pk]))
    assert r.status_code == 302 and FundingLine.objects.filter(pk=funded.line_a.pk).exists()


@pytest.mark.parametrize("persona", PERSONAS)
def test_the_menu_entry_follows_the_scope(client, world, persona):
    signed_in(client, world, persona)
    r = client.get(reverse("notification-list"))
    assert (reverse("funding-district") in r.content.decode()) == (persona not in ADMINS)


# ---------------------------------------------------------------------------------------------
# Reading


@pytest.mark.parametrize("persona", PERSONAS)
def test_district_view_and_export_follow_the_scope(client, funded, persona):
    signed_in(client, funded, persona)
    r = client.get(reverse("funding-district"))
    assert r.status_code == registry_status(persona)
    if r.status_code != 200:
        assert client.get(reverse("funding-export")).status_code == 403
        return
    body = r.content.decode()
    sees_a, sees_b = "project_a" in SEES[persona], "project_b" in SEES[persona]
    assert (">0.06<" in body) == sees_a  # project_a's bond: issued 600万元 = 0.06亿元
    assert (">0.03<" in body) == sees_b  # project_b's central-budget reserve: 300万元
    r = client.get(reverse("funding-export"))
    assert r.status_code == 200 and r["Content-Type"].startswith("application/vnd.openxmlformats")
    wb = openpyxl.load_workbook(io.BytesIO(b"".join(r.streaming_content)), read_only=True)
    names = [row[2] for row in wb["资金明细"].iter_rows(min_row=4, values_only=True)]
    assert (funded.project_a.name in names) == sees_a and (funded.project_b.name in names) == sees_b


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("key", PROJECTS)
def test_the_project_page_shows_its_funding_section_to_who_sees_it(client, funded, persona, key):
    signed_in(client, funded, persona)
    project = getattr(funded, key)
    r = client.get(reverse("project-detail", args=[project.pk]))
    assert r.status_code == (403 if persona in ADMINS else 200 if key in SEES[persona] else 404)
    if r.status_code != 200:
        return
    body = r.content.decode()
    assert 'id="funding"' in body and "资金到位率" in body and "审批提速措施" in body and "用地与标准地" in body
    can_edit = key in EDITS.get(persona, set())
    assert (reverse("funding-line-create", args=[project.pk]) in body) == can_edit
    line = funded.line_a if key == "project_a" else funded.line_b
    assert (reverse("funding-line-edit", args=[line.pk]) in body) == can_edit


def test_the_funding_section_shows_steps_rates_and_bond(client, funded):
    signed_in(client, funded, "leader")
    body = client.get(reverse("project-detail", args=[funded.project_a.pk])).content.decode()
    for text in ["专项债", "2025年第二批", "500.00", "2025-05-08", "红财预〔2025〕60号", "75.0%", "33.3%", "50.0%",
                 "2025年河南省政府专项债券（五期）", "期限20年，票面利率2.280%"]:  # fmt: skip
        assert text in body, text


@pytest.mark.parametrize("persona", PERSONAS)
def test_registry_pages_are_read_by_business_users(client, funded, persona):
    signed_in(client, funded, persona)
    for url in (reverse("matter-list"), reverse("matter-export"), reverse("funding-land"), reverse("chain-list"),
                reverse("chain-detail", args=[funded.chain.pk]), reverse("building-list"),
                reverse("building-detail", args=[funded.building.pk])):  # fmt: skip
        assert client.get(url).status_code == registry_status(persona), (persona, url)


@pytest.mark.parametrize("persona", ["dispatcher", "town_officer", "other_town_officer", "enterprise"])
def test_a_chain_lists_only_the_projects_the_user_sees(client, funded, persona):
    signed_in(client, funded, persona)
    for url in (reverse("chain-list"), reverse("chain-detail", args=[funded.chain.pk])):
        body = client.get(url).content.decode()
        for key in PROJECTS:
            assert (getattr(funded, key).name in body) == (key in SEES[persona]), (persona, url, key)


def test_matter_list_filters_counts_and_htmx_fragment(client, funded):
    signed_in(client, funded, "town_officer")
    body = client.get(reverse("matter-list")).content.decode()
    assert "食品经营许可0" in body and "区市场监管局" in body and ">6<" in body  # the total
    r = client.get(reverse("matter-list"), {"flag": "near_home"}, HTTP_HX_REQUEST="true")
    fragment = r.content.decode()
    assert r["Vary"] and "HX-Request" in r["Vary"] and "<html" not in fragment
    assert "食品经营许可0" in fragment and "食品经营许可5" in fragment and "食品经营许可1" not in fragment
    body = client.get(reverse("matter-list"), {"q": "许可3"}).content.decode()
    assert "食品经营许可3" in body and "食品经营许可4" not in body
    assert client.get(reverse("matter-list"), {"flag": "nonsense", "page": "x"}).status_code == 200


# ---------------------------------------------------------------------------------------------
# Writing funding lines


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("key", PROJECTS)
def test_who_may_add_and_change_funding(client, funded, persona, key):
    signed_in(client, funded, persona)
    project = getattr(funded, key)
    line = funded.line_a if key == "project_a" else funded.line_b
    assert client.get(reverse("funding-line-create", args=[project.pk])).status_code == write_status(persona, key)
    assert client.get(reverse("funding-line-edit", args=[line.pk])).status_code == write_status(persona, key)
    assert client.get(reverse("funding-land-edit", args=[project.pk])).status_code == write_status(persona, key)
    r = client.post(reverse("funding-line-delete", args=[line.pk]))
    assert r.status_code == write_status(persona, key, ok=302)
    assert FundingLine.objects.filter(pk=line.pk).exists() == (r.status_code != 302)


def test_adding_a_line_on_the_page_saves_and_audits(client, world):
    signed_in(client, world, "town_officer")
    r = client.post(reverse("funding-line-create", args=[world.project_a.pk]), line_post())
    assert r.status_code == 302 and r["Location"].endswith(f"/projects/{world.project_a.pk}/#funding")
    line = FundingLine.objects.get()
    assert line.steps.count() == 7 and line.bond.rate == Decimal("2.280") and line.created_by == world.town_officer
    record = AuditRecord.objects.get(object_type="fundingline")
    assert record.channel == "web" and record.actor_name == "town_officer"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"spent_amount": "800"}, "支出金额（800.00万元）不能超过拨付金额（500.00万元）"),
        ({"issued_date": "2025-03-01"}, "发行日期（2025-03-01）不能早于额度下达日期（2025-03-15）"),
        ({"bond_name": ""}, "已发行的债券须填写债券名称"),
        ({"reserve_amount": "", "reserve_date": ""}, "每条资金都从储备开始"),
        ({"spent_amount": "abc"}, "输入一个数字"),
        ({"year": "1800"}, "2000"),
    ],
)
def test_bad_input_on_the_page_is_shown_and_nothing_is_saved(client, world, changes, message):
    signed_in(client, world, "dispatcher")
    before = AuditRecord.objects.count()
    r = client.post(reverse("funding-line-create", args=[world.project_a.pk]), line_post(**changes))
    assert r.status_code == 400
    assert message in r.content.decode()
    assert not FundingLine.objects.exists() and AuditRecord.objects.count() == before


def test_editing_a_line_with_a_stale_version_is_refused(client, funded):
    signed_in(client, funded, "dispatcher")
    url = reverse("funding-line-edit", args=[funded.line_a.pk])
    r = client.post(url, line_post(spent_amount="300", spent_date="2025-07-01", version="1"))
    assert r.status_code == 302 and FundingLine.objects.get(pk=funded.line_a.pk).version == 2
    r = client.post(url, line_post(spent_amount="400", spent_date="2025-07-01", version="1"))
    assert r.status_code == 409 and "已被他人修改" in r.content.decode()
    assert funded.line_a.steps.get(step="spent").amount == Decimal("300")


# ---------------------------------------------------------------------------------------------
# Acceleration measures and land


@pytest.mark.parametrize("persona", PERSONAS)
def test_acceleration_measures_follow_the_approval_rules(client, world, persona):
    signed_in(client, world, persona)
    land_item = world.project_a.approvals.get(name="用地预审与选址意见书")  # handled by 自然资源局
    permit = world.project_a.approvals.get(name="施工许可证")
    for item in (land_item, permit):
        url = reverse("funding-acceleration", args=[world.project_a.pk, item.pk])
        expected = write_status(persona, "project_a")
        if persona == "dept_officer" and item == land_item:
            expected = 200  # the department handling the item records its measures
        assert client.get(url).status_code == expected, (persona, item.name)


def test_a_department_records_a_promise_and_an_agent(client, world):
    signed_in(client, world, "dept_officer")
    item = world.project_a.approvals.get(name="用地预审与选址意见书")
    url = reverse("funding-acceleration", args=[world.project_a.pk, item.pk])
    r = client.post(url, {"on_promise": "on", "promise_content": "补齐压覆矿产评估", "promise_outcome": "pending"})
    assert r.status_code == 400 and "信用承诺制办理须填写承诺期限" in r.content.decode()
    assert not ApprovalAcceleration.objects.exists()
    r = client.post(url, {"on_promise": "on", "promise_content": "补齐压覆矿产评估", "promise_deadline": "2026-03-01",
                          "promise_outcome": "pending", "agent": world.dept_officer.pk,
                          "agent_started_on": "2025-06-02"})  # fmt: skip
    assert r.status_code == 302
    saved = ApprovalAcceleration.objects.get()
    assert saved.agent == world.dept_officer and saved.promise_deadline == date(2026, 3, 1)
    body = client.get(reverse("project-detail", args=[world.project_a.pk])).content.decode()
    assert "补齐压覆矿产评估" in body and "承诺期限" in body


def test_land_on_the_page_and_the_district_figure(client, world):
    project_domain.update_project(world.project_a, by=world.dispatcher, data={"actual_start": date(2025, 10, 13)})
    signed_in(client, world, "town_officer")
    url = reverse("funding-land-edit", args=[world.project_a.pk])
    r = client.post(url, {"certificate_on": "2025-09-22", "area_mu": "120", "is_standard": "on"})
    assert r.status_code == 400 and "标准地须填写出让日期" in r.content.decode() and not ProjectLand.objects.exists()
    r = client.post(url, {"certificate_on": "2025-09-22", "area_mu": "120"})
    assert r.status_code == 302
    body = client.get(reverse("funding-land")).content.decode()
    assert world.project_a.name in body and "2025-09-22" in body and ">11<" in body  # working days to the start


# ---------------------------------------------------------------------------------------------
# Registries: chains and buildings


@pytest.mark.parametrize("persona", PERSONAS)
def test_only_dispatchers_keep_the_registries(client, funded, persona):
    signed_in(client, funded, persona)
    for url in (reverse("chain-create"), reverse("chain-edit", args=[funded.chain.pk]), reverse("building-create"),
                reverse("building-edit", args=[funded.building.pk]), reverse("matter-import")):  # fmt: skip
        assert client.get(url).status_code == registry_status(persona, write=True), (persona, url)
    r = client.post(reverse("building-edit", args=[funded.building.pk]), {"name": "改名", "tenant_count": "1"})
    assert r.status_code == (302 if persona in MANAGERS else registry_status(persona, write=True))
    assert Building.objects.get().name == ("改名" if persona in MANAGERS else "红旗区总部经济大厦")


def test_editing_a_chain_on_the_page_replaces_its_projects(client, funded):
    signed_in(client, funded, "dispatcher")
    url = reverse("chain-edit", args=[funded.chain.pk])
    r = client.post(url, {"name": "高端装备制造产业链", "leader": funded.leader.pk, "projects": [funded.project_a.pk],
                          "companies": [funded.company_a.pk], "position": "0"})  # fmt: skip
    assert r.status_code == 302
    assert list(IndustryChain.objects.get().projects.all()) == [funded.project_a]
    record = AuditRecord.objects.filter(object_type="industrychain", action="update").get()
    assert record.after["链上项目"] == [funded.project_a.name]


def test_building_tax_band_follows_the_tax(client, funded):
    signed_in(client, funded, "dispatcher")
    r = client.post(reverse("building-create"), {"name": "平原金融中心", "annual_tax": "10800", "tax_band": "below",
                                                 "tenant_count": "96", "star_rating": "5"})  # fmt: skip
    assert r.status_code == 400 and "税收档次与年税收" in r.content.decode()
    r = client.post(reverse("building-create"), {"name": "平原金融中心", "annual_tax": "10800", "tenant_count": "96",
                                                 "star_rating": "5"})  # fmt: skip
    assert r.status_code == 302 and Building.objects.get(name="平原金融中心").tax_band == "yi"
    r = client.post(reverse("building-create"), {"name": "平原金融中心", "tenant_count": "1"})
    assert r.status_code == 400 and "已有同名的楼宇" in r.content.decode()


# ---------------------------------------------------------------------------------------------
# Query counts do not grow with the data


def _more(world, n: int) -> None:
    for i in range(n):
        project = project_domain.create_project(by=world.dispatcher, data=dict(
            name=f"扩展项目{i}", owner_name="某公司", industry=world.industry, project_type="approval",
            total_investment=Decimal("50000"), town=world.dongjie, responsible_unit=world.dongjie))  # fmt: skip
        bond_line(world, project)
        domain.create_line(by=world.dispatcher, project=project, today=TODAY, data=line_data(
            central_type(), reserve=("100", date(2025, 1, 1))))  # fmt: skip
        domain.save_land(project, by=world.dispatcher, today=TODAY, data={"certificate_on": date(2025, 1, 2)})
        world.chain.projects.add(project)
        domain.save_building(None, by=world.dispatcher, data={"name": f"楼宇{i}", "tenant_count": 3,
                                                              "companies": [world.company_b]})  # fmt: skip
    ServiceMatter.objects.bulk_create([
        ServiceMatter(code=f"X{i:04d}", name=f"事项{i}", category="public_service", department_name=f"部门{i % 7}",
                      online=True) for i in range(120)
    ])  # fmt: skip


def test_list_pages_and_exports_keep_their_query_count(client, funded, django_assert_max_num_queries):
    signed_in(client, funded, "town_officer")
    urls = [reverse("funding-district"), reverse("funding-land"), reverse("matter-list"), reverse("chain-list"),
            reverse("building-list"), reverse("project-detail", args=[funded.project_a.pk])]  # fmt: skip
    exports = [reverse("funding-export"), reverse("matter-export")]
    for url in urls + exports:
        client.get(url)  # warm up (session, content types, calendar)
    baseline = {}
    for url in urls + exports:
        with CaptureQueriesContext(connection) as small:
            r = client.get(url)
            if r.streaming:
                b"".join(r.streaming_content)
        baseline[url] = len(small.captured_queries)
    _more(funded, 15)
    for url in urls + exports:
        with django_assert_max_num_queries(baseline[url], info=url):
            r = client.get(url)
            assert r.status_code == 200
            if r.streaming:
                b"".join(r.streaming_content)
    assert baseline[reverse("funding-district")] <= 15
