"""The demo portfolio of 红旗区: project plans, consistent timelines and approval states.

Two uses, both from `manage.py seed_demo`:
- `plan_district()` plans the ~200 key projects of the demo district (calibrated to the 2022 plan:
  196 ≥1亿, 89 ≥10亿, 5 ≥50亿), which the command creates through the domain functions;
- `bulk_portfolio()` tops the library up to N projects with bulk inserts for benchmarks, writing one
  summary audit record.

Plans are pure data (keys, not model instances) and deterministic for a given day.
"""

from __future__ import annotations

import datetime
import functools
import random
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone

from keyprojects.audit.models import AuditRecord
from keyprojects.lib import context
from keyprojects.lib.credit_code import make_credit_code
from keyprojects.org import demo_data as D
from keyprojects.projects.models import (
    ApprovalItem,
    ApprovalStatus,
    ApprovalTemplateItem,
    Batch,
    BatchMembership,
    FinancingModel,
    Industry,
    Level,
    Phase,
    Project,
    ProjectType,
    Stage,
    StageTransition,
    Status,
)

STAGES = list(Stage.values)
WAN_YI = Decimal(10000)
# The 2022 plan, as exact (non-cumulative) bands: 5 ≥50亿, 84 in [10亿, 50亿), 107 in [1亿, 10亿), 4 below.
BANDS = [  # (lower, upper) in 万元, count
    (Decimal(500000), Decimal(1500000), 5),
    (Decimal(100000), Decimal(500000), 84),
    (Decimal(10000), Decimal(100000), 107),
    (Decimal(2000), Decimal(10000), 4),
]
LEVEL_QUOTA = {Level.PROVINCE: 20, Level.CITY: 80}  # the rest are 区重点; 100 ≥ 89 service officers
STAGE_QUOTA = {
    Stage.PLANNING: 20,
    Stage.SIGNED: 20,
    Stage.PREPARATION: 30,
    Stage.STARTED: 20,
    Stage.CONSTRUCTION: 60,
    Stage.COMPLETED: 15,
    Stage.COMMISSIONED: 25,
    Stage.EFFECTIVE: 10,
}
GOVERNMENT_INDUSTRIES = {"社会事业", "基础设施", "城市更新"}
INDUSTRY_WEIGHTS = {
    "先进制造业": 16,
    "电子信息": 12,
    "新材料": 10,
    "生物医药": 6,
    "新能源": 7,
    "数字经济": 7,
    "现代物流": 5,
    "商贸服务": 5,
    "文化旅游": 4,
    "城市更新": 9,
    "基础设施": 9,
    "社会事业": 7,
    "现代农业": 3,
    "房地产": 3,
}
RESPONSIBLE_BY_INDUSTRY = {
    "现代物流": "swj",
    "商贸服务": "swj",
    "文化旅游": "jtwl",
    "现代农业": "nync",
    "房地产": "cjj",
    "城市更新": "cjj",
    "数字经济": "kjj",
}
LEADER_BY_INDUSTRY = {
    "城市更新": "ld05",
    "基础设施": "ld05",
    "房地产": "ld05",
    "社会事业": "ld06",
    "文化旅游": "ld06",
    "现代农业": "ld07",
}
# Days spent in each stage before the next one (min, max); construction scales with size.
DWELL = {
    Stage.PLANNING: (30, 240),
    Stage.SIGNED: (20, 150),
    Stage.PREPARATION: (60, 300),
    Stage.STARTED: (10, 60),
    Stage.CONSTRUCTION: (240, 720),
    Stage.COMPLETED: (15, 150),
    Stage.COMMISSIONED: (180, 540),
}
# How long ago a project entered its current stage (min, max days).
ENTERED = {
    Stage.PLANNING: (5, 300),
    Stage.SIGNED: (5, 200),
    Stage.PREPARATION: (10, 240),
    Stage.STARTED: (5, 60),
    Stage.CONSTRUCTION: (30, 500),
    Stage.COMPLETED: (10, 200),
    Stage.COMMISSIONED: (30, 500),
    Stage.EFFECTIVE: (30, 400),
}
APPROVAL_NOTES = ["信用承诺制办理", "全程代办", "拿地即开工", "区域评估成果共享", "容缺受理"]
FIRST_PHASE = (7, datetime.date(2023, 1, 10))  # 第七期 was held in January 2023; phases are quarterly.
CN_DIGITS = "零一二三四五六七八九"


def chinese_number(n: int) -> str:
    """1..99 in Chinese numerals (第十三期)."""
    tens, ones = divmod(n, 10)
    if tens == 0:
        return CN_DIGITS[ones]
    return f"{'' if tens == 1 else CN_DIGITS[tens]}十{CN_DIGITS[ones] if ones else ''}"


