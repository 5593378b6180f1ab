"""Chinese working-day maths for deadlines ("13710": same day, 3 and 7 working days, 1 month).

Which days are working days, in order of precedence:

1. `CalendarOverride` rows entered by an administrator (放假 or 调休上班);
2. the `chinese_calendar` package data (State Council notices, 2004 to the package's last year),
   including the make-up weekend working days (调休);
3. Monday to Friday, for years the package does not cover (the `workcal.W001` system check warns).

Counting follows the legal rule (民法典 §201, 行政许可法 §82): the day of receipt never counts, so
"N working days" ends on the N-th working day strictly after that day, also when it is a weekend or a
holiday. `chinese_calendar.find_workday(n, d)` is not used: it first moves to a working day on or
after `d`, so it ends one working day late when `d` is not a working day. Nor is
`get_workdays(..., include_weekends=False)`: it drops the make-up weekend working days.

Speed: every day is a lookup in one per-year dict holding only the days that differ from Monday to
Friday (the package's weekday holidays and weekend workdays, then the overrides on top). A year's
table costs one query and is cached per process. Saving or deleting an override clears this
process's cache at once (signals in `models.py`) and, on commit, changes a version stamp in Django's
cache, which other processes compare at most every `WORKCAL_VERSION_CHECK_SECONDS` (default 5) seconds.
Bulk writes skip the signals: call `invalidate_cache()` after `bulk_create()` or `update()`.
"""

from __future__ import annotations

import calendar as _stdlib_calendar
import datetime
import logging
import threading
import time
import uuid
from collections.abc import Iterable
from functools import cache

import chinese_calendar
from django.conf import settings
from django.core.cache import cache as shared_cache
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

logger = logging.getLogger(__name__)

VERSION_KEY = "workcal:overrides:version"
DEFAULT_VERSION_CHECK_SECONDS = 5.0
MAX_CACHED_YEARS = 256


class DayBasis(models.TextChoices):
    """How a deadline's days are counted."""

    WORKDAYS = "workdays", _("工作日")
    CALENDAR = "calendar", _("自然日")


# --- the package's data ------------------------------------------------------------------------


def _package_year_range() -> tuple[int, int]:
    years = [d.year for d in chinese_calendar.holidays]
    return min(years), max(years)


_PACKAGE_FIRST_YEAR, _PACKAGE_LAST_YEAR = _package_year_range()


def covered_years() -> range:
    """The years `chinese_calendar` has holiday data for (2004–2026 for version 1.11.0).

    The same range the package itself accepts: it refuses any date outside it with an exception,
    which is why this module never asks it about another year.
    """
    return range(_PACKAGE_FIRST_YEAR, _PACKAGE_LAST_YEAR + 1)


@cache
def _package_exceptions_by_year() -> dict[int, dict[datetime.date, bool]]:
    """The package's days that differ from Monday–Friday, by year: True = working day.

    Same precedence as `chinese_calendar.is_workday`: a date in `workdays` is a working day even if it
    is also in `holidays`; a weekend date in `holidays` needs no entry.
    """
    by_year: dict[int, dict[datetime.date, bool]] = {}
    for day in chinese_calendar.holidays:
        if day.weekday() < 5:
            by_year.setdefault(day.year, {})[day] = False
    for day in chinese_calendar.workdays:
        table = by_year.setdefault(day.year, {})
        if day.weekday() < 5:
            table.pop(day, None)
        else:
            table[day] = True
    return by_year


# --- the per-process cache of year tables --------------------------------------------------------


class _YearCache:
    """Year → {date: is_workday} for the days that differ from Monday–Friday.

    `generation` changes on every clear; a table loaded while a clear happened is not stored, so a
    concurrent thread can never put back a table read before the change.
    """

    def __init__(self) -> None:
        self.tables: dict[int, dict[datetime.date, bool]] = {}
        self.generation = 0
        self.version: str | None = None
        self.next_check_at = float("-inf")
        self.lock = threading.Lock()

    def clear(self) -> None:
        with self.lock:
            self.generation += 1
            self.tables = {}


_cache = _YearCache()


def clear_local_cache() -> None:
    """Forget this process's year tables; the next lookup reloads them and reads the version stamp."""
    _cache.clear()
    _cache.next_check_at = float("-inf")


