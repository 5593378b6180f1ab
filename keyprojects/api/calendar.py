"""The working-day calendar over the API: the same answers the 13710 clock uses.

Working days follow the State Council calendar with 调休 (`chinese_calendar`) and the administrators'
overrides; a year neither covers falls back to Monday–Friday and is listed in `uncovered_years`.
Counting follows the legal rule of `keyprojects.workcal.calendar`: the starting day never counts.
"""

from __future__ import annotations

import datetime

from django.utils.translation import gettext as _
from ninja import Query, Router, Schema
from pydantic import Field

from keyprojects.api.errors import ApiValidationError, error_item
from keyprojects.api.schemas import Message, ValidationErrors
from keyprojects.workcal import calendar

router = Router(tags=["工作日历"])

MAX_RANGE_DAYS = 366
MAX_ADD_DAYS = 366


class WorkdaysQuery(Schema):
    start: datetime.date = Field(description="起算日 YYYY-MM-DD（不计入）")
    end: datetime.date = Field(description="截止日 YYYY-MM-DD（计入），与起算日相差不超过366天")


class WorkdaysOut(Schema):
    start: datetime.date
    end: datetime.date
    count: int = Field(description="(start, end] 内的工作日数：起算日不计，截止日计入")
    workdays: list[datetime.date] = Field(description="(start, end] 内的每个工作日，含调休上班的周末")
    uncovered_years: list[int] = Field(description="既无国务院安排数据、也未录入调整的年份（按周一至周五计算）")


class AddWorkdaysQuery(Schema):
    date: datetime.date = Field(description="收到/交办日期 YYYY-MM-DD（当天不计入）")
    days: int = Field(ge=0, le=MAX_ADD_DAYS, description="工作日数，0 表示当天（遇休息日顺延至下一个工作日）")


class AddWorkdaysOut(Schema):
    date: datetime.date
    days: int
    due: datetime.date = Field(description="期限：起算日之后第 N 个工作日")
    uncovered_years: list[int] = Field(description="计算中用到、但未覆盖的年份（按周一至周五计算）")


def _uncovered(first: datetime.date, last: datetime.date) -> list[int]:
    return calendar.missing_calendar_years(range(first.year, last.year + 1))


@router.get(
    "/calendar/workdays",
    response={200: WorkdaysOut, 401: Message, 422: ValidationErrors},
    summary="区间内的工作日",
    operation_id="calendar_workdays",
)
def workdays(request, params: Query[WorkdaysQuery]):
    """(start, end] 内的工作日数和日期（含调休）。end 早于 start 或区间超过366天时返回 422。"""
    start, end = params.start, params.end
    if end < start:
        raise ApiValidationError([error_item(["query", "end"], _("截止日不能早于起算日。"))])
    if (end - start).days > MAX_RANGE_DAYS:
        message = _("查询区间不能超过 %(n)s 天。") % {"n": MAX_RANGE_DAYS}
        raise ApiValidationError([error_item(["query", "end"], message)])
    days = []
    day = start
    while day < end:
        day += datetime.timedelta(days=1)
        if calendar.is_workday(day):
            days.append(day)
    return {
        "start": start,
        "end": end,
        "count": calendar.workdays_between(start, end),
        "workdays": days,
        "uncovered_years": _uncovered(start, end),
    }


@router.get(
    "/calendar/add-workdays",
    response={200: AddWorkdaysOut, 401: Message, 422: ValidationErrors},
    summary="N个工作日后的期限",
    operation_id="calendar_add_workdays",
)
def add_workdays(request, params: Query[AddWorkdaysQuery]):
    """平台计算期限所用的日期：起算日之后第 N 个工作日（起算日不计，即使它是休息日）；N=0 为当天或下一个工作日。"""
    try:
        due = calendar.add_workdays(params.date, params.days)
    except (ValueError, OverflowError):
        raise ApiValidationError([error_item(["query", "date"], _("期限超出可计算的日期范围。"))]) from None
    return {"date": params.date, "days": params.days, "due": due, "uncovered_years": _uncovered(params.date, due)}
