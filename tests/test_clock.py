"""The 13710 clock: due dates around 国庆 2024, 春节 2025 and 调休 weekends, the light, the next moment.

Every date is fixed and was checked against chinese_calendar 1.11.0 (see tests/test_workcal.py for
the package facts): 国庆 2024 is Oct 1–7 off, with Sunday Sep 29 and Saturday Oct 12 worked;
春节 2025 is Jan 28 – Feb 4 off, with Sunday Jan 26 and Saturday Feb 8 worked.
"""

from __future__ import annotations

import datetime
from datetime import date

import pytest

from keyprojects.problems import clock
from keyprojects.problems.clock import ClockConfig, Light
from keyprojects.problems.models import Problem, ProblemSettings, Severity, SolveLevel, Status, Step
from keyprojects.workcal import calendar as wc
from keyprojects.workcal.calendar import DayBasis, covered_years
from keyprojects.workcal.models import CalendarOverride
from tests.test_problems import assigned_problem, at, problem_world

pytestmark = pytest.mark.django_db  # the calendar reads the override table

DEFAULT = ClockConfig()
CALENDAR_DAYS = ClockConfig(basis=DayBasis.CALENDAR)
LAST_COVERED = max(covered_years())


@pytest.fixture(autouse=True)
def _fresh_calendar_cache():
    wc.clear_local_cache()
    yield
    wc.clear_local_cache()


@pytest.fixture
def pw(world):
    return problem_world(world)


def dates(start: date, severity: str = Severity.ORDINARY, cfg: ClockConfig = DEFAULT) -> tuple:
    d = clock.deadlines(start, severity, cfg)
    return d.deploy, d.feedback, d.resolve


# --- due dates ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "assigned, deploy, feedback, resolve",
    [
        # Monday before 国庆: Oct 1–7 off, Oct 8 is the first working day, Saturday Oct 12 is worked.
        (date(2024, 9, 30), date(2024, 9, 30), date(2024, 10, 10), date(2024, 10, 15)),
        # The make-up Sunday Sep 29 is a working day: deploy that day; Sep 30 counts as day 1.
        (date(2024, 9, 29), date(2024, 9, 29), date(2024, 10, 9), date(2024, 10, 14)),
        # Assigned during the holiday: deploy on the first working day; that day counts as day 1.
        (date(2024, 10, 5), date(2024, 10, 8), date(2024, 10, 10), date(2024, 10, 15)),
        # An ordinary Saturday: deploy Monday; Mon/Tue/Wed are the three working days.
        (date(2024, 10, 19), date(2024, 10, 21), date(2024, 10, 23), date(2024, 10, 29)),
        # The eve of 春节 2025 (an ordinary Monday): Jan 28 – Feb 4 off; Saturday Feb 8 is worked.
        (date(2025, 1, 27), date(2025, 1, 27), date(2025, 2, 7), date(2025, 2, 12)),
        # The make-up Sunday Jan 26 before 春节.
        (date(2025, 1, 26), date(2025, 1, 26), date(2025, 2, 6), date(2025, 2, 11)),
        # Friday Feb 7 after 春节: Saturday Feb 8 is worked and is day 1.
        (date(2025, 2, 7), date(2025, 2, 7), date(2025, 2, 11), date(2025, 2, 17)),
    ],
)
def test_working_day_deadlines_around_holidays(assigned, deploy, feedback, resolve):
    assert dates(assigned) == (deploy, feedback, resolve)


def test_calendar_day_basis_counts_every_day():
    assert dates(date(2024, 9, 30), cfg=CALENDAR_DAYS) == (date(2024, 9, 30), date(2024, 10, 3), date(2024, 10, 7))


@pytest.mark.parametrize(
    "assigned, basis, due",
    [
        (date(2025, 1, 27), DayBasis.WORKDAYS, date(2025, 2, 27)),
        # Sep 7 + 1 month = Oct 7, a 国庆 holiday: moved to Oct 8 on working days, kept on calendar days.
        (date(2024, 9, 7), DayBasis.WORKDAYS, date(2024, 10, 8)),
        (date(2024, 9, 7), DayBasis.CALENDAR, date(2024, 10, 7)),
        # Jan 31 + 1 month is clamped to Feb 28 (a Friday in 2025).
        (date(2025, 1, 31), DayBasis.WORKDAYS, date(2025, 2, 28)),
    ],
)
def test_major_problems_get_one_month(assigned, basis, due):
    assert clock.resolve_due_for(assigned, Severity.MAJOR, ClockConfig(basis=basis)) == due