def invalidate_cache() -> None:
    """Forget the year tables here and make every other process reload them too.

    Called on commit after an override is saved or deleted; call it yourself after bulk writes.
    """
    _cache.clear()
    version = uuid.uuid4().hex
    try:
        shared_cache.set(VERSION_KEY, version, timeout=None)
    except Exception:  # a cache server that is down must not break a save
        logger.warning("workcal: could not publish the calendar version stamp", exc_info=True)
        return
    _cache.version = version


def _shared_version() -> str | None:
    """The version stamp in Django's cache, created if missing (so an evicted key means: reload)."""
    try:
        version = shared_cache.get(VERSION_KEY)
        if version is None:
            shared_cache.add(VERSION_KEY, uuid.uuid4().hex, timeout=None)
            version = shared_cache.get(VERSION_KEY)
        return version
    except Exception:
        logger.warning("workcal: could not read the calendar version stamp", exc_info=True)
        return None


def _check_version() -> None:
    """Reload when another process changed the overrides; reads Django's cache at most every interval."""
    now = time.monotonic()
    if now < _cache.next_check_at:
        return
    interval = getattr(settings, "WORKCAL_VERSION_CHECK_SECONDS", DEFAULT_VERSION_CHECK_SECONDS)
    _cache.next_check_at = now + interval
    version = _shared_version()
    if version is not None and version != _cache.version:
        _cache.clear()
        _cache.version = version


def _year_table(year: int) -> dict[datetime.date, bool]:
    """The days of `year` that are not what Monday–Friday says: True = working day. One query."""
    _check_version()
    table = _cache.tables.get(year)
    if table is not None:
        return table
    generation = _cache.generation
    table = _load_year(year)
    with _cache.lock:
        if _cache.generation == generation:
            if len(_cache.tables) >= MAX_CACHED_YEARS:
                _cache.tables = {}
            _cache.tables[year] = table
    return table


def _load_year(year: int) -> dict[datetime.date, bool]:
    from keyprojects.workcal.models import CalendarOverride

    table = dict(_package_exceptions_by_year().get(year, {}))
    rows = CalendarOverride.objects.filter(
        date__gte=datetime.date(year, 1, 1), date__lte=datetime.date(year, 12, 31)
    ).values_list("date", "kind")
    for day, kind in rows:
        working = kind == CalendarOverride.Kind.WORKDAY
        if working == (day.weekday() < 5):
            table.pop(day, None)
        else:
            table[day] = working
    return table


# --- the public functions ------------------------------------------------------------------------


def as_date(value: datetime.date) -> datetime.date:
    """A `date` from a date or a datetime (an aware datetime is read in the local time zone)."""
    if isinstance(value, datetime.datetime):
        if timezone.is_aware(value):
            value = timezone.localtime(value)
        return value.date()
    if isinstance(value, datetime.date):
        return value
    raise TypeError(f"expected a date or datetime, got {type(value).__name__}")


def is_workday(d: datetime.date) -> bool:
    """Whether `d` is a working day: override, else the package data, else Monday–Friday."""
    d = as_date(d)
    return _year_table(d.year).get(d, d.weekday() < 5)


def _step(d: datetime.date, days: int = 1) -> datetime.date:
    try:
        return d + datetime.timedelta(days=days)
    except OverflowError:
        raise ValueError(f"期限超出可计算的日期范围（起算日 {d.isoformat()}）。") from None


def next_workday(d: datetime.date) -> datetime.date:
    """`d` itself if it is a working day, else the first working day after it."""
    d = as_date(d)
    while not is_workday(d):
        d = _step(d)
    return d


def add_workdays(d: datetime.date, n: int) -> datetime.date:
    """The deadline "N working days" from the day `d` a matter was received.

    n ≥ 1: the n-th working day strictly after `d`; `d` itself never counts, whether or not it is a
    working day. A problem received on an ordinary Saturday with 3 working days is due on Wednesday
    (Mon, Tue, Wed); `chinese_calendar.find_workday(3, saturday)` says Thursday, one day late.

    n = 0 ("deploy the same day"): `d` if it is a working day, else the next working day. A problem
    received on a Sunday or during the Spring Festival is due on the first working day after it,
    since nobody is expected to act on a day off.

    Raises ValueError for negative n, or when the result falls beyond `date.max`.
    """
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"n must be an int, got {type(n).__name__}")
    if n < 0:
        raise ValueError(f"工作日天数不能为负数（{n}）。")
    d = as_date(d)
    if n == 0:
        return next_workday(d)
    remaining = n
    while remaining:
        d = _step(d)
        if is_workday(d):
            remaining -= 1
    return d


