"""The working-day calendar: chinese_calendar data, 调休, the legal counting rule, overrides, the cache.

Dates used here were checked against chinese_calendar 1.11.0 (`get_holiday_detail`), and the first
tests assert those facts so a data change in the package shows up as a failing fact, not as a
puzzling deadline.
"""

from __future__ import annotations

import datetime
from datetime import date

import chinese_calendar
import pytest
from django.core.checks.registry import registry
from django.core.exceptions import ValidationError
from django.db import IntegrityError, OperationalError, transaction
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from keyprojects.audit.models import AuditRecord
from keyprojects.workcal import calendar as wc
from keyprojects.workcal.calendar import (
    DayBasis,
    add_calendar_days,
    add_months,
    add_workdays,
    covered_years,
    due_date,
    is_workday,
    missing_calendar_years,
    workdays_between,
)
from keyprojects.workcal.models import CalendarOverride, calendar_year_warnings, check_calendar_years

HOLIDAY = CalendarOverride.Kind.HOLIDAY
WORKDAY = CalendarOverride.Kind.WORKDAY
LAST_COVERED = max(covered_years())


@pytest.fixture(autouse=True)
def _fresh_calendar_cache():
    # Test transactions roll back without signals, so never let a year table outlive a test.
    wc.clear_local_cache()
    yield
    wc.clear_local_cache()


def override(day: date, kind: str, name: str = "测试") -> CalendarOverride:
    obj = CalendarOverride(date=day, kind=kind, name=name)
    obj.full_clean()
    obj.save()
    return obj


# --- the package facts the cases rely on -----------------------------------------------------------


def test_package_facts_2024_national_day():
    detail = chinese_calendar.get_holiday_detail
    assert detail(date(2024, 9, 28)) == (True, None)  # ordinary Saturday
    assert detail(date(2024, 9, 29)) == (False, "National Day")  # make-up Sunday
    for day in range(1, 8):
        assert detail(date(2024, 10, day)) == (True, "National Day")
    assert detail(date(2024, 10, 8)) == (False, None)
    assert detail(date(2024, 10, 12)) == (False, "National Day")  # make-up Saturday
    assert date(2024, 9, 29).weekday() == 6 and date(2024, 10, 12).weekday() == 5


def test_package_facts_2025_spring_festival():
    detail = chinese_calendar.get_holiday_detail
    assert detail(date(2025, 1, 26)) == (False, "Spring Festival")  # make-up Sunday
    assert detail(date(2025, 1, 27)) == (False, None)  # the eve: an ordinary Monday
    for offset in range(8):  # Jan 28 – Feb 4
        assert detail(date(2025, 1, 28) + datetime.timedelta(offset)) == (True, "Spring Festival")
    assert detail(date(2025, 2, 5)) == (False, None)
    assert detail(date(2025, 2, 8)) == (False, "Spring Festival")  # make-up Saturday
    assert date(2025, 1, 26).weekday() == 6 and date(2025, 2, 8).weekday() == 5


def test_covered_years_match_the_package():
    years = covered_years()
    assert years[0] == 2004 and LAST_COVERED >= 2026
    # The package's own data stops where the covered years do (it refuses any later date).
    known = {d.year for d in (*chinese_calendar.holidays, *chinese_calendar.workdays)}
    assert min(known) == years[0] and max(known) == LAST_COVERED
    assert 2031 not in years and 2099 not in years


def test_is_workday_equals_the_package_on_every_covered_day(db):
    day, end = date(covered_years()[0], 1, 1), date(LAST_COVERED, 12, 31)
    while day <= end:
        assert is_workday(day) == chinese_calendar.is_workday(day), day
        day += datetime.timedelta(days=1)


def test_year_totals_match_the_package(db):
    assert workdays_between(date(2023, 12, 31), date(2024, 12, 31)) == 251
    assert workdays_between(date(2025, 12, 31), date(2026, 12, 31)) == 248  # domain brief §11
    for year in (2004, 2015, 2020, 2025):
        expected = len(chinese_calendar.get_workdays(date(year, 1, 1), date(year, 12, 31)))
        assert workdays_between(date(year - 1, 12, 31), date(year, 12, 31)) == expected


# --- 2024 国庆 ----------------------------------------------------------------------------------------


