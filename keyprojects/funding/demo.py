"""Demo funding, acceleration measures and registries for the demo district. Called by `seed_demo`.

**Calibration to the seed article.** The article's 2021 results become last year's lines and its 2022
plan this year's (as the monthly-report demo does with its 112.9%), so that the dates fit the demo
district's timeline (today's date decides both years):

- 地方政府专项债券, last year: 9 projects issued 20.37亿元, of which 6.8亿元 disbursed (拨付到位);
- 中央预算内投资, last year: 14 projects approved 3.1亿元 (下达 as approved), 2.52亿元 disbursed;
- 地方政府专项债券, this year: 14 projects prepared (储备) for 98.3亿元, part of them further along;
- 中央预算内投资, this year: 13 projects prepared for 3.8亿元;
- a few 超长期特别国债, 银行贷款 and 企业自筹 lines for variety.

Amounts are split over the projects in proportion to their size and add up exactly (the last share
takes the rounding). Two of last year's bond lines have had no spending for months, so the worker's
first pass raises their idle-money alerts. Lines are created through `domain.create_line` (validated
and audited like a page edit); steps whose date would lie after today are left out.

Also: 信用承诺 and 全程代办 on approval items, land certificates and 标准地 indicators (promised and,
for commissioned projects, checked), the catalogue of 1358 government-service matters (942 即来即办,
76 就近办, all online and 最多跑一次), industry chains under the 双长制 and office buildings.

Idempotent: each part is created only when its table is empty.
"""

from __future__ import annotations

import datetime
import random
from collections import Counter
from decimal import ROUND_HALF_UP, Decimal

from keyprojects.funding import domain
from keyprojects.funding.figures import permit_dates
from keyprojects.funding.models import (
    ApprovalAcceleration,
    Building,
    FundingLine,
    FundType,
    IndustryChain,
    MatterCategory,
    ProjectLand,
    PromiseOutcome,
    ServiceMatter,
    Step,
)
from keyprojects.org import demo_data as D
from keyprojects.org.models import Unit
from keyprojects.projects.models import ApprovalItem, ApprovalStatus, Project, ProjectType, Stage

CENT = Decimal("0.01")
BUILT = [Stage.STARTED, Stage.CONSTRUCTION, Stage.COMPLETED, Stage.COMMISSIONED, Stage.EFFECTIVE]
PUBLIC_INDUSTRIES = {"城市更新", "基础设施", "社会事业", "文化旅游"}

# The article's figures, in 万元.
BONDS_LAST_YEAR = (9, Decimal("203700"), Decimal("68000"))  # projects, issued, disbursed
CENTRAL_LAST_YEAR = (14, Decimal("31000"), Decimal("25200"))  # projects, approved (= allocated), disbursed
BONDS_THIS_YEAR = (14, Decimal("983000"))  # projects, prepared
CENTRAL_THIS_YEAR = (13, Decimal("38000"))

MATTERS_TOTAL, MATTERS_ON_THE_SPOT, MATTERS_NEAR_HOME = 1358, 942, 76


def _money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def split(total: Decimal, weights: list[Decimal]) -> list[Decimal]:
    """`total` in shares proportional to `weights`, to the cent, adding up exactly."""
    if not weights:
        return []
    whole = sum(weights)
    shares = [_money(total * w / whole) for w in weights[:-1]]
    return [*shares, total - sum(shares)]


def _day(year: int, month: int, day: int) -> datetime.date:
    """The `day`-th day counted from the first of the month (day 35 of March is in April)."""
    return datetime.date(year, month, 1) + datetime.timedelta(days=day - 1)


