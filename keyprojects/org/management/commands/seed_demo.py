"""Build the demo district 红旗区: regions, units, people, ~200 key projects; optionally a big portfolio.

    manage.py seed_demo                  # the district (idempotent: a second run changes nothing)
    manage.py seed_demo --if-empty       # only when the project library is empty (used by `make run`)
    manage.py seed_demo --projects 50000 # then top the library up to 50,000 projects (bulk, benchmarks)

Everything is audited under the "command" channel. Projects are created and put on "三个一批" lists
through the domain functions (their own audit records); each project's stage history and approval
states are written in one step with one audit record per project; regions, units, accounts and the
bulk portfolio get one summary record per batch. Demo accounts (password Demo@2026!) are created only
when settings.DEMO_MODE is on; every other seeded account has an unusable password.
"""

from __future__ import annotations

import datetime
import functools
import itertools
import random
import time
from collections import Counter

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from keyprojects.audit.models import AuditRecord
from keyprojects.audit.trail import record
from keyprojects.lib import context
from keyprojects.org import demo_data as D
from keyprojects.org.models import Region, Role, Unit, User, UserRole
from keyprojects.projects import domain
from keyprojects.projects.demo_portfolio import (
    ProjectPlan,
    approval_states,
    bulk_portfolio,
    chinese_number,
    owner_credit_code,
    phase_dates,
    plan_district,
)
from keyprojects.projects.models import (
    ApprovalItem,
    ApprovalTemplateItem,
    FinancingModel,
    Industry,
    Phase,
    Project,
    Stage,
    StageTransition,
)
from keyprojects.rollups.cache import TOPICS, bump, deferred_bumps


def summary_record(object_type: str, label: str, names: list[str]) -> None:
    """One audit record for a batch of rows the seed created outside the domain functions."""
    ctx = context.current()
    AuditRecord.objects.create(
        actor=None,
        actor_name="system",
        channel=ctx.channel,
        request_id=ctx.request_id,
        object_type=object_type,
        object_id="seed_demo",
        object_repr=f"seed_demo 创建{label} {len(names)} 个",
        action=AuditRecord.Action.CREATE,
        after={label: names[:500], "数量": len(names)},
        reason="seed_demo",
    )