def test_national_day_2024_received_on_the_eve(db):
    eve = date(2024, 9, 30)  # Monday, the last working day before Oct 1–7
    assert add_workdays(eve, 0) == eve
    assert add_workdays(eve, 1) == date(2024, 10, 8)
    assert add_workdays(eve, 3) == date(2024, 10, 10)
    # Oct 8, 9, 10, 11, 12 (make-up Saturday), 14, 15
    assert add_workdays(eve, 7) == date(2024, 10, 15)


def test_national_day_2024_received_on_a_holiday(db):
    received = date(2024, 10, 3)
    assert add_workdays(received, 0) == date(2024, 10, 8)  # "same day" → first working day
    assert add_workdays(received, 1) == date(2024, 10, 8)
    assert add_workdays(received, 3) == date(2024, 10, 10)
    assert chinese_calendar.find_workday(3, received) == date(2024, 10, 11)  # the package overshoots
    assert add_workdays(received, 5) == date(2024, 10, 12)  # the make-up Saturday counts


def test_national_day_2024_received_on_the_make_up_sunday(db):
    sunday = date(2024, 9, 29)
    assert is_workday(sunday)
    assert add_workdays(sunday, 0) == sunday
    assert add_workdays(sunday, 1) == date(2024, 9, 30)
    assert add_workdays(sunday, 3) == date(2024, 10, 9)


def test_national_day_2024_received_on_the_saturday_before(db):
    saturday = date(2024, 9, 28)  # an ordinary Saturday followed by the make-up Sunday
    assert not is_workday(saturday)
    assert add_workdays(saturday, 0) == date(2024, 9, 29)
    assert add_workdays(saturday, 1) == date(2024, 9, 29)
    assert add_workdays(saturday, 3) == date(2024, 10, 8)


def test_received_on_an_ordinary_saturday(db):
    saturday = date(2024, 11, 2)
    assert add_workdays(saturday, 0) == date(2024, 11, 4)
    assert add_workdays(saturday, 3) == date(2024, 11, 6)  # Mon, Tue, Wed
    assert chinese_calendar.find_workday(3, saturday) == date(2024, 11, 7)  # one day late


def test_workdays_between_across_national_day_2024(db):
    assert workdays_between(date(2024, 9, 27), date(2024, 10, 8)) == 3  # Sep 29, Sep 30, Oct 8
    assert workdays_between(date(2024, 10, 11), date(2024, 10, 14)) == 2  # Oct 12 (Sat), Oct 14
    assert workdays_between(date(2024, 10, 1), date(2024, 10, 7)) == 0


# --- 2025 春节 ----------------------------------------------------------------------------------------


def test_spring_festival_2025(db):
    eve = date(2025, 1, 27)
    assert add_workdays(eve, 1) == date(2025, 2, 5)
    assert add_workdays(eve, 3) == date(2025, 2, 7)
    assert add_workdays(eve, 7) == date(2025, 2, 12)  # Feb 5, 6, 7, 8 (Sat), 10, 11, 12
    sunday = date(2025, 1, 26)
    assert add_workdays(sunday, 0) == sunday
    assert add_workdays(sunday, 1) == eve
    holiday = date(2025, 1, 30)
    assert add_workdays(holiday, 0) == date(2025, 2, 5)
    assert add_workdays(holiday, 3) == date(2025, 2, 7)
    assert add_workdays(holiday, 4) == date(2025, 2, 8)


def test_workdays_between_counts_make_up_weekend_days(db):
    assert workdays_between(date(2025, 2, 7), date(2025, 2, 10)) == 2  # Feb 8 (Sat) and Feb 10
    assert workdays_between(date(2025, 1, 24), date(2025, 1, 27)) == 2  # Jan 26 (Sun) and Jan 27
    without_weekends = chinese_calendar.get_workdays(date(2025, 2, 8), date(2025, 2, 10), include_weekends=False)
    assert len(without_weekends) == 1  # why the package's filter is not used


def test_workdays_between_edges(db):
    d = date(2025, 3, 10)
    assert workdays_between(d, d) == 0
    assert workdays_between(d, date(2025, 3, 1)) == 0
    assert workdays_between(d, date(2025, 3, 11)) == 1  # the start never counts, the end does
    assert workdays_between(date(2024, 12, 31), date(2025, 1, 2)) == 1  # Jan 1 is 元旦
    assert workdays_between(date(2030, 1, 1), date(2099, 12, 31)) > 0  # long spans, uncovered years


