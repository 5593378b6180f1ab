"""Demo annual plans and monthly reports for the demo district. Called by `seed_demo` (DistrictSeeder.run).

**What it makes.** For last year and this year (the years of the last two full months' span: with today
2026-11-26, 2025 and 2026 up to October): the investment path of every project that builds in those
years, monthly reports along it, and annual plans. Each project spends about 90 % of its total
investment between its actual start and its completion (or its planned end, pushed out for a project
still building after it), month by month with the district's seasonality (`SEASON`: slow January–February, strong second
and fourth quarters) and some noise; what it spent before the
system's first month (January of last year) is its `InvestmentBaseline`. Stopped projects report
nothing for their last months (flagged, explained); behind ones invest less than planned this year.

**Calibration.** Last year's plans are derived from what was done, then scaled so that the district's
completion rate for last year (`rates.completion_table`, December) is `TARGET_RATE` = 112.9 %, the
seed article's figure. This year's plans are the expected full-year path divided by a factor of 1.05–1.3 (plans
lag what gets done, as last year's 112.9 % shows).

**States.** Last year is confirmed and locked through December (through `domain.lock_month`); two of its
reports are corrected afterwards (through `domain.restate`). This year is confirmed up to two months
ago; the month before last is partly reviewed; last month is a mix of submitted and reviewed reports, a
few returned with a reason, a few drafts and a few missing (the overdue list). About one report in
sixteen was filed late; soft-rule warnings are computed with `rules` exactly as on submission, and
every flagged report carries an explanation. A few plans are revised mid-year (`domain.save_annual_plan`).

Rows are bulk-inserted with their derived totals set (the same sums `domain.recompute_totals` keeps),
with one summary audit record per batch. Idempotent: only projects without any plan or report get data.
"""

from __future__ import annotations

import datetime
import math
import random
from collections import Counter
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.utils import timezone

from keyprojects.org import demo_data as D
from keyprojects.progress import domain, rules
from keyprojects.progress.excel_common import last_month
from keyprojects.progress.excel_import import submission_hash
from keyprojects.progress.forecast import DEFAULT_MONTHLY_SHARES
from keyprojects.progress.models import (
    AnnualPlan,
    AnnualPlanRevision,
    InvestmentBaseline,
    MonthlyReport,
    ProgressSettings,
    ReportStatus,
    period_month,
    period_of,
)
from keyprojects.projects.models import Project, Stage, StageTransition, Status

TARGET_RATE = Decimal("1.129")
CENT = Decimal("0.01")
ZERO = Decimal("0")
RETURNED, DRAFTS, MISSING = 5, 4, 5  # last month
REVISIONS, RESTATEMENTS, SPIKES = 5, 2, 4
LATE_EVERY = 16

# Percent of a year's work in each month: slow January–February (Spring Festival), strong second and
# fourth quarters, a summer dip (heat and rain). Sharper than the forecast's default profile because
# projects starting during the year add weight to its later months.
SEASON = (2, 3, 8, 10, 11, 13, 6, 6, 8, 9, 11, 13)
RETURN_REASONS = [
    "本月完成投资与形象进度不匹配，请核实后重新填报。",
    "未上传现场照片，请补充本月施工现场照片。",
    "完成投资含土地款，请按统计口径剔除后重报。",
    "年度累计与财务报表不一致，请附发票和进度款支付凭证。",
    "形象进度描述过于简单，请写明主要工程量完成情况。",
]
EXPLANATIONS = {
    "spike": "本月主要设备集中到货并完成安装，已附设备采购合同和到货验收单。",
    "large_share": "本月支付主体工程进度款和设备款，数据已与监理计量单核对一致。",
    "repeated": "按合同约定每月支付固定进度款，经核实数据属实。",
    "before_start": "开工前发生的土地出让金及前期工作费用。",
    "after_completion": "竣工后支付的工程尾款和质保金。",
    "zero_under_construction": "本月项目停工整改（环保督查要求），未发生投资。",
    "output_before_commission": "试生产产值，已附试生产批复。",
}
PROGRESS = {
    1: "春节前后工人返乡，现场以安全检查和材料进场为主。",
    2: "节后复工，完成人员进场和设备调试。",
    3: "全面复工，基础及主体结构施工。",
}
PROGRESS_GENERAL = [
    "主体结构施工，完成{n}层。",
    "钢结构厂房吊装完成{p}%。",
    "室外管网及道路施工，完成{p}%。",
    "设备安装调试，完成{p}%。",
    "装饰装修及配套工程施工，完成{p}%。",
    "基础工程完成，开始主体施工。",
]
PROBLEMS = ["", "", "", "施工用电增容需协调供电公司。", "部分地块征迁尚未完成。", "建设资金到位偏慢。"]


