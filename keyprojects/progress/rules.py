"""Plausibility rules for monthly reports (reference/security-reliability.md §6).

Hard rules block: a report that breaks one cannot be saved or submitted. Soft rules flag: the
report can be submitted only with an explanation (情况说明), and reviewers see the flag. Each rule is
a small function of plain values that returns its Chinese message, or None when the rule holds;
`hard_errors()` and `soft_warnings()` run them all on a `Context` that the domain functions gather.

Thresholds (spike factor, repeat count, share of total) come from `ProgressSettings`.
"""

from __future__ import annotations

import datetime
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError

from keyprojects.lib.money import quantize_wan
from keyprojects.progress.models import ProgressSettings, period_month, period_of
from keyprojects.projects.models import MAX_INVESTMENT_WAN, Stage

ZERO = Decimal("0")
EARLIEST_YEAR = 2000


def number(value: Decimal) -> str:
    """A threshold without trailing zeros or exponent: 3.00 → "3", 2.50 → "2.5"."""
    return format(value.normalize(), "f")


def wan(value: Decimal | None) -> str:
    """An amount as staff read it in a message: 1,234.50万元."""
    return "—" if value is None else f"{quantize_wan(value):,}万元"


def plain(value):
    """A JSON-safe value for stored old/new pairs: decimals as strings."""
    return str(value) if isinstance(value, Decimal) else value


# --- input: numbers ---------------------------------------------------------------------------------


def not_a_number(label: str, raw) -> str:
    return f"{label}必须是数字（收到“{str(raw)[:20]}”）。"


def negative_amount(label: str, value: Decimal) -> str | None:
    if value < 0:
        return f"{label}不能为负数。"
    return None


def too_many_decimals(label: str, value: Decimal) -> str | None:
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2 and value != value.quantize(Decimal("0.01")):
        return f"{label}最多保留两位小数（单位：万元）。"
    return None


def too_large(label: str, value: Decimal) -> str | None:
    if value >= MAX_INVESTMENT_WAN:
        return f"{label}超过1万亿元，请核对单位是否为万元。"
    return None


def parse_amount(raw, label: str, *, required: bool = False) -> Decimal | None:
    """A money figure (万元) from a form, the API or a spreadsheet cell, or ValidationError.

    Accepts Decimal, int, float (Excel's numbers) and numeric text; refuses booleans, text, NaN and
    infinities, negative amounts, more than two decimal places and absurd sizes.
    """
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        if required:
            raise ValidationError(f"请填写{label}。")
        return None
    if isinstance(raw, bool):
        raise ValidationError(not_a_number(label, raw))
    try:
        value = Decimal(raw.strip().replace(",", "")) if isinstance(raw, str) else Decimal(str(raw))
    except (InvalidOperation, ValueError, TypeError):
        raise ValidationError(not_a_number(label, raw)) from None
    if not value.is_finite():
        raise ValidationError(not_a_number(label, raw))
    for rule in (negative_amount, too_many_decimals, too_large):
        message = rule(label, value)
        if message:
            raise ValidationError(message)
    return abs(value).quantize(Decimal("0.01"))  # abs: "-0" is 0