# --- overrides ----------------------------------------------------------------------------------------


def test_holiday_override_on_a_wednesday_is_skipped(db):
    override(date(2025, 3, 12), HOLIDAY, "临时停工")
    assert not is_workday(date(2025, 3, 12))
    assert add_workdays(date(2025, 3, 11), 1) == date(2025, 3, 13)
    assert workdays_between(date(2025, 3, 10), date(2025, 3, 14)) == 3


def test_workday_override_on_a_saturday_counts(db):
    override(date(2025, 3, 15), WORKDAY, "补班")
    assert is_workday(date(2025, 3, 15))
    assert add_workdays(date(2025, 3, 14), 1) == date(2025, 3, 15)
    assert workdays_between(date(2025, 3, 14), date(2025, 3, 17)) == 2


def test_override_beats_the_package(db):
    override(date(2025, 2, 8), HOLIDAY, "取消补班")  # the package says make-up Saturday
    override(date(2025, 2, 3), WORKDAY, "提前上班")  # the package says Spring Festival
    assert not is_workday(date(2025, 2, 8))
    assert is_workday(date(2025, 2, 3))
    assert add_workdays(date(2025, 1, 27), 1) == date(2025, 2, 3)


def test_override_that_agrees_with_the_default_changes_nothing(db):
    override(date(2025, 3, 12), WORKDAY, "正常上班")
    override(date(2025, 3, 16), HOLIDAY, "正常休息")
    assert is_workday(date(2025, 3, 12)) and not is_workday(date(2025, 3, 16))
    assert workdays_between(date(2025, 3, 9), date(2025, 3, 16)) == 5


def test_same_date_twice_is_refused(db):
    override(date(2031, 5, 1), HOLIDAY, "2031年劳动节")
    with pytest.raises(ValidationError) as err:
        override(date(2031, 5, 1), WORKDAY, "2031年劳动节调休")
    assert "同一天不能既是假日又是工作日" in str(err.value.message_dict["date"])
    with pytest.raises(ValidationError) as err:
        override(date(2031, 5, 1), HOLIDAY, "重复")
    assert "无需重复录入" in str(err.value.message_dict["date"])
    with pytest.raises(IntegrityError), transaction.atomic():
        CalendarOverride.objects.create(date=date(2031, 5, 1), kind=WORKDAY, name="绕过校验")
    assert CalendarOverride.objects.filter(date=date(2031, 5, 1)).count() == 1
    # Editing the row itself is not a conflict.
    row = CalendarOverride.objects.get(date=date(2031, 5, 1))
    row.kind = WORKDAY
    row.full_clean()


def test_invalid_kind_is_refused(db):
    with pytest.raises(ValidationError):
        CalendarOverride(date=date(2031, 5, 2), kind="maybe", name="x").full_clean()
    with pytest.raises(IntegrityError), transaction.atomic():
        CalendarOverride.objects.create(date=date(2031, 5, 2), kind="maybe", name="x")


# --- years the package does not cover -------------------------------------------------------------------


def test_uncovered_years_fall_back_to_monday_to_friday(db):
    for year in (2031, 2099):
        assert year not in covered_years()
    assert is_workday(date(2031, 1, 1))  # a Wednesday; nobody entered 2031年元旦
    assert not is_workday(date(2031, 1, 4))  # Saturday
    assert add_workdays(date(2031, 1, 3), 1) == date(2031, 1, 6)  # Friday → Monday
    assert add_workdays(date(2099, 12, 31), 1) == date(2100, 1, 1)  # Thursday → Friday
    assert workdays_between(date(2099, 1, 1), date(2099, 12, 31)) == 260
    assert is_workday(date.min) and not is_workday(date(9999, 12, 26))  # Monday; Sunday


def test_overrides_decide_in_uncovered_years(db):
    override(date(2031, 1, 1), HOLIDAY, "2031年元旦")
    override(date(2031, 1, 4), WORKDAY, "2031年元旦调休")
    assert add_workdays(date(2030, 12, 31), 1) == date(2031, 1, 2)
    assert add_workdays(date(2031, 1, 2), 2) == date(2031, 1, 4)
    assert workdays_between(date(2030, 12, 31), date(2031, 1, 6)) == 4  # Jan 2, 3, 4, 6