class FundingSeeder:
    def __init__(self, seeder):
        self.seeder = seeder
        self.today: datetime.date = seeder.today
        self.ty = self.today.year
        self.ly = self.ty - 1
        self.created: Counter = Counter()
        self.types = {t.name: t for t in FundType.objects.all()}
        names = [p.name for p in seeder.plans]
        self.projects = list(Project.objects.filter(name__in=names).select_related("industry").order_by("pk"))

    def run(self) -> Counter:
        if not self.projects:
            return self.created
        if not FundingLine.objects.exists():
            self.seed_lines()
        if not ApprovalAcceleration.objects.exists():
            self.seed_measures()
        if not ProjectLand.objects.exists():
            self.seed_land()
        if not ServiceMatter.objects.exists():
            self.seed_matters()
        if not IndustryChain.objects.exists():
            self.seed_chains()
        if not Building.objects.exists():
            self.seed_buildings()
        return self.created

    # -- funding lines ---------------------------------------------------------------------------------

    def _public(self, *, built: bool | None = None, started_by: datetime.date | None = None) -> list[Project]:
        out = [
            p for p in self.projects if p.project_type == ProjectType.GOVERNMENT or p.industry.name in PUBLIC_INDUSTRIES
        ]
        if built is True:
            out = [
                p
                for p in out
                if p.stage in BUILT and (started_by is None or (p.actual_start and p.actual_start < started_by))
            ]
        elif built is False:
            out = [p for p in out if p.stage not in (Stage.COMPLETED, Stage.COMMISSIONED, Stage.EFFECTIVE)]
        return out

    def _line(
        self,
        project: Project,
        type_name: str,
        year: int,
        steps: list[tuple],
        *,
        batch: str = "",
        bond: dict | None = None,
        note: str = "",
    ) -> None:
        """Create a line from (step, amount, date, document) tuples, dropping steps dated after today."""
        values = {}
        previous = datetime.date.min
        for step, amount, day, document in steps:
            if day > self.today:
                break
            previous = max(day, previous)  # a relative date ("today - n") never before the step it follows
            values[step] = domain.StepValue(_money(amount), previous, document)
        if Step.ISSUED not in values:
            bond = None
        domain.create_line(
            by=None,
            project=project,
            today=self.today,
            data={
                "fund_type": self.types[type_name],
                "year": year,
                "batch": batch,
                "note": note,
                "steps": values,
                "bond": bond or {},
            },
        )
        self.created["fundingline"] += 1

    def seed_lines(self) -> None:
        ly, ty = self.ly, self.ty
        rng = random.Random(f"funding-demo-{self.today}")
        day = _day
        bond_type, central_type = "地方政府专项债券", "中央预算内投资"

        # Last year's special bonds: 9 projects issued 20.37亿, 6.8亿 disbursed.
        n, issued_total, disbursed_total = BONDS_LAST_YEAR
        chosen = sorted(self._public(built=True, started_by=day(ly, 12, 31)), key=lambda p: -p.total_investment)[:n]
        issued = split(issued_total, [p.total_investment for p in chosen])
        disbursed = split(disbursed_total, issued)
        for i, (project, amount, paid) in enumerate(zip(chosen, issued, disbursed, strict=True)):
            reserve = _money(amount * Decimal("1.2"))
            idle = i in (1, 4)  # nothing spent for months: the worker's first pass raises the alert
            spent_on = day(ly, 9, 30) if idle else self.today - datetime.timedelta(days=rng.randint(5, 50))
            spent = _money(paid * Decimal(rng.choice(["0.55", "0.7", "0.85", "0.92"])))
            self._line(
                project,
                bond_type,
                ly,
                [
                    (Step.RESERVE, reserve, day(ly - 1, 9, 15 + i), ""),
                    (Step.APPLIED, reserve, day(ly - 1, 11, 10 + i), f"红发改投资〔{ly - 1}〕{30 + i}号"),
                    (Step.NDRC_APPROVED, amount, day(ly, 1, 12 + i), f"豫发改投资〔{ly}〕{12 + i}号"),
                    (Step.MOF_APPROVED, amount, day(ly, 2, 16 + i), f"豫财债〔{ly}〕{20 + i}号"),
                    (Step.ALLOCATED, amount, day(ly, 3, 18 + i), f"新财预〔{ly}〕{40 + i}号"),
                    (Step.ISSUED, amount, day(ly, 4 + i % 3, 10 + i), ""),
                    (Step.DISBURSED, paid, day(ly, 7, 8 + i * 2), f"红财预〔{ly}〕{60 + i}号"),
                    (Step.SPENT, spent, spent_on, ""),
                ],
                batch=f"第{'一二三'[i % 3]}批",
                bond={
                    "name": f"{ly}年河南省政府专项债券（{['三', '五', '七'][i % 3]}期）",
                    "code": f"{str(ly)[2:]}05{31 + i % 3}",
                    "term_years": [10, 15, 20, 30][i % 4],
                    "rate": Decimal(["2.150", "2.280", "2.360", "2.470"][i % 4]),
                },
            )

        # Last year's central-budget investment: 14 projects approved 3.1亿 (all allocated), 2.52亿 disbursed.
        n, approved_total, disbursed_total = CENTRAL_LAST_YEAR
        candidates = self._public(built=True, started_by=day(ly, 12, 31))
        chosen = sorted(candidates, key=lambda p: p.pk)[:n]
        approved = split(approved_total, [p.total_investment.sqrt() for p in chosen])
        disbursed = split(disbursed_total, approved)
        for i, (project, amount, paid) in enumerate(zip(chosen, approved, disbursed, strict=True)):
            applied = _money(amount * Decimal("1.25"))
            spent = _money(paid * Decimal(rng.choice(["0.8", "0.9", "1"])))
            self._line(
                project,
                central_type,
                ly,
                [
                    (Step.RESERVE, applied, day(ly - 1, 8, 1 + i), ""),
                    (Step.APPLIED, applied, day(ly - 1, 10, 8 + i), f"红发改投资〔{ly - 1}〕{50 + i}号"),
                    (Step.NDRC_APPROVED, amount, day(ly, 3, 3 + i), f"发改投资〔{ly}〕{300 + i}号"),
                    (Step.ALLOCATED, amount, day(ly, 4, 10 + i), f"豫发改投资〔{ly}〕{150 + i}号"),
                    (Step.DISBURSED, paid, day(ly, 6, 2 + i), f"红财预〔{ly}〕{90 + i}号"),
                    (Step.SPENT, spent, self.today - datetime.timedelta(days=rng.randint(3, 60)), ""),
                ],
            )

        # This year's special bonds: 14 projects prepared for 98.3亿, some of them further along.
        n, prepared_total = BONDS_THIS_YEAR
        chosen = sorted(self._public(built=False), key=lambda p: -p.total_investment)[:n]
        prepared = split(prepared_total, [p.total_investment for p in chosen])
        for i, (project, amount) in enumerate(zip(chosen, prepared, strict=True)):
            approved = _money(amount * Decimal("0.9"))
            reach = [8, 8, 8, 7, 6, 6, 5, 4, 4, 3, 3, 2, 1, 1][i % 14]  # how many steps this line reached
            steps = [
                (Step.RESERVE, amount, day(ly, 10, 12 + i), ""),
                (Step.APPLIED, amount, day(ly, 12, 2 + i), f"红发改投资〔{ly}〕{80 + i}号"),
                (Step.NDRC_APPROVED, approved, day(ty, 2, 5 + i), f"豫发改投资〔{ty}〕{8 + i}号"),
                (Step.MOF_APPROVED, approved, day(ty, 3, 2 + i), f"豫财债〔{ty}〕{15 + i}号"),
                (Step.ALLOCATED, approved, day(ty, 4, 8 + i), f"新财预〔{ty}〕{30 + i}号"),
                (Step.ISSUED, approved, day(ty, 5, 12 + i), ""),
                (Step.DISBURSED, _money(approved * Decimal("0.5")), day(ty, 7, 1 + i), f"红财预〔{ty}〕{50 + i}号"),
                (Step.SPENT, _money(approved * Decimal("0.3")), self.today - datetime.timedelta(days=10 + i), ""),
            ][:reach]
            self._line(
                project,
                bond_type,
                ty,
                steps,
                batch="第一批" if i < 8 else "第二批",
                bond={
                    "name": f"{ty}年河南省政府专项债券（二期）",
                    "code": f"{str(ty)[2:]}0520",
                    "term_years": 20,
                    "rate": Decimal("2.050"),
                },
            )

        # This year's central-budget investment: 13 projects prepared for 3.8亿.
        n, prepared_total = CENTRAL_THIS_YEAR
        chosen = sorted(self._public(built=False), key=lambda p: p.pk)[-n:]
        prepared = split(prepared_total, [p.total_investment.sqrt() for p in chosen])
        for i, (project, amount) in enumerate(zip(chosen, prepared, strict=True)):
            approved = _money(amount * Decimal("0.8"))
            reach = [6, 6, 5, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1][i % 13]
            steps = [
                (Step.RESERVE, amount, day(ly, 9, 1 + i), ""),
                (Step.APPLIED, amount, day(ly, 11, 3 + i), f"红发改投资〔{ly}〕{120 + i}号"),
                (Step.NDRC_APPROVED, approved, day(ty, 4, 6 + i), f"发改投资〔{ty}〕{420 + i}号"),
                (Step.ALLOCATED, approved, day(ty, 5, 9 + i), f"豫发改投资〔{ty}〕{210 + i}号"),
                (Step.DISBURSED, _money(approved * Decimal("0.6")), day(ty, 7, 20 + i), f"红财预〔{ty}〕{110 + i}号"),
                (Step.SPENT, _money(approved * Decimal("0.42")), self.today - datetime.timedelta(days=12 + i), ""),
            ][:reach]
            self._line(project, central_type, ty, steps)

        # 超长期特别国债 for three large public projects this year.
        for i, project in enumerate(sorted(self._public(built=False), key=lambda p: -p.total_investment)[14:17]):
            amount = _money(project.total_investment * Decimal("0.08"))
            self._line(
                project,
                "超长期特别国债",
                ty,
                [
                    (Step.RESERVE, amount, day(ly, 11, 20 + i), ""),
                    (Step.APPLIED, amount, day(ty, 1, 15 + i), f"红发改投资〔{ty}〕{5 + i}号"),
                    (
                        Step.NDRC_APPROVED,
                        _money(amount * Decimal("0.75")),
                        day(ty, 4, 20 + i),
                        f"发改投资〔{ty}〕{600 + i}号",
                    ),
                    (
                        Step.ALLOCATED,
                        _money(amount * Decimal("0.75")),
                        day(ty, 6, 5 + i),
                        f"豫发改投资〔{ty}〕{330 + i}号",
                    ),
                    (
                        Step.DISBURSED,
                        _money(amount * Decimal("0.4")),
                        self.today - datetime.timedelta(days=20 + i),
                        f"红财预〔{ty}〕{150 + i}号",
                    ),
                ],
            )

        # Bank loans and own funds of companies building now: the 资金到位率 of their funding plan.
        companies = [
            p
            for p in self.projects
            if p.project_type != ProjectType.GOVERNMENT
            and p.industry.name not in PUBLIC_INDUSTRIES
            and p.stage in BUILT
            and p.stage != Stage.EFFECTIVE
            and p.actual_start
        ]
        companies.sort(key=lambda p: -p.total_investment)
        for i, project in enumerate(companies[:10]):
            start = max(project.actual_start, day(ly, 1, 1))
            loan = _money(project.total_investment * Decimal("0.4"))
            paid = _money(loan * Decimal(rng.choice(["0.5", "0.65", "0.8"])))
            self._line(
                project,
                "银行贷款",
                start.year,
                [
                    (Step.RESERVE, loan, start - datetime.timedelta(days=60), ""),
                    (Step.APPLIED, loan, start - datetime.timedelta(days=45), ""),
                    (Step.DISBURSED, paid, start + datetime.timedelta(days=30), f"借款合同{start.year}-{100 + i}"),
                    (
                        Step.SPENT,
                        _money(paid * Decimal("0.9")),
                        self.today - datetime.timedelta(days=rng.randint(5, 40)),
                        "",
                    ),
                ],
                note="项目贷款（固定资产贷款）",
            )
            own = _money(project.total_investment * Decimal("0.6"))
            in_place = _money(own * Decimal(rng.choice(["0.45", "0.6", "0.75"])))
            self._line(
                project,
                "企业自筹",
                start.year,
                [
                    (Step.RESERVE, own, start - datetime.timedelta(days=90), ""),
                    (Step.DISBURSED, in_place, start, ""),
                    (
                        Step.SPENT,
                        _money(in_place * Decimal("0.95")),
                        self.today - datetime.timedelta(days=rng.randint(5, 40)),
                        "",
                    ),
                ],
            )

    # -- acceleration measures, land -------------------------------------------------------------------------

    def _agent_for(self, item: ApprovalItem):
        users = self.seeder.users
        officer = users.get(f"jbr_{self._unit_key(item.department_id)}") if item.department_id else None
        return officer or users.get(D.DISPATCHERS[1].key)

    def _unit_key(self, unit_id: int) -> str | None:
        for key, unit in self.seeder.units.items():
            if unit.pk == unit_id:
                return key
        return None

    def seed_measures(self) -> None:
        rng = random.Random(f"funding-measures-{self.today}")
        built = [p for p in self.projects if p.stage in BUILT and p.actual_start and p.actual_start.year >= self.ly - 1]
        names = {"施工许可证", "建设工程规划许可证", "环评批复", "节能审查", "施工图审查", "建设用地规划许可证"}
        items = list(
            ApprovalItem.objects.filter(
                project__in=built, status=ApprovalStatus.DONE, name__in=names, actual_date__isnull=False
            )
            .select_related("project")
            .order_by("project_id", "position")
        )
        for n, item in enumerate(items):
            roll = rng.random()
            if roll > 0.25:
                continue
            data: dict = {}
            if item.name in ("环评批复", "节能审查", "施工许可证") and roll < 0.15:
                deadline = item.actual_date + datetime.timedelta(days=rng.choice([60, 90, 180]))
                outcome = PromiseOutcome.PENDING
                checked = None
                if deadline < self.today:
                    outcome = PromiseOutcome.BROKEN if n % 9 == 0 else PromiseOutcome.KEPT
                    checked = min(deadline + datetime.timedelta(days=rng.randint(1, 20)), self.today)
                content = {
                    "环评批复": "承诺按环评要求建设污染防治设施并按期完成自主验收",
                    "节能审查": "承诺项目能效水平达到行业先进值并按期提交节能报告",
                    "施工许可证": "承诺在期限内补齐施工图审查合格书和质量安全监督手续",
                }[item.name]
                data.update(
                    on_promise=True,
                    promise_content=content,
                    promise_deadline=deadline,
                    promise_outcome=outcome,
                    promise_checked_on=checked,
                )
            agent = self._agent_for(item)
            if agent is not None and roll < 0.22:
                data.update(
                    agent=agent, agent_started_on=item.actual_date - datetime.timedelta(days=rng.randint(3, 25))
                )
            if data:
                domain.save_acceleration(item, by=None, data=data, today=self.today)
                self.created["approvalacceleration"] += 1

    def seed_land(self) -> None:
        rng = random.Random(f"funding-land-{self.today}")
        built = [
            p
            for p in self.projects
            if p.stage in BUILT
            and p.actual_start
            and p.actual_start.year >= self.ly - 2  # "拿地即开工" is a measure of the last few years
            and p.project_type != ProjectType.GOVERNMENT
            and p.industry.name not in PUBLIC_INDUSTRIES
        ]
        permits = permit_dates([p.pk for p in built])
        standard = 0
        for project in built:
            permit = permits.get(project.pk)
            anchor = min(filter(None, [permit, project.actual_start]))
            certificate = anchor - datetime.timedelta(days=rng.choice([3, 6, 9, 14, 20, 30, 45, 75, 120]))
            area = Decimal(rng.randint(30, 320))
            data = {"certificate_on": certificate, "area_mu": area}
            if standard < 10 and project.industry.name in ("先进制造业", "新材料", "新能源", "电子信息", "生物医药"):
                standard += 1
                investment = Decimal(rng.choice([300, 350, 400, 450]))
                tax = Decimal(rng.choice([15, 20, 25, 30]))
                data.update(
                    is_standard=True,
                    sold_on=certificate - datetime.timedelta(days=rng.randint(10, 40)),
                    promised_investment=investment,
                    promised_tax=tax,
                    promised_plot_ratio=Decimal("1.20"),
                    promised_energy=Decimal("0.350"),
                    promised_emission=Decimal(rng.choice([12, 20, 35])),
                )
                if project.stage in (Stage.COMMISSIONED, Stage.EFFECTIVE):
                    factor = Decimal(rng.choice(["0.88", "1.05", "1.12", "0.95"]))
                    data.update(
                        checked_on=min(self.today, project.actual_start + datetime.timedelta(days=720)),
                        checked_investment=_money(investment * factor),
                        checked_tax=_money(tax * factor),
                        checked_plot_ratio=Decimal("1.35"),
                        checked_energy=Decimal("0.320") / factor,
                        checked_emission=data["promised_emission"] - 2,
                    )
                    data["checked_energy"] = data["checked_energy"].quantize(Decimal("0.001"))
            domain.save_land(project, by=None, data=data, today=self.today)
            self.created["projectland"] += 1

    # -- registries -----------------------------------------------------------------------------------------

    def seed_matters(self) -> None:
        """1358 matters: 942 即来即办, 76 就近办, all online and 最多跑一次, over the departments."""
        units = {u.short_name or u.name: u for u in Unit.objects.filter(kind=Unit.Kind.DEPARTMENT)}
        rows = []
        for variant in VARIANTS:  # a round over every base matter per variant, until the catalogue is full
            for department, base, category in ALL_BASES:
                if len(rows) < MATTERS_TOTAL:
                    rows.append((department, f"{base}{variant}", category))
        rng = random.Random("funding-matters")
        order = list(range(len(rows)))
        rng.shuffle(order)
        spot = set(order[:MATTERS_ON_THE_SPOT])
        public = [
            i
            for i in order
            if rows[i][2] in (MatterCategory.PUBLIC_SERVICE, MatterCategory.PAYMENT, MatterCategory.CONFIRMATION)
        ]
        near = set(public[:MATTERS_NEAR_HOME])
        matters = []
        counters: Counter = Counter()
        for i, (department, name, category) in enumerate(rows):
            counters[department] += 1
            unit = units.get(department)
            code = f"1141070200{(unit.pk if unit else 0):04d}{_CATEGORY_CODE[category]}{counters[department]:05d}"
            matters.append(
                ServiceMatter(
                    code=code,
                    name=name,
                    category=category,
                    department=unit,
                    department_name=department,
                    at_most_once=True,
                    on_the_spot=i in spot,
                    near_home=i in near,
                    online=True,
                    promised_days=0 if i in spot else rng.choice([1, 2, 3, 5, 7, 10, 15, 20]),
                )
            )
        ServiceMatter.objects.bulk_create(matters, batch_size=500)
        self.seeder._summarise("servicematter", "政务服务事项", [m.name for m in matters])

    def seed_chains(self) -> None:
        leaders = {p.key: self.seeder.users.get(p.key) for p in D.LEADERS}
        by_industry: dict[str, list[Project]] = {}
        for p in self.projects:
            by_industry.setdefault(p.industry.name, []).append(p)
        owners = {u.pk: u for u in Unit.objects.filter(kind=Unit.Kind.ENTERPRISE)}
        for position, (name, industries, leader_key, description) in enumerate(CHAINS):
            projects = sorted(
                (p for i in industries for p in by_industry.get(i, [])), key=lambda p: -p.total_investment
            )
            if not projects:
                continue
            companies = list(dict.fromkeys(owners[p.owner_unit_id] for p in projects if p.owner_unit_id in owners))
            domain.save_chain(
                None,
                by=None,
                data={
                    "name": name,
                    "leader": leaders.get(leader_key),
                    "lead_company": companies[0] if companies else None,
                    "description": description,
                    "position": position,
                    "projects": projects,
                    "companies": companies,
                },
            )
            self.created["industrychain"] += 1

    def seed_buildings(self) -> None:
        towns = {u.short_name or u.name: u for u in Unit.objects.filter(kind=Unit.Kind.TOWN)}
        service = [p for p in self.projects if p.industry.name in ("数字经济", "商贸服务", "现代物流", "电子信息")]
        companies = list(dict.fromkeys(p.owner_unit for p in service if p.owner_unit_id))
        for i, (name, town, address, stars, tax, area, tenants) in enumerate(BUILDINGS):
            linked = companies[i * 2 : i * 2 + 2] if companies else []
            domain.save_building(
                None,
                by=None,
                data={
                    "name": name,
                    "address": address,
                    "town": towns.get(town),
                    "star_rating": stars,
                    "annual_tax": Decimal(tax),
                    "floor_area": Decimal(area),
                    "tenant_count": max(tenants, len(linked)),
                    "companies": linked,
                    "note": "",
                },
            )
            self.created["building"] += 1


