"""`manage.py seed_demo`: the demo district 红旗区, its calibration, consistency and idempotency.

The district is seeded once per test class inside a transaction that is rolled back afterwards;
each test runs in a savepoint inside it (the `db` fixture), so tests may change data freely.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import transaction
from django.http import HttpRequest
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from keyprojects.audit.models import AuditRecord
from keyprojects.lib.credit_code import is_valid_credit_code
from keyprojects.org import demo_data as D
from keyprojects.org.management.commands import seed_demo
from keyprojects.org.models import Region, Role, Unit, User, UserRole
from keyprojects.problems import clock
from keyprojects.problems.domain import TASK_SOURCES
from keyprojects.problems.models import OPEN_STATUSES, Problem, ProblemEvent, Source
from keyprojects.problems.models import Status as ProblemStatus
from keyprojects.projects.demo_portfolio import plan_district
from keyprojects.projects.models import (
    ApprovalItem,
    ApprovalStatus,
    ApprovalTemplateItem,
    Batch,
    BatchMembership,
    Level,
    Phase,
    Project,
    Stage,
    StageTransition,
)
from keyprojects.visits.figures import Month, officer_figures
from keyprojects.visits.models import (
    ORIGIN_SITE_VISIT,
    Instruction,
    Meeting,
    OfficerPairing,
    OfficerVisit,
    OriginLink,
    PolicyPush,
    SiteVisit,
)

FAST_HASHER = ["django.contrib.auth.hashers.MD5PasswordHasher"]
COUNTED = [Region, Unit, User, UserRole, Phase, Project, StageTransition, ApprovalItem, BatchMembership, AuditRecord]
DEMO_ROLES = {
    "demo_dispatcher": Role.DISPATCHER,
    "demo_leader": Role.LEADER,
    "demo_unit": Role.UNIT_OFFICER,
    "demo_dept": Role.UNIT_OFFICER,
    "demo_officer": Role.SERVICE_OFFICER,
    "demo_enterprise": Role.ENTERPRISE,
    "demo_sysadmin": Role.SYSADMIN,
    "demo_secadmin": Role.SECADMIN,
    "demo_auditor": Role.AUDITOR,
}
BATCH_STAGE = {Batch.SIGN: Stage.SIGNED, Batch.START: Stage.STARTED, Batch.COMMISSION: Stage.COMMISSIONED}


def run_seed(*args: str) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in COUNTED}


@pytest.fixture(scope="class")
def seeded(django_db_setup, django_db_blocker):
    """The full demo district, seeded once for the class and rolled back at its end."""
    with django_db_blocker.unblock(), override_settings(PASSWORD_HASHERS=FAST_HASHER, DEMO_MODE=True):
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            yield run_seed()
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


@pytest.fixture
def small_plan(monkeypatch):
    """Seed only a handful of the planned projects (for the tests that start from an empty database)."""
    monkeypatch.setattr(seed_demo, "plan_district", lambda today=None: plan_district(today)[:6])


@pytest.mark.usefixtures("seeded", "db")
class TestDistrict:
    def test_a_second_run_changes_nothing(self):
        before = counts()
        output = run_seed()
        assert counts() == before
        assert "无需变更" in output
        assert Project.objects.values("name").distinct().count() == Project.objects.count() == 200

    def test_if_empty_does_nothing_when_projects_exist(self):
        before = counts()
        assert "跳过" in run_seed("--if-empty")
        assert counts() == before

    def test_region_tree_and_units(self):
        district = Region.objects.get(code="410702")
        assert (district.name, district.parent.code, district.parent.parent.code) == ("红旗区", "410700", "410000")
        townships = Region.objects.filter(parent=district, level=Region.Level.TOWNSHIP)
        assert townships.count() == 8
        assert "高新区" in townships.get(name="关堤乡").note
        assert Unit.objects.filter(kind=Unit.Kind.TOWN).count() == 8
        assert Unit.objects.filter(kind=Unit.Kind.DEPARTMENT).count() == len(D.DEPARTMENTS) >= 20
        assert Unit.objects.get(short_name="红开区管委会").kind == Unit.Kind.DEPARTMENT
        assert Unit.objects.filter(kind=Unit.Kind.SERVICE_CENTER).count() == 1
        government = Unit.objects.get(short_name="区政府")
        assert Unit.objects.get(short_name="东街街道").path.startswith(government.path)

    def test_approval_templates_are_linked_to_departments(self):
        assert not ApprovalTemplateItem.objects.filter(department=None).exists()
        expect = {"项目备案": "区发改委", "用地预审与选址意见书": "自然资源和规划分局", "环评批复": "生态环境分局",
                  "水土保持方案": "区农业农村局", "施工许可证": "区城建局", "联合验收": "区城建局"}  # fmt: skip
        for name, short in expect.items():
            assert {str(i.department) for i in ApprovalTemplateItem.objects.filter(name=name)} == {short}

    def test_size_bands_match_the_2022_plan(self):
        amounts = list(Project.objects.values_list("total_investment", flat=True))
        assert len(amounts) == 200
        assert sum(a >= Decimal(10000) for a in amounts) == 196
        assert sum(a >= Decimal(100000) for a in amounts) == 89
        assert sum(a >= Decimal(500000) for a in amounts) == 5
        assert all(a == a.quantize(Decimal("0.01")) for a in amounts)

    def test_levels_stages_and_statuses_are_spread(self):
        levels = {lvl: Project.objects.filter(level=lvl).count() for lvl in Level.values}
        assert levels[Level.DISTRICT] > levels[Level.CITY] > levels[Level.PROVINCE] > 0
        assert levels[Level.PROVINCE] + levels[Level.CITY] >= 89
        assert set(Project.objects.values_list("stage", flat=True)) == set(Stage.values)
        statuses = list(Project.objects.values_list("status", flat=True))
        assert statuses.count("normal") > len(statuses) * 0.7
        assert {"behind", "stopped", "paused"} <= set(statuses)

    def test_89_service_officers_each_paired_with_one_key_project(self):
        officers = User.objects.filter(roles__role=Role.SERVICE_OFFICER)
        assert officers.count() == 89
        paired = set()
        for officer in officers:
            projects = list(officer.served_projects.all())
            assert len(projects) == 1, officer
            assert projects[0].level in (Level.PROVINCE, Level.CITY)
            assert officer.unit.kind in (Unit.Kind.SERVICE_CENTER, Unit.Kind.DEPARTMENT)
            paired.add(projects[0].pk)
        assert len(paired) == 89
        assert not Project.objects.filter(level=Level.DISTRICT).exclude(service_officer=None).exists()

    def test_leaders_are_responsible_for_projects(self):
        leaders = User.objects.filter(roles__role=Role.LEADER)
        assert {u.title for u in leaders} >= {"区委书记", "区委副书记、区长", "区委常委、常务副区长"}
        assert not Project.objects.filter(responsible_leader=None).exists()
        assert Project.objects.values("responsible_leader").distinct().count() >= 5

    def test_enterprises_have_valid_credit_codes(self):
        enterprises = Unit.objects.filter(kind=Unit.Kind.ENTERPRISE)
        assert enterprises.count() >= 100
        for unit in enterprises:
            assert is_valid_credit_code(unit.credit_code), unit
            assert unit.credit_code.startswith("91410702")
        for project in Project.objects.select_related("owner_unit"):
            assert project.owner_unit.name == project.owner_name
            assert project.owner_credit_code == project.owner_unit.credit_code
            assert project.owner_credit_override == ""

    def test_every_project_is_valid_and_consistent(self):
        towns = {t.unit_name: t for t in D.TOWNS}
        for project in Project.objects.select_related("town", "responsible_unit", "owner_unit"):
            project.full_clean()
            order = Stage.order(project.stage)
            assert (project.actual_start is not None) == (order >= Stage.order(Stage.STARTED)), project
            assert (project.actual_end is not None) == (order >= Stage.order(Stage.COMPLETED)), project
            history = list(project.transitions.order_by("happened_on", "id"))
            assert [t.to_stage for t in history] == Stage.values[: order + 1], project
            assert [t.from_stage for t in history] == ["", *Stage.values[:order]]
            days = [t.happened_on for t in history]
            assert days == sorted(days) and len(set(days)) == len(days)
            assert project.stage_changed_on == days[-1]
            if project.actual_start:
                assert project.actual_start == history[Stage.order(Stage.STARTED)].happened_on
            if project.actual_end:
                assert project.actual_end == history[Stage.order(Stage.COMPLETED)].happened_on
            town = towns[project.town.name]
            assert abs(project.latitude - Decimal(town.lat)) <= Decimal("0.01")
            assert abs(project.longitude - Decimal(town.lng)) <= Decimal("0.01")

    def test_approvals_follow_the_stage(self):
        statuses = set()
        for project in Project.objects.prefetch_related("approvals"):
            items = {a.name: a for a in project.approvals.all()}
            for item in items.values():
                item.clean()  # the model's rules (the foreign keys are the database's business)
                statuses.add(item.status)
                if item.status == ApprovalStatus.DONE:
                    assert item.document_number and item.actual_date <= timezone.localdate(), item
            permit, acceptance = items["施工许可证"], items["联合验收"]
            if project.actual_start:
                assert permit.status == ApprovalStatus.DONE and permit.actual_date < project.actual_start
            else:
                assert permit.status != ApprovalStatus.DONE
            assert (acceptance.status == ApprovalStatus.DONE) == (project.actual_end is not None)
        assert statuses == set(ApprovalStatus.values)
        assert ApprovalItem.objects.filter(document_number__regex=r"^红发改备〔20[0-9]{2}〕[0-9]+号$").exists()

    def test_three_batches_are_consistent_with_the_timeline(self):
        phases = Phase.objects.order_by("number")
        assert phases.first().number == 7 and phases.first().held_on.isoformat() == "2023-01-10"
        assert str(phases.get(number=13)) == "第十三期"
        for phase in phases:
            assert 5 <= phase.memberships.count() <= 12, phase
        for member in BatchMembership.objects.select_related("project", "phase"):
            entered = member.project.transitions.get(to_stage=BATCH_STAGE[member.batch]).happened_on
            assert entered == member.phase.held_on
        wisdom = Project.objects.get(name="市智慧岛数字经济产业园")
        assert wisdom.actual_start.isoformat() == "2024-04-10"
        assert wisdom.memberships.get(batch=Batch.START).phase.number == 12

    def test_demo_users_have_their_roles_and_sign_in(self, client):
        for username, role in DEMO_ROLES.items():
            user = User.objects.get(username=username)
            assert user.role_set == {role}, username
            assert user.is_demo
            assert client.login(request=HttpRequest(), username=username, password="Demo@2026!"), username
        assert User.objects.get(username="demo_unit").unit.short_name == "东街街道"
        assert User.objects.get(username="demo_dept").unit.short_name == "自然资源和规划分局"
        assert User.objects.get(username="demo_dispatcher").unit.kind == Unit.Kind.SERVICE_CENTER
        assert User.objects.get(username="demo_leader").title == "区委副书记、区长"
        officer = User.objects.get(username="demo_officer")
        assert officer.served_projects.count() == 1
        enterprise = User.objects.get(username="demo_enterprise")
        assert enterprise.unit.kind == Unit.Kind.ENTERPRISE and enterprise.unit.owned_projects.exists()

    def test_every_seeded_account_is_a_demo_account_without_a_usable_password(self):
        assert not User.objects.filter(is_demo=False).exists()
        others = User.objects.exclude(username__startswith="demo_")
        assert others.count() > 100
        assert not any(u.has_usable_password() for u in others)

    def test_the_audit_trail_records_the_seed(self):
        records = AuditRecord.objects.all()
        assert set(records.values_list("channel", flat=True)) == {"command"}
        created = records.filter(object_type="project", action=AuditRecord.Action.CREATE).exclude(object_id="bulk")
        assert created.values("project_id").distinct().count() == 200
        assert (
            records.filter(object_type="project", action=AuditRecord.Action.TRANSITION).count()
            == Project.objects.exclude(stage=Stage.PLANNING).count()
        )
        for object_type in ("region", "unit", "user", "phase", "approvaltemplateitem"):
            assert records.filter(object_type=object_type, object_id="seed_demo").exists(), object_type

    # -- supervision: pairings, logs, site visits, meetings, instructions, problems (keyprojects/visits/demo.py)

    def test_every_service_officer_has_a_pairing_matching_the_project(self):
        pairings = list(OfficerPairing.objects.select_related("project"))
        assert len(pairings) == 89
        for pairing in pairings:
            assert pairing.project.service_officer_id == pairing.officer_id
            assert pairing.project.level in (Level.PROVINCE, Level.CITY)
            assert pairing.is_active_on(timezone.localdate()) and pairing.roles.count() == 4
        assert Project.objects.exclude(service_officer=None).count() == 89

    def test_most_officers_visited_this_month_and_a_few_did_not(self):
        today = timezone.localdate()
        month = Month.of(today)
        officers = [p.officer_id for p in OfficerPairing.objects.all()]
        figures = officer_figures(officers, month)
        idle = [pk for pk in officers if figures[pk].visits == 0]
        assert 3 <= len(idle) <= 10
        assert User.objects.get(username="demo_officer").pk not in idle
        assert not OfficerVisit.objects.filter(visited_on__gt=today).exists()
        for visit in OfficerVisit.objects.select_related("project")[:300]:
            assert visit.project.service_officer_id == visit.officer_id
        assert PolicyPush.objects.count() > 89
        relayed = Problem.objects.filter(source=Source.SERVICE_OFFICER)
        assert relayed.count() >= 10 and all(p.origin_link.officer_visit_id for p in relayed)

    def test_about_150_problems_over_the_year_in_every_state(self):
        today = timezone.localdate()
        problems = Problem.objects.all()
        assert 130 <= problems.count() <= 190
        assert set(problems.values_list("status", flat=True)) == set(ProblemStatus.values)
        assert set(problems.values_list("source", flat=True)) == set(Source.values)
        first = problems.order_by("received_on").first().received_on
        assert today - datetime.timedelta(days=366) <= first < today - datetime.timedelta(days=300)
        assert problems.order_by("-received_on").first().received_on < today
        overdue = problems.filter(status__in=OPEN_STATUSES, current_due__lt=today)
        assert overdue.count() >= 5
        assert overdue.filter(escalation_level__gte=1).exists()
        assert problems.filter(supervised=True).exists() and problems.filter(reopen_count__gt=0).exists()

    def test_problems_were_made_by_the_domain_functions_on_a_consistent_clock(self):
        cfg = clock.load_config()
        for problem in Problem.objects.prefetch_related("events"):
            events = list(problem.events.all())
            assert events[0].kind == ProblemEvent.Kind.RAISED, problem
            assert [e.at for e in events] == sorted(e.at for e in events), problem
            assert timezone.localdate(events[0].at) == problem.received_on
            assert AuditRecord.objects.filter(
                object_type="problem", object_id=str(problem.pk), action="create"
            ).exists()
            if problem.status == ProblemStatus.NEW:
                assert problem.assigned_on is None
                continue
            if problem.source not in TASK_SOURCES:
                due = clock.deadlines(problem.assigned_on, problem.severity, cfg)
                assert (problem.deploy_due, problem.feedback_due) == (due.deploy, due.feedback), problem
                if not problem.reopen_count:
                    assert problem.resolve_due == due.resolve, problem
            assert problem.next_action_at == clock.next_action_at(problem, cfg), problem
            if problem.status in OPEN_STATUSES and problem.next_action_at is not None:
                assert problem.next_action_at > timezone.now()  # the worker has nothing left to do
        # Every step's event is there, in order, as the worker would have written it.
        assert ProblemEvent.objects.filter(kind=ProblemEvent.Kind.ESCALATED).exists()
        assert ProblemEvent.objects.filter(kind=ProblemEvent.Kind.REMINDER).exists()
        assert not ProblemEvent.objects.filter(processed_at__isnull=True).exists()

    def test_site_visits_meetings_and_instructions_have_their_demands_and_tasks(self):
        assert 15 <= SiteVisit.objects.count() <= 25
        assert Meeting.objects.count() == 12 and Meeting.objects.filter(kind=Meeting.Kind.WEEKLY).count() >= 9
        assert Instruction.objects.count() == 8
        for visit in SiteVisit.objects.prefetch_related("links__problem", "leaders", "projects"):
            kinds = {link.kind for link in visit.links.all()}
            assert OriginLink.Kind.DEMAND in kinds and OriginLink.Kind.DECISION in kinds, visit
            assert visit.leaders.exists() and visit.projects.exists()
            for link in visit.links.all():
                assert (link.problem.origin_type, link.problem.origin_id) == (ORIGIN_SITE_VISIT, visit.pk)
                if link.kind == OriginLink.Kind.DECISION:
                    assert link.problem.resolve_due and link.problem.lead_unit_id
        for meeting in Meeting.objects.prefetch_related("links__problem"):
            assert meeting.links.exists() and meeting.chair.has_role(Role.LEADER)
            for link in meeting.links.all():
                assert link.problem.source == Source.WEEKLY_MEETING and link.problem.assigned_on >= meeting.held_on

    def test_the_supervision_pages_render_for_the_demo_accounts(self, client):
        client.force_login(User.objects.get(username="demo_dispatcher"))
        for name in ("visit-list", "meeting-list", "instruction-list", "officer-list"):
            assert client.get(reverse(name)).status_code == 200, name
        visit = SiteVisit.objects.first()
        assert client.get(reverse("visit-detail", args=[visit.pk])).status_code == 200
        officer = User.objects.get(username="demo_officer")
        client.force_login(officer)
        body = client.get(reverse("officer-detail", args=[officer.pk])).content.decode()
        assert "登记走访" in body and "走访记录" in body

    def test_projects_option_tops_up_to_the_target(self):
        output = run_seed("--projects", "300")
        assert Project.objects.count() == 300
        assert "批量生成" in output
        bulk = AuditRecord.objects.get(object_id="bulk")
        assert bulk.after["项目"] == 100 and bulk.channel == "command"
        for project in Project.objects.filter(name__contains="批量")[:20]:
            project.full_clean()
            assert project.transitions.count() == project.stage_order + 1
            assert project.approvals.exists()
        before = counts()
        run_seed("--projects", "300")
        assert counts() == before


@override_settings(DEMO_MODE=False)
def test_without_demo_mode_no_demo_accounts_are_created(db, small_plan):
    output = run_seed()
    assert "拒绝创建演示账号" in output
    assert not User.objects.filter(username__startswith="demo_").exists()
    assert Project.objects.count() == 6 and Unit.objects.filter(kind=Unit.Kind.TOWN).count() == 8
    assert not any(u.has_usable_password() for u in User.objects.all())
    officers = User.objects.filter(roles__role=Role.SERVICE_OFFICER).count()
    with override_settings(DEMO_MODE=True):
        run_seed()
    # Turning demo mode on later: the district's 区长 becomes demo_leader, nobody is duplicated.
    assert User.objects.filter(title="区委副书记、区长").get().username == "demo_leader"
    assert User.objects.filter(roles__role=Role.SERVICE_OFFICER).count() == officers
    assert set(User.objects.filter(username__startswith="demo_").values_list("username", flat=True)) == set(DEMO_ROLES)


def test_if_empty_seeds_an_empty_database(db, small_plan):
    run_seed("--if-empty")
    assert Project.objects.count() == 6