def _money(value: float | Decimal) -> Decimal:
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


def _month_end(year: int, month: int) -> datetime.date:
    return datetime.date(year + month // 12, month % 12 + 1, 1) - datetime.timedelta(days=1)


def _at(day: datetime.date, hour: int = 10) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime(day.year, day.month, day.day, hour))


@dataclass
class Path:
    """One project's simulated investment: amounts per period (万元) and what came before the system."""

    project: Project
    amounts: dict[int, Decimal] = field(default_factory=dict)
    baseline: Decimal = ZERO
    expected: dict[int, Decimal] = field(default_factory=dict)  # the path before delays (for plans)


def _weights(rng: random.Random, periods: list[int]) -> list[float]:
    weights = []
    for i, p in enumerate(periods):
        w = SEASON[p % 12] * math.exp(rng.gauss(0, 0.22))
        weights.append(w * (0.5 if i == 0 else 1.0))
    return weights


def simulate(project: Project, rng: random.Random, today: datetime.date, first: int, last: int) -> Path | None:
    """The project's monthly investment, or None when it builds nothing from `first` on."""
    start = project.actual_start
    if start is None:
        return None
    end = project.actual_end or project.planned_end or start + datetime.timedelta(days=540)
    if project.actual_end is None and end <= today:
        end = today + datetime.timedelta(days=rng.randint(120, 420))
    p0, p1 = period_of(start.year, start.month), period_of(end.year, end.month)
    if p1 < first or p0 > last:
        return None
    periods = list(range(p0, p1 + 1))
    share = rng.uniform(0.86, 0.94)
    spend = float(project.total_investment) * share
    weights = _weights(rng, periods)
    total_weight = sum(weights)
    path = Path(project=project)
    for p, w in zip(periods, weights, strict=True):
        amount = _money(spend * w / total_weight)
        path.expected[p] = amount
        if p < first:
            path.baseline += amount
        elif p <= last:
            path.amounts[p] = amount
    if project.status == Status.BEHIND:
        for p in path.amounts:
            if p >= last - 9:
                path.amounts[p] = _money(path.amounts[p] * Decimal("0.6"))
    if project.status == Status.STOPPED:
        for p in path.amounts:
            if p > last - 3:
                path.amounts[p] = ZERO
    return path


def _spike(path: Path, rng: random.Random, first: int, last: int) -> None:
    """Move most of three months' investment into one (equipment delivered at once)."""
    candidates = [p for p in path.amounts if first + 2 <= p <= last - 5 and all(q in path.amounts for q in
                                                                               range(p, p + 4))]  # fmt: skip
    if not candidates:
        return
    p = rng.choice(candidates)
    moved = ZERO
    for q in range(p + 1, p + 4):
        part = _money(path.amounts[q] * Decimal("0.8"))
        path.amounts[q] -= part
        moved += part
    path.amounts[p] += moved


def _plan_months(amount: Decimal, year: int, expected: dict[int, Decimal]) -> list[str]:
    """A monthly breakdown of `amount` following the project's path in the year (sums exactly)."""
    weights = [float(expected.get(period_of(year, m), ZERO)) for m in range(1, 13)]
    total = sum(weights)
    if total <= 0:
        weights, total = [float(s) for s in DEFAULT_MONTHLY_SHARES], float(sum(DEFAULT_MONTHLY_SHARES))
    months = [_money(float(amount) * w / total) for w in weights]
    months[max(range(12), key=lambda i: weights[i])] += amount - sum(months, ZERO)
    return [str(m) for m in months]