@pytest.mark.skipif(2027 in covered_years(), reason="chinese_calendar now covers 2027: move this case to its next year")
def test_last_covered_year_into_the_next(db):
    assert LAST_COVERED == 2026
    last_day = date(2026, 12, 31)  # Thursday, a working day in the package
    assert add_workdays(last_day, 1) == date(2027, 1, 1)  # Friday, Mon–Fri fallback
    assert add_workdays(last_day, 3) == date(2027, 1, 5)
    assert workdays_between(date(2026, 12, 30), date(2027, 1, 4)) == 3
    override(date(2027, 1, 1), HOLIDAY, "2027年元旦")
    assert add_workdays(last_day, 1) == date(2027, 1, 4)
    assert add_workdays(last_day, 3) == date(2027, 1, 6)
    assert missing_calendar_years([2026, 2027]) == []


def test_the_ends_of_the_date_range_do_not_crash(db):
    assert add_workdays(date.min, 1) == date(1, 1, 2)
    assert add_workdays(date(9999, 12, 30), 1) == date(9999, 12, 31)
    with pytest.raises(ValueError, match="日期范围"):
        add_workdays(date(9999, 12, 31), 1)
    with pytest.raises(ValueError, match="日期范围"):
        add_calendar_days(date(9999, 12, 31), 1)
    with pytest.raises(ValueError, match="日期范围"):
        add_months(date(9999, 12, 15), 1)
    assert workdays_between(date.min, date(1, 12, 31)) == 260


# --- the other helpers ---------------------------------------------------------------------------------


def test_negative_and_bad_arguments(db):
    with pytest.raises(ValueError, match="负数"):
        add_workdays(date(2025, 3, 10), -1)
    with pytest.raises(ValueError, match="负数"):
        due_date(date(2025, 3, 10), -1, DayBasis.CALENDAR)
    with pytest.raises(ValueError, match="计日方式"):
        due_date(date(2025, 3, 10), 3, "weeks")
    with pytest.raises(TypeError):
        add_workdays(date(2025, 3, 10), 1.5)
    with pytest.raises(TypeError):
        is_workday("2025-03-10")


def test_due_date_by_basis(db):
    received = date(2024, 10, 3)
    assert due_date(received, 3, DayBasis.WORKDAYS) == date(2024, 10, 10)
    assert due_date(received, 3, "workdays") == date(2024, 10, 10)
    assert due_date(received, 3, DayBasis.CALENDAR) == date(2024, 10, 6)
    assert due_date(received, 3, "calendar") == add_calendar_days(received, 3)
    assert due_date(received, 0, "calendar") == received
    assert due_date(received, 7) == date(2024, 10, 15)  # default: working days (Oct 8–12, 14, 15)
    assert DayBasis.WORKDAYS.label == "工作日" and DayBasis.CALENDAR.label == "自然日"


def test_add_months_clamps_to_the_month_end():
    assert add_months(date(2025, 3, 15), 1) == date(2025, 4, 15)
    assert add_months(date(2025, 1, 31), 1) == date(2025, 2, 28)
    assert add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)
    assert add_months(date(2024, 3, 31), 1) == date(2024, 4, 30)
    assert add_months(date(2024, 12, 31), 2) == date(2025, 2, 28)
    assert add_months(date(2024, 11, 30), 1) == date(2024, 12, 30)
    assert add_months(date(2025, 3, 31), -1) == date(2025, 2, 28)
    assert add_months(date(2025, 3, 31), 0) == date(2025, 3, 31)


def test_datetimes_are_read_in_local_time(db):
    # 2024-09-30 17:30 UTC is 2024-10-01 01:30 in Asia/Shanghai: a holiday.
    received = datetime.datetime(2024, 9, 30, 17, 30, tzinfo=datetime.UTC)
    assert not is_workday(received)
    assert add_workdays(received, 0) == date(2024, 10, 8)
    assert add_workdays(datetime.datetime(2024, 9, 30, 9, 0), 0) == date(2024, 9, 30)  # naive: as is
    assert workdays_between(received, datetime.datetime(2024, 10, 8, 9, 0)) == 1


# --- the cache -----------------------------------------------------------------------------------------


