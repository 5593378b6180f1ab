"""Demo data for supervision: service-officer pairings and logs, site visits, meetings, instructions and about
150 problems and tasks over the last twelve months, in every state. Called by `seed_demo` (DistrictSeeder.run).

Idempotent like the rest of the seed: each part runs only when its tables are empty (pairings: for key
projects that have a service officer but no pairing), inside the seed's transaction.

**How the year is played.** Problems and tasks are created only through the domain functions
(`problems.domain`, `visits.domain`), each with `now=` set to the moment it happened, so every event,
deadline and audit record is consistent with the clock. The seed plans each item's whole life (raised,
assigned, deployed, feedback, resolved, rated, closed; some reopened on 不满意, some stuck and left overdue,
some put under 挂牌督办) and plays all plans day by day from a year ago to yesterday. Each morning (07:30)
it runs the worker's clock step (`problems.worker.process_due_problems(now=…)`: reminders, overdue marks and
escalations up the ladder, exactly as `run_worker` would have on that day); then it carries out that day's
actions in time order. Steps after yesterday are simply not played, so an item's state is where its plan
stood yesterday. During the last 14 days the worker's outbox step also runs each evening, so the demo
inboxes hold the last two weeks' notifications; older events are marked processed (delivered at the
time). A last clock step runs at the real `now`. Everything is audited under the seed's channel
("command"), the worker's actions included.

Visit logs and policy pushes are plain rows (bulk, one summary audit record each); the demands officers
relay are problems raised through `visits.domain.log_officer_visit`. Most officers have visited this
month; a few (every 15th from the 8th on, never the demo officer) have not, for the "no visit" list.
"""

from __future__ import annotations

import datetime
import heapq
import itertools
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db.models import F
from django.utils import timezone

from keyprojects.org.models import Unit, User
from keyprojects.problems import access as problem_access
from keyprojects.problems import domain as problems
from keyprojects.problems import worker
from keyprojects.problems.models import Category, Problem, ProblemEvent, Rating, Severity, SolveLevel, Source
from keyprojects.projects.models import Level, Project, Stage
from keyprojects.visits import domain
from keyprojects.visits.models import (
    Instruction,
    Meeting,
    OfficerPairing,
    OfficerVisit,
    PolicyPush,
    ServiceRole,
    SiteVisit,
)
from keyprojects.workcal import calendar as wc

# How many of each over the year for the full district (200 projects); scaled down for a smaller one.
ENTERPRISE_DEMANDS = 36
REPORT_DEMANDS = 5
OFFICER_DEMANDS = 24
SITE_VISITS = 20
MEETINGS = 12
INSTRUCTIONS = 8
NOTIFY_DAYS = 14
IDLE_EVERY = 15  # one officer in IDLE_EVERY has not visited this month