def parse_count(raw, label: str) -> int | None:
    """A whole number ≥ 0 (e.g. workers on site), or ValidationError."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if isinstance(raw, bool):
        raise ValidationError(not_a_number(label, raw))
    try:
        value = Decimal(raw.strip()) if isinstance(raw, str) else Decimal(str(raw))
    except (InvalidOperation, ValueError, TypeError):
        raise ValidationError(not_a_number(label, raw)) from None
    if not value.is_finite() or value != value.to_integral_value():
        raise ValidationError(f"{label}必须是整数。")
    if value < 0:
        raise ValidationError(f"{label}不能为负数。")
    if value > 1_000_000:
        raise ValidationError(f"{label}数值过大，请核对。")
    return int(value)


# --- hard rules: the month ------------------------------------------------------------------------------


def invalid_month(year, month) -> str | None:
    if not isinstance(year, int) or not isinstance(month, int) or isinstance(year, bool) or isinstance(month, bool):
        return "年份和月份必须是整数。"
    if not 1 <= month <= 12:
        return "月份应在1到12之间。"
    if not EARLIEST_YEAR <= year <= 2100:
        return f"年份应在{EARLIEST_YEAR}年到2100年之间。"
    return None


def future_month(year: int, month: int, today: datetime.date) -> str | None:
    if period_of(year, month) > period_of(today.year, today.month):
        return f"{year}年{month}月尚未到来，不能填报。"
    return None


def closed_month(year: int, month: int, locked_through: int | None) -> str | None:
    if locked_through is not None and period_of(year, month) <= locked_through:
        y, m = period_month(locked_through)
        return f"{year}年{month}月已锁定（已关账至{y}年{m}月），数据不能再修改；如需更正，请由项目服务中心办理更正。"
    return None


def duplicate_month(year: int, month: int, existing_status_label: str | None) -> str | None:
    if existing_status_label is not None:
        return f"该项目{year}年{month}月的月报已存在（状态：{existing_status_label}），不能重复填报，请修改原月报。"
    return None


def before_baseline(year: int, month: int, first_period: int | None) -> str | None:
    if first_period is not None and period_of(year, month) < first_period:
        y, m = period_month(first_period)
        return f"该项目自{y}年{m}月起在系统填报，此前的投资已计入累计基数，不能再填报{year}年{month}月。"
    return None


# --- hard rules: the figures ----------------------------------------------------------------------------


def investment_missing(investment: Decimal | None) -> str | None:
    if investment is None:
        return "请填写本月完成投资（没有投资请填0）。"
    return None


def since_start_above_total(since_start: Decimal, total_investment: Decimal) -> str | None:
    if since_start > total_investment:
        return (
            f"开工累计完成投资{wan(since_start)}超过项目总投资{wan(total_investment)}。"
            "如总投资已调整（调概），请先更新项目总投资。"
        )
    return None


def ytd_going_down(previous_ytd: Decimal, ytd: Decimal) -> str | None:
    """This month's year-to-date must not be below the previous month's (a month cannot be negative)."""
    if ytd < previous_ytd:
        return f"年度累计完成投资{wan(ytd)}低于上月累计{wan(previous_ytd)}，累计数不能减少。"
    return None


def ytd_mismatch(investment: Decimal, ytd: Decimal, previous_ytd: Decimal) -> str | None:
    """A month typed twice (as the month and as the year-to-date) must agree."""
    if previous_ytd + investment != ytd:
        return (
            f"本月完成投资{wan(investment)}与年度累计{wan(ytd)}不一致（上月累计{wan(previous_ytd)}），"
            "请只填写其中一项。"
        )
    return None


def explanation_missing(warnings: list[dict], explanation: str) -> str | None:
    if warnings and not explanation.strip():
        listed = "；".join(w["message"] for w in warnings)
        return f"本月报有异常提示，请填写情况说明后再提交：{listed}"
    return None


# --- soft rules ---------------------------------------------------------------------------------------------


def spike(investment: Decimal, history: list[Decimal], factor: Decimal, window: int, min_history: int) -> str | None:
    """Far above the project's usual level: more than `factor` × the median of its previous non-zero months."""
    usual = [v for v in history if v > 0][-window:]
    if investment <= 0 or len(usual) < min_history:
        return None
    median = Decimal(statistics.median(usual))
    if investment > median * factor:
        return (
            f"本月完成投资{wan(investment)}超过此前非零月份中位数{wan(median)}的{number(factor)}倍，"
            "请说明原因并提供依据。"
        )
    return None


def large_share(investment: Decimal, total_investment: Decimal, percent: Decimal) -> str | None:
    """One month above a share of the whole project (reporting ahead of progress)."""
    if total_investment > 0 and investment > total_investment * percent / 100:
        return f"本月完成投资{wan(investment)}超过项目总投资的{number(percent)}%，请核实是否超进度报送。"
    return None


def repeated_figure(investment: Decimal, previous_run: list[Decimal], months: int) -> str | None:
    """The same non-zero amount `months` months in a row (this one included).

    `previous_run` holds the amounts of the months just before this one, most recent last; the
    caller stops it at the first month with no counted report.
    """
    if investment <= 0 or len(previous_run) < months - 1:
        return None
    if all(v == investment for v in previous_run[-(months - 1) :]):
        return f"已连续{months}个月报送相同的完成投资{wan(investment)}，请核实是否按实际完成情况填报。"
    return None