def test_durations_are_configuration():
    cfg = ClockConfig(deploy_days=1, feedback_days=2, resolve_days_ordinary=10, resolve_months_major=2)
    assert dates(date(2025, 3, 3), cfg=cfg) == (date(2025, 3, 4), date(2025, 3, 5), date(2025, 3, 17))
    assert clock.resolve_due_for(date(2025, 3, 3), Severity.MAJOR, cfg) == date(2025, 5, 6)  # May 3 is 劳动节


def test_load_config_reads_the_settings_row():
    assert clock.load_config() == DEFAULT  # no row yet: the defaults, and nothing written
    assert not ProblemSettings.objects.exists()
    row = ProblemSettings(basis=DayBasis.CALENDAR, feedback_days=5, escalation_period_days=2)
    row.full_clean()
    row.save()
    cfg = clock.load_config()
    assert (cfg.basis, cfg.feedback_days, cfg.escalation_period_days) == (DayBasis.CALENDAR, 5, 2)
    assert ProblemSettings.load().pk == 1 and ProblemSettings.objects.count() == 1


def test_settings_refuse_inconsistent_durations():
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as exc:
        ProblemSettings(deploy_days=3, feedback_days=1).full_clean()
    assert "首次反馈时限不能短于部署时限" in exc.value.message_dict["feedback_days"][0]
    with pytest.raises(ValidationError):
        ProblemSettings(escalation_period_days=0).full_clean()


@pytest.mark.skipif(LAST_COVERED != 2026, reason="dates written for chinese_calendar covering up to 2026")
def test_across_the_end_of_the_last_covered_year():
    # 2027 is not covered: Monday–Friday, so Friday 2027-01-01 counts as a working day. No crash.
    assert dates(date(2026, 12, 30)) == (date(2026, 12, 30), date(2027, 1, 4), date(2027, 1, 8))
    # Jan 30, 2027 is a Saturday: moved to Monday Feb 1.
    assert clock.resolve_due_for(date(2026, 12, 30), Severity.MAJOR, DEFAULT) == date(2027, 2, 1)
    # An admin enters 2027's 元旦: the deadlines move past it.
    CalendarOverride.objects.create(date=date(2027, 1, 1), kind=CalendarOverride.Kind.HOLIDAY, name="2027年元旦")
    wc.invalidate_cache()
    assert dates(date(2026, 12, 30)) == (date(2026, 12, 30), date(2027, 1, 5), date(2027, 1, 11))


def test_date_maths_never_crashes_near_the_end_of_time():
    d = clock.deadlines(date(9999, 12, 30), Severity.MAJOR, DEFAULT)
    assert d.resolve is None
    assert clock.deadlines(date(9999, 12, 31), Severity.ORDINARY, DEFAULT).feedback is None
    assert clock.light_for(None, date(2025, 1, 1), DEFAULT) == Light.NONE
    assert clock.yellow_from(None, DEFAULT) is None
    assert clock.yellow_from(date(1, 1, 1), DEFAULT) is None  # would step before date.min
    assert clock.start_of(None) is None
    assert clock.level_starts_on(date(9999, 12, 31), 1, DEFAULT) is None


# --- the light ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "due, warn, basis, first_yellow",
    [
        (date(2025, 3, 10), 1, DayBasis.WORKDAYS, date(2025, 3, 7)),  # Monday: yellow from the Friday before
        (date(2025, 3, 10), 0, DayBasis.WORKDAYS, date(2025, 3, 10)),  # 0: only on the day itself
        (date(2025, 3, 12), 2, DayBasis.WORKDAYS, date(2025, 3, 10)),
        (date(2024, 10, 8), 1, DayBasis.WORKDAYS, date(2024, 9, 30)),  # across the whole 国庆 week
        (date(2024, 10, 14), 1, DayBasis.WORKDAYS, date(2024, 10, 12)),  # the make-up Saturday counts
        (date(2025, 3, 10), 1, DayBasis.CALENDAR, date(2025, 3, 9)),
    ],
)
def test_yellow_from(due, warn, basis, first_yellow):
    cfg = ClockConfig(warn_before_days=warn, basis=basis)
    assert clock.yellow_from(due, cfg) == first_yellow
    assert clock.light_for(due, first_yellow - datetime.timedelta(days=1), cfg) == Light.GREEN
    assert clock.light_for(due, first_yellow, cfg) == Light.YELLOW
    assert clock.light_for(due, due, cfg) == Light.YELLOW
    assert clock.light_for(due, due + datetime.timedelta(days=1), cfg) == Light.RED


def test_done_steps_show_on_time_or_late():
    due = date(2025, 3, 10)
    assert clock.light_for(due, date(2025, 4, 1), DEFAULT, done_on=date(2025, 3, 10)) == Light.DONE
    assert clock.light_for(due, date(2025, 4, 1), DEFAULT, done_on=date(2025, 3, 11)) == Light.LATE