def add_calendar_days(d: datetime.date, n: int) -> datetime.date:
    """The deadline "N days" (自然日) from the day `d`: `d + n` (the day of receipt does not count).

    A deadline that lands on a weekend or holiday is not moved to the next working day (民法典 §203
    would move a civil-law period; the 13710 texts say nothing, so that is left to the caller, e.g.
    `next_workday(add_calendar_days(d, n))`). n may be negative here. Raises ValueError beyond the
    representable dates.
    """
    return _step(as_date(d), n)


def due_date(d: datetime.date, n: int, basis: DayBasis | str = DayBasis.WORKDAYS) -> datetime.date:
    """The deadline `n` days after `d`, counted in working days or calendar days per `basis`."""
    if basis == DayBasis.WORKDAYS:
        return add_workdays(d, n)
    if basis == DayBasis.CALENDAR:
        if n < 0:
            raise ValueError(f"天数不能为负数（{n}）。")
        return add_calendar_days(d, n)
    raise ValueError(f"未知的计日方式：{basis!r}（应为 {', '.join(DayBasis.values)}）。")


def add_months(d: datetime.date, n: int) -> datetime.date:
    """`d` moved by `n` months, clamped to the month's end (Jan 31 + 1 month = Feb 28 or 29).

    The "1 month" deadline for major problems: received March 15, due April 15.
    Raises ValueError beyond the representable dates.
    """
    d = as_date(d)
    months = d.year * 12 + (d.month - 1) + n
    year, month = divmod(months, 12)
    month += 1
    if not datetime.MINYEAR <= year <= datetime.MAXYEAR:
        raise ValueError(f"期限超出可计算的日期范围（起算日 {d.isoformat()}，{n} 个月）。")
    day = min(d.day, _stdlib_calendar.monthrange(year, month)[1])
    return datetime.date(year, month, day)


def _weekdays_in(start: datetime.date, end: datetime.date) -> int:
    """Monday–Friday days in [start, end], both inclusive (0 if end < start)."""
    days = (end - start).days + 1
    if days <= 0:
        return 0
    weeks, rest = divmod(days, 7)
    first = start.weekday()
    return weeks * 5 + sum(1 for i in range(rest) if (first + i) % 7 < 5)


def workdays_between(start: datetime.date, end: datetime.date) -> int:
    """Working days in (start, end]: after `start`, up to and including `end`; 0 if end <= start.

    So `workdays_between(d, add_workdays(d, n)) == n` for n ≥ 1, and a make-up weekend working day
    (调休) counts. Works per year on the table of exceptions, so a long span stays cheap.
    """
    start, end = as_date(start), as_date(end)
    if end <= start:
        return 0
    first = start + datetime.timedelta(days=1)  # end > start, so no overflow
    total = 0
    for year in range(first.year, end.year + 1):
        lo = max(first, datetime.date(year, 1, 1))
        hi = min(end, datetime.date(year, 12, 31))
        total += _weekdays_in(lo, hi)
        for day, working in _year_table(year).items():
            if lo <= day <= hi:
                total += 1 if working else -1
    return total


def missing_calendar_years(years: Iterable[int]) -> list[int]:
    """The years among `years` that neither `chinese_calendar` covers nor any override mentions.

    For those years the calendar falls back to Monday–Friday, which is wrong around every holiday.
    One query. Sorted, without duplicates.
    """
    from keyprojects.workcal.models import CalendarOverride

    wanted = sorted({int(y) for y in years if int(y) not in covered_years()})
    wanted = [y for y in wanted if datetime.MINYEAR <= y <= datetime.MAXYEAR]
    if not wanted:
        return []
    entered = {
        day.year
        for day in CalendarOverride.objects.filter(
            date__gte=datetime.date(wanted[0], 1, 1), date__lte=datetime.date(wanted[-1], 12, 31)
        ).dates("date", "year")
    }
    return [y for y in wanted if y not in entered]