TITLES = {
    Category.LAND: [
        "项目用地指标尚未落实",
        "土地挂牌出让进度滞后",
        "用地红线内坟墓需迁移",
        "不动产权证办理缓慢",
        "临时用地审批需协调",
    ],
    Category.PLANNING: [
        "规划条件调整需协调",
        "建设工程规划许可证办理受阻",
        "规划道路未打通影响进场",
        "容积率调整申请迟迟未批",
    ],
    Category.ENVIRONMENT: ["环评批复时间较长", "排污许可证办理需指导", "施工扬尘管控标准不明确", "环评审批需市局协调"],
    Category.FUNDING: [
        "专项债资金拨付较慢",
        "企业融资困难需银企对接",
        "设备补助资金尚未到位",
        "中央预算内资金申报需指导",
    ],
    Category.UTILITIES: [
        "施工用电增容迟迟未批",
        "天然气管道接入需协调",
        "供水管网尚未接通",
        "双回路供电需协调",
        "蒸汽供应管线需延伸",
    ],
    Category.RELOCATION: ["地上附着物清表未完成", "个别群众阻工需协调", "征迁补偿标准存在争议", "高压线迁改进度慢"],
    Category.APPROVAL: [
        "施工许可证办理进度慢",
        "消防设计审查意见反复",
        "联合验收时间较长",
        "施工图审查多次退回",
        "节能审查需提前介入",
    ],
    Category.POLICY: ["申请兑现招商引资奖励政策", "人才公寓入住申请", "税收优惠政策咨询", "研发费用补助申报"],
    Category.OTHER: ["周边道路施工影响物料运输", "员工子女入学需协调", "项目周边治安需加强", "工地围挡设置审批"],
}
# Which unit leads a problem of each category (unit keys of org.demo_data); None: the project's town or unit.
CATEGORY_UNITS = {
    Category.LAND: "zrzy",
    Category.PLANNING: "zrzy",
    Category.ENVIRONMENT: "sthj",
    Category.FUNDING: "czj",
    Category.UTILITIES: "cjj",
    Category.APPROVAL: "yshj",
    Category.POLICY: "fgw",
    Category.RELOCATION: None,
    Category.OTHER: None,
}
DEPLOY_NOTES = [
    "已召开专题会研究部署",
    "已明确专人负责，制定推进计划",
    "已与企业对接，制定解决方案",
    "已安排分管负责同志牵头办理",
]
FEEDBACK = [
    "已到现场核实情况，正在协调相关部门",
    "已形成初步方案，正在征求企业意见",
    "已报请上级部门支持，正在等待批复",
    "已协调供电公司现场勘查",
    "已完成资料审核，正在走内部程序",
    "已多次对接，预计本周内完成",
]
EVIDENCE = [
    "已办结，相关批复文件已送达企业",
    "问题已解决，企业已确认",
    "已完成现场整改，附现场照片",
    "已协调到位，手续已办结",
    "资金已拨付到位，附拨付凭证",
]
DECISIONS = [
    "协调解决项目施工用电问题，确保按期送电",
    "加快办理施工许可，倒排工期、挂图作战",
    "打通项目周边断头路，保障物料运输",
    "完成地上附着物清表，为项目进场创造条件",
    "协调天然气管道接入，满足试生产需要",
    "对接金融机构，帮助企业解决融资需求",
    "组织相关部门联合会审，一次性告知审批要件",
    "做好要素保障，确保项目年内竣工投产",
]
INSTRUCTION_TEXTS = [
    "请区发改委牵头，会同相关部门抓紧研究解决，确保项目按期开工。",
    "该项目是全区重点，要特事特办，限期办结并报结果。",
    "请相关单位主动靠前服务，倒排工期，确保完成年度投资目标。",
    "对企业反映的问题要逐项梳理，明确责任人和时限，逐一销号。",
]
PLACES = ["项目施工现场", "项目指挥部", "企业生产车间", "项目用地现场", "园区道路施工现场"]
OFFICER_NOTES = [
    "实地查看施工进度，了解企业用工和资金情况。",
    "了解项目设备安装进度，提醒安全生产。",
    "与企业负责人座谈，听取意见建议。",
    "电话了解复工复产情况，企业暂无新的诉求。",
    "跟踪前期反映问题办理进展，向企业反馈。",
    "宣传惠企政策，指导企业申报。",
]
POLICIES = [
    "河南省支持先进制造业发展若干政策措施",
    "新乡市促进民营经济高质量发展若干措施",
    "红旗区招商引资优惠政策（2024年修订）",
    "研发费用加计扣除政策",
    "小微企业和个体工商户所得税优惠政策",
    "失业保险稳岗返还政策",
    "专精特新中小企业培育政策",
    "工业企业技术改造奖补政策",
    "河南省“万人助万企”惠企政策汇编",
    "新乡市“科技贷”业务支持政策",
]


def _hour(day: datetime.date, hour: int, minute: int = 0) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour, minute)))


@dataclass
class Fate:
    """How an item's life goes (the offsets are working days after the previous step)."""

    assign_after: int | None = 0  # raised → assigned (demands only); None: still 待交办
    deploy_after: int | None = 0  # None: never deployed (stuck, overdue, escalated)
    feedback_after: int | None = 1
    resolve_after: int | None = 3
    rate_after: int | None = 2
    rating: str = Rating.SATISFIED
    close_after: int | None = 1
    supervise: bool = False