def test_a_year_costs_one_query(db, django_assert_num_queries):
    with django_assert_num_queries(1):
        is_workday(date(2025, 3, 10))
    with django_assert_num_queries(0):
        for day in range(1, 32):
            is_workday(date(2025, 3, day % 31 + 1))
        add_workdays(date(2025, 3, 10), 30)
    with django_assert_num_queries(1):  # the next year is its own query
        workdays_between(date(2025, 12, 30), date(2026, 1, 5))


def test_saving_or_deleting_an_override_clears_the_cache(db):
    wednesday = date(2025, 3, 12)
    assert is_workday(wednesday)  # year 2025 now cached
    row = override(wednesday, HOLIDAY, "临时停工")
    assert not is_workday(wednesday)
    row.kind = WORKDAY
    row.save()
    assert is_workday(wednesday) and not is_workday(date(2025, 3, 12) - datetime.timedelta(days=4))
    row.kind = HOLIDAY
    row.save()
    assert not is_workday(wednesday)
    row.delete()
    assert is_workday(wednesday)
    override(wednesday, HOLIDAY, "再次停工")
    CalendarOverride.objects.filter(date=wednesday).delete()  # queryset delete sends post_delete too
    assert is_workday(wednesday)


def test_commit_publishes_a_new_version(db, django_capture_on_commit_callbacks):
    from django.core.cache import cache

    is_workday(date(2025, 3, 12))
    before = cache.get(wc.VERSION_KEY)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        override(date(2025, 3, 12), HOLIDAY, "临时停工")
    assert callbacks
    assert cache.get(wc.VERSION_KEY) not in (None, before)
    assert not is_workday(date(2025, 3, 12))


def test_other_processes_notice_through_the_version_stamp(db, settings):
    from django.core.cache import cache

    settings.WORKCAL_VERSION_CHECK_SECONDS = 0
    wednesday = date(2025, 3, 12)
    assert is_workday(wednesday)
    # Another process writes a row (no signal reaches this process) and bumps the stamp on commit.
    CalendarOverride.objects.bulk_create([CalendarOverride(date=wednesday, kind=HOLIDAY, name="他处录入")])
    assert is_workday(wednesday)  # still this process's cached table
    cache.set(wc.VERSION_KEY, "from-another-process", timeout=None)
    assert not is_workday(wednesday)
    # An evicted stamp also means: reload.
    CalendarOverride.objects.filter(date=wednesday).update(kind=WORKDAY)
    cache.delete(wc.VERSION_KEY)
    assert is_workday(wednesday)


def test_the_version_is_read_at_most_every_interval(db, settings, monkeypatch):
    settings.WORKCAL_VERSION_CHECK_SECONDS = 3600
    is_workday(date(2025, 3, 12))
    reads = []
    monkeypatch.setattr(wc, "_shared_version", lambda: reads.append(1) or "x")
    for _ in range(100):
        is_workday(date(2025, 3, 12))
    assert reads == []


def test_invalidate_cache_after_bulk_writes(db):
    wednesday = date(2025, 3, 12)
    assert is_workday(wednesday)
    CalendarOverride.objects.bulk_create([CalendarOverride(date=wednesday, kind=HOLIDAY, name="批量导入")])
    wc.invalidate_cache()
    assert not is_workday(wednesday)


def test_a_broken_cache_server_does_not_break_the_calendar(db, monkeypatch):
    class Broken:
        def __getattr__(self, name):
            def fail(*args, **kwargs):
                raise ConnectionError("cache down")

            return fail

    monkeypatch.setattr(wc, "shared_cache", Broken())
    assert is_workday(date(2025, 3, 12))
    wc.invalidate_cache()
    override(date(2025, 3, 12), HOLIDAY, "临时停工")
    assert not is_workday(date(2025, 3, 12))


# --- the system check and the admin -------------------------------------------------------------------


def test_missing_calendar_years(db):
    override(date(2031, 10, 1), HOLIDAY, "2031年国庆节")
    assert missing_calendar_years([2024, 2031, 2032, 2099, 2032]) == [2032, 2099]
    assert missing_calendar_years(range(2004, 2027)) == []
    assert missing_calendar_years([]) == []


def test_system_check_lists_missing_years_only(db):
    warnings = calendar_year_warnings(date(2030, 6, 1))
    assert [w.id for w in warnings] == ["workcal.W001", "workcal.W001"]
    assert warnings[0].msg == "2030年的法定节假日安排尚未录入，工作日按周一至周五计算，请在“工作日历”中补录。"
    assert warnings[1].msg.startswith("2031年")
    override(date(2031, 1, 1), HOLIDAY, "2031年元旦")
    assert [w.msg[:5] for w in calendar_year_warnings(date(2030, 6, 1))] == ["2030年"]
    assert calendar_year_warnings(date(2025, 3, 1)) == []  # 2025 and 2026 are covered