def test_step_lights_overdue_and_the_running_step(pw):
    problem = assigned_problem(pw)  # assigned Mon 2025-03-03: deploy 3/3, feedback 3/6, resolve 3/12
    assert clock.current_step(problem) == (Step.DEPLOY, date(2025, 3, 3))
    assert clock.step_lights(problem, date(2025, 3, 3)) == {
        Step.DEPLOY: Light.YELLOW, Step.FEEDBACK: Light.GREEN, Step.RESOLVE: Light.GREEN
    }  # fmt: skip
    assert not clock.is_overdue(problem, date(2025, 3, 3))
    assert clock.is_overdue(problem, date(2025, 3, 4))
    assert clock.problem_light(problem, date(2025, 3, 4)) == Light.RED

    from keyprojects.problems import domain

    domain.deploy(problem, by=pw.town_officer, now=at(date(2025, 3, 4)))  # one day late
    problem.refresh_from_db()
    lights = clock.step_lights(problem, date(2025, 3, 5))
    assert lights[Step.DEPLOY] == Light.LATE and lights[Step.FEEDBACK] == Light.YELLOW
    assert clock.current_step(problem) == (Step.FEEDBACK, date(2025, 3, 6))
    assert problem.overdue  # the property uses the real today, long after 2025-03-06
    assert not clock.is_overdue(problem, date(2025, 3, 6)) and clock.is_overdue(problem, date(2025, 3, 7))
    domain.resolve(problem, by=pw.town_officer, evidence="好了", now=at(date(2025, 3, 5)))
    problem.refresh_from_db()
    lights = clock.step_lights(problem, date(2025, 3, 20))
    assert lights == {Step.DEPLOY: Light.LATE, Step.FEEDBACK: Light.DONE, Step.RESOLVE: Light.DONE}
    assert clock.problem_light(problem, date(2025, 3, 20)) == Light.NONE and not clock.is_overdue(problem)


# --- the worker's next moment -------------------------------------------------------------------------------


def test_pending_actions_of_an_assigned_problem(pw):
    problem = assigned_problem(pw, solve_level=SolveLevel.CITY)
    actions = clock.pending_actions(problem, DEFAULT)
    # Deploying is due the same day, so no reminder: the overdue mark, then level 1 three working
    # days after the deadline (from Friday Mar 7, the day after Thu Mar 6).
    assert [(a.kind, a.at, a.level) for a in actions] == [
        ("overdue", at(date(2025, 3, 4), 0), 0),
        ("escalate", at(date(2025, 3, 7), 0), 1),
    ]
    assert problem.next_action_at == at(date(2025, 3, 4), 0)


def test_pending_actions_of_the_feedback_step_and_the_ladder_levels(pw):
    from keyprojects.problems import domain

    problem = assigned_problem(pw, solve_level=SolveLevel.PROVINCE)
    domain.deploy(problem, by=pw.town_officer, now=at(date(2025, 3, 3), 11))
    problem.refresh_from_db()
    assert [(a.kind, a.at) for a in clock.pending_actions(problem, DEFAULT)] == [
        ("warn", at(date(2025, 3, 5), 0)),  # one working day before Thu Mar 6
        ("overdue", at(date(2025, 3, 7), 0)),
        ("escalate", at(date(2025, 3, 12), 0)),  # 3 working days after Mar 6 is Tue 11: level 1 from Wed 12
    ]
    due = problem.feedback_due
    assert clock.level_starts_on(due, 2, DEFAULT) == date(2025, 3, 15)  # after Fri 14 (6 working days)
    assert clock.level_starts_on(due, 3, DEFAULT) == date(2025, 3, 20)  # after Wed 19 (9 working days)
    problem.escalation_level = 3
    assert [a.kind for a in clock.pending_actions(problem, DEFAULT)] == ["warn", "overdue"]  # top of the ladder
    problem.escalation_level = 0
    problem.solve_level = SolveLevel.DISTRICT
    assert clock.max_level(problem) == 2
    cfg = ClockConfig(escalation_enabled=False)
    assert [a.kind for a in clock.pending_actions(problem, cfg)] == ["warn", "overdue"]


def test_marks_remove_actions_already_done(pw):
    problem = assigned_problem(pw)
    problem.clock_marks = [clock.mark_key("overdue", Step.DEPLOY, date(2025, 3, 3))]
    assert [a.kind for a in clock.pending_actions(problem, DEFAULT)] == ["escalate"]


def test_problems_off_the_clock_have_no_next_moment():
    problem = Problem(status=Status.NEW, received_on=date(2025, 3, 3))
    assert clock.next_action_at(problem, DEFAULT) is None
    clock.refresh(problem, DEFAULT)
    assert (problem.current_step, problem.current_due, problem.next_action_at) == ("", None, None)