class ProgressSeeder:
    def __init__(self, seeder):
        self.seeder = seeder
        self.today: datetime.date = seeder.today
        self.ly, self.lm = last_month(self.today)
        self.years = [self.ly - 1, self.ly]
        self.first = period_of(self.ly - 1, 1)
        self.last = period_of(self.ly, self.lm)
        self.settings = ProgressSettings.load()
        users = seeder.users
        self.dispatcher = users[D.DISPATCHERS[0].key]
        self.officers = {u.unit_id: u for key, u in users.items() if key.startswith("jbr_")}
        self.enterprise = users.get("demo_enterprise")
        self.created: Counter = Counter()

    def run(self) -> Counter:
        names = [p.name for p in self.seeder.plans]
        projects = list(
            Project.objects.filter(name__in=names)
            .exclude(pk__in=AnnualPlan.objects.values("project_id"))
            .exclude(pk__in=MonthlyReport.objects.values("project_id"))
            .order_by("pk")
        )
        if not projects:
            return self.created
        paths = []
        for project in projects:
            rng = random.Random(f"progress-demo-{project.name}-{self.today}")
            path = simulate(project, rng, self.today, self.first, self.last)
            if path is not None:
                paths.append(path)
        spiky = random.Random(f"progress-spikes-{self.today}")
        for path in spiky.sample(paths, min(SPIKES, len(paths))):
            _spike(path, spiky, self.first, self.last)
        self.commissioned = self._commissioned([p.pk for p in projects])
        baselines = self.write_baselines(paths)
        reports, corrections = self.write_reports(paths, baselines)
        self.write_plans(projects, paths, corrections)
        self.lock_and_restate(corrections)
        self.revise_plans(paths)
        return self.created

    # -- baselines -------------------------------------------------------------------------------------

    def write_baselines(self, paths: list[Path]) -> dict[int, Decimal]:
        rows = [
            InvestmentBaseline(project=p.project, amount=p.baseline, ytd_amount=ZERO, first_year=self.ly - 1,
                               first_month=1, note="系统启用前累计完成投资（演示数据）", set_by=self.dispatcher)
            for p in paths if p.baseline > 0
        ]  # fmt: skip
        InvestmentBaseline.objects.bulk_create(rows)
        self.seeder._summarise("investmentbaseline", "累计投资基数", [str(b.project) for b in rows])
        return {b.project_id: b.amount for b in rows}

    # -- reports ---------------------------------------------------------------------------------------------

    def _who(self, project: Project):
        if self.enterprise is not None and project.owner_unit_id == self.enterprise.unit_id:
            return self.enterprise, False
        return self.officers.get(project.responsible_unit_id, self.dispatcher), True

    def _last_month_states(self, paths: list[Path]) -> dict[int, str]:
        """Which projects' last-month report is returned, a draft or missing (deterministic)."""
        own = self.enterprise.unit_id if self.enterprise is not None else None
        eligible = [p.project.pk for p in paths if self.last in p.amounts and p.project.status != Status.STOPPED
                    and p.project.owner_unit_id != own]  # fmt: skip
        rng = random.Random(f"progress-states-{self.today}")
        chosen = rng.sample(eligible, min(len(eligible), RETURNED + DRAFTS + MISSING))
        states = {}
        for i, pk in enumerate(chosen):
            states[pk] = "returned" if i < RETURNED else "draft" if i < RETURNED + DRAFTS else "missing"
        return states

    def write_reports(self, paths: list[Path], baselines: dict[int, Decimal]):
        special = self._last_month_states(paths)
        corrections: dict[int, tuple[int, Decimal]] = {}
        rng = random.Random(f"progress-restate-{self.today}")
        restatable = [p for p in paths if period_of(self.ly - 1, 11) in p.amounts and p.project.status == Status.NORMAL]
        for path in rng.sample(restatable, min(RESTATEMENTS, len(restatable))):
            period = period_of(self.ly - 1, 11)
            corrections[path.project.pk] = (period, _money(path.amounts[period] * Decimal("0.85")))
        rows: list[MonthlyReport] = []
        n = 0
        for path in paths:
            project = path.project
            filer, on_behalf = self._who(project)
            officer = self.officers.get(project.responsible_unit_id, self.dispatcher)
            history: dict[int, Decimal] = {}
            since_start = baselines.get(project.pk, ZERO)
            ytd, year = ZERO, None
            prng = random.Random(f"progress-report-{project.name}")
            for period in sorted(path.amounts):
                y, m = period_month(period)
                state = special.get(project.pk) if period == self.last else None
                if state == "missing":
                    continue
                amount = path.amounts[period]
                n += 1
                due = domain.due_date(y, m, self.settings)
                late = n % LATE_EVERY == 0
                submitted_on = due + datetime.timedelta(days=prng.randint(1, 9)) if late else (
                    due - datetime.timedelta(days=prng.randint(0, 4)))  # fmt: skip
                submitted_on = min(submitted_on, self.today)
                report = MonthlyReport(
                    project=project, year=y, month=m, investment=amount, created_by=filer, on_behalf=on_behalf,
                    progress_text=PROGRESS.get(m) or prng.choice(PROGRESS_GENERAL).format(
                        n=prng.randint(2, 18), p=prng.randint(20, 95)),
                    problems_text=prng.choice(PROBLEMS), workers_on_site=prng.randint(20, 400),
                )  # fmt: skip
                if state == "draft":
                    rows.append(report)
                    continue
                ctx = rules.Context(
                    year=y, month=m, investment=amount, output_value=None, tax=None,
                    total_investment=project.total_investment, stage=project.stage,
                    actual_start=project.actual_start, actual_end=project.actual_end, history=dict(history),
                    baseline_amount=baselines.get(project.pk, ZERO), baseline_first_period=self.first
                    if project.pk in baselines else None, settings=self.settings,
                )  # fmt: skip
                found = rules.soft_warnings(ctx)
                report.warnings = found
                report.explanation = "；".join(EXPLANATIONS.get(w["code"], "情况属实。") for w in found)
                report.submitted_by, report.submitted_at = filer, _at(submitted_on)
                report.submitted_late = submitted_on > due
                report.submission_hash = submission_hash(report, [])
                report.version = 2
                if state == "returned":
                    report.status = ReportStatus.RETURNED
                    report.return_reason = RETURN_REASONS[len([r for r in rows if r.status == "returned"]) % 5]
                    report.returned_by, report.returned_at = officer, _at(min(submitted_on + datetime.timedelta(
                        days=2), self.today))  # fmt: skip
                    report.version = 3
                    rows.append(report)
                    continue
                reviewed = period < self.last - 1 or (period == self.last - 1 and prng.random() < 0.8) or (
                    period == self.last and prng.random() < 0.35)  # fmt: skip
                confirmed = period < self.last - 1 or (period == self.last - 1 and reviewed and prng.random() < 0.9)
                report.status = ReportStatus.SUBMITTED
                if reviewed:
                    report.status = ReportStatus.REVIEWED
                    report.reviewed_by = officer
                    report.reviewed_at = _at(min(submitted_on + datetime.timedelta(days=3), self.today))
                    report.version += 1
                if confirmed:
                    report.status = ReportStatus.CONFIRMED
                    report.confirmed_by = self.dispatcher
                    report.confirmed_at = _at(min(submitted_on + datetime.timedelta(days=6), self.today), 15)
                    report.version += 1
                if y != year:
                    year, ytd = y, ZERO
                ytd += amount
                since_start += amount
                report.ytd_investment, report.since_start_investment = ytd, since_start
                history[period] = amount
                rows.append(report)
        MonthlyReport.objects.bulk_create(rows, batch_size=500)
        names = [f"{r.project.name} {r.year}年{r.month}月 {r.get_status_display()}" for r in rows]
        self.seeder._summarise("monthlyreport", "月报", names)
        return rows, corrections

    # -- plans ---------------------------------------------------------------------------------------------------

    def _commissioned(self, ids: list[int]) -> dict[int, datetime.date]:
        rows = StageTransition.objects.filter(project_id__in=ids, to_stage=Stage.COMMISSIONED).values_list(
            "project_id", "happened_on"
        )
        return dict(rows)

    def _flags(self, project: Project, year: int) -> dict[str, bool]:
        start, end = project.actual_start, project.actual_end
        commissioned = self.commissioned.get(project.pk)
        planned_end = project.planned_end
        ends = bool((end and end.year == year) or (end is None and planned_end and planned_end.year == year))
        return {
            "to_start": bool((start and start.year == year) or (start is None and project.planned_start
                                                                and project.planned_start.year == year)),
            "to_complete": ends,
            "to_commission": bool(commissioned and commissioned.year == year),
        }  # fmt: skip

    def write_plans(self, projects: list[Project], paths: list[Path], corrections) -> None:
        rng = random.Random(f"progress-plans-{self.today}")
        by_project = {p.project.pk: p for p in paths}
        plans: list[AnnualPlan] = []
        prior = self.ly - 1
        # Last year: plans derived from what was done (after corrections), scaled to the target rate.
        done = {}
        for path in paths:
            amounts = {p: a for p, a in path.amounts.items() if p // 12 == prior}
            if path.project.pk in corrections:
                period, value = corrections[path.project.pk]
                amounts[period] = value
            if sum(amounts.values(), ZERO) > 0:
                done[path.project.pk] = sum(amounts.values(), ZERO)
        raw = {pk: float(total) / rng.uniform(0.9, 1.4) for pk, total in done.items()}
        scale = float(sum(done.values(), ZERO)) / float(TARGET_RATE) / sum(raw.values()) if raw else 1.0
        planned = {pk: _money(value * scale) for pk, value in raw.items()}
        # Round to whole 万元 and put the rounding on the largest plan, so the rate stays on target.
        target = (sum(done.values(), ZERO) / TARGET_RATE).quantize(CENT)
        planned = {pk: v.quantize(Decimal("1")) for pk, v in planned.items()}
        if planned:
            biggest = max(planned, key=planned.get)
            planned[biggest] += target - sum(planned.values(), ZERO)
        for pk, amount in planned.items():
            path = by_project[pk]
            plans.append(self._plan(path.project, prior, min(amount, path.project.total_investment), path.expected))
        # This year: the expected path of the whole year, divided by a factor near 1.
        for path in paths:
            expected = sum((a for p, a in path.expected.items() if p // 12 == self.ly), ZERO)
            if expected <= 0:
                continue
            amount = _money(float(expected) / rng.uniform(1.05, 1.3)).quantize(Decimal("1"))
            plans.append(self._plan(path.project, self.ly, min(amount, path.project.total_investment), path.expected))
        # Projects that should have started this year and have not: a small plan, nothing done yet.
        late_starters = [p for p in projects if p.actual_start is None and p.planned_start
                         and p.planned_start.year == self.ly and p.planned_start <= self.today]  # fmt: skip
        for project in late_starters:
            amount = _money(float(project.total_investment) * rng.uniform(0.05, 0.12)).quantize(Decimal("1"))
            plans.append(self._plan(project, self.ly, amount, {}))
        AnnualPlan.objects.bulk_create(plans, batch_size=500)
        AnnualPlanRevision.objects.bulk_create(
            [AnnualPlanRevision(plan=plan, number=1, effective_month=1, planned_investment=plan.planned_investment,
                                to_start=plan.to_start, to_complete=plan.to_complete, to_commission=plan.to_commission,
                                monthly_plan=plan.monthly_plan, reason="年初计划", created_by=self.dispatcher)
             for plan in plans], batch_size=500,
        )  # fmt: skip
        self.seeder._summarise("annualplan", "年度计划", [f"{p.project.name} {p.year}年" for p in plans])

    def _plan(self, project: Project, year: int, amount: Decimal, expected: dict[int, Decimal]) -> AnnualPlan:
        return AnnualPlan(
            project=project, year=year, planned_investment=amount, original_planned_investment=amount,
            monthly_plan=_plan_months(amount, year, expected), created_by=self.dispatcher, **self._flags(project, year),
        )  # fmt: skip

    # -- lock, corrections, revisions ----------------------------------------------------------------------------

    def lock_and_restate(self, corrections: dict[int, tuple[int, Decimal]]) -> None:
        prior = self.ly - 1
        locked = domain.locked_through()
        if locked is None or locked < period_of(prior, 12):
            domain.lock_month(prior, 12, by=self.dispatcher, note="演示数据：上年度全部月报已确认并关账",
                              now=_at(datetime.date(self.ly, 1, 20)))  # fmt: skip
            self.created["monthlock"] += 1
        for pk, (period, value) in corrections.items():
            y, m = period_month(period)
            report = MonthlyReport.objects.select_related("project").get(project_id=pk, year=y, month=m)
            domain.restate(report, by=self.dispatcher, changes={"investment": str(value)},
                           reason="经核对发票和监理计量单，原报数含已退回的设备预付款，予以更正。")  # fmt: skip
            self.created["restatement"] += 1

    def revise_plans(self, paths: list[Path]) -> None:
        rng = random.Random(f"progress-revisions-{self.today}")
        if self.lm < 7:
            return
        candidates = list(
            AnnualPlan.objects.filter(year=self.ly, project__in=[p.project.pk for p in paths]).select_related("project")
        )
        by_project = {p.project.pk: p for p in paths}
        for plan in rng.sample(candidates, min(REVISIONS, len(candidates))):
            factor = Decimal(str(rng.choice([0.85, 0.9, 1.1, 1.15])))
            amount = min((plan.planned_investment * factor).quantize(Decimal("1")), plan.project.total_investment)
            if amount == plan.planned_investment or amount <= 0:
                continue
            months = _plan_months(amount, self.ly, by_project[plan.project_id].expected)
            reason = "年中调整：设备采购计划调整" if factor < 1 else "年中调整：追加二期工程投资"
            domain.save_annual_plan(plan.project, by=self.dispatcher, year=self.ly, reason=reason, effective_month=7,
                                    data={"planned_investment": str(amount), "monthly_plan": months},
                                    now=_at(datetime.date(self.ly, 7, 5)))  # fmt: skip
            self.created["annualplanrevision"] += 1


def seed(seeder) -> Counter:
    """Plans and monthly reports for the seeded district (see the module docstring)."""
    return ProgressSeeder(seeder).run()