@dataclass
class Item:
    """One planned problem or task."""

    key: str
    project: Project
    category: str
    title: str
    fate: Fate
    severity: str = Severity.ORDINARY
    solve_level: str = SolveLevel.DISTRICT
    lead: Unit | None = None
    problem: Problem | None = None
    events: list = field(default_factory=list)


class Schedule:
    """Actions by moment; ties keep the order they were added in."""

    def __init__(self):
        self.heap: list = []
        self.counter = itertools.count()

    def add(self, moment: datetime.datetime, action: Callable[[], None]) -> None:
        heapq.heappush(self.heap, (moment, next(self.counter), action))

    def pop_until(self, moment: datetime.datetime):
        while self.heap and self.heap[0][0] <= moment:
            yield heapq.heappop(self.heap)[2]


class SupervisionSeeder:
    def __init__(self, seeder):
        self.seeder = seeder
        self.today = seeder.today
        self.log = seeder.log
        self.users = seeder.users
        self.units = seeder.units
        self.unit_keys = {u.pk: k for k, u in self.units.items()}
        self.rng = random.Random(f"keyprojects-supervision-{self.today.isoformat()}")
        self.schedule = Schedule()
        self.created = Counter()
        self.raters: dict[int, User] = {}
        self.idle_officers: set[int] = set()

    def run(self) -> Counter:
        self.seed_pairings()
        self.seed_officer_logs()
        self.seed_year()
        return self.created

    # -- people --------------------------------------------------------------------------------------------

    @property
    def dispatcher(self) -> User:
        return self.users["ddy01"]

    def leaders(self) -> list[User]:
        return [u for k, u in sorted(self.users.items()) if k.startswith("ld")]

    def officer_of(self, unit: Unit) -> User | None:
        key = self.unit_keys.get(unit.pk)
        return self.users.get(f"jbr_{key}") if key else None

    def rater(self, project: Project) -> User:
        """The company's reporter, or the dispatcher on its behalf when it has no account."""
        if project.pk not in self.raters:
            self.raters[project.pk] = problem_access.enterprise_reporters(project).first() or self.dispatcher
        return self.raters[project.pk]

    # -- pairings and logs ---------------------------------------------------------------------------------

    def seed_pairings(self) -> None:
        projects = list(
            Project.objects.filter(service_officer__isnull=False, level__in=[Level.PROVINCE, Level.CITY])
            .exclude(pk__in=OfficerPairing.objects.values("project_id"))
            .select_related("service_officer")
            .order_by("id")
        )
        if not projects:
            return
        start = datetime.date(self.today.year - 1, 1, 1)
        pairings = OfficerPairing.objects.bulk_create(
            OfficerPairing(officer_id=p.service_officer_id, project=p, started_on=start, note="演示数据")
            for p in projects
        )
        roles = list(ServiceRole.objects.filter(is_active=True))
        Through = OfficerPairing.roles.through
        Through.objects.bulk_create(
            Through(officerpairing_id=pairing.pk, servicerole_id=role.pk) for pairing in pairings for role in roles
        )
        names = [f"{p.service_officer} ↔ {p.name}" for p in projects]
        self.seeder._summarise("officerpairing", "首席服务员结对", names)

    def seed_officer_logs(self) -> None:
        if OfficerVisit.objects.exists() or PolicyPush.objects.exists():
            return
        rng = random.Random(f"keyprojects-officer-logs-{self.today.isoformat()}")
        month_first = self.today.replace(day=1)
        window = (month_first - datetime.timedelta(days=160)).replace(day=1)
        demo_officer = self.users.get("fwy001")
        pairings = list(OfficerPairing.objects.filter(ended_on=None).select_related("project").order_by("officer_id"))
        visits, pushes = [], []
        for i, pairing in enumerate(pairings):
            idle = i % IDLE_EVERY == 7 and (demo_officer is None or pairing.officer_id != demo_officer.pk)
            if idle:
                self.idle_officers.add(pairing.officer_id)
            day = max(window, pairing.started_on) + datetime.timedelta(days=rng.randint(0, 12))
            dates = []
            while day <= self.today:
                if not (idle and day >= month_first):
                    dates.append(day)
                day += datetime.timedelta(days=rng.randint(9, 24))
            if not idle and not any(d >= month_first for d in dates):
                dates.append(month_first + datetime.timedelta(days=rng.randint(0, (self.today - month_first).days)))
            for d in dates:
                kind = OfficerVisit.Kind.ON_SITE if rng.random() < 0.75 else OfficerVisit.Kind.PHONE
                visits.append(OfficerVisit(officer_id=pairing.officer_id, project_id=pairing.project_id, visited_on=d,
                                           kind=kind, content=rng.choice(OFFICER_NOTES)))  # fmt: skip
            day = max(window, pairing.started_on) + datetime.timedelta(days=rng.randint(5, 40))
            while day <= self.today:
                pushes.append(
                    PolicyPush(
                        officer_id=pairing.officer_id,
                        project_id=pairing.project_id,
                        pushed_on=day,
                        title=rng.choice(POLICIES),
                        note="已向企业负责人当面讲解并提供申报指引。",
                    )
                )
                day += datetime.timedelta(days=rng.randint(40, 80))  # fmt: skip
        OfficerVisit.objects.bulk_create(visits, batch_size=500)
        PolicyPush.objects.bulk_create(pushes, batch_size=500)
        self.seeder._summarise("officervisit", "首席服务员走访记录", [f"{v.visited_on} {v.project_id}" for v in visits])
        self.seeder._summarise("policypush", "惠企政策推送", [f"{p.pushed_on} {p.title}" for p in pushes])

    # -- the year of problems ------------------------------------------------------------------------------

    def seed_year(self) -> None:
        if any(m.objects.exists() for m in (Problem, SiteVisit, Meeting, Instruction)):
            self.log("已有问题、现场办公或会议记录：跳过问题督办演示数据。")
            return
        names = [p.name for p in self.seeder.plans]
        projects = list(
            Project.objects.filter(name__in=names).exclude(stage=Stage.PLANNING)
            .select_related("town", "responsible_unit", "service_officer").order_by("id")
        )  # fmt: skip
        if not projects or not self.leaders():
            return
        scale = min(1.0, len(projects) / 180)
        self.start = self.today - datetime.timedelta(days=365)
        self.projects = projects

        def n(full: int) -> int:
            return max(1, round(full * scale))

        self.plan_enterprise_demands(n(ENTERPRISE_DEMANDS), n(REPORT_DEMANDS))
        self.plan_officer_demands(n(OFFICER_DEMANDS))
        self.plan_site_visits(n(SITE_VISITS))
        self.plan_meetings(n(MEETINGS))
        self.plan_instructions(n(INSTRUCTIONS))
        self.play()
        self.created["problem"] += Problem.objects.count()
        for model, label in ((SiteVisit, "sitevisit"), (Meeting, "meeting"), (Instruction, "instruction")):
            if count := model.objects.count():
                self.created[label] += count

    # planning helpers

    def workday(self, day: datetime.date, after: int = 0) -> datetime.date:
        """`after` working days after `day` (0: `day` itself, or the next working day)."""
        day = wc.next_workday(day)
        return wc.add_workdays(day, after) if after else day

    def recent_workday(self, back: int) -> datetime.date:
        """The `back`-th working day before today (1: the last working day before today)."""
        day = self.today
        while back:
            day -= datetime.timedelta(days=1)
            back -= wc.is_workday(day)
        return day

    def random_day(self, *, weight_recent: bool = True, latest: int = 1) -> datetime.date:
        span = 365 - latest
        offset = int(span * (self.rng.random() ** (0.8 if weight_recent else 1.0)))
        return self.workday(self.start + datetime.timedelta(days=offset))

    def fate(self, received: datetime.date, *, task: bool = False) -> Fate:
        """A plausible life: old items are mostly closed, some stuck (overdue and escalated), some late."""
        r = self.rng.random()
        fate = Fate(
            assign_after=self.rng.choice([0, 0, 0, 1, 1, 2]),
            deploy_after=0 if self.rng.random() < 0.85 else self.rng.choice([1, 2]),
            feedback_after=self.rng.choice([1, 2, 2, 3]) if self.rng.random() < 0.85 else self.rng.choice([4, 6]),
            resolve_after=self.rng.choice([2, 3, 4, 5]) if self.rng.random() < 0.8 else self.rng.choice([8, 12, 18]),
            rate_after=self.rng.choice([1, 2, 3, 5]),
            rating=Rating.SATISFIED if self.rng.random() < 0.75 else Rating.BASIC,
            close_after=self.rng.choice([1, 2, 3]),
        )
        if r < 0.05:
            fate.deploy_after = None  # never deployed
        elif r < 0.13:
            fate.resolve_after = None  # deployed, never resolved
            if self.rng.random() < 0.5:
                fate.feedback_after = None
        elif r < 0.20:
            fate.rating = Rating.DISSATISFIED  # reopened, then resolved again
        elif r < 0.24:
            fate.rate_after = None  # resolved, the company has not rated yet
        elif r < 0.28:
            fate.close_after = None  # rated, not yet closed
        if fate.resolve_after is None and self.rng.random() < 0.5:
            fate.supervise = True
        if not task and (self.today - received).days <= 7 and self.rng.random() < 0.6:
            fate.assign_after = None  # just in: the dispatcher has not assigned it yet
        return fate

    def pick_project(self, *, keyed: bool = False) -> Project:
        pool = [p for p in self.projects if p.service_officer_id] if keyed else self.projects
        return self.rng.choice(pool or self.projects)

    def lead_for(self, project: Project, category: str) -> Unit:
        key = CATEGORY_UNITS.get(category)
        if key and key in self.units:
            return self.units[key]
        if category == Category.RELOCATION and project.town_id:
            return project.town
        return project.responsible_unit

    def new_item(self, key: str, project: Project, *, category: str | None = None, title: str = "") -> Item:
        category = category or self.rng.choice(list(TITLES))
        item = Item(key=key, project=project, category=category, title=title or self.rng.choice(TITLES[category]),
                    fate=Fate())  # fmt: skip
        item.severity = Severity.MAJOR if self.rng.random() < 0.12 else Severity.ORDINARY
        roll = self.rng.random()
        item.solve_level = (
            SolveLevel.CITY if roll < 0.1 else SolveLevel.PROVINCE if roll < 0.13 else SolveLevel.DISTRICT
        )
        item.lead = self.lead_for(project, category)
        return item

    # plans

    def plan_enterprise_demands(self, count: int, reports: int) -> None:
        enterprise = self.users.get("demo_enterprise")
        for i in range(count + reports):
            project = self.pick_project()
            item = self.new_item(f"e{i}", project)
            received = self.random_day()
            item.fate = self.fate(received)
            if count - 3 <= i < count:  # the last few just came in: still 待交办
                received = self.recent_workday(count - i)
                item.fate.assign_after = None
            source = Source.MONTHLY_REPORT if i >= count else Source.ENTERPRISE
            by = self.dispatcher
            if source == Source.ENTERPRISE and enterprise is not None and project.owner_unit_id == enterprise.unit_id:
                by = enterprise
            moment = _hour(received, self.rng.randint(8, 11), self.rng.choice([0, 15, 30, 45]))

            def raise_it(item=item, by=by, source=source, moment=moment) -> None:
                item.problem = problems.raise_problem(
                    by=by, project=item.project, title=item.title, category=item.category, source=source,
                    severity=item.severity, description=f"企业反映：{item.title}，请协调解决。", now=moment,
                )  # fmt: skip

            self.schedule.add(moment, raise_it)
            self.plan_life(item, received, assigned=False)

    def plan_officer_demands(self, count: int) -> None:
        month_first = self.today.replace(day=1)
        for i in range(count):
            project = self.pick_project(keyed=True)
            officer = project.service_officer
            if officer is None:
                continue
            item = self.new_item(f"o{i}", project)
            received = self.random_day()
            if received >= month_first and officer.pk in self.idle_officers:  # they made no visit this month
                received = self.workday(month_first - datetime.timedelta(days=self.rng.randint(3, 40)))
            item.fate = self.fate(received)
            moment = _hour(received, self.rng.randint(14, 16))

            def relay(item=item, officer=officer, day=received, moment=moment) -> None:
                visit = domain.log_officer_visit(
                    by=officer, project=item.project, visited_on=day, kind=OfficerVisit.Kind.ON_SITE,
                    content=f"实地走访，企业反映{item.title}。", now=moment,
                    demand={"title": item.title, "category": item.category, "description": "首席服务员走访时收集。"},
                )  # fmt: skip
                item.problem = visit.links.get().problem

            self.schedule.add(moment, relay)
            self.plan_life(item, received, assigned=False)

    def decision_rows(self, project: Project, day: datetime.date, count: int) -> list[tuple[Item, dict]]:
        rows = []
        for _i in range(count):
            text = self.rng.choice(DECISIONS)
            category = self.rng.choice([Category.UTILITIES, Category.APPROVAL, Category.LAND, Category.OTHER])
            item = self.new_item(f"d{day}{_i}", project, category=category, title=text)
            due = self.workday(day, self.rng.choice([5, 10, 15, 20]))
            item.fate = self.fate(day, task=True)
            rows.append((item, {"project": project.pk, "text": text, "lead_unit": item.lead.pk, "due": due}))
        return rows

    def plan_site_visits(self, count: int) -> None:
        leaders = self.leaders()
        for i in range(count):
            day = self.random_day(weight_recent=False, latest=2)
            projects = self.rng.sample(self.projects, k=min(len(self.projects), self.rng.choice([1, 2, 2, 3])))
            demands = []
            for j in range(self.rng.choice([1, 1, 1, 2, 2])):
                item = self.new_item(f"v{i}-{j}", self.rng.choice(projects))
                item.fate = self.fate(day)
                demands.append(item)
            decisions = [r for p in projects[: self.rng.choice([1, 2])] for r in self.decision_rows(p, day, 1)]
            people = self.rng.sample(leaders, k=min(len(leaders), self.rng.choice([1, 1, 2])))
            place = f"{projects[0].town or ''}{projects[0].name}{self.rng.choice(PLACES)}"
            moment = _hour(day, 17, 30)

            def record(day=day, projects=projects, demands=demands, decisions=decisions, people=people, place=place,
                       moment=moment) -> None:  # fmt: skip
                visit = domain.create_site_visit(
                    by=self.dispatcher, visited_on=day, place=place[:200], leaders=people, projects=projects,
                    attendees="区直有关部门、属地乡镇（街道）主要负责同志，项目单位负责人",
                    summary=f"{'、'.join(str(u) for u in people)}带队到{place}现场办公，听取项目推进情况汇报，"
                            "现场研究解决企业反映的问题。",
                    demands=[{"project": d.project.pk, "title": d.title, "category": d.category,
                              "severity": d.severity} for d in demands],
                    decisions=[row for _item, row in decisions], now=moment,
                )  # fmt: skip
                links = list(visit.links.select_related("problem").order_by("id"))
                for item, link in zip([*demands, *(d for d, _row in decisions)], links, strict=True):
                    item.problem = link.problem

            self.schedule.add(moment, record)
            for item in demands:
                self.plan_life(item, day, assigned=False)
            for item, _row in decisions:
                self.plan_life(item, day, assigned=True)

    def plan_meetings(self, count: int) -> None:
        chairs = [self.users[k] for k in ("ld02", "ld03") if k in self.users] or self.leaders()
        monday = self.today - datetime.timedelta(days=self.today.weekday() + 7)
        for i in range(count):
            day = self.workday(monday - datetime.timedelta(weeks=4 * i + self.rng.randint(0, 1)))
            kind = Meeting.Kind.TOPIC if i % 5 == 3 else Meeting.Kind.WEEKLY
            projects = self.rng.sample(self.projects, k=min(len(self.projects), self.rng.randint(3, 6)))
            decisions = [r for p in projects[: self.rng.randint(1, 2)] for r in self.decision_rows(p, day, 1)]
            chair = chairs[i % len(chairs)]
            names = "、".join(p.name for p in projects)
            minutes = (f"会议听取了{names}等项目推进情况汇报，逐一研究了项目存在的困难和问题。会议要求各责任单位"
                       "对照议定事项，明确责任人和完成时限，按“13710”工作制度抓好落实，按时反馈办理结果。")  # fmt: skip
            title = "" if kind == Meeting.Kind.WEEKLY else f"{projects[0].name}推进专题会"
            moment = _hour(day, 18)

            def record(day=day, kind=kind, projects=projects, decisions=decisions, chair=chair, minutes=minutes,
                       title=title, moment=moment) -> None:  # fmt: skip
                meeting = domain.create_meeting(
                    by=self.dispatcher, held_on=day, chair=chair, kind=kind, title=title[:200], projects=projects,
                    attendees="区直有关部门、各乡镇（街道）主要负责同志", minutes=minutes,
                    decisions=[row for _item, row in decisions], now=moment,
                )  # fmt: skip
                for (item, _row), link in zip(decisions, meeting.links.select_related("problem").order_by("id"),
                                              strict=True):  # fmt: skip
                    item.problem = link.problem

            self.schedule.add(moment, record)
            for item, _row in decisions:
                self.plan_life(item, day, assigned=True)

    def plan_instructions(self, count: int) -> None:
        leaders = [u for u in self.leaders() if u.title]
        for i in range(count):
            day = self.random_day(latest=3)
            leader = leaders[i % len(leaders)]
            projects = self.rng.sample(self.projects, k=min(len(self.projects), self.rng.choice([1, 1, 2])))
            text = self.rng.choice(INSTRUCTION_TEXTS)
            unit = self.units.get(self.rng.choice(["fgw", "cjj", "zrzy", "yshj"])) or projects[0].responsible_unit
            due = self.workday(day, self.rng.choice([10, 15, 20]))
            items = []
            for j, project in enumerate(projects):
                item = self.new_item(f"i{i}-{j}", project, category=Category.OTHER, title=text)
                item.lead = unit
                item.fate = self.fate(day, task=True)
                items.append(item)
            moment = _hour(day, 16)

            kind = Instruction.Kind.INSTRUCTION if i % 3 else Instruction.Kind.ASSIGNMENT

            def record(day=day, leader=leader, projects=projects, text=text, unit=unit, due=due, items=items,
                       kind=kind, moment=moment) -> None:  # fmt: skip
                instruction = domain.create_instruction(
                    by=leader, given_on=day, text=text, projects=projects, lead_unit=unit, due_on=due, kind=kind,
                    now=moment,
                )  # fmt: skip
                links = {link.problem.project_id: link.problem for link in instruction.links.select_related("problem")}
                for item in items:
                    item.problem = links[item.project.pk]

            self.schedule.add(moment, record)
            for item in items:
                self.plan_life(item, day, assigned=True)

    def plan_life(self, item: Item, day: datetime.date, *, assigned: bool) -> None:
        """Schedule the item's steps after it was raised (or raised and assigned) on `day`."""
        fate = item.fate
        officer = self.officer_of(item.lead)
        if officer is None:
            return
        add = self.schedule.add
        if not assigned:
            if fate.assign_after is None:
                return
            day = self.workday(day, fate.assign_after)
            moment = _hour(day, 17, 45) if fate.assign_after == 0 else _hour(day, 9, 30)
            helpers = [item.project.town] if item.project.town_id and item.project.town_id != item.lead.pk else []

            def assign(moment=moment, helpers=helpers) -> None:
                problems.assign(item.problem, by=self.dispatcher, lead_unit=item.lead, helper_units=helpers,
                                severity=item.severity, solve_level=item.solve_level,
                                note="请按“13710”工作制度抓紧办理。", now=moment)  # fmt: skip

            add(moment, assign)
        if fate.deploy_after is None:
            if fate.supervise:
                self.plan_supervision(item, day)
            return
        day = self.workday(day, fate.deploy_after)
        note = self.rng.choice(DEPLOY_NOTES)
        add(_hour(day, 18, 10), lambda d=day: problems.deploy(item.problem, by=officer, note=note,
                                                               now=_hour(d, 18, 10)))  # fmt: skip
        if fate.feedback_after is None:
            if fate.supervise:
                self.plan_supervision(item, day)
            return
        day = self.workday(day, fate.feedback_after)
        text = self.rng.choice(FEEDBACK)
        add(_hour(day, 11), lambda d=day, t=text: problems.add_feedback(item.problem, by=officer, text=t,
                                                                        now=_hour(d, 11)))  # fmt: skip
        if fate.resolve_after is None:
            if fate.supervise:
                self.plan_supervision(item, day)
            return
        major_extra = 10 if item.severity == Severity.MAJOR else 0
        day = self.workday(day, fate.resolve_after + major_extra)
        evidence = self.rng.choice(EVIDENCE)
        add(_hour(day, 15), lambda d=day, e=evidence: problems.resolve(item.problem, by=officer, evidence=e,
                                                                       now=_hour(d, 15)))  # fmt: skip
        if fate.rate_after is None:
            return
        day = self.workday(day, fate.rate_after)
        rater = self.rater(item.project)
        if fate.rating == Rating.DISSATISFIED:
            add(
                _hour(day, 10),
                lambda d=day: problems.rate(
                    item.problem,
                    by=rater,
                    rating=Rating.DISSATISFIED,
                    comment="问题未彻底解决，请继续协调。",
                    now=_hour(d, 10),
                ),
            )
            day = self.workday(day, self.rng.randint(2, 5))  # fmt: skip
            add(_hour(day, 16), lambda d=day: problems.add_feedback(item.problem, by=officer, now=_hour(d, 16),
                                                                    text="已再次协调，正在整改。"))  # fmt: skip
            day = self.workday(day, self.rng.randint(1, 4))
            add(_hour(day, 16, 30), lambda d=day: problems.resolve(item.problem, by=officer, now=_hour(d, 16, 30),
                                                                   evidence="已整改到位，企业现场确认。"))  # fmt: skip
            day = self.workday(day, 2)
            fate.rating = Rating.BASIC
        add(_hour(day, 10, 30), lambda d=day: problems.rate(item.problem, by=rater, rating=fate.rating,
                                                            now=_hour(d, 10, 30)))  # fmt: skip
        if fate.close_after is None:
            return
        day = self.workday(day, fate.close_after)
        note = "企业评价满意，予以销号。"
        add(_hour(day, 17), lambda d=day: problems.close(item.problem, by=self.dispatcher, note=note, now=_hour(d, 17)))

    def plan_supervision(self, item: Item, day: datetime.date) -> None:
        """A leader puts a stuck item under 挂牌督办 a week after its step was due."""
        day = self.workday(day, 6)
        leader = item.project.responsible_leader if item.project.responsible_leader_id else self.leaders()[0]
        due = self.workday(day, 5)
        self.schedule.add(_hour(day, 12), lambda: problems.supervise(
            item.problem, by=leader, due=due, note="请主办单位限期办结，按日报告进展。", now=_hour(day, 12)
        ))  # fmt: skip

    # playing the year

    def play(self) -> None:
        now = timezone.now()
        yesterday = timezone.localdate(now) - datetime.timedelta(days=1)
        notify_from = yesterday - datetime.timedelta(days=NOTIFY_DAYS - 1)
        marked = False
        day = self.start
        while day <= yesterday:
            worker.process_due_problems(_hour(day, 7, 30))
            for action in self.schedule.pop_until(_hour(day, 23, 59)):
                action()
            if day >= notify_from:
                if not marked:
                    ProblemEvent.objects.filter(processed_at__isnull=True).update(processed_at=F("at"))
                    marked = True
                _drain(lambda d=day: worker.process_events(_hour(d, 18, 30)))
            day += datetime.timedelta(days=1)
        self.schedule.heap.clear()  # what would happen from today on is not played
        worker.process_due_problems(now)
        _drain(lambda: worker.process_events(now))


def _drain(step: Callable[[], tuple]) -> None:
    for _round in range(100):
        if not step()[-1]:  # the batch was not full: nothing left
            return


def seed(seeder) -> Counter:
    """Add the supervision demo data to the district `seeder` (a seed_demo DistrictSeeder)."""
    return SupervisionSeeder(seeder).run()