class DistrictSeeder:
    """Creates what is missing of the demo district; never changes or duplicates what exists."""

    def __init__(self, *, demo: bool, log=print):
        self.demo = demo
        self.log = log
        self.today = timezone.localdate()
        self.units: dict[str, Unit] = {}  # by spec key (leadership, departments, towns)
        self.users: dict[str, User] = {}  # by person key
        self.created: Counter = Counter()

    @functools.cached_property
    def _demo_hash(self) -> str:
        """One hash shared by the demo accounts (hashing is slow by design; done only when needed)."""
        return make_password(D.DEMO_PASSWORD)

    @transaction.atomic
    def run(self) -> Counter:
        self.plans = plan_district(self.today)
        self.seed_regions()
        self.seed_units()
        self.link_approval_templates()
        self.seed_phases()
        self.seed_enterprises()
        self.seed_people()
        self.seed_projects()
        from keyprojects.visits import demo as supervision_demo  # pairings, visits, meetings, problems

        self.created.update(supervision_demo.seed(self))
        from keyprojects.progress import demo as progress_demo  # annual plans and monthly reports

        self.created.update(progress_demo.seed(self))
        from keyprojects.funding import demo as funding_demo  # funding lines, approval measures, registries

        self.created.update(funding_demo.seed(self))
        from keyprojects.evaluation import demo as evaluation_demo  # observation tours, evaluation schemes

        self.created.update(evaluation_demo.seed(self))
        from keyprojects.bulletins import demo as bulletins_demo  # a year of issued 日通报…年底总评 (after evaluation)

        self.created.update(bulletins_demo.seed(self))
        return self.created

    # -- regions and units -----------------------------------------------------------------

    def seed_regions(self) -> None:
        made = []
        specs = [
            *D.REGIONS,
            *(D.RegionSpec(t.code, t.name, "township", "410702", t.lat, t.lng, t.note) for t in D.TOWNS),
        ]
        for spec in specs:
            _, created = Region.objects.get_or_create(
                code=spec.code,
                defaults=dict(
                    name=spec.name,
                    level=spec.level,
                    note=spec.note,
                    latitude=spec.lat,
                    longitude=spec.lng,
                    parent=Region.objects.get(code=spec.parent) if spec.parent else None,
                ),
            )
            if created:
                made.append(f"{spec.code} {spec.name}")
        self.district = Region.objects.get(code="410702")
        self._summarise("region", "行政区划", made)

    def _unit(
        self,
        key: str,
        name: str,
        short: str,
        kind: str,
        parent: str | None,
        region: Region,
        made: list[str],
        credit_code: str = "",
    ) -> Unit:
        unit = Unit.objects.filter(name=name, kind=kind).order_by("id").first()
        if unit is None:
            unit = Unit(
                name=name,
                short_name=short,
                kind=kind,
                region=region,
                credit_code=credit_code,
                parent=self.units[parent] if parent else None,
            )
            unit.save()
            made.append(name)
        self.units[key] = unit
        return unit

    def seed_units(self) -> None:
        made: list[str] = []
        L = Unit.Kind
        for spec in (D.PARTY_COMMITTEE, D.GOVERNMENT):
            self._unit(spec.key, spec.name, spec.short_name, L.LEADERSHIP, spec.parent, self.district, made)
        c = D.SERVICE_CENTER
        self._unit(c.key, c.name, c.short_name, L.SERVICE_CENTER, c.parent, self.district, made)
        for spec in D.DEPARTMENTS:
            self._unit(spec.key, spec.name, spec.short_name, L.DEPARTMENT, spec.parent, self.district, made)
        for town in D.TOWNS:
            region = Region.objects.get(code=town.code)
            self._unit(town.key, town.unit_name, town.name, L.TOWN, D.GOVERNMENT.key, region, made)
        self._summarise("unit", "单位", made)

    def seed_enterprises(self) -> None:
        made: list[str] = []
        self.owners: dict[str, Unit] = {}
        for owner in dict.fromkeys(p.owner for p in self.plans):
            self.owners[owner] = self._unit(
                f"@{owner}",
                owner,
                "",
                Unit.Kind.ENTERPRISE,
                None,
                self.district,
                made,
                credit_code=owner_credit_code(owner),
            )
        self._summarise("unit", "企业", made)

    def link_approval_templates(self) -> None:
        """Give each checklist item its department (only where none is set: an admin's choice stays)."""
        linked = []
        for item in ApprovalTemplateItem.objects.filter(department=None, name__in=D.APPROVAL_DEPARTMENTS):
            item.department = self.units[D.APPROVAL_DEPARTMENTS[item.name]]
            item.save(update_fields=["department"])
            linked.append(f"{item.get_project_type_display()}·{item.name} → {item.department}")
        self._summarise("approvaltemplateitem", "前期手续模板办理部门", linked)

    def seed_phases(self) -> None:
        made = []
        for number, held_on in phase_dates(self.today):
            _, created = Phase.objects.get_or_create(
                number=number, defaults={"name": f"第{chinese_number(number)}期", "held_on": held_on}
            )
            if created:
                made.append(f"第{chinese_number(number)}期 {held_on}")
        self.phases = {p.number: p for p in Phase.objects.all()}
        self._summarise("phase", "三个一批期次", made)

    # -- people ------------------------------------------------------------------------------

    def _person(
        self,
        key: str,
        username: str,
        full_name: str,
        title: str,
        unit: Unit,
        role: str,
        made: list[str],
        demo_username: str = "",
    ) -> User:
        if demo_username and self.demo:
            if (
                not User.objects.filter(username=demo_username).exists()
                and User.objects.filter(username=username).exists()
            ):
                # The district was seeded without demo mode: this person becomes the demo account.
                User.objects.filter(username=username).update(username=demo_username, password=self._demo_hash)
                made.append(f"{username} → {demo_username}")
            username = demo_username
        user = User.objects.filter(username=username).first()
        if user is None:
            user = User(username=username, full_name=full_name, title=title, unit=unit)
            if demo_username and self.demo or username.startswith("demo_"):
                user.password = self._demo_hash
            else:
                user.set_unusable_password()
            user.save()
            UserRole.objects.create(user=user, role=role)
            made.append(username)
        self.users[key] = user
        return user

    def seed_people(self) -> None:
        made: list[str] = []
        rng = random.Random("keyprojects-demo-people")
        taken = {p.name for p in (*D.LEADERS, *D.DISPATCHERS)}

        def new_name() -> str:
            while True:
                name = rng.choice(D.SURNAMES) + rng.choice(D.GIVEN_NAMES)
                if name not in taken:
                    taken.add(name)
                    return name

        for p in D.LEADERS:
            self._person(p.key, p.key, p.name, p.title, self.units[p.unit], Role.LEADER, made, p.demo_username)
        for p in D.DISPATCHERS:
            self._person(p.key, p.key, p.name, p.title, self.units[p.unit], Role.DISPATCHER, made, p.demo_username)
        for spec in [*D.DEPARTMENTS, *D.TOWNS]:
            unit = self.units[spec.key]
            key = f"jbr_{spec.key}"
            self._person(
                key,
                key,
                new_name(),
                f"{unit}项目经办人",
                unit,
                Role.UNIT_OFFICER,
                made,
                D.DEMO_UNIT_OFFICERS.get(spec.key, ""),
            )
        self.officers: list[User] = []
        for i in range(D.SERVICE_OFFICER_COUNT):
            unit = self.units[D.SERVICE_OFFICER_UNITS[i % len(D.SERVICE_OFFICER_UNITS)]]
            key = f"fwy{i + 1:03d}"
            title = f"首席服务员（{D.SERVICE_OFFICER_ROLES[i % len(D.SERVICE_OFFICER_ROLES)]}）"
            self.officers.append(
                self._person(
                    key, key, new_name(), title, unit, Role.SERVICE_OFFICER, made, "demo_officer" if i == 0 else ""
                )
            )
        if self.demo:
            for username, full_name, title, unit_key, role in D.DEMO_ONLY:
                unit = self.owners[self.plans[0].owner] if unit_key == "@owner" else self.units[unit_key]
                self._person(username, username, full_name, title, unit, role, made)
        else:
            self.log(
                "DEMO_MODE 未开启：已创建示范区数据，但拒绝创建演示账号（demo_*）。"
                "如需演示账号，请设置环境变量 DEMO_MODE=1 后重新运行。"
            )
        ids = [u.pk for u in self.users.values()]
        User.objects.filter(pk__in=ids, is_demo=False).update(is_demo=True)  # editable=False: not via forms
        self._summarise("user", "账号", made)

    # -- projects ----------------------------------------------------------------------------

    def seed_projects(self) -> None:
        existing = set(Project.objects.filter(name__in=[p.name for p in self.plans]).values_list("name", flat=True))
        industries = {i.name: i for i in Industry.objects.all()}
        financing = {f.name: f for f in FinancingModel.objects.all()}
        counters: Counter = Counter()
        for plan in self.plans:
            if plan.name in existing:
                continue
            self.create_project(plan, industries, financing, counters)
            self.created["project"] += 1

    def create_project(self, plan: ProjectPlan, industries, financing, counters: Counter) -> Project:
        responsible = self.units[plan.responsible]
        data = dict(
            code=plan.code,
            name=plan.name,
            owner_name=plan.owner,
            owner_credit_code=self.owners[plan.owner].credit_code,
            owner_unit=self.owners[plan.owner],
            industry=industries[plan.industry],
            project_type=plan.project_type,
            level=plan.level,
            total_investment=plan.amount,
            construction_content=plan.content,
            town=self.units[plan.town],
            latitude=plan.latitude,
            longitude=plan.longitude,
            responsible_leader=self.users[plan.leader],
            responsible_unit=responsible,
            service_officer=self.officers[plan.officer] if plan.officer is not None else None,
            financing_model=financing.get(plan.financing),
            planned_start=plan.planned_start,
            planned_end=plan.planned_end,
            actual_start=plan.actual_start,
            actual_end=plan.actual_end,
            status=plan.status,
        )
        dates = list(plan.dates.items())
        project = domain.create_project(by=None, data=data, stage=dates[0][0], stage_on=dates[0][1])
        self.advance(project, dates)
        self.apply_approvals(project, plan, counters)
        for batch, number in plan.memberships.items():
            domain.set_batch_membership(project, by=None, batch=batch, phase=self.phases[number])
        return project

    def advance(self, project: Project, dates: list[tuple[str, datetime.date]]) -> None:
        """Walk the project through its stage history in one step, recorded as one audit record.

        domain.change_stage per step would cost ~15 queries each (≈10,000 for the district); the rows
        written are the same, and the tests run full_clean() on every seeded project.
        """
        if len(dates) < 2:
            return
        StageTransition.objects.bulk_create(
            StageTransition(project=project, from_stage=prev, to_stage=stage, happened_on=day)
            for (prev, _), (stage, day) in itertools.pairwise(dates)
        )
        stage, day = dates[-1]
        Project.objects.filter(pk=project.pk).update(
            stage=stage, stage_changed_on=day, version=F("version") + len(dates) - 1, updated_at=timezone.now()
        )
        path = " → ".join(f"{Stage(s).label} {d:%Y-%m-%d}" for s, d in dates)
        record(
            actor=None,
            action=AuditRecord.Action.TRANSITION,
            obj=project,
            project_id=project.pk,
            before={"stage": str(Stage(dates[0][0]).label)},
            after={"stage": str(Stage(stage).label), "stage_changed_on": day.isoformat()},
            reason=f"seed_demo 演示数据阶段历史：{path}"[:200],
        )
        project.stage, project.stage_changed_on = stage, day

    def apply_approvals(self, project: Project, plan: ProjectPlan, counters: Counter) -> None:
        """Set the checklist's states in one bulk update, recorded as one audit record on the project.

        (update_approval per item would write ~2,000 audit records and take most of the seed's time.)
        """
        rng = random.Random(f"approvals-{plan.name}-{self.today}")
        items = list(project.approvals.order_by("position", "id"))
        states = approval_states(rng, [i.name for i in items], plan, self.today, counters)
        fields = ["status", "planned_date", "actual_date", "document_number", "note"]
        after = {}
        for item, state in zip(items, states, strict=True):
            values = {name: state.get(name, "" if name in ("document_number", "note") else None) for name in fields}
            for name, value in values.items():
                setattr(item, name, value)
            item.clean()
            ApprovalItem.objects.filter(pk=item.pk).update(**values)  # bulk_update's CASE is slower here
            after[item.name] = " ".join(filter(None, [item.get_status_display(), item.document_number]))
        record(
            actor=None,
            action=AuditRecord.Action.UPDATE,
            obj=project,
            project_id=project.pk,
            after={"前期手续": after},
            reason="seed_demo：演示数据的前期手续办理情况",
        )

    def _summarise(self, object_type: str, label: str, names: list[str]) -> None:
        if names:
            summary_record(object_type, label, names)
            self.created[object_type] += len(names)


