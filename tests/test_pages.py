"""The server-rendered pages: who may see and change what, and what bad input does.

Each persona of the `world` fixture goes through every page; the expected answer follows the
SEES and EDITS matrices of conftest. Writes are checked in the database and the audit trail.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from keyprojects.audit.models import AuditRecord
from keyprojects.org.models import User
from keyprojects.org.views import DEMO_PASSWORD
from keyprojects.projects import domain
from keyprojects.projects.models import ApprovalItem, ApprovalStatus, BatchMembership, Phase, Project, Stage
from tests.conftest import EDITS, PASSWORD, PERSONAS, SEES, VALID_CREDIT_CODES

ADMINS = [p for p in PERSONAS if not SEES[p]]  # 三员: no business data at all
CREATORS = {"dispatcher", "town_officer", "dept_officer", "other_town_officer"}
DELETERS = {"dispatcher"}
PROJECTS = ["project_a", "project_b"]
TABS = ["project-detail", "project-stages", "project-approvals", "project-history"]
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def read_status(persona: str, key: str) -> int:
    if persona in ADMINS:
        return 403
    return 200 if key in SEES[persona] else 404


def write_status(persona: str, key: str, ok: int = 302) -> int:
    if persona in ADMINS:
        return 403
    if key not in SEES[persona]:
        return 404
    return ok if key in EDITS.get(persona, set()) else 403


def form_data(project: Project, **changes) -> dict:
    data = {}
    for name in domain.EDITABLE_FIELDS:
        value = getattr(project, Project._meta.get_field(name).attname)
        data[name] = "" if value is None else str(value)
    data["version"] = str(project.version)
    data.update(changes)
    return data


def web_records(project: Project, action: str) -> list[AuditRecord]:
    return list(AuditRecord.objects.filter(project_id=project.pk, action=action, channel="web"))


def signed_in(client, world, persona: str):
    client.force_login(getattr(world, persona))
    return client


# ---------------------------------------------------------------------------------------------
# Sign in, sign out, anonymous users


def test_it_redirects_anonymous_users_to_login(client, world):
    pk = world.project_a.pk
    item = world.project_a.approvals.first()
    urls = [
        reverse("home"),
        reverse("project-list"),
        reverse("project-create"),
        *(reverse(tab, args=[pk]) for tab in TABS),
        reverse("project-edit", args=[pk]),
        reverse("project-delete", args=[pk]),
        reverse("approval-edit", args=[pk, item.pk]),
        reverse("approval-file", args=[pk, item.pk]),
    ]
    for url in urls:
        r = client.get(url)
        assert r.status_code == 302, url
        assert r["Location"].startswith(reverse("login") + "?next="), url
    r = client.post(reverse("project-edit", args=[pk]), form_data(world.project_a, total_investment="1"))
    assert r.status_code == 302
    world.project_a.refresh_from_db()
    assert world.project_a.total_investment == Decimal("150000.00")


def test_login_and_logout(client, world):
    r = client.get(reverse("login"))
    assert r.status_code == 200
    assert "当前数据库包含演示数据" not in r.content.decode()
    r = client.post(reverse("login"), {"username": "dispatcher", "password": "wrong"})
    assert r.status_code == 200
    assert "请输入一个正确的" in r.content.decode()
    r = client.post(reverse("login"), {"username": "dispatcher", "password": PASSWORD})
    assert r.status_code == 302 and r["Location"] == reverse("dashboard")  # dispatchers land on the cockpit
    r = client.get(reverse("project-list"))
    body = r.content.decode()
    assert "dispatcher" in body and "区重点项目建设服务中心" in body and "调度员" in body
    assert client.get(reverse("logout")).status_code == 405  # sign-out is POST only
    r = client.post(reverse("logout"))
    assert r.status_code == 302 and r["Location"] == reverse("login")
    assert client.get(reverse("project-list")).status_code == 302


def test_login_page_shows_demo_notice_with_one_query(client, world, django_assert_num_queries):
    User.objects.filter(username__in=["dispatcher", "leader"]).update(is_demo=True)
    with django_assert_num_queries(1):
        r = client.get(reverse("login"))
    body = r.content.decode()
    assert "当前数据库包含演示数据" in body
    assert "<code>dispatcher</code>" in body and "调度员" in body
    assert DEMO_PASSWORD and DEMO_PASSWORD in body
    assert "<code>town_officer</code>" not in body


def test_language_switch(client, world):
    signed_in(client, world, "dispatcher")
    r = client.get(reverse("project-list"))
    assert "项目库" in r.content.decode() and 'lang="zh-CN"' in r.content.decode()
    r = client.post(reverse("set_language"), {"language": "en", "next": reverse("project-list")})
    assert r.status_code == 302
    body = client.get(reverse("project-list")).content.decode()
    assert "Project library" in body and "New project" in body
    body = client.get(reverse("project-detail", args=[world.project_a.pk])).content.decode()
    assert "Overview" in body and "History" in body


# ---------------------------------------------------------------------------------------------
# Reading: the list and every tab of the detail


@pytest.mark.parametrize("persona", PERSONAS)
def test_list_follows_the_scope(client, world, persona):
    signed_in(client, world, persona)
    for url in (reverse("home"), reverse("project-list")):
        r = client.get(url)
        if persona in ADMINS:
            assert r.status_code == 403
            continue
        assert r.status_code == 200
        body = r.content.decode()
        for key in PROJECTS:
            assert (getattr(world, key).name in body) == (key in SEES[persona]), (persona, key)
        assert ("新建项目" in body) == (persona in CREATORS)


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("key", PROJECTS)
def test_detail_tabs_follow_the_scope(client, world, persona, key):
    signed_in(client, world, persona)
    project = getattr(world, key)
    for tab in TABS:
        r = client.get(reverse(tab, args=[project.pk]))
        assert r.status_code == read_status(persona, key), (persona, key, tab)
        if r.status_code == 200:
            body = r.content.decode()
            assert project.name in body
            can_edit = key in EDITS.get(persona, set())
            assert (reverse("project-edit", args=[project.pk]) in body) == can_edit, (persona, key, tab)
            assert (reverse("project-delete", args=[project.pk]) in body) == (persona in DELETERS)


def test_overview_shows_the_fields(client, world):
    Phase.objects.create(number=7, name="第七期")
    domain.set_batch_membership(world.project_a, by=world.dispatcher, batch="sign", phase=Phase.objects.get())
    signed_in(client, world, "leader")
    body = client.get(reverse("project-detail", args=[world.project_a.pk])).content.decode()
    for text in [
        "联东U谷红旗科创园", "新乡联东实业有限公司", VALID_CREDIT_CODES[0], "先进制造业", "备案类", "区重点",
        "≥10亿", "15.00亿元", "150,000.00", "东街街道", "leader", "officer", "2026年3月1日", "2027年12月31日",
        "谋划储备", "正常推进", "签约一批", "第七期",
    ]:  # fmt: skip
        assert text in body, text
    assert "保存“三个一批”" not in body  # leaders read, they do not edit


def test_stage_tab_shows_the_timeline(client, world):
    signed_in(client, world, "leader")
    body = client.get(reverse("project-stages", args=[world.project_b.pk])).content.decode()
    assert "签约" in body and "建档" in body
    assert timezone.localdate().strftime("%Y年").lstrip("0") in body
    assert "确认变更" not in body


def test_history_shows_changes_readably(client, world):
    domain.update_project(
        world.project_a, by=world.dispatcher,
        data={"total_investment": Decimal("180000"), "planned_start": datetime.date(2026, 11, 26)},
    )  # fmt: skip
    signed_in(client, world, "enterprise")
    body = client.get(reverse("project-history", args=[world.project_a.pk])).content.decode()
    assert "总投资（万元）" in body
    assert "15.00亿元" in body and "18.00亿元" in body
    assert "2026年11月26日" in body and "2026年3月1日" in body
    assert "区重点项目建设服务中心" in body and "新建" in body and "修改" in body


# ---------------------------------------------------------------------------------------------
# Writing: create, edit, stage, approvals, "三个一批", delete


def create_data(world, persona: str, **changes) -> dict:
    user = getattr(world, persona)
    data = {
        "name": f"{persona}的新项目", "owner_name": "新乡测试有限公司", "industry": str(world.industry.pk),
        "project_type": "filing", "level": "district", "total_investment": "12345.67", "status": "normal",
        "responsible_unit": str(user.unit_id), "initial_stage": "planning", "stage_on": "2026-01-05",
    }  # fmt: skip
    data.update(changes)
    return data


@pytest.mark.parametrize("persona", PERSONAS)
def test_create_follows_roles(client, world, persona):
    signed_in(client, world, persona)
    allowed = persona in CREATORS
    r = client.get(reverse("project-create"))
    assert r.status_code == (200 if allowed else 403)
    r = client.post(reverse("project-create"), create_data(world, persona))
    created = Project.objects.filter(name=f"{persona}的新项目").first()
    if not allowed:
        assert r.status_code == 403 and created is None
        return
    assert created is not None, r.content.decode()[:2000]
    assert r.status_code == 302 and r["Location"] == reverse("project-detail", args=[created.pk])
    assert created.total_investment == Decimal("12345.67")
    assert created.stage_changed_on == datetime.date(2026, 1, 5)
    assert created.approvals.count() == 10  # the 备案类 checklist
    assert web_records(created, "create")
    assert client.get(r["Location"]).status_code == 200


def test_create_with_an_initial_stage_needs_its_dates(client, world):
    signed_in(client, world, "dispatcher")
    r = client.post(reverse("project-create"), create_data(world, "dispatcher", initial_stage="started"))
    assert r.status_code == 200
    assert "必须填写实际开工日期" in r.content.decode()
    r = client.post(
        reverse("project-create"), create_data(world, "dispatcher", initial_stage="started", actual_start="2026-01-05")
    )
    project = Project.objects.get(name="dispatcher的新项目")
    assert project.stage == Stage.STARTED and project.transitions.get().to_stage == Stage.STARTED


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("key", PROJECTS)
def test_edit_follows_the_matrix(client, world, persona, key):
    signed_in(client, world, persona)
    project = getattr(world, key)
    before = project.total_investment
    r = client.get(reverse("project-edit", args=[project.pk]))
    assert r.status_code == write_status(persona, key, ok=200)
    r = client.post(reverse("project-edit", args=[project.pk]), form_data(project, total_investment="99999.99"))
    assert r.status_code == write_status(persona, key), (persona, key)
    project.refresh_from_db()
    if r.status_code == 302:
        assert r["Location"] == reverse("project-detail", args=[project.pk])
        assert project.total_investment == Decimal("99999.99") and project.version == 2
        (record,) = web_records(project, "update")
        assert record.actor == getattr(world, persona)
        assert record.before == {"total_investment": str(before)}
        assert record.after == {"total_investment": "99999.99"}
        assert "项目信息已保存" in client.get(r["Location"]).content.decode()
    else:
        assert project.total_investment == before and project.version == 1
        assert not web_records(project, "update")


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("key", PROJECTS)
def test_delete_follows_the_matrix(client, world, persona, key):
    signed_in(client, world, persona)
    project = getattr(world, key)
    allowed = persona in DELETERS
    expected = 403 if persona in ADMINS else read_status(persona, key)
    if expected == 200 and not allowed:
        expected = 403
    r = client.get(reverse("project-delete", args=[project.pk]))
    assert r.status_code == expected
    r = client.post(reverse("project-delete", args=[project.pk]))
    assert r.status_code == (302 if expected == 200 else expected)
    assert Project.objects.filter(pk=project.pk).exists() == (expected != 200)
    if expected == 200:
        assert r["Location"] == reverse("project-list")
        (record,) = AuditRecord.objects.filter(project_id=project.pk, action="delete")
        assert record.channel == "web" and record.before["name"] == project.name


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("key", PROJECTS)
def test_stage_change_follows_the_matrix(client, world, persona, key):
    signed_in(client, world, persona)
    project = getattr(world, key)
    stage = project.stage
    today = timezone.localdate().isoformat()
    r = client.post(reverse("project-stages", args=[project.pk]), {"to_stage": "preparation", "happened_on": today})
    assert r.status_code == write_status(persona, key), (persona, key)
    project.refresh_from_db()
    if r.status_code == 302:
        assert project.stage == Stage.PREPARATION and project.stage_changed_on == timezone.localdate()
        assert project.transitions.last().recorded_by == getattr(world, persona)
        assert web_records(project, "transition")
    else:
        assert project.stage == stage and not web_records(project, "transition")


def approval_status(persona: str, key: str, item: ApprovalItem, world) -> int:
    if persona == "dept_officer" and key == "project_a" and item.department_id == world.resources.pk:
        return 302  # the department handles this approval of a project it does not own
    return write_status(persona, key)


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("key", PROJECTS)
def test_approval_edit_follows_the_matrix(client, world, persona, key):
    signed_in(client, world, persona)
    project = getattr(world, key)
    items = list(project.approvals.order_by("position"))
    assert len(items) > 2
    for item in items[:2]:
        expected = approval_status(persona, key, item, world)
        r = client.get(reverse("approval-edit", args=[project.pk, item.pk]))
        assert r.status_code == (200 if expected == 302 else expected), (persona, key, item.name)
        r = client.post(
            reverse("approval-edit", args=[project.pk, item.pk]),
            {"status": "done", "actual_date": "2026-02-03", "document_number": "红发改〔2026〕8号",
             "upload": SimpleUploadedFile("批复.pdf", PDF, content_type="application/pdf")},
        )  # fmt: skip
        assert r.status_code == expected, (persona, key, item.name)
        item.refresh_from_db()
        if expected == 302:
            assert item.status == ApprovalStatus.DONE and item.actual_date == datetime.date(2026, 2, 3)
            assert item.attachment_name == "批复.pdf" and item.attachment.name.endswith(".pdf")
            assert AuditRecord.objects.filter(object_type="approvalitem", object_id=str(item.pk), channel="web")
        else:
            assert item.status == ApprovalStatus.PENDING and not item.attachment


def test_dept_officer_sees_the_edit_button_only_on_its_approval(client, world):
    signed_in(client, world, "dept_officer")
    body = client.get(reverse("project-approvals", args=[world.project_a.pk])).content.decode()
    mine = world.project_a.approvals.get(department=world.resources)
    others = world.project_a.approvals.exclude(pk=mine.pk)
    assert reverse("approval-edit", args=[world.project_a.pk, mine.pk]) in body
    assert not any(reverse("approval-edit", args=[world.project_a.pk, o.pk]) in body for o in others)


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("key", PROJECTS)
def test_approval_file_download_follows_the_scope(client, world, persona, key):
    project = getattr(world, key)
    item = project.approvals.order_by("position").first()
    upload = SimpleUploadedFile("立项批复.pdf", PDF, content_type="application/pdf")
    domain.update_approval(item, by=world.dispatcher, data={}, upload=upload)
    signed_in(client, world, persona)
    r = client.get(reverse("approval-file", args=[project.pk, item.pk]))
    assert r.status_code == read_status(persona, key)
    if r.status_code == 200:
        assert r["Content-Disposition"].startswith("attachment;")
        assert "filename*=utf-8''%E7%AB%8B%E9%A1%B9%E6%89%B9%E5%A4%8D.pdf" in r["Content-Disposition"]
        assert b"".join(r.streaming_content) == PDF
    other = project.approvals.order_by("position").last()
    assert client.get(reverse("approval-file", args=[project.pk, other.pk])).status_code == (
        404 if persona not in ADMINS else 403
    )


def test_approval_file_of_another_project_is_not_found(client, world):
    item_b = world.project_b.approvals.first()
    domain.update_approval(item_b, by=world.dispatcher, data={}, upload=SimpleUploadedFile("b.pdf", PDF))
    signed_in(client, world, "town_officer")
    # The item belongs to project_b: asking for it under project_a (which the user sees) is 404.
    assert client.get(reverse("approval-file", args=[world.project_a.pk, item_b.pk])).status_code == 404


@pytest.mark.parametrize("persona", PERSONAS)
def test_batch_membership_follows_the_matrix(client, world, persona):
    phase = Phase.objects.create(number=9, name="第九期")
    signed_in(client, world, persona)
    project = world.project_a
    r = client.post(
        reverse("project-batches", args=[project.pk]), {"sign": str(phase.pk), "start": "", "commission": ""}
    )
    assert r.status_code == write_status(persona, "project_a")
    stored = BatchMembership.objects.filter(project=project, batch="sign", phase=phase).exists()
    assert stored == (r.status_code == 302)
    if stored:
        (record,) = web_records(project, "update")
        assert record.after == {"签约一批": "第九期"}
        r = client.post(reverse("project-batches", args=[project.pk]), {"sign": "", "start": "", "commission": ""})
        assert not BatchMembership.objects.filter(project=project).exists()


# ---------------------------------------------------------------------------------------------
# Bad input: a message at the field, nothing (half) saved, never a 500


def post_edit(client, world, project: Project | None = None, persona: str = "dispatcher", **changes):
    project = project or world.project_a
    signed_in(client, world, persona)
    return client.post(reverse("project-edit", args=[project.pk]), form_data(project, **changes))


def assert_unchanged(project: Project) -> None:
    version = project.version
    project.refresh_from_db()
    assert project.version == version
    assert not AuditRecord.objects.filter(project_id=project.pk, action__in=["update", "override"]).exists()


def test_malformed_credit_code_needs_a_reason(client, world):
    r = post_edit(client, world, owner_credit_code="91350200776049653B")
    assert r.status_code == 400
    body = r.content.decode()
    assert "统一社会信用代码校验位（第18位）不正确" in body and "请填写保存理由" in body
    assert_unchanged(world.project_a)
    assert world.project_a.owner_credit_code == VALID_CREDIT_CODES[0]

    r = post_edit(client, world, owner_credit_code="91350200776049653b", owner_credit_override="营业执照原件如此")
    assert r.status_code == 302
    world.project_a.refresh_from_db()
    assert world.project_a.owner_credit_code == "91350200776049653B"
    (override,) = AuditRecord.objects.filter(project_id=world.project_a.pk, action="override")
    assert override.reason == "营业执照原件如此" and override.channel == "web"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"code": "2601-410702-04-01-12345"}, "项目代码应为24位"),
        ({"code": "2613-410702-04-01-123456"}, "月份不正确"),
        ({"total_investment": "-5"}, "总投资必须大于0"),
        ({"total_investment": "abc"}, "输入一个数字"),
        ({"total_investment": "1.234"}, "确认小数不超过 2 位"),
        ({"planned_start": "2027-01-01", "planned_end": "2026-12-31"}, "计划竣工日期不能早于计划开工日期"),
        ({"planned_start": "2026-02-30"}, "输入一个有效的日期"),
        ({"latitude": "35.3"}, "经度和纬度需同时填写"),
        ({"name": ""}, "这个字段是必填项"),
        ({"industry": "999999"}, "选择一个有效的选项"),
        ({"level": "nation"}, "选择一个有效的选项"),
        ({"version": "abc"}, "输入整数"),
    ],
)
def test_bad_project_input_is_refused(client, world, changes, message):
    r = post_edit(client, world, **changes)
    assert r.status_code == 400
    assert message in r.content.decode()
    assert_unchanged(world.project_a)


def test_duplicate_project_code_is_refused(client, world):
    code = "2601-410702-04-01-123456"
    domain.update_project(world.project_b, by=world.dispatcher, data={"code": code})
    r = post_edit(client, world, code=code)
    assert r.status_code == 400
    assert "项目代码" in r.content.decode() and "已存在" in r.content.decode()
    assert_unchanged(world.project_a)
    assert world.project_a.code is None


def test_forged_responsible_unit_is_refused(client, world):
    r = post_edit(client, world, persona="town_officer", responsible_unit=str(world.hongmen.pk))
    assert r.status_code == 400
    assert "选择一个有效的选项" in r.content.decode()
    assert_unchanged(world.project_a)
    assert world.project_a.responsible_unit == world.dongjie
    # A unit below the officer's own is fine.
    r = post_edit(client, world, persona="town_officer", responsible_unit=str(world.dongjie_office.pk))
    assert r.status_code == 302
    world.project_a.refresh_from_db()
    assert world.project_a.responsible_unit == world.dongjie_office


def test_forged_unit_on_create_is_refused(client, world):
    signed_in(client, world, "town_officer")
    data = create_data(world, "town_officer", responsible_unit=str(world.hongmen.pk))
    r = client.post(reverse("project-create"), data)
    assert r.status_code == 200 and "选择一个有效的选项" in r.content.decode()
    data = create_data(world, "town_officer", town=str(world.company_a.pk))  # a company is no town
    r = client.post(reverse("project-create"), data)
    assert "选择一个有效的选项" in r.content.decode()
    assert not Project.objects.filter(name="town_officer的新项目").exists()


def test_stale_version_is_a_conflict(client, world):
    project = world.project_a
    stale = form_data(project, total_investment="160000")
    domain.update_project(project, by=world.leader, data={"name": "联东U谷红旗科创园（一期）"})
    signed_in(client, world, "dispatcher")
    r = client.post(reverse("project-edit", args=[project.pk]), stale)
    assert r.status_code == 409
    body = r.content.decode()
    assert "该项目已被他人修改，请刷新后重新编辑" in body
    assert 'value="160000"' in body  # the user's input is kept
    project.refresh_from_db()
    assert project.total_investment == Decimal("150000.00") and project.name == "联东U谷红旗科创园（一期）"
    assert AuditRecord.objects.filter(project_id=project.pk, action="update").count() == 1


def test_unchanged_edit_saves_nothing(client, world):
    r = post_edit(client, world)
    assert r.status_code == 302
    assert_unchanged(world.project_a)


def test_stage_jump_without_dates_is_refused(client, world):
    signed_in(client, world, "dispatcher")
    project = world.project_a
    r = client.post(
        reverse("project-stages", args=[project.pk]),
        {"to_stage": "completed", "happened_on": timezone.localdate().isoformat()},
    )
    assert r.status_code == 400
    body = r.content.decode()
    assert "必须填写实际开工日期" in body and "必须填写实际竣工日期" in body
    project.refresh_from_db()
    assert project.stage == Stage.PLANNING and project.transitions.count() == 1
    assert not AuditRecord.objects.filter(project_id=project.pk, action="transition").exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"to_stage": "signed", "happened_on": "2026-13-45"}, "输入一个有效的日期"),
        ({"to_stage": "signed", "happened_on": "2999-01-01"}, "不能晚于今天"),
        ({"to_stage": "nowhere", "happened_on": "2026-01-01"}, "选择一个有效的选项"),
        ({"to_stage": "planning", "happened_on": "2026-01-01"}, "项目已处于该阶段"),
        ({"to_stage": "signed", "happened_on": "1999-01-01"}, "不能早于上一次变更"),
    ],
)
def test_bad_stage_input_is_refused(client, world, data, message):
    signed_in(client, world, "dispatcher")
    r = client.post(reverse("project-stages", args=[world.project_a.pk]), data)
    assert r.status_code == 400
    assert message in r.content.decode()
    world.project_a.refresh_from_db()
    assert world.project_a.stage == Stage.PLANNING


def test_stage_back_needs_a_reason(client, world):
    signed_in(client, world, "dispatcher")
    url = reverse("project-stages", args=[world.project_b.pk])
    today = timezone.localdate().isoformat()
    r = client.post(url, {"to_stage": "planning", "happened_on": today})
    assert r.status_code == 400 and "阶段回退必须说明理由" in r.content.decode()
    r = client.post(url, {"to_stage": "planning", "happened_on": today, "note": "签约主体变更"})
    assert r.status_code == 302
    world.project_b.refresh_from_db()
    assert world.project_b.stage == Stage.PLANNING


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("setup.exe", b"MZ\x90\x00", "只能上传"),
        ("批复.pdf.exe", b"MZ\x90\x00", "只能上传"),
        ("noextension", b"%PDF-1.4", "只能上传"),
        ("fake.pdf", b"MZ\x90\x00 not a pdf", "文件内容与扩展名"),
        ("empty.png", b"", "空文件"),
    ],
)
def test_bad_uploads_are_refused(client, world, name, content, message):
    signed_in(client, world, "dispatcher")
    item = world.project_a.approvals.first()
    r = client.post(
        reverse("approval-edit", args=[world.project_a.pk, item.pk]),
        {"status": "in_progress", "upload": SimpleUploadedFile(name, content)},
    )
    assert r.status_code == 400
    assert message in r.content.decode()
    item.refresh_from_db()
    assert item.status == ApprovalStatus.PENDING and not item.attachment


def test_oversized_upload_is_refused(client, world, settings):
    settings.ATTACHMENT_MAX_BYTES = 1024
    signed_in(client, world, "dispatcher")
    item = world.project_a.approvals.first()
    big = SimpleUploadedFile("big.pdf", PDF + b"0" * 2048)
    r = client.post(reverse("approval-edit", args=[world.project_a.pk, item.pk]), {"status": "pending", "upload": big})
    assert r.status_code == 400 and "文件大小不能超过" in r.content.decode()
    item.refresh_from_db()
    assert not item.attachment


def test_approval_done_needs_its_date(client, world):
    signed_in(client, world, "dispatcher")
    item = world.project_a.approvals.first()
    r = client.post(reverse("approval-edit", args=[world.project_a.pk, item.pk]), {"status": "done"})
    assert r.status_code == 400 and "必须填写实际办结日期" in r.content.decode()
    item.refresh_from_db()
    assert item.status == ApprovalStatus.PENDING


@pytest.mark.parametrize(
    "path",
    [
        "/projects/999999/",
        "/projects/99999999999999999999999999/",
        "/projects/abc/",
        "/projects/-1/",
        "/projects/999999/edit/",
        "/projects/{a}/approvals/999999/",
        "/projects/{a}/approvals/999999/file/",
        "/projects/{a}/approvals/99999999999999999999999999/",
    ],
)
def test_bad_ids_are_not_found(client, world, path):
    signed_in(client, world, "dispatcher")
    r = client.get(path.format(a=world.project_a.pk))
    assert r.status_code == 404


def test_file_of_an_item_without_upload_is_not_found(client, world):
    signed_in(client, world, "dispatcher")
    item = world.project_a.approvals.first()
    assert client.get(reverse("approval-file", args=[world.project_a.pk, item.pk])).status_code == 404


@pytest.mark.parametrize(
    "query",
    [
        "?page=abc", "?page=99999", "?page=-1", "?page=0", "?page=1.5",
        "?stage=bogus", "?town=abc", "?town=999999", "?size_band=x&industry=-3", "?sort=evil",
        "?q=" + "长" * 300, "?phase=1&batch=nope", "?responsible_unit=99999999999999999999999",
    ],
)  # fmt: skip
def test_bad_list_queries_never_fail(client, world, query):
    signed_in(client, world, "dispatcher")
    r = client.get(reverse("project-list") + query)
    assert r.status_code == 200
    assert world.project_a.name in r.content.decode()


def test_invalid_filter_shows_a_field_message(client, world):
    signed_in(client, world, "dispatcher")
    body = client.get(reverse("project-list") + "?stage=bogus").content.decode()
    assert "筛选条件有误" in body and "选择一个有效的选项" in body and "is-invalid" in body


def test_list_filters(client, world):
    signed_in(client, world, "dispatcher")
    body = client.get(reverse("project-list"), {"town": world.hongmen.pk}).content.decode()
    assert world.project_b.name in body and world.project_a.name not in body
    body = client.get(reverse("project-list"), {"q": "联东"}).content.decode()
    assert world.project_a.name in body and world.project_b.name not in body
    # htmx asks for the results only
    r = client.get(reverse("project-list"), {"stage": "signed"}, headers={"HX-Request": "true"})
    body = r.content.decode()
    assert body.lstrip().startswith('<section id="kp-results"') and "<html" not in body
    assert world.project_b.name in body and world.project_a.name not in body
    assert "HX-Request" in r["Vary"]


def test_list_shows_the_columns(client, world):
    signed_in(client, world, "dispatcher")
    body = client.get(reverse("project-list")).content.decode()
    expected = ["150,000.00", "8,000.00", "≥10亿", "1亿以下", "区重点", "谋划储备", "签约", "正常推进", "2026年3月1日"]
    for text in expected:
        assert text in body, text


def test_list_paginates_and_keeps_the_query(client, world):
    for i in range(30):
        domain.create_project(
            by=world.dispatcher,
            data=dict(name=f"分页项目{i:02d}", owner_name="某公司", industry=world.industry, project_type="filing",
                      total_investment=Decimal("1000"), town=world.hongmen, responsible_unit=world.hongmen),
        )  # fmt: skip
    signed_in(client, world, "dispatcher")
    body = client.get(reverse("project-list"), {"town": world.hongmen.pk}).content.decode()
    assert "共 31 个项目" in body
    assert f"?town={world.hongmen.pk}&amp;page=2" in body
    body = client.get(reverse("project-list"), {"town": world.hongmen.pk, "page": 2}).content.decode()
    assert "第 2 / 2 页" in body and body.count("分页项目") == 5 and world.project_b.name in body


def test_list_query_count_does_not_grow(client, world, django_assert_max_num_queries):
    signed_in(client, world, "town_officer")
    client.get(reverse("project-list"))  # warm up (session, content types)
    with CaptureQueriesContext(connection) as small:
        assert client.get(reverse("project-list")).status_code == 200
    for i in range(30):
        domain.create_project(
            by=world.dispatcher,
            data=dict(name=f"批量项目{i:02d}", owner_name="某公司", industry=world.industry, project_type="filing",
                      total_investment=Decimal(1000 + i), town=world.dongjie, responsible_unit=world.dongjie,
                      planned_start=datetime.date(2026, 5, 1)),
        )  # fmt: skip
    with django_assert_max_num_queries(len(small.captured_queries)):
        r = client.get(reverse("project-list"))
    assert r.content.decode().count("批量项目") == 25  # a full page
    assert len(small.captured_queries) <= 20


def test_refused_pages_answer_403_for_admin_roles(client, world):
    signed_in(client, world, "auditor")
    r = client.get(reverse("project-list"))
    assert r.status_code == 403 and "无权访问" in r.content.decode()


def test_chinese_is_the_default_whatever_the_browser_asks(client, db):
    r = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    assert r.status_code == 200 and "登录" in r.content.decode()
    client.cookies["django_language"] = "en"
    assert "Sign in" in client.get("/accounts/login/").content.decode()