def phase_dates(today: datetime.date) -> list[tuple[int, datetime.date]]:
    """The "三个一批" phases held up to today: quarterly from 第七期 (2023-01)."""
    number, held = FIRST_PHASE
    phases = []
    while held <= today:
        phases.append((number, held))
        number += 1
        month = held.month + 3
        held = held.replace(year=held.year + (month - 1) // 12, month=(month - 1) % 12 + 1)
    return phases


@dataclass
class ProjectPlan:
    name: str
    industry: str
    owner: str
    amount: Decimal
    stage: str
    town: str  # town key
    responsible: str  # unit key or town key
    project_type: str
    financing: str
    level: str = Level.DISTRICT
    status: str = Status.NORMAL
    leader: str = ""
    officer: int | None = None  # index into the service officers
    content: str = ""
    latitude: Decimal | None = None
    longitude: Decimal | None = None
    dates: dict[str, datetime.date] = field(default_factory=dict)  # stage -> date entered
    planned_start: datetime.date | None = None
    planned_end: datetime.date | None = None
    code: str | None = None
    memberships: dict[str, int] = field(default_factory=dict)  # batch -> phase number
    fixed: frozenset[str] = frozenset()  # stages whose dates are real facts (never moved)

    @property
    def actual_start(self) -> datetime.date | None:
        return self.dates.get(Stage.STARTED)

    @property
    def actual_end(self) -> datetime.date | None:
        return self.dates.get(Stage.COMPLETED)


# ---------------------------------------------------------------------------------------------
# Pieces shared by the district plan and the bulk portfolio


def round_amount(rng: random.Random, low: Decimal, high: Decimal) -> Decimal:
    """A log-uniform amount in [low, high) 万元, rounded the way plans state them."""
    value = Decimal(str(round(float(low) * (float(high) / float(low)) ** rng.random(), 2)))
    step = Decimal(100) if value >= 100000 else Decimal(10) if value >= 10000 else Decimal(1)
    value = (value / step).to_integral_value() * step
    return min(max(value, low), high - step).quantize(Decimal("0.01"))


def scale_for(amount: Decimal) -> float:
    if amount >= 500000:
        return 1.6
    if amount >= 100000:
        return 1.3
    return 1.0 if amount >= 10000 else 0.8


def make_timeline(
    rng: random.Random,
    stage: str,
    amount: Decimal,
    today: datetime.date,
    anchor: tuple[str, datetime.date] | None = None,
) -> dict[str, datetime.date]:
    """Dates on which the project entered each stage up to `stage`, strictly increasing, ≤ today."""
    k = STAGES.index(stage)
    scale = scale_for(amount)

    def dwell(s: str) -> int:
        lo, hi = DWELL[s]
        days = rng.randint(lo, hi)
        return int(days * scale) if s == Stage.CONSTRUCTION else days

    dates: dict[str, datetime.date] = {}
    if anchor and STAGES.index(anchor[0]) <= k:
        a = STAGES.index(anchor[0])
        dates[anchor[0]] = anchor[1]
        for i in range(a + 1, k + 1):
            room = (today - dates[STAGES[i - 1]]).days - (k - i)
            dates[STAGES[i]] = dates[STAGES[i - 1]] + datetime.timedelta(days=max(1, min(dwell(STAGES[i - 1]), room)))
    else:
        a = k
        lo, hi = ENTERED[stage]
        dates[stage] = today - datetime.timedelta(days=rng.randint(lo, hi))
    for i in range(a - 1, -1, -1):
        dates[STAGES[i]] = dates[STAGES[i + 1]] - datetime.timedelta(days=dwell(STAGES[i]))
    return {s: dates[s] for s in STAGES[: k + 1]}


def plan_dates(rng: random.Random, plan: ProjectPlan, today: datetime.date) -> None:
    """Planned start/end consistent with the stage, the status and the actual dates."""
    scale = scale_for(plan.amount)
    months = int(rng.randint(12, 30) * scale)
    if plan.actual_start:
        late = rng.randint(60, 200) if plan.status == Status.BEHIND else rng.randint(-20, 45)
        plan.planned_start = plan.actual_start - datetime.timedelta(days=late)
    elif plan.status == Status.BEHIND:
        plan.planned_start = today - datetime.timedelta(days=rng.randint(15, 150))
    else:
        plan.planned_start = today + datetime.timedelta(days=rng.randint(20, 420))
    plan.planned_end = plan.planned_start + datetime.timedelta(days=months * 30)
    if plan.actual_end and rng.random() < 0.6:
        plan.planned_end = max(plan.planned_start, plan.actual_end - datetime.timedelta(days=rng.randint(-60, 60)))


def pick_status(rng: random.Random, stage: str) -> str:
    roll = rng.random()
    if stage == Stage.EFFECTIVE:
        return Status.NORMAL
    if stage in (Stage.STARTED, Stage.CONSTRUCTION):
        return Status.STOPPED if roll < 0.04 else Status.BEHIND if roll < 0.16 else Status.NORMAL
    if stage in (Stage.PLANNING, Stage.SIGNED, Stage.PREPARATION):
        return Status.PAUSED if roll < 0.07 else Status.BEHIND if roll < 0.17 else Status.NORMAL
    return Status.BEHIND if roll < 0.05 else Status.NORMAL


def project_code(plan: ProjectPlan, serial: int) -> str:
    """A national project code in the GB/T 40058 layout, dated when the project was authorised."""
    when = plan.dates.get(Stage.PREPARATION) or plan.dates.get(Stage.SIGNED) or plan.dates[Stage.PLANNING]
    tt = {ProjectType.GOVERNMENT: "01", ProjectType.CONFIRMATION: "02", ProjectType.FILING: "03"}[plan.project_type]
    body = f"{when:%y%m}-{D.DISTRICT_REGION}-04-{tt}-{serial % 100000:05d}"
    return body + str(sum(ord(c) for c in body) % 10)


@functools.lru_cache(maxsize=4096)
def owner_credit_code(owner: str) -> str:
    """A valid, stable 统一社会信用代码 for a demo company (registered in 红旗区, prefix 91)."""
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    n = int.from_bytes(owner.encode(), "big") % (31**6)
    body = ""
    for _ in range(6):
        n, r = divmod(n, 31)
        body = alphabet[r] + body
    return make_credit_code("91", D.DISTRICT_REGION, "MA" + body)


def construction_content(rng: random.Random, plan: ProjectPlan) -> str:
    name, industry = plan.name, plan.industry
    if "棚户区" in name:
        return (
            f"征收面积约{rng.randint(8, 60)}万平方米，建设安置房约{rng.randint(10, 90)}万平方米，"
            f"配套建设道路、学校、社区服务用房及地下停车设施。"
        )
    if "老旧小区" in name or "背街小巷" in name:
        return (
            f"改造老旧小区{rng.randint(6, 40)}个、楼栋{rng.randint(40, 300)}栋，涉及居民{rng.randint(1500, 9000)}户，"
            f"实施管网改造、外立面整治、加装电梯及配套设施建设。"
        )
    if "路" in name and industry == "基础设施":
        return (
            f"道路全长约{rng.randint(8, 60) / 10}公里，红线宽度{rng.choice([24, 30, 40, 50, 60])}米，"
            f"建设内容包括道路、雨污水管网、照明、绿化及交通设施。"
        )
    if industry == "社会事业":
        if "卫生" in name or "医院" in name:
            beds = rng.randint(1, 8) * 100
            return f"总建筑面积约{rng.randint(2, 12)}万平方米，设置床位{beds}张，建设门诊医技楼、住院楼及配套设施。"
        return f"总建筑面积约{rng.randint(1, 8)}万平方米，建设教学楼（业务用房）、综合楼、运动场及配套设施。"
    if industry in GOVERNMENT_INDUSTRIES:
        return f"实施{name.replace('项目', '').replace('工程', '')}，配套建设管网、绿化、照明等附属设施。"
    if industry in ("商贸服务", "文化旅游"):
        return (
            f"总建筑面积约{rng.randint(2, 30)}万平方米，建设商业、文化体验、餐饮及配套停车设施，"
            f"建成后预计年接待游客（顾客）约{rng.randint(50, 500)}万人次。"
        )
    if industry == "现代物流":
        return (
            f"项目占地约{rng.randint(50, 400)}亩，建设智能仓储库房、分拨中心、冷库及信息平台，"
            f"建成后年吞吐量约{rng.randint(20, 200)}万吨。"
        )
    if industry == "数字经济":
        return (
            f"总建筑面积约{rng.randint(2, 20)}万平方米，建设研发办公楼、数据中心机房及孵化载体，"
            f"计划引进企业{rng.randint(20, 200)}家。"
        )
    if industry == "现代农业":
        return f"规划面积约{rng.randint(500, 3000)}亩，建设高标准种植区、农产品加工及冷链仓储、休闲观光配套设施。"
    if industry == "房地产":
        return f"总建筑面积约{rng.randint(8, 45)}万平方米，建设住宅、商业及地下车库，配套建设幼儿园和社区用房。"
    return (
        f"项目占地约{rng.randint(30, 600)}亩，总建筑面积约{rng.randint(2, 40)}万平方米，建设生产厂房、研发中心、"
        f"仓储用房及配套设施，建成后预计年产值约{rng.randint(2, 60)}亿元。"
    )


def approval_states(
    rng: random.Random, names: list[str], plan: ProjectPlan, today: datetime.date, counters: dict
) -> list[dict]:
    """Status, dates, document number and note of each checklist item, consistent with the stage.

    开工 and later: everything up to 施工许可证 is 已办 before the actual start; 联合验收 is done from
    竣工 on. 前期手续: the first items are done, one or two in progress, some overdue, the rest to do.
    """
    order = STAGES.index(plan.stage)
    n = len(names)
    permit = names.index("施工许可证") if "施工许可证" in names else n - 2
    states = [{"status": ApprovalStatus.PENDING} for _ in names]
    for i, name in enumerate(names):
        if name in D.OPTIONAL_APPROVALS and rng.random() < 0.12:
            states[i] = {"status": ApprovalStatus.NOT_APPLICABLE, "note": "经核实不涉及"}
    live = [i for i in range(n) if states[i]["status"] != ApprovalStatus.NOT_APPLICABLE]
    window_start = plan.dates.get(Stage.SIGNED, plan.dates[Stage.PLANNING])
    if order >= STAGES.index(Stage.STARTED):
        done = [i for i in live if i <= permit] + ([i for i in live if i > permit] if plan.actual_end else [])
        window_end = plan.actual_start - datetime.timedelta(days=1)
        in_progress: list[int] = []
        overdue: list[int] = []
    else:
        if plan.stage == Stage.PREPARATION:
            k = rng.randint(1, max(1, len([i for i in live if i < permit]) - 1))
        elif plan.stage == Stage.SIGNED:
            k = 1 if rng.random() < 0.5 else 0
        else:
            k = 0
        done = live[:k]
        rest = live[k:]
        busy = rng.randint(1, 2) if plan.stage == Stage.PREPARATION else (1 if rng.random() < 0.5 else 0)
        in_progress = rest[:busy]
        overdue = []
        if in_progress and plan.stage != Stage.PLANNING and (plan.status == Status.BEHIND or rng.random() < 0.25):
            overdue = [in_progress.pop(0)]
        window_end = today - datetime.timedelta(days=1)
    # Done items get increasing dates inside the window; 施工许可证 last before the start.
    span = max(1, (window_end - window_start).days)
    pre = [i for i in done if i <= permit]
    offsets = sorted(rng.sample(range(1, span + 1), len(pre))) if span >= len(pre) else list(range(1, len(pre) + 1))
    if pre and order >= STAGES.index(Stage.STARTED):
        offsets[-1] = max(offsets[-1], span - rng.randint(0, min(20, span // 2)))
    for i, off in zip(pre, offsets, strict=True):
        states[i] = {
            "status": ApprovalStatus.DONE,
            "actual_date": min(window_start + datetime.timedelta(days=off), window_end),
        }
    for i in done:
        if i > permit:  # 联合验收 on completion
            states[i] = {"status": ApprovalStatus.DONE, "actual_date": min(plan.actual_end, today)}
    for i in in_progress:
        states[i] = {
            "status": ApprovalStatus.IN_PROGRESS,
            "planned_date": today + datetime.timedelta(days=rng.randint(5, 60)),
        }
    for i in overdue:
        states[i] = {
            "status": ApprovalStatus.OVERDUE,
            "planned_date": today - datetime.timedelta(days=rng.randint(5, 90)),
            "note": "已超过计划办结时间，请加快办理",
        }
    future = today + datetime.timedelta(days=rng.randint(30, 90))
    for i in live:
        state = states[i]
        if state["status"] == ApprovalStatus.DONE:
            state["planned_date"] = state["actual_date"] + datetime.timedelta(days=rng.randint(-15, 30))
            year = state["actual_date"].year
            counters[(names[i], year)] += 1
            fmt = D.DOCUMENT_FORMATS.get(names[i], "红旗〔{y}〕{n}号")
            state["document_number"] = fmt.format(y=year, n=counters[(names[i], year)])
            if rng.random() < 0.08:
                state["note"] = rng.choice(APPROVAL_NOTES)
        elif state["status"] == ApprovalStatus.PENDING:
            if names[i] == "联合验收" and plan.planned_end and plan.planned_end > today:
                state["planned_date"] = plan.planned_end
            else:
                future += datetime.timedelta(days=rng.randint(10, 60))
                state["planned_date"] = future
    return states


# ---------------------------------------------------------------------------------------------
# The district plan (~200 projects)


def _fill(pattern: str, rng: random.Random, industry: str, town: str) -> str:
    products = D.PRODUCTS.get(industry, {"综合": []})
    product = rng.choice(list(products))
    if "{qty}" in pattern and not products[product]:
        product = rng.choice([p for p, sizes in products.items() if sizes] or [product])
    return pattern.format(
        brand=rng.choice(D.BRANDS),
        product=product,
        qty=rng.choice(products[product] or ["一批"]),
        road=rng.choice(D.ROADS),
        town=town.removesuffix("街道").removesuffix("小区") if town.endswith("街道") else town,
        ordinal=rng.choice(D.ORDINALS),
        year=rng.choice([2024, 2025, 2026]),
        village=rng.choice(D.VILLAGES.get(town, [f"{town.removesuffix('街道')}片区"])),
        estate=rng.choice(D.ESTATES),
    )


def patterns_for(industry: str, low: Decimal) -> list[str]:
    """Name patterns that fit the size: no 10亿 parking lot or clinic."""
    patterns = D.INDUSTRY_PATTERNS[industry]
    if low >= 100000:
        patterns = [p for p in patterns if not any(word in p for word in D.SMALL_PROJECT_WORDS)] or patterns
    return patterns


def _pick_town(rng: random.Random, industry: str) -> D.TownSpec:
    urban = [t for t in D.TOWNS if t.urban]
    rural = [t for t in D.TOWNS if not t.urban]
    if industry in ("城市更新", "商贸服务", "房地产", "社会事业"):
        return rng.choice(urban if rng.random() < 0.8 else rural)
    if industry in ("基础设施", "文化旅游", "数字经济"):
        return rng.choice(D.TOWNS)
    return rng.choice(rural if rng.random() < 0.85 else urban)


def _responsible(rng: random.Random, industry: str, town: D.TownSpec, name: str) -> str:
    if industry == "社会事业":
        if "卫生" in name or "医院" in name:
            return "wjw"
        return "mzj" if "养老" in name else "jtwl"
    if industry == "基础设施":
        return "cgj" if "路" in name or "停车" in name else "cjj"
    if industry in RESPONSIBLE_BY_INDUSTRY and rng.random() < 0.7:
        return RESPONSIBLE_BY_INDUSTRY[industry]
    if not town.urban and industry not in GOVERNMENT_INDUSTRIES and rng.random() < 0.5:
        return "hkq"
    return town.key


def _type_and_financing(rng: random.Random, industry: str, owner: str) -> tuple[str, str]:
    if owner in D.STATE_OWNERS or industry in GOVERNMENT_INDUSTRIES:
        return ProjectType.GOVERNMENT, rng.choice(
            ["政府投资", "EPC", "EPC+F", "专项债+市场化融资", "PPP", "融建联合体"]
        )
    kind = (
        ProjectType.CONFIRMATION
        if industry == "新能源" and rng.random() < 0.4 or rng.random() < 0.06
        else ProjectType.FILING
    )
    return kind, rng.choice(["企业自筹"] * 6 + ["融建联合体", "BOT"])


def _owner_for(rng: random.Random, industry: str, town: D.TownSpec) -> str:
    if industry in GOVERNMENT_INDUSTRIES:
        if industry == "社会事业":
            return D.STATE_OWNERS[1]
        return D.STATE_OWNERS[3] if not town.urban and rng.random() < 0.4 else D.STATE_OWNERS[0]
    if industry == "文化旅游" and rng.random() < 0.4:
        return D.STATE_OWNERS[2]
    return f"新乡{rng.choice(D.BRANDS)}{D.INDUSTRY_COMPANY_WORD[industry]}有限公司"


def plan_district(today: datetime.date | None = None) -> list[ProjectPlan]:
    """The demo district's key projects: named ones from public news plus generated ones."""
    today = today or timezone.localdate()
    rng = random.Random("keyprojects-demo-410702")  # names, amounts, places: independent of the date
    towns = {t.key: t for t in D.TOWNS}
    plans: list[ProjectPlan] = []
    anchors: dict[str, tuple[str, datetime.date]] = {}
    for named in D.NAMED_PROJECTS:
        town = towns[named.town]
        ptype, financing = _type_and_financing(rng, named.industry, named.owner)
        plan = ProjectPlan(
            name=named.name,
            industry=named.industry,
            owner=named.owner,
            amount=named.amount_wan.quantize(Decimal("0.01")),
            stage=named.stage,
            town=town.key,
            project_type=named.project_type or ptype,
            financing=financing,
            responsible=named.responsible or _responsible(rng, named.industry, town, named.name),
            level=named.level or "",
        )
        if named.start_on:
            anchors[named.name] = (Stage.STARTED, datetime.date.fromisoformat(named.start_on))
            plan.fixed = frozenset({Stage.STARTED})
        if named.start_phase:
            plan.memberships[Batch.START] = named.start_phase
        plans.append(plan)

    # Generated projects fill the size bands and the stage quota left by the named ones.
    names = {p.name for p in plans}
    stage_slots: list[str] = []
    for stage, count in STAGE_QUOTA.items():
        stage_slots += [stage] * (count - sum(1 for p in plans if p.stage == stage))
    rng.shuffle(stage_slots)
    industries, weights = list(INDUSTRY_WEIGHTS), list(INDUSTRY_WEIGHTS.values())
    for low, high, count in BANDS:
        have = sum(1 for p in plans if low <= p.amount < high)
        for _ in range(count - have):
            industry = rng.choices(industries, weights)[0]
            if low >= 500000 and industry not in ("城市更新", "新能源", "先进制造业", "文化旅游"):
                industry = "城市更新"
            town = _pick_town(rng, industry)
            patterns = patterns_for(industry, low)
            for attempt in range(30):
                name = _fill(rng.choice(patterns), rng, industry, town.name)
                if attempt > 20:
                    name = name.replace("项目", "") + "（二期）"
                if name not in names:
                    break
            names.add(name)
            owner = _owner_for(rng, industry, town)
            ptype, financing = _type_and_financing(rng, industry, owner)
            plans.append(
                ProjectPlan(
                    name=name,
                    industry=industry,
                    owner=owner,
                    amount=round_amount(rng, low, high),
                    stage=stage_slots.pop(),
                    town=town.key,
                    project_type=ptype,
                    financing=financing,
                    responsible=_responsible(rng, industry, town, name),
                    level="",
                )
            )
    assert not stage_slots, "stage quota and band counts disagree"

    _assign_levels(rng, plans)
    for plan in plans:
        plan.status = pick_status(rng, plan.stage)
        town = towns[plan.town]
        plan.latitude = (Decimal(town.lat) + Decimal(rng.uniform(-0.01, 0.01))).quantize(Decimal("0.000001"))
        plan.longitude = (Decimal(town.lng) + Decimal(rng.uniform(-0.01, 0.01))).quantize(Decimal("0.000001"))
        plan.leader = _leader(rng, plan)
        plan.content = construction_content(rng, plan)
    # Service officers: one per provincial/municipal project, the first (联东U谷) is the demo officer's.
    keyed = [p for p in plans if p.level in (Level.PROVINCE, Level.CITY)]
    keyed.sort(key=lambda p: (p.name != "联东U谷红旗国际企业港", -p.amount))
    for i, plan in enumerate(keyed[: D.SERVICE_OFFICER_COUNT]):
        plan.officer = i

    # Dates depend on the day the seed runs.
    trng = random.Random(f"keyprojects-demo-410702-{today.isoformat()}")
    for serial, plan in enumerate(plans, start=10001):
        plan.dates = make_timeline(trng, plan.stage, plan.amount, today, anchors.get(plan.name))
        plan_dates(trng, plan, today)
        if STAGES.index(plan.stage) >= STAGES.index(Stage.PREPARATION) or (
            plan.stage == Stage.SIGNED and trng.random() < 0.4
        ):
            plan.code = project_code(plan, serial)
    assign_memberships(trng, plans, phase_dates(today), today)
    return plans


def _assign_levels(rng: random.Random, plans: list[ProjectPlan]) -> None:
    """省重点 are the largest; 市重点 most of the ≥10亿 and some large 1–10亿 ones; the rest 区重点."""
    free = [p for p in plans if not p.level]
    need = {lvl: quota - sum(1 for p in plans if p.level == lvl) for lvl, quota in LEVEL_QUOTA.items()}
    free.sort(key=lambda p: -float(p.amount) * rng.uniform(0.6, 1.4))
    for plan in free:
        if need[Level.PROVINCE] > 0 and plan.amount >= 200000:
            plan.level, need[Level.PROVINCE] = Level.PROVINCE, need[Level.PROVINCE] - 1
        elif need[Level.CITY] > 0 and plan.amount >= 30000 and rng.random() < 0.85:
            plan.level, need[Level.CITY] = Level.CITY, need[Level.CITY] - 1
        else:
            plan.level = Level.DISTRICT
    for lvl, left in need.items():  # top up from the largest district-level ones if a quota is short
        for plan in sorted((p for p in free if p.level == Level.DISTRICT), key=lambda p: -p.amount)[:left]:
            plan.level = lvl


def _leader(rng: random.Random, plan: ProjectPlan) -> str:
    if plan.level == Level.PROVINCE:
        return rng.choice(["ld01", "ld02"])
    if plan.industry in LEADER_BY_INDUSTRY:
        return LEADER_BY_INDUSTRY[plan.industry]
    return "ld03" if plan.level == Level.CITY and rng.random() < 0.4 else "ld04"


BATCH_STAGE = {Batch.SIGN: Stage.SIGNED, Batch.START: Stage.STARTED, Batch.COMMISSION: Stage.COMMISSIONED}
PER_PHASE = {Batch.SIGN: 4, Batch.START: 4, Batch.COMMISSION: 2}  # ≈10 projects per phase


def assign_memberships(
    rng: random.Random,
    plans: list[ProjectPlan],
    phases: list[tuple[int, datetime.date]],
    today: datetime.date,
    per_phase: dict[str, int] = PER_PHASE,
    chance: float = 1.0,
) -> None:
    """Put projects on the "三个一批" lists of the phase nearest to the day they signed, started or
    started producing, moving that day to the phase's ceremony when it keeps the timeline in order."""
    held = dict(phases)
    taken: Counter = Counter()
    for plan in plans:
        for batch, number in plan.memberships.items():
            taken[(number, batch)] += 1
    for batch in (Batch.COMMISSION, Batch.START, Batch.SIGN):
        stage = BATCH_STAGE[batch]
        i = STAGES.index(stage)
        order = list(plans)
        rng.shuffle(order)
        for plan in order:
            if batch in plan.memberships or stage not in plan.dates:
                if batch in plan.memberships and plan.memberships[batch] in held and stage not in plan.fixed:
                    plan.dates[stage] = held[plan.memberships[batch]]
                continue
            if chance < 1 and rng.random() > chance:
                continue
            when = plan.dates[stage]
            before = plan.dates[STAGES[i - 1]]
            after = today + datetime.timedelta(days=1)
            if i + 1 < len(STAGES) and STAGES[i + 1] in plan.dates:
                after = plan.dates[STAGES[i + 1]]
            best = None

            def day_gap(day: datetime.date, when: datetime.date = when) -> int:
                return abs((day - when).days)

            for number, day in phases:
                fits = abs((day - when).days) <= 100 and before < day < after
                if (
                    fits
                    and taken[(number, batch)] < per_phase[batch]
                    and (best is None or day_gap(day) < day_gap(best[1]))
                ):
                    best = (number, day)
            if best is None:
                continue
            if stage in plan.fixed and best[1] != when:
                continue
            plan.memberships[batch] = best[0]
            plan.dates[stage] = best[1]
            taken[(best[0], batch)] += 1


# ---------------------------------------------------------------------------------------------
# The bulk portfolio for benchmarks


TRANSITION_COLUMNS = ["project", "from_stage", "to_stage", "happened_on", "note", "recorded_by", "recorded_at"]
APPROVAL_COLUMNS = [
    "project",
    "position",
    "name",
    "department",
    "status",
    "planned_date",
    "actual_date",
    "document_number",
    "attachment",
    "attachment_name",
    "note",
    "updated_at",
]


def insert_rows(model, fields: list[str], rows: list[tuple]) -> None:
    """INSERT many rows with one prepared statement (values already in database form)."""
    if not rows:
        return
    quote = connection.ops.quote_name
    columns = ", ".join(quote(model._meta.get_field(name).column) for name in fields)
    sql = f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES ({', '.join(['%s'] * len(fields))})"
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def bulk_portfolio(target: int, *, log=print, batch_size: int = 2000) -> dict[str, int]:
    """Top the project library up to `target` projects with bulk inserts (one summary audit record).

    Stages, towns, industries, levels, amounts and dates vary; every project gets its full stage
    history and approval checklist; about one in five is on a "三个一批" list.
    """
    from keyprojects.org.models import Unit, User

    existing = Project.objects.count()
    missing = target - existing
    if missing <= 0:
        log(f"项目库已有 {existing} 个项目（目标 {target}），无需补充。")
        return {}
    today = timezone.localdate()
    rng = random.Random(f"keyprojects-bulk-{existing}-{target}")
    towns = {u.name: u for u in Unit.objects.filter(kind=Unit.Kind.TOWN)}
    town_specs = [t for t in D.TOWNS if t.unit_name in towns]
    units = {u.name: u for u in Unit.objects.exclude(kind=Unit.Kind.ENTERPRISE)}
    dept = {spec.key: units[spec.name] for spec in D.DEPARTMENTS if spec.name in units}
    town_units = {t.key: towns[t.unit_name] for t in town_specs}
    if not town_specs or not dept:
        raise RuntimeError("seed the district first (towns and departments are missing)")
    industries = {i.name: i for i in Industry.objects.all()}
    financing = {f.name: f for f in FinancingModel.objects.all()}
    leaders = list(User.objects.filter(roles__role="leader").order_by("username"))
    templates: dict[str, list[ApprovalTemplateItem]] = defaultdict(list)
    for item in ApprovalTemplateItem.objects.order_by("position"):
        templates[item.project_type].append(item)
    phases = list(Phase.objects.order_by("number"))
    phase_list = [(p.number, p.held_on) for p in phases if p.held_on]
    phase_by_number = {p.number: p for p in phases}
    used_codes = set(Project.objects.exclude(code=None).values_list("code", flat=True))
    industry_names = [n for n in INDUSTRY_WEIGHTS if n in industries]
    industry_weights = [INDUSTRY_WEIGHTS[n] for n in industry_names]
    stage_weights = [STAGE_QUOTA[s] for s in STAGES]
    bands = [(low, high) for low, high, _ in BANDS]
    band_weights = [2, 30, 60, 8]
    # Document numbers continue after those already issued (at most one per project and year).
    counters: defaultdict = defaultdict(lambda: existing)
    totals = Counter()
    started = time.monotonic()
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    sizes = [min(batch_size, missing - start) for start in range(0, missing, batch_size)]
    with transaction.atomic():
        for n_batch, size in enumerate(sizes):
            plans = []
            for j in range(size):
                serial = existing + n_batch * batch_size + j + 1
                industry = rng.choices(industry_names, industry_weights)[0]
                town = _pick_town(rng, industry)
                low, high = rng.choices(bands, band_weights)[0]
                stage = rng.choices(STAGES, stage_weights)[0]
                base = _fill(rng.choice(patterns_for(industry, low)), rng, industry, town.name)
                owner = _owner_for(rng, industry, town)
                ptype, fin = _type_and_financing(rng, industry, owner)
                plan = ProjectPlan(
                    name=f"{base}（批量{serial:06d}）",
                    industry=industry,
                    owner=owner,
                    amount=round_amount(rng, low, high),
                    stage=stage,
                    town=town.key,
                    project_type=ptype,
                    financing=fin,
                    responsible=_responsible(rng, industry, town, base),
                )
                plan.level = (
                    Level.PROVINCE
                    if plan.amount >= 300000 and rng.random() < 0.5
                    else Level.CITY
                    if plan.amount >= 50000 and rng.random() < 0.5
                    else Level.DISTRICT
                )
                plan.status = pick_status(rng, stage)
                plan.latitude = (Decimal(town.lat) + Decimal(rng.uniform(-0.01, 0.01))).quantize(Decimal("0.000001"))
                plan.longitude = (Decimal(town.lng) + Decimal(rng.uniform(-0.01, 0.01))).quantize(Decimal("0.000001"))
                plan.dates = make_timeline(rng, stage, plan.amount, today)
                plan_dates(rng, plan, today)
                if STAGES.index(stage) >= STAGES.index(Stage.PREPARATION):
                    code = project_code(plan, serial)
                    plan.code = code if code not in used_codes else None
                    used_codes.add(code)
                plans.append(plan)
            if phase_list:
                assign_memberships(rng, plans, phase_list, today, {b: size for b in PER_PHASE}, chance=0.2)
            projects = [
                Project(
                    code=p.code,
                    name=p.name,
                    owner_name=p.owner,
                    owner_credit_code=owner_credit_code(p.owner),
                    industry=industries[p.industry],
                    project_type=p.project_type,
                    level=p.level,
                    total_investment=p.amount,
                    construction_content=construction_content(rng, p),
                    town=town_units[p.town],
                    latitude=p.latitude,
                    longitude=p.longitude,
                    responsible_leader=rng.choice(leaders) if leaders else None,
                    responsible_unit=dept.get(p.responsible) or town_units.get(p.responsible) or town_units[p.town],
                    financing_model=financing.get(p.financing),
                    planned_start=p.planned_start,
                    planned_end=p.planned_end,
                    actual_start=p.actual_start,
                    actual_end=p.actual_end,
                    status=p.status,
                    stage=p.stage,
                    stage_changed_on=p.dates[p.stage],
                )
                for p in plans
            ]
            Project.objects.bulk_create(projects)
            transitions, approvals, members = [], [], []
            for project, plan in zip(projects, plans, strict=True):
                previous = ""
                for stage, day in plan.dates.items():
                    transitions.append((project.pk, previous, stage, day, "" if previous else "建档", None, now))
                    previous = stage
                items = templates[plan.project_type]
                states = approval_states(rng, [t.name for t in items], plan, today, counters)
                for item, state in zip(items, states, strict=True):
                    approvals.append(
                        (
                            project.pk,
                            item.position,
                            item.name,
                            item.department_id,
                            state["status"],
                            state.get("planned_date"),
                            state.get("actual_date"),
                            state.get("document_number", ""),
                            "",
                            "",
                            state.get("note", ""),
                            now,
                        )
                    )
                for batch, number in plan.memberships.items():
                    members.append((project.pk, phase_by_number[number].pk, batch))
            # The child rows go in with executemany: the ORM's per-field work would triple the time.
            insert_rows(StageTransition, TRANSITION_COLUMNS, transitions)
            insert_rows(ApprovalItem, APPROVAL_COLUMNS, approvals)
            insert_rows(BatchMembership, ["project", "phase", "batch"], members)
            totals.update(
                projects=len(projects), transitions=len(transitions), approvals=len(approvals), memberships=len(members)
            )
            if n_batch % 5 == 4 or n_batch == len(sizes) - 1:
                log(f"  已批量生成 {totals['projects']}/{missing} 个项目（{time.monotonic() - started:.1f} 秒）")
        ctx = context.current()
        AuditRecord.objects.create(
            actor=None,
            actor_name="system",
            channel=ctx.channel,
            request_id=ctx.request_id,
            object_type="project",
            object_id="bulk",
            action=AuditRecord.Action.CREATE,
            object_repr=f"seed_demo 批量生成演示项目 {totals['projects']} 个",
            after={
                "目标项目数": target,
                "项目": totals["projects"],
                "阶段变更": totals["transitions"],
                "前期手续": totals["approvals"],
                "三个一批": totals["memberships"],
            },
            reason=f"seed_demo --projects {target}",
        )
    analyze([Project, StageTransition, ApprovalItem, BatchMembership])
    return dict(totals)


def analyze(models: list) -> None:
    """Refresh the planner statistics after a bulk load (PostgreSQL's autovacuum would lag behind)."""
    with connection.cursor() as cursor:
        for model in models:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")