def _month_end(year: int, month: int) -> datetime.date:
    return datetime.date(year + month // 12, month % 12 + 1, 1) - datetime.timedelta(days=1)


def before_start(year: int, month: int, investment: Decimal, actual_start: datetime.date | None) -> str | None:
    if investment <= 0:
        return None
    if actual_start is None:
        return "项目尚未填写实际开工日期，却报送了完成投资，请说明（如前期费用、土地款）。"
    if _month_end(year, month) < actual_start:
        return f"项目实际开工日期为{actual_start:%Y年%m月%d日}，本月尚未开工却报送了完成投资，请说明。"
    return None


def after_completion(year: int, month: int, investment: Decimal, actual_end: datetime.date | None) -> str | None:
    if investment > 0 and actual_end is not None and datetime.date(year, month, 1) > actual_end:
        return f"项目已于{actual_end:%Y年%m月%d日}竣工，竣工后仍报送完成投资，请说明（如尾款结算）。"
    return None


def zero_under_construction(investment: Decimal, stage: str) -> str | None:
    if investment == 0 and stage == Stage.CONSTRUCTION:
        return "项目处于“在建”阶段，本月完成投资却为0，请说明原因（如停工）。"
    return None


def output_before_commission(output_value: Decimal | None, tax: Decimal | None, stage: str) -> str | None:
    if (output_value or tax) and Stage.order(stage) < Stage.order(Stage.COMMISSIONED):
        return "项目尚未投产，却报送了产值或税收，请核实。"
    return None


# --- running the rules on one report ---------------------------------------------------------------------


@dataclass
class Context:
    """Everything the rules need about one report, gathered by the domain in a few queries.

    `history` maps each period (see `period_of`) to the project's counted investment in it,
    this report excluded. `baseline_*` come from `InvestmentBaseline` (zero when none).
    """

    year: int
    month: int
    investment: Decimal
    output_value: Decimal | None
    tax: Decimal | None
    total_investment: Decimal
    stage: str
    actual_start: datetime.date | None
    actual_end: datetime.date | None
    history: dict[int, Decimal] = field(default_factory=dict)
    baseline_amount: Decimal = ZERO
    baseline_ytd: Decimal = ZERO
    baseline_first_period: int | None = None
    settings: ProgressSettings | None = None

    @property
    def period(self) -> int:
        return period_of(self.year, self.month)

    def _baseline_ytd_applies(self, period: int) -> bool:
        first = self.baseline_first_period
        return first is not None and first // 12 == self.year and period >= first - 1

    def ytd_before(self) -> Decimal:
        """The year-to-date of the month before this one (0 in January, baseline included)."""
        start = period_of(self.year, 1)
        total = sum((v for p, v in self.history.items() if start <= p < self.period), ZERO)
        if self._baseline_ytd_applies(self.period - 1):
            total += self.baseline_ytd
        return total

    def ytd(self) -> Decimal:
        return self.ytd_before() + self.investment

    def since_start(self) -> Decimal:
        """The since-start total at this month (baseline + every counted month up to this one)."""
        total = sum((v for p, v in self.history.items() if p < self.period), ZERO)
        return self.baseline_amount + total + self.investment

    def since_start_latest(self) -> Decimal:
        """The project's since-start total with this report, later months included."""
        return self.baseline_amount + sum(self.history.values(), ZERO) + self.investment

    def previous_amounts(self) -> list[Decimal]:
        """Counted amounts before this month, oldest first."""
        return [v for p, v in sorted(self.history.items()) if p < self.period]

    def previous_run(self) -> list[Decimal]:
        """The amounts of the consecutive months just before this one, oldest first."""
        run: list[Decimal] = []
        p = self.period - 1
        while p in self.history:
            run.append(self.history[p])
            p -= 1
        return run[::-1]


def hard_errors(ctx: Context) -> dict[str, list[str]]:
    """The hard rules on the figures, keyed by field (the month's own checks run at creation)."""
    errors: dict[str, list[str]] = {}
    message = since_start_above_total(ctx.since_start_latest(), ctx.total_investment)
    if message:
        errors.setdefault("investment", []).append(message)
    message = ytd_going_down(ctx.ytd_before(), ctx.ytd())
    if message:
        errors.setdefault("ytd_investment", []).append(message)
    return errors


SoftRule = Callable[[Context, ProgressSettings], "str | None"]

SOFT_RULES: list[tuple[str, SoftRule]] = [
    ("spike", lambda c, s: spike(c.investment, c.previous_amounts(), s.spike_factor, s.spike_window,
                                 s.spike_min_history)),
    ("large_share", lambda c, s: large_share(c.investment, c.total_investment, s.spike_share_percent)),
    ("repeated", lambda c, s: repeated_figure(c.investment, c.previous_run(), s.repeat_months)),
    ("before_start", lambda c, s: before_start(c.year, c.month, c.investment, c.actual_start)),
    ("after_completion", lambda c, s: after_completion(c.year, c.month, c.investment, c.actual_end)),
    ("zero_under_construction", lambda c, s: zero_under_construction(c.investment, c.stage)),
    ("output_before_commission", lambda c, s: output_before_commission(c.output_value, c.tax, c.stage)),
]  # fmt: skip
SOFT_RULE_CODES = [code for code, _ in SOFT_RULES]


def soft_warnings(ctx: Context) -> list[dict[str, str]]:
    """The soft rules that fire, as [{"code", "message"}] (stored on the report as `warnings`)."""
    settings = ctx.settings or ProgressSettings.load()
    found = []
    for code, rule in SOFT_RULES:
        message = rule(ctx, settings)
        if message:
            found.append({"code": code, "message": message})
    return found