def test_system_check_is_registered_and_never_crashes(db, monkeypatch):
    assert check_calendar_years in registry.get_checks()
    assert isinstance(check_calendar_years(), list)

    def no_table(*args, **kwargs):
        raise OperationalError("no such table: workcal_calendaroverride")

    monkeypatch.setattr("keyprojects.workcal.calendar.missing_calendar_years", no_table)
    assert check_calendar_years() == []


def test_admin_lists_filters_warns_and_audits(admin_client, monkeypatch):
    override(date(2025, 3, 12), HOLIDAY, "临时停工")
    override(date(2031, 1, 1), HOLIDAY, "2031年元旦")
    # As if today were in 2029: 2029 is missing, 2030 too; 2031 has an entry.
    monkeypatch.setattr(
        "keyprojects.workcal.admin.calendar_year_warnings", lambda today: calendar_year_warnings(date(2029, 6, 1))
    )
    response = admin_client.get("/admin/workcal/calendaroverride/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "2029年的法定节假日安排尚未录入" in page and "2030年的法定节假日安排尚未录入" in page
    assert "2031年的法定节假日安排" not in page
    assert "星期三" in page  # 2025-03-12
    response = admin_client.get("/admin/workcal/calendaroverride/?year=2031")
    assert response.status_code == 200
    assert list(response.context["cl"].queryset) == [CalendarOverride.objects.get(date=date(2031, 1, 1))]
    # Saving through the admin writes the audit trail and reaches the calendar at once.
    assert is_workday(date(2025, 3, 13))
    response = admin_client.post(
        "/admin/workcal/calendaroverride/add/",
        {"date": "2025-03-13", "kind": HOLIDAY, "name": "临时停工", "note": ""},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert not is_workday(date(2025, 3, 13))
    assert AuditRecord.objects.filter(object_type="calendaroverride", action=AuditRecord.Action.CREATE).exists()
    response = admin_client.post(
        "/admin/workcal/calendaroverride/add/",
        {"date": "2025-03-13", "kind": WORKDAY, "name": "冲突", "note": ""},
    )
    assert response.status_code == 200
    assert "同一天不能既是假日又是工作日" in response.content.decode()


# --- properties ----------------------------------------------------------------------------------------

PROPERTY_SETTINGS = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
dates = st.dates(min_value=date(2004, 1, 1), max_value=date(2040, 12, 31))
counts = st.integers(min_value=0, max_value=30)


@PROPERTY_SETTINGS
@given(d=dates, n=counts)
def test_property_result_is_a_workday(db, d, n):
    assert is_workday(add_workdays(d, n))


@PROPERTY_SETTINGS
@given(d=dates, n=st.integers(min_value=1, max_value=30))
def test_property_counting_back_gives_n_and_the_result_is_later(db, d, n):
    result = add_workdays(d, n)
    assert result > d
    assert workdays_between(d, result) == n
    assert workdays_between(d, result - datetime.timedelta(days=1)) == n - 1


@PROPERTY_SETTINGS
@given(d=dates, n=counts, m=counts)
@example(d=date(2004, 1, 1), n=0, m=1)  # a holiday: "same day" and "1 working day" coincide
@example(d=date(2004, 1, 2), n=0, m=1)
def test_property_monotonic_in_n(db, d, n, m):
    a, b = add_workdays(d, n), add_workdays(d, m)
    if 1 <= n < m:
        assert a < b
    elif n == 0 < m:
        assert a <= b
        # n = 0 is the next working day, which is also the first one after d unless d is one.
        assert (a == b) == (m == 1 and not is_workday(d))
    elif n == m:
        assert a == b
    assert add_workdays(d, 0) >= d


@PROPERTY_SETTINGS
@given(start=dates, end=dates)
def test_property_workdays_between_counts_days(db, start, end):
    if (end - start).days > 60:
        end = start + datetime.timedelta(days=60)
    expected = sum(1 for i in range(1, (end - start).days + 1) if is_workday(start + datetime.timedelta(days=i)))
    assert workdays_between(start, end) == expected