_CATEGORY_CODE = {c: f"{i:02d}" for i, c in enumerate(MatterCategory.values)}
LIC, CONF, PAY, AWARD = (
    MatterCategory.LICENSE,
    MatterCategory.CONFIRMATION,
    MatterCategory.PAYMENT,
    MatterCategory.AWARD,
)
SVC = MatterCategory.PUBLIC_SERVICE
# (department short name, [(base matter, category)]); names are typical of a district's catalogue.
MATTER_BASES = [
    (
        "区市场监管局",
        [
            ("食品经营许可", LIC),
            ("药品零售企业许可", LIC),
            ("营业执照登记", LIC),
            ("个体工商户登记", LIC),
            ("特种设备使用登记", CONF),
            ("小餐饮登记", LIC),
            ("第二类医疗器械经营备案", SVC),
            ("计量器具检定", SVC),
            ("广告发布登记", LIC),
            ("股权出质登记", CONF),
        ],
    ),
    (
        "区人社局",
        [
            ("就业创业证申领", SVC),
            ("失业保险金申领", PAY),
            ("职业技能培训补贴申领", PAY),
            ("社会保险参保登记", SVC),
            ("养老保险待遇申领", PAY),
            ("工伤认定", CONF),
            ("劳动能力鉴定", CONF),
            ("创业担保贷款申请", SVC),
            ("人力资源服务许可", LIC),
            ("灵活就业人员参保", SVC),
        ],
    ),
    (
        "区民政局",
        [
            ("最低生活保障审核确认", PAY),
            ("特困人员认定", CONF),
            ("临时救助", PAY),
            ("婚姻登记", CONF),
            ("社会团体登记", LIC),
            ("民办非企业单位登记", LIC),
            ("高龄津贴申领", PAY),
            ("残疾人两项补贴申领", PAY),
        ],
    ),
    (
        "区卫健委",
        [
            ("医疗机构执业登记", LIC),
            ("出生医学证明办理", SVC),
            ("公共场所卫生许可", LIC),
            ("放射诊疗许可", LIC),
            ("计划生育家庭特别扶助", PAY),
            ("母婴保健技术服务许可", LIC),
            ("护士执业注册", LIC),
        ],
    ),
    (
        "区城建局",
        [
            ("建筑工程施工许可", LIC),
            ("商品房预售许可", LIC),
            ("建设工程竣工验收备案", SVC),
            ("建筑业企业资质核准", LIC),
            ("房屋建筑工程质量监督登记", SVC),
            ("住房租赁登记", SVC),
            ("燃气经营许可", LIC),
        ],
    ),
    (
        "区城管局",
        [
            ("城市建筑垃圾处置核准", LIC),
            ("设置大型户外广告审批", LIC),
            ("临时占用城市道路审批", LIC),
            ("挖掘城市道路审批", LIC),
            ("砍伐城市树木审批", LIC),
            ("城镇污水排入排水管网许可", LIC),
        ],
    ),
    (
        "自然资源和规划分局",
        [
            ("建设用地规划许可", LIC),
            ("建设工程规划许可", LIC),
            ("乡村建设规划许可", LIC),
            ("不动产登记", CONF),
            ("建设项目用地预审与选址意见书核发", LIC),
            ("临时用地审批", LIC),
        ],
    ),
    (
        "生态环境分局",
        [
            ("建设项目环境影响评价审批", LIC),
            ("排污许可", LIC),
            ("危险废物经营许可", LIC),
            ("环境影响登记表备案", SVC),
            ("辐射安全许可", LIC),
        ],
    ),
    (
        "区发改委",
        [
            ("企业投资项目备案", SVC),
            ("政府投资项目审批", LIC),
            ("固定资产投资项目节能审查", LIC),
            ("企业投资项目核准", LIC),
            ("价格认定", SVC),
        ],
    ),
    (
        "区教体文旅局",
        [
            ("民办学校办学许可", LIC),
            ("娱乐场所经营许可", LIC),
            ("营业性演出审批", LIC),
            ("教师资格认定", CONF),
            ("学生资助申请", PAY),
            ("体育类校外培训机构审批", LIC),
        ],
    ),
    ("区应急局", [("危险化学品经营许可", LIC), ("烟花爆竹零售许可", LIC), ("生产安全事故应急预案备案", SVC)]),
    (
        "区农业农村局",
        [
            ("农药经营许可", LIC),
            ("兽药经营许可", LIC),
            ("取水许可", LIC),
            ("农村宅基地审批", LIC),
            ("农机购置补贴申领", PAY),
        ],
    ),
    (
        "区税务局",
        [
            ("发票领用", SVC),
            ("税务登记", SVC),
            ("纳税证明开具", SVC),
            ("增值税专用发票代开", SVC),
            ("出口退税备案", SVC),
            ("个人所得税汇算清缴", SVC),
        ],
    ),
    (
        "公安红旗分局",
        [
            ("居民身份证申领", SVC),
            ("户口迁移", SVC),
            ("出生登记", SVC),
            ("居住证办理", SVC),
            ("机动车登记", CONF),
            ("剧毒化学品购买许可", LIC),
        ],
    ),
    ("区科技局", [("高新技术企业认定推荐", AWARD), ("科技型中小企业评价", CONF), ("技术合同认定登记", CONF)]),
    ("区商务局", [("对外贸易经营者备案", SVC), ("单用途商业预付卡备案", SVC), ("成品油零售经营许可初审", LIC)]),
    ("区人防办", [("人防工程易地建设审批", LIC), ("人防工程竣工验收备案", SVC)]),
]
ALL_BASES = [(department, base, category) for department, bases in MATTER_BASES for base, category in bases]
# Each round over the bases adds a variant (a catalogue lists 变更/延续/注销… as matters of their own).
VARIANTS = [
    "",
    "（变更）",
    "（延续）",
    "（注销）",
    "（补办）",
    "（迁移）",
    "（信息查询）",
    "（证明开具）",
    "（告知承诺制）",
    "（跨省通办）",
    "（帮办代办）",
    "（容缺受理）",
    "（首次办理）",
    "（年度报告）",
    "（备案变更）",
    "（一件事联办）",
]

