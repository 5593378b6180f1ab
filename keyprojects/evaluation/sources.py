"""Named data sources of evaluation indicators, computed per unit for a period.

Each source gives every evaluated unit a value (`Decimal`) or None (no data: a rate whose
denominator is zero). Counts are never None: a unit with nothing to count has 0. Sources are
computed in groups that share one or a few aggregate queries over the whole district, grouped by the
unit key of the scheme's basis (the project's responsible unit or its town), then folded into the
evaluated units (a sub-unit's figures count for its nearest evaluated ancestor): a constant number
of queries whatever the number of projects and units.

The rates come from their owners: completion rates from `keyprojects.progress.rates.completion_table`
(the merged rows use its `RateRow` properties), reporting from `rates.expected_reporters` and the
`submitted_late` flag, problem figures from `keyprojects.problems.figures`.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Case, Count, F, IntegerField, OuterRef, Q, Subquery, Sum, Value, When
from django.utils.translation import gettext_lazy as _

from keyprojects.evaluation.periods import Period
from keyprojects.evaluation.rules import HUNDRED, ZERO, q2
from keyprojects.problems.figures import Figures, unit_figures
from keyprojects.progress.domain import due_date
from keyprojects.progress.models import MonthlyReport, ProgressSettings, ReportStatus, period_of
from keyprojects.progress.rates import COMMISSIONED_STAGES, RateRow, completion_table, expected_reporters
from keyprojects.projects.models import Batch, BatchMembership, Project, Stage, StageTransition

# 10亿元 in 万元: the size of a "big" signed project (bonus items).
BIG_PROJECT_WAN = Decimal("100000")

Values = dict[int, Decimal | None]


@dataclass(frozen=True)
class Source:
    """A named figure per unit: its label, the unit of its values and the group computing it."""

    code: str
    label: str
    unit: str
    group: str
    help: str
    is_count: bool = False


SOURCE_LIST = [
    Source(
        "annual_rate",
        _("年度投资完成率"),
        "%",
        "completion",
        _("期末月年度累计完成投资 ÷ 年度计划投资（完成率口径见投资完成页）。"),
    ),
    Source(
        "time_gap",
        _("超时序进度"),
        _("个百分点"),
        "completion",
        _("年度投资完成率 − 时序进度（期末月 ÷ 12），单位为百分点，负数为低于时序进度。"),
    ),
    Source("start_rate", _("开工率"), "%", "completion", _("年内（至期末月）实际开工项目数 ÷ 年度计划开工项目数。")),
    Source("complete_rate", _("竣工率"), "%", "completion", _("年内（至期末月）实际竣工项目数 ÷ 年度计划竣工项目数。")),
    Source(
        "commission_rate", _("投产率"), "%", "completion", _("年内（至期末月）首次投产项目数 ÷ 年度计划投产项目数。")
    ),
    Source(
        "report_timeliness",
        _("月报按时报送率"),
        "%",
        "reports",
        _("期间内已过截止日的各月，按时提交（非迟报）的月报数 ÷ 应报月报数（列入年度计划、未终止、已启用填报）。"),
    ),
    Source(
        "owed_report_count",
        _("应报月报数"),
        _("份"),
        "reports",
        _("期间内已过截止日的各月，列入年度计划、未终止、已启用填报的项目应报的月报份数。"),
        True,
    ),
    Source(
        "late_report_count",
        _("迟报、漏报月报数"),
        _("份"),
        "reports",
        _("期间内已过截止日的各月，应报而未按时提交的月报份数。"),
        True,
    ),
    Source(
        "problem_on_time",
        _("问题按期办结率"),
        "%",
        "problems",
        _("期间内收到、由本单位主办的问题，按期办结数 ÷ 已办结数。"),
    ),
    Source(
        "problem_satisfaction",
        _("问题办理满意率"),
        "%",
        "problems",
        _("期间内收到、由本单位主办的问题，满意和基本满意数 ÷ 已评价数。"),
    ),
    Source(
        "problem_closure", _("问题办结率"), "%", "problems", _("期间内收到、由本单位主办的问题，已办结数 ÷ 已交办数。")
    ),
    Source(
        "overdue_problem_count",
        _("逾期未办结问题数"),
        _("个"),
        "problems",
        _("期间内收到、由本单位主办、当前环节已超期限仍在办理的问题数。"),
        True,
    ),
    Source("signed_count", _("新签约项目数"), _("个"), "signed", _("期间内进入“签约”阶段的项目数。"), True),
    Source(
        "signed_investment",
        _("新签约项目总投资"),
        _("万元"),
        "signed",
        _("期间内进入“签约”阶段的项目总投资之和。"),
        True,
    ),
    Source(
        "big_signed_count",
        _("新签约10亿元以上项目数"),
        _("个"),
        "signed",
        _("期间内进入“签约”阶段、总投资10亿元及以上的项目数。"),
        True,
    ),
    Source("started_count", _("新开工项目数"), _("个"), "started", _("实际开工日期在期间内的项目数。"), True),
    Source(
        "started_investment",
        _("新开工项目总投资"),
        _("万元"),
        "started",
        _("实际开工日期在期间内的项目总投资之和。"),
        True,
    ),
    Source(
        "commissioned_count",
        _("新投产项目数"),
        _("个"),
        "commissioned",
        _("期间内首次进入“投产”或“达效”阶段的项目数。"),
        True,
    ),
    Source("reserve_count", _("谋划储备项目数"), _("个"), "reserve", _("期末处于“谋划储备”阶段的项目数。"), True),
    Source(
        "reserve_investment",
        _("谋划储备项目总投资"),
        _("万元"),
        "reserve",
        _("期末处于“谋划储备”阶段的项目总投资之和。"),
        True,
    ),
    Source(
        "batch_signed",
        _("“签约一批”项目数"),
        _("个"),
        "batches",
        _("期间内举行的“三个一批”活动中列入签约一批的项目数。"),
        True,
    ),
    Source(
        "batch_signed_investment",
        _("“签约一批”项目总投资"),
        _("万元"),
        "batches",
        _("期间内举行的“三个一批”活动中列入签约一批的项目总投资之和。"),
        True,
    ),
    Source(
        "batch_started",
        _("“开工一批”项目数"),
        _("个"),
        "batches",
        _("期间内举行的“三个一批”活动中列入开工一批的项目数。"),
        True,
    ),
    Source(
        "batch_commissioned",
        _("“投产一批”项目数"),
        _("个"),
        "batches",
        _("期间内举行的“三个一批”活动中列入投产一批的项目数。"),
        True,
    ),
    Source(
        "tour_score",
        _("季度观摩得分"),
        _("分"),
        "tours",
        _("期间内已结束的季度观摩中，本单位项目最终得分（折算为百分制）的平均分。"),
    ),
]
SOURCES = {s.code: s for s in SOURCE_LIST}


def source_choices() -> list[tuple[str, str]]:
    return [(s.code, f"{s.label}（{s.unit}）") for s in SOURCE_LIST]


@dataclass
class Context:
    """What the sources need: the period, the key of a project's unit, and where each key's figures go.

    `owner` maps a unit id (a responsible unit, a town, a problem's lead unit) to the evaluated unit
    whose figures it counts for; keys it does not know are left out.
    """

    period: Period
    key_field: str  # "responsible_unit_id" or "town_id"
    owner: dict[int, int]
    unit_ids: list[int]
    today: datetime.date
    _groups: dict[str, dict[str, Values]] = field(default_factory=dict)

    @property
    def group_by(self) -> str:
        return "town" if self.key_field == "town_id" else "unit"

    def values(self, code: str) -> Values:
        """Every evaluated unit's value of source `code` (computed once per group)."""
        source = SOURCES[code]
        if source.group not in self._groups:
            self._groups[source.group] = GROUPS[source.group](self)
        return self._groups[source.group][code]

    def counts(self, rows, fields: dict[str, str], key: str | None = None) -> dict[str, Values]:
        """Fold aggregate rows {key, field…} into per-unit sums (0 for units without rows)."""
        key = key or self.key_field
        out: dict[str, Values] = {code: dict.fromkeys(self.unit_ids, ZERO) for code in fields}
        for row in rows:
            uid = self.owner.get(row[key])
            if uid is None:
                continue
            for code, name in fields.items():
                out[code][uid] += Decimal(row[name] or 0)
        return out


def _percent(ratio: Decimal | None) -> Decimal | None:
    return None if ratio is None else q2(ratio * HUNDRED)


def _completion(ctx: Context) -> dict[str, Values]:
    """One `completion_table` for the period's last month, its rows merged into the evaluated units."""
    period = ctx.period
    table = completion_table(Project.objects.all(), period.year, period.last_month, group_by=ctx.group_by)
    merged: dict[int, RateRow] = {}
    for row in table.rows:
        uid = ctx.owner.get(row.key) if isinstance(row.key, int) else None
        if uid is None:
            continue
        into = merged.setdefault(uid, RateRow(key=uid, label="", year=period.year, month=period.last_month))
        for name in RateRow.SUMMED:
            setattr(into, name, getattr(into, name) + getattr(row, name))
    out: dict[str, Values] = {}
    for code, getter in (
        ("annual_rate", lambda r: _percent(r.annual_rate)),
        ("time_gap", lambda r: None if r.gap_points is None else q2(r.gap_points)),
        ("start_rate", lambda r: _percent(r.start_rate)),
        ("complete_rate", lambda r: _percent(r.complete_rate)),
        ("commission_rate", lambda r: _percent(r.commission_rate)),
    ):
        out[code] = {uid: (getter(merged[uid]) if uid in merged else None) for uid in ctx.unit_ids}
    return out


def _reports(ctx: Context) -> dict[str, Values]:
    """Reports owed and reports submitted on time over the period's months whose due day has passed.

    Owed: `rates.expected_reporters` at the last such month gives the projects (in the year's plan, not
    终止, reporting in the system by then); a project joining the system (its baseline month) inside the
    span owes only the months from then on, as `expected_reporters` has it month by month (the test
    checks the two agree). On time: reports of those months submitted at least once (any status but
    草稿) whose first submission was not late (`submitted_late`); a report cannot exist for a month
    before the project's baseline month. One aggregate query.
    """
    settings = ProgressSettings.load()
    period = ctx.period
    months = [m for m in period.months if ctx.today > due_date(period.year, m, settings)]
    rate: Values = dict.fromkeys(ctx.unit_ids)
    late: Values = dict.fromkeys(ctx.unit_ids, ZERO)
    owed: Values = dict.fromkeys(ctx.unit_ids, ZERO)
    if not months:
        return {"report_timeliness": rate, "late_report_count": late, "owed_report_count": owed}
    first, last, year = months[0], months[-1], period.year
    good = (
        MonthlyReport.objects.filter(project=OuterRef("pk"), period__gte=period_of(year, first),
                                     period__lte=period_of(year, last), submitted_late=False)
        .exclude(status=ReportStatus.DRAFT)
        .order_by()
        .values("project")
        .annotate(n=Count("pk"))
        .values("n")
    )  # fmt: skip
    joined_later = Case(
        When(investment_baseline__first_year=year, investment_baseline__first_month__gt=first,
             then=F("investment_baseline__first_month") - first),
        default=Value(0),
        output_field=IntegerField(),
    )  # fmt: skip
    rows = (
        expected_reporters(Project.objects.all(), year, last)
        .order_by()
        .annotate(_good=Subquery(good, output_field=IntegerField()))
        .values(ctx.key_field)
        .annotate(n=Count("pk"), skipped=Sum(joined_later), good=Sum("_good"))
    )
    expected: dict[int, int] = defaultdict(int)
    on_time: dict[int, int] = defaultdict(int)
    for row in rows:
        uid = ctx.owner.get(row[ctx.key_field])
        if uid is not None:
            expected[uid] += row["n"] * len(months) - (row["skipped"] or 0)
            on_time[uid] += row["good"] or 0
    for uid in ctx.unit_ids:
        n = expected.get(uid, 0)
        rate[uid] = q2(Decimal(on_time[uid]) * HUNDRED / n) if n else None
        late[uid] = Decimal(n - on_time.get(uid, 0))
        owed[uid] = Decimal(n)
    return {"report_timeliness": rate, "late_report_count": late, "owed_report_count": owed}


FIGURE_COUNTS = ("assigned", "resolved", "on_time", "rated", "satisfied", "overdue", "open", "workdays_total",
                 "workdays_count")  # fmt: skip


def _problems(ctx: Context) -> dict[str, Values]:
    """`problems.figures.unit_figures` of every lead unit (problems received in the period), each
    lead unit's counts added to its evaluated unit; the rates are `Figures`' own."""
    period = ctx.period
    per_lead = unit_figures(None, received_from=period.start, received_to=period.end, today=ctx.today)
    merged = {uid: Figures(key=uid, name="") for uid in ctx.unit_ids}
    for lead_id, fig in per_lead.items():
        uid = ctx.owner.get(lead_id)
        if uid is None:
            continue
        for name in FIGURE_COUNTS:
            setattr(merged[uid], name, getattr(merged[uid], name) + getattr(fig, name))
    return {
        "problem_on_time": {uid: f.on_time_rate for uid, f in merged.items()},
        "problem_satisfaction": {uid: f.satisfaction_rate for uid, f in merged.items()},
        "problem_closure": {uid: f.closure_rate for uid, f in merged.items()},
        "overdue_problem_count": {uid: Decimal(f.overdue) for uid, f in merged.items()},
    }


def _in_period(ctx: Context, prefix: str = "") -> dict:
    return {f"{prefix}happened_on__gte": ctx.period.start, f"{prefix}happened_on__lte": ctx.period.end}


def _signed(ctx: Context) -> dict[str, Values]:
    moved = StageTransition.objects.filter(to_stage=Stage.SIGNED, **_in_period(ctx)).values("project_id")
    rows = (
        Project.objects.filter(pk__in=moved)
        .order_by()
        .values(ctx.key_field)
        .annotate(n=Count("pk"), inv=Sum("total_investment"),
                  big=Count("pk", filter=Q(total_investment__gte=BIG_PROJECT_WAN)))
    )  # fmt: skip
    return ctx.counts(rows, {"signed_count": "n", "signed_investment": "inv", "big_signed_count": "big"})


def _started(ctx: Context) -> dict[str, Values]:
    rows = (
        Project.objects.filter(actual_start__gte=ctx.period.start, actual_start__lte=ctx.period.end)
        .order_by()
        .values(ctx.key_field)
        .annotate(n=Count("pk"), inv=Sum("total_investment"))
    )
    return ctx.counts(rows, {"started_count": "n", "started_investment": "inv"})


def _commissioned(ctx: Context) -> dict[str, Values]:
    """Projects first reaching 投产 or 达效 in the period (as the completion table counts them in a year)."""
    reached = StageTransition.objects.filter(to_stage__in=COMMISSIONED_STAGES, **_in_period(ctx))
    before = StageTransition.objects.filter(to_stage__in=COMMISSIONED_STAGES, happened_on__lt=ctx.period.start)
    rows = (
        Project.objects.filter(pk__in=reached.values("project_id"))
        .exclude(pk__in=before.values("project_id"))
        .order_by()
        .values(ctx.key_field)
        .annotate(n=Count("pk"))
    )
    return ctx.counts(rows, {"commissioned_count": "n"})


def _reserve(ctx: Context) -> dict[str, Values]:
    """Projects whose stage at the end of the period (their last transition by then) is 谋划储备."""
    last = StageTransition.objects.filter(project=OuterRef("pk"), happened_on__lte=ctx.period.end).order_by(
        "-happened_on", "-id"
    )
    rows = (
        Project.objects.annotate(_stage=Subquery(last.values("to_stage")[:1]))
        .filter(_stage=Stage.PLANNING)
        .order_by()
        .values(ctx.key_field)
        .annotate(n=Count("pk"), inv=Sum("total_investment"))
    )
    return ctx.counts(rows, {"reserve_count": "n", "reserve_investment": "inv"})


def _batches(ctx: Context) -> dict[str, Values]:
    """ "三个一批" lists of the phases held in the period."""
    key = f"project__{ctx.key_field}"
    rows = list(
        BatchMembership.objects.filter(phase__held_on__gte=ctx.period.start, phase__held_on__lte=ctx.period.end)
        .order_by()
        .values(key, "batch")
        .annotate(n=Count("project_id", distinct=True), inv=Sum("project__total_investment"))
    )
    out: dict[str, Values] = {}
    for code, batch, name in (
        ("batch_signed", Batch.SIGN, "n"),
        ("batch_signed_investment", Batch.SIGN, "inv"),
        ("batch_started", Batch.START, "n"),
        ("batch_commissioned", Batch.COMMISSION, "n"),
    ):
        out.update(ctx.counts([r for r in rows if r["batch"] == batch], {code: name}, key=key))
    return out


def _tours(ctx: Context) -> dict[str, Values]:
    from keyprojects.evaluation.tours import project_scores_between

    scores = project_scores_between(ctx.period.start, ctx.period.end)  # project id -> [percent scores]
    keys = dict(Project.objects.filter(pk__in=list(scores)).values_list("pk", ctx.key_field))
    per_unit: dict[int, list[Decimal]] = defaultdict(list)
    for project_id, values in scores.items():
        uid = ctx.owner.get(keys.get(project_id))
        if uid is not None:
            per_unit[uid].extend(values)
    return {
        "tour_score": {
            uid: (q2(sum(per_unit[uid], ZERO) / len(per_unit[uid])) if per_unit.get(uid) else None)
            for uid in ctx.unit_ids
        }  # fmt: skip
    }


GROUPS: dict[str, Callable[[Context], dict[str, Values]]] = {
    "completion": _completion,
    "reports": _reports,
    "problems": _problems,
    "signed": _signed,
    "started": _started,
    "commissioned": _commissioned,
    "reserve": _reserve,
    "batches": _batches,
    "tours": _tours,
}
