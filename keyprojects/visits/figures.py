"""Service officers' figures for a month, and the officers who made no visit in it.

Per officer, for the month asked about (definitions):

- 走访次数: visit log entries dated in the month (on site and by phone, counted separately too);
- 反映诉求: problems the officer raised (source 首席服务员收集) with a received date in the month;
- 办结率 = those of them resolved (已办结/已回访/已销号) ÷ demands relayed;
- 按期办结率 = resolved on or before the resolve deadline in force ÷ resolved (as in the unit figures);
- 满意率 = rated 满意 or 基本满意 ÷ rated;
- 政策推送: policy pushes dated in the month.

States are the current ones (a demand relayed in March and resolved in April counts as resolved when
March is looked at in May). Rates are percentages with one decimal, None when there is nothing to divide.
Whatever the number of officers, it is three aggregate queries (visits, demands, pushes).
"""

from __future__ import annotations

import calendar
import datetime
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Count, Q
from django.utils import timezone

from keyprojects.problems.models import DONE_STATUSES, GOOD_RATINGS, Problem, Source
from keyprojects.visits.models import OfficerPairing, OfficerVisit, PolicyPush


def _rate(part: int, whole: int) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Month:
    year: int
    month: int

    @classmethod
    def of(cls, day: datetime.date) -> Month:
        return cls(day.year, day.month)

    @classmethod
    def parse(cls, text: str | None, default: datetime.date | None = None) -> Month | None:
        """ "2026-05" → Month; None for anything else (the caller falls back to the current month)."""
        if not text:
            return cls.of(default or timezone.localdate())
        try:
            year, month = (int(part) for part in text.split("-"))
        except (ValueError, TypeError):
            return None
        if not (2000 <= year <= 2100 and 1 <= month <= 12):
            return None
        return cls(year, month)

    @property
    def first(self) -> datetime.date:
        return datetime.date(self.year, self.month, 1)

    @property
    def last(self) -> datetime.date:
        return datetime.date(self.year, self.month, calendar.monthrange(self.year, self.month)[1])

    @property
    def previous(self) -> Month:
        return Month(self.year - 1, 12) if self.month == 1 else Month(self.year, self.month - 1)

    @property
    def next(self) -> Month:
        return Month(self.year + 1, 1) if self.month == 12 else Month(self.year, self.month + 1)

    def __str__(self) -> str:
        return f"{self.year}-{self.month:02d}"

    @property
    def label(self) -> str:
        return f"{self.year}年{self.month}月"


@dataclass
class OfficerFigures:
    officer_id: int
    visits: int = 0
    on_site: int = 0
    by_phone: int = 0
    relayed: int = 0
    resolved: int = 0
    on_time: int = 0
    rated: int = 0
    satisfied: int = 0
    pushes: int = 0

    @property
    def closure_rate(self) -> Decimal | None:
        """办结率 (%)."""
        return _rate(self.resolved, self.relayed)

    @property
    def on_time_rate(self) -> Decimal | None:
        """按期办结率 (%)."""
        return _rate(self.on_time, self.resolved)

    @property
    def satisfaction_rate(self) -> Decimal | None:
        """满意率 (%)."""
        return _rate(self.satisfied, self.rated)

    def as_dict(self) -> dict:
        return {
            "visits": self.visits, "on_site": self.on_site, "by_phone": self.by_phone, "relayed": self.relayed,
            "resolved": self.resolved, "on_time": self.on_time, "rated": self.rated, "satisfied": self.satisfied,
            "pushes": self.pushes, "closure_rate": self.closure_rate, "on_time_rate": self.on_time_rate,
            "satisfaction_rate": self.satisfaction_rate,
        }  # fmt: skip


def officer_figures(officer_ids: list[int], month: Month) -> dict[int, OfficerFigures]:
    """The figures of each officer for the month (three grouped queries)."""
    result = {pk: OfficerFigures(pk) for pk in officer_ids}
    if not officer_ids:
        return result
    visits = (
        OfficerVisit.objects.filter(officer_id__in=officer_ids, visited_on__range=(month.first, month.last))
        .order_by()
        .values("officer_id")
        .annotate(
            n=Count("id"),
            on_site=Count("id", filter=Q(kind=OfficerVisit.Kind.ON_SITE)),
            phone=Count("id", filter=Q(kind=OfficerVisit.Kind.PHONE)),
        )
    )
    for row in visits:
        fig = result[row["officer_id"]]
        fig.visits, fig.on_site, fig.by_phone = row["n"], row["on_site"], row["phone"]
    done = Q(status__in=DONE_STATUSES)
    demands = (
        Problem.objects.filter(
            raised_by_id__in=officer_ids, source=Source.SERVICE_OFFICER, received_on__range=(month.first, month.last)
        )
        .order_by()
        .values("raised_by_id")
        .annotate(
            n=Count("id"),
            resolved=Count("id", filter=done),
            on_time=Count("id", filter=done & Q(resolved_on_time=True)),
            rated=Count("id", filter=~Q(rating="")),
            satisfied=Count("id", filter=Q(rating__in=GOOD_RATINGS)),
        )
    )
    for row in demands:
        fig = result[row["raised_by_id"]]
        fig.relayed, fig.resolved, fig.on_time = row["n"], row["resolved"], row["on_time"]
        fig.rated, fig.satisfied = row["rated"], row["satisfied"]
    pushes = (
        PolicyPush.objects.filter(officer_id__in=officer_ids, pushed_on__range=(month.first, month.last))
        .order_by()
        .values("officer_id")
        .annotate(n=Count("id"))
    )
    for row in pushes:
        result[row["officer_id"]].pushes = row["n"]
    return result


def paired_in(month: Month):
    """Pairings active at some day of the month."""
    return OfficerPairing.objects.filter(started_on__lte=month.last).exclude(ended_on__lt=month.first)


def without_visit(officers, figures: dict[int, OfficerFigures], paired_ids: set[int]) -> list:
    """Officers paired during the month who logged no visit in it."""
    return [o for o in officers if o.pk in paired_ids and figures[o.pk].visits == 0]