# (chain, industries of its projects, chain leader (person key), description)
CHAINS = [
    ("高端装备制造产业链", ["先进制造业"], "ld03", "起重装备、汽车零部件和智能制造装备，链主牵头配套企业就近布局。"),
    ("电子信息产业链", ["电子信息"], "ld04", "智能传感器、新型显示和电子元器件，围绕链主企业招引上下游项目。"),
    ("新能源电池产业链", ["新能源"], "ld04", "锂电池材料、电池制造和储能系统，打造电池和新能源产业集群。"),
    ("生物医药产业链", ["生物医药"], "ld06", "原料药、生物制品和医疗器械，依托骨干企业延链补链。"),
    ("新材料产业链", ["新材料"], "ld03", "功能性膜材料、新型化工材料和金属新材料。"),
    ("数字经济产业链", ["数字经济"], "ld04", "大数据、软件和信息技术服务，依托智慧岛集聚数字企业。"),
    ("现代物流产业链", ["现代物流", "商贸服务"], "ld05", "冷链、电商和城市配送，服务区内制造业和商贸业。"),
]
# (name, town, address, stars, annual tax 万元, floor area ㎡, companies in it)
BUILDINGS = [
    ("红旗区总部经济大厦", "东街街道", "人民路与新中大道交叉口", 5, "12600", "86000", 118),
    ("平原金融中心", "西街街道", "平原路中段", 5, "10800", "72000", 96),
    ("科创智慧岛A座", "小店镇", "红开区智慧岛", 4, "6200", "54000", 152),
    ("人民路商务中心", "东街街道", "人民路东段", 4, "5400", "48000", 87),
    ("金穗大道科技大厦", "渠东街道", "金穗大道中段", 4, "3900", "41000", 73),
    ("东街数字经济产业园1号楼", "东街街道", "东街数字经济产业园", 3, "2600", "36000", 64),
    ("渠东商务大厦", "渠东街道", "渠东路与和平大道交叉口", 3, "1800", "28000", 52),
    ("向阳电子商务大厦", "向阳小区街道", "向阳路南段", 3, "1200", "23000", 45),
    ("文化街创意大厦", "文化街街道", "文化街中段", 2, "760", "18000", 38),
    ("洪门科技孵化大厦", "洪门镇", "洪门镇工业园", 2, "420", "15000", 29),
    ("关堤乡电商服务中心", "关堤乡", "关堤乡政府东侧", 1, "160", "8000", 21),
]


def seed(seeder) -> Counter:
    """Funding, measures and registries for the seeded district (see the module docstring)."""
    return FundingSeeder(seeder).run()