class Command(BaseCommand):
    help = "创建演示区（红旗区）的区划、单位、人员和约200个重点项目；--projects N 再批量补足到 N 个项目。"

    def add_arguments(self, parser):
        parser.add_argument("--if-empty", action="store_true", help="项目库非空时什么也不做（make run 使用）。")
        parser.add_argument(
            "--projects",
            type=int,
            default=0,
            metavar="N",
            help="在示范区之后批量生成项目，使项目总数达到 N（用于性能测试）。",
        )

    def handle(self, *args, if_empty: bool = False, projects: int = 0, **options):
        if projects < 0:
            raise CommandError("--projects 必须是非负整数。")
        if if_empty and Project.objects.exists():
            self.stdout.write("项目库已有数据，跳过演示数据初始化（--if-empty）。")
            return
        started = time.monotonic()
        # Bulk loads bypass the save signals: every cached roll-up is invalidated once at the end.
        with context.bind(channel="command"), deferred_bumps():
            bump(*TOPICS)
            seeder = DistrictSeeder(demo=settings.DEMO_MODE, log=lambda m: self.stdout.write(self.style.WARNING(m)))
            created = seeder.run()
            if created:
                parts = "，".join(f"{k} {v}" for k, v in sorted(created.items()))
                self.stdout.write(
                    self.style.SUCCESS(f"示范区数据已创建：{parts}（{time.monotonic() - started:.1f} 秒）。")
                )
            else:
                self.stdout.write("示范区数据已存在，无需变更。")
            if projects:
                bulk_started = time.monotonic()
                totals = bulk_portfolio(projects, log=self.stdout.write)
                if totals:
                    self.stdout.write(
                        self.style.SUCCESS(
                            f"批量生成：项目 {totals['projects']}，阶段变更 {totals['transitions']}，"
                            f"前期手续 {totals['approvals']}，三个一批 {totals['memberships']}"
                            f"（{time.monotonic() - bulk_started:.1f} 秒）。"
                        )
                    )
        if settings.DEMO_MODE:
            self.stdout.write(f"演示账号：demo_dispatcher、demo_leader 等，密码 {D.DEMO_PASSWORD}")
