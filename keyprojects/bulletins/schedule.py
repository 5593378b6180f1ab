"""When each review event falls due, and which period its document covers.

`due_dates(event, start, end)` lists the days an event is due between two dates; `next_due_at(event,
after)` is the first due moment strictly after `after` (what the worker stores in
`ReviewEvent.next_due_at`); `period_for(kind, as_of)` is the span of data a document dated `as_of`
covers. Working days come from `keyprojects.workcal.calendar` (holidays and 调休 included).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from keyprojects.bulletins.models import Kind, ReviewEvent
from keyprojects.progress.models import ProgressSettings
from keyprojects.workcal.calendar import is_workday, next_workday

# The defaults of the district's rhythm: kind → (month, day, hour, options).
DEFAULTS: dict[str, dict] = {
    Kind.DAILY: {"hour": 17},
    Kind.WEEKLY: {"weekday": 0, "hour": 8},
    Kind.MONTHLY: {"day": 3, "hour": 8, "options": {"indicators": ["annual_rate", "start_rate", "report_timeliness",
                                                                    "closure_on_time", "satisfaction"], "top_n": 3}},
    Kind.QUARTERLY: {"day": 10, "hour": 8},
    Kind.HALF_YEAR: {"month": 7, "day": 15, "hour": 8, "options": {"scheme": "sangeyipi"}},
    Kind.ANNUAL: {"month": 1, "day": 20, "hour": 8, "options": {"scheme": "sangeyipi"}},
}  # fmt: skip


def ensure_schedule(now: datetime.datetime | None = None) -> list[ReviewEvent]:
    """Create the default schedule rows that are missing (one per kind), each with its next due moment."""
    now = now or timezone.now()
    existing = {e.kind: e for e in ReviewEvent.objects.all()}
    for kind in Kind.values:
        if kind not in existing:
            values = DEFAULTS[kind]
            event = ReviewEvent(kind=kind, **values)
            event.next_due_at = next_due_at(event, now)
            try:
                with transaction.atomic():
                    event.save()
            except IntegrityError:  # another worker installed it at the same moment
                event = ReviewEvent.objects.get(kind=kind)
            existing[kind] = event
    return [existing[k] for k in Kind.values]


def _month_start(day: datetime.date) -> datetime.date:
    return day.replace(day=1)


def _add_month(day: datetime.date, n: int = 1) -> datetime.date:
    index = day.year * 12 + day.month - 1 + n
    return datetime.date(index // 12, index % 12 + 1, 1)


def _due_in_month(event: ReviewEvent, first: datetime.date, due_day: int) -> datetime.date | None:
    """The day in the month starting at `first` when a monthly-or-longer event is due, if any."""
    kind = event.kind
    if kind == Kind.MONTHLY:
        day = first.replace(day=min(28, due_day)) + datetime.timedelta(days=event.day)
    elif kind == Kind.QUARTERLY:
        if first.month not in (1, 4, 7, 10):
            return None
        day = first.replace(day=max(1, event.day))
    elif kind in (Kind.HALF_YEAR, Kind.ANNUAL):
        if first.month != event.month:
            return None
        day = first.replace(day=max(1, event.day))
    else:
        return None
    return next_workday(day)


def due_dates(event: ReviewEvent, start: datetime.date, end: datetime.date) -> list[datetime.date]:
    """The days (as_of dates) between `start` and `end` (both included) when `event` is due."""
    out: list[datetime.date] = []
    if event.kind == Kind.DAILY:
        day = start
        while day <= end:
            if is_workday(day):
                out.append(day)
            day += datetime.timedelta(days=1)
    elif event.kind == Kind.WEEKLY:
        day = start - datetime.timedelta(days=7)
        day += datetime.timedelta(days=(event.weekday - day.weekday()) % 7)
        while day <= end + datetime.timedelta(days=7):
            due = next_workday(day)
            if start <= due <= end and due not in out:
                out.append(due)
            day += datetime.timedelta(days=7)
    else:
        due_day = ProgressSettings.load().due_day
        first = _add_month(_month_start(start), -1)
        while first <= end:
            due = _due_in_month(event, first, due_day)
            if due is not None and start <= due <= end:
                out.append(due)
            first = _add_month(first)
    return sorted(out)


def _moment(event: ReviewEvent, day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime(day.year, day.month, day.day, event.hour))


def next_due_at(event: ReviewEvent, after: datetime.datetime) -> datetime.datetime:
    """The first moment strictly after `after` when `event` is due."""
    local = timezone.localtime(after) if timezone.is_aware(after) else after
    day = local.date()
    horizon = 400 if event.kind in (Kind.HALF_YEAR, Kind.ANNUAL) else 120
    for due in due_dates(event, day, day + datetime.timedelta(days=horizon)):
        moment = _moment(event, due)
        if moment > after:
            return moment
    raise ValueError(f"no due date for {event.kind} within {horizon} days of {day}")  # pragma: no cover


@dataclass(frozen=True)
class Period:
    """The span of data a document covers, and the month or period of its figures."""

    start: datetime.date
    end: datetime.date
    year: int
    month: int
    code: str = ""  # the evaluation period ("2026H1", "2026", "2026Q2")


def _month_end(first: datetime.date) -> datetime.date:
    return _add_month(first) - datetime.timedelta(days=1)


def period_for(kind: str, as_of: datetime.date, *, previous: datetime.date | None = None) -> Period:
    """The period a document of `kind` dated `as_of` covers.

    日通报: from the day after the previous bulletin (`previous`, default the previous working day) to
    `as_of`; 周调度: the 7 days up to `as_of`; 月点评: last month; 季度观摩: last quarter; 半年考评:
    the first half of the year (of `as_of`'s year from July, else of last year); 年底总评: last year.
    """
    if kind == Kind.DAILY:
        if previous is None or previous >= as_of:
            previous = as_of - datetime.timedelta(days=1)
            while not is_workday(previous):
                previous -= datetime.timedelta(days=1)
        return Period(previous + datetime.timedelta(days=1), as_of, as_of.year, as_of.month)
    if kind == Kind.WEEKLY:
        last = _add_month(_month_start(as_of), -1)
        return Period(as_of - datetime.timedelta(days=6), as_of, last.year, last.month)
    if kind == Kind.MONTHLY:
        first = _add_month(_month_start(as_of), -1)
        return Period(first, _month_end(first), first.year, first.month, f"{first.year}-{first.month:02d}")
    if kind == Kind.QUARTERLY:
        first = _add_month(_month_start(as_of), -3 - (as_of.month - 1) % 3)
        end = _month_end(_add_month(first, 2))
        return Period(first, end, first.year, end.month, f"{first.year}Q{(first.month - 1) // 3 + 1}")
    if kind == Kind.HALF_YEAR:
        year = as_of.year if as_of.month >= 7 else as_of.year - 1
        return Period(datetime.date(year, 1, 1), datetime.date(year, 6, 30), year, 6, f"{year}H1")
    if kind == Kind.ANNUAL:
        year = as_of.year - 1 if as_of.month < 12 else as_of.year
        return Period(datetime.date(year, 1, 1), datetime.date(year, 12, 31), year, 12, f"{year}")
    raise ValueError(f"unknown kind {kind!r}")
