"""Evaluation periods: "2026H1" (half year), "2026" (year), "2026Q3" (quarter), "2026-10" (month)."""

from __future__ import annotations

import calendar
import datetime
import re
from dataclasses import dataclass

from django.utils.translation import gettext as _

QUARTER_NAMES = "一二三四"
_PATTERN = re.compile(r"^(?P<year>\d{4})(?:(?P<half>[Hh][12])|(?P<quarter>[Qq][1-4])|-(?P<month>\d{1,2}))?$")


class PeriodError(ValueError):
    """A period that cannot be read; the message is shown to the user."""


@dataclass(frozen=True)
class Period:
    """A span of whole months inside one year, as evaluations and tours use it."""

    code: str
    label: str
    year: int
    first_month: int
    last_month: int

    @property
    def start(self) -> datetime.date:
        return datetime.date(self.year, self.first_month, 1)

    @property
    def end(self) -> datetime.date:
        return datetime.date(self.year, self.last_month, calendar.monthrange(self.year, self.last_month)[1])

    @property
    def months(self) -> list[int]:
        return list(range(self.first_month, self.last_month + 1))

    def contains(self, day: datetime.date) -> bool:
        return self.start <= day <= self.end


def parse_period(text: str) -> Period:
    """Read a period code; PeriodError (with a Chinese message) when it is not one."""
    match = _PATTERN.match((text or "").strip())
    if not match:
        raise PeriodError(
            _("无效的考评期间“%(p)s”：应为 2026H1（半年）、2026（全年）、2026Q3（季度）或 2026-10（月）。")
            % {"p": text}
        )
    year = int(match["year"])
    if not 2000 <= year <= 2100:
        raise PeriodError(_("考评年度应在2000年到2100年之间。"))
    if match["half"]:
        half = int(match["half"][1])
        first, last = (1, 6) if half == 1 else (7, 12)
        return Period(f"{year}H{half}", f"{year}年{'上' if half == 1 else '下'}半年", year, first, last)
    if match["quarter"]:
        quarter = int(match["quarter"][1])
        return Period(f"{year}Q{quarter}", f"{year}年第{QUARTER_NAMES[quarter - 1]}季度", year, quarter * 3 - 2,
                      quarter * 3)  # fmt: skip
    if match["month"]:
        month = int(match["month"])
        if not 1 <= month <= 12:
            raise PeriodError(_("月份应在1到12之间。"))
        return Period(f"{year}-{month:02d}", f"{year}年{month}月", year, month, month)
    return Period(str(year), f"{year}年", year, 1, 12)


def recent_periods(today: datetime.date) -> list[Period]:
    """The periods a page offers: this year's and last year's halves and years, latest first."""
    periods = []
    for year in (today.year, today.year - 1):
        periods.append(parse_period(str(year)))
        if year < today.year or today.month > 6:
            periods.append(parse_period(f"{year}H2"))
        periods.append(parse_period(f"{year}H1"))
    return periods
