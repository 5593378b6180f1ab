"""Monthly reports, annual plans and completion rates over /api/v1/: the permission matrix, the
workflow, bad input (422 with Chinese messages, nothing saved), conflicts (409) and query counts."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from keyprojects.api.auth import issue_token
from keyprojects.audit.models import AuditRecord
from keyprojects.progress import domain
from keyprojects.progress.forms import last_month
from keyprojects.progress.models import AnnualPlan, AnnualPlanRevision, MonthlyReport, ReportStatus
from keyprojects.projects.models import Project, Stage
from tests.conftest import PERSONAS, SEES
from tests.test_api import ApiClient, errors_at, has_chinese
from tests.test_progress_pages import make_projects

D = Decimal
ADMINS = [p for p in PERSONAS if not SEES[p]]
LAST = last_month()
PREV = last_month(datetime.date(*LAST, 1))
FILERS_A = {"enterprise", "town_officer", "dispatcher"}
REPORT_FIELDS = {
    "id", "project_id", "year", "month", "investment", "ytd_investment", "since_start_investment", "progress_text",
    "workers_on_site", "output_value", "tax", "problems_text", "status", "status_label", "on_behalf", "warnings",
    "explanation", "submitted_late", "return_reason", "submitted_at", "returned_at", "reviewed_at", "confirmed_at",
    "locked", "restated", "restatements", "version",
}  # fmt: skip


class Api(ApiClient):
    def put(self, path, body=None, **kw):
        return self.call("PUT", path, body, **kw)


def api_as(client, user) -> Api:
    raw, _ = issue_token(user, name="test")
    return Api(client, raw)


@pytest.fixture(autouse=True)
def _clean_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def w(world):
    Project.objects.filter(pk__in=[world.project_a.pk, world.project_b.pk]).update(
        stage=Stage.CONSTRUCTION, actual_start=datetime.date(2025, 6, 1)
    )
    world.project_a.refresh_from_db()
    world.project_b.refresh_from_db()
    for year in {LAST[0], PREV[0]}:
        domain.save_annual_plan(world.project_a, by=world.dispatcher, year=year, data={"planned_investment": "12000"})
        domain.save_annual_plan(world.project_b, by=world.dispatcher, year=year, data={"planned_investment": "4000"})
    return world


@pytest.fixture
def as_user(w, client):
    return lambda persona: api_as(client, getattr(w, persona))


def seen(persona: str, key: str, ok: int = 200) -> int:
    return ok if key in SEES[persona] else 404


def acted(persona: str, key: str, allowed: set[str], ok: int = 200) -> int:
    if key not in SEES[persona]:
        return 404
    return ok if persona in allowed else 403


def draft(w, project=None, *, period=LAST, investment="1000") -> MonthlyReport:
    project = project or w.project_a
    by = w.enterprise if project == w.project_a else w.dispatcher
    return domain.create_report(project, by=by, year=period[0], month=period[1], data={"investment": investment})


def stored(report) -> MonthlyReport:
    return MonthlyReport.objects.get(pk=report.pk)


# ---------------------------------------------------------------------------------------------
# Permission matrix


@pytest.mark.parametrize("persona", PERSONAS)
def test_reading_follows_the_scope(w, as_user, persona):
    ra, rb = draft(w), draft(w, w.project_b)
    api = as_user(persona)
    for key, report in (("project_a", ra), ("project_b", rb)):
        project = getattr(w, key)
        r = api.get(f"/projects/{project.pk}/monthly-reports")
        assert r.status_code == seen(persona, key)
        if r.status_code == 200:
            data = r.json()
            assert data["count"] == 1 and set(data["items"][0]) == REPORT_FIELDS
        r = api.get(f"/monthly-reports/{report.pk}")
        assert r.status_code == seen(persona, key)
        if r.status_code == 404:
            assert has_chinese(r.json()["detail"])
        r = api.get(f"/projects/{project.pk}/annual-plans/{LAST[0]}")
        assert r.status_code == seen(persona, key)
    r = api.get("/stats/completion", {"year": LAST[0], "month": LAST[1], "group_by": "district"})
    assert r.status_code == 200
    assert r.json()["total"]["projects"] == len(SEES[persona])


@pytest.mark.parametrize("persona", PERSONAS)
def test_who_may_create_a_report(w, as_user, persona):
    r = as_user(persona).post(
        f"/projects/{w.project_a.pk}/monthly-reports",
        {"year": LAST[0], "month": LAST[1], "investment": "1200.5", "progress_text": "主体施工"},
    )
    assert r.status_code == acted(persona, "project_a", FILERS_A, 201), r.content
    reports = MonthlyReport.objects.filter(project=w.project_a)
    if r.status_code == 201:
        data = r.json()
        assert data["investment"] == "1200.50" and data["status"] == "draft" and data["ytd_investment"] is None
        assert data["on_behalf"] == (persona != "enterprise")
        report = reports.get()
        assert report.investment == D("1200.50") and report.created_by == getattr(w, persona)
        assert AuditRecord.objects.filter(object_type="monthlyreport", action="create", channel="api").exists()
    else:
        assert has_chinese(r.json()["detail"]) and not reports.exists()


ACTIONS = {
    "submit": ("draft", {"enterprise"}, "submitted"),
    "return": ("submitted", {"town_officer", "dispatcher"}, "returned"),
    "review": ("submitted", {"town_officer"}, "reviewed"),
    "confirm": ("reviewed", {"dispatcher"}, "confirmed"),
}


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("action", list(ACTIONS))
def test_workflow_actions_by_role(w, as_user, persona, action):
    start, allowed, result = ACTIONS[action]
    report = draft(w)
    if start in ("submitted", "reviewed"):
        domain.submit(report, by=w.enterprise)
    if start == "reviewed":
        domain.review(report, by=w.town_officer)
    body = {"reason": "请核实"} if action == "return" else {}
    r = as_user(persona).post(f"/monthly-reports/{report.pk}/{action}", body)
    assert r.status_code == acted(persona, "project_a", allowed), r.content
    if r.status_code == 200:
        assert r.json()["status"] == result
        assert stored(report).status == result
    else:
        assert has_chinese(r.json()["detail"])
        assert stored(report).status == start


PLANNERS = {"dispatcher", "town_officer"}


@pytest.mark.parametrize("persona", PERSONAS)
def test_who_may_set_a_plan(w, as_user, persona):
    year = LAST[0] + 1
    r = as_user(persona).put(f"/projects/{w.project_a.pk}/annual-plans/{year}",
                             {"planned_investment": "9000", "to_start": True})  # fmt: skip
    assert r.status_code == acted(persona, "project_a", PLANNERS, 201), r.content
    plans = AnnualPlan.objects.filter(project=w.project_a, year=year)
    if r.status_code == 201:
        assert r.json()["planned_investment"] == "9000.00" and plans.get().to_start
    else:
        assert not plans.exists()


# ---------------------------------------------------------------------------------------------
# The workflow


def test_workflow_through_the_api(w, as_user):
    ent, unit, center = as_user("enterprise"), as_user("town_officer"), as_user("dispatcher")
    pk = w.project_a.pk
    r = ent.post(
        f"/projects/{pk}/monthly-reports",
        {"year": LAST[0], "month": LAST[1], "investment": 0, "progress_text": "停工检修", "workers_on_site": 12},
    )
    assert r.status_code == 201
    report = r.json()
    assert report["investment"] == "0.00" and report["warnings"] == []
    rid = report["id"]
    # Zero under construction: a soft rule; submitting needs an explanation (422 names the field).
    r = ent.post(f"/monthly-reports/{rid}/submit", {})
    errors = errors_at(r)
    assert "本月完成投资却为0" in errors["explanation"][0]
    assert stored(MonthlyReport(pk=rid)).status == ReportStatus.DRAFT
    r = ent.post(f"/monthly-reports/{rid}/submit", {"explanation": "设备检修停工半月", "version": report["version"]})
    assert r.status_code == 200, r.content
    report = r.json()
    assert report["status"] == "submitted" and report["warnings"][0]["code"] == "zero_under_construction"
    assert report["ytd_investment"] == "0.00" and report["explanation"] == "设备检修停工半月"

    # Returned by the unit with a reason (required).
    assert errors_at(unit.post(f"/monthly-reports/{rid}/return", {"reason": ""}))["reason"]
    assert errors_at(unit.post(f"/monthly-reports/{rid}/return", {}))["reason"]
    r = unit.post(f"/monthly-reports/{rid}/return", {"reason": "请核实停工原因", "version": report["version"]})
    assert r.status_code == 200 and r.json()["status"] == "returned" and r.json()["return_reason"] == "请核实停工原因"
    # The unit cannot change the figures; the enterprise corrects and resubmits.
    r = unit.patch(f"/monthly-reports/{rid}", {"investment": "9999"})
    assert r.status_code == 403 and stored(MonthlyReport(pk=rid)).investment == D("0.00")
    r = ent.patch(f"/monthly-reports/{rid}", {"investment": "450.25", "version": r.json().get("version")})
    assert r.status_code == 200, r.content
    r = ent.patch(f"/monthly-reports/{rid}", {"investment": "450.30"})
    assert r.status_code == 200 and r.json()["investment"] == "450.30"
    r = ent.post(f"/monthly-reports/{rid}/submit")
    assert r.status_code == 400 and has_chinese(r.json()["detail"])  # the body is a JSON object, {} at least
    r = ent.post(f"/monthly-reports/{rid}/submit", {})
    assert r.status_code == 200 and r.json()["status"] == "submitted" and r.json()["ytd_investment"] == "450.30"

    # Review, confirm, a repeated step is a conflict.
    assert unit.post(f"/monthly-reports/{rid}/review", {}).json()["status"] == "reviewed"
    r = unit.post(f"/monthly-reports/{rid}/review", {})
    assert r.status_code == 409 and "不能审核" in r.json()["detail"]
    assert center.post(f"/monthly-reports/{rid}/confirm", {}).json()["status"] == "confirmed"

    # Locked and restated: the API says so.
    domain.lock_month(LAST[0], LAST[1], by=w.dispatcher)
    r = center.post(f"/monthly-reports/{rid}/return", {"reason": "再核"})
    assert r.status_code == 409 and "已锁定" in r.json()["detail"]
    domain.restate(stored(MonthlyReport(pk=rid)), by=w.dispatcher, changes={"investment": "500"}, reason="核查调整")
    data = ent.get(f"/monthly-reports/{rid}").json()
    assert data["locked"] and data["restated"] and data["investment"] == "500.00"
    change = data["restatements"][0]
    assert change["changes"]["investment"] == {"old": "450.30", "new": "500.00"} and change["reason"] == "核查调整"
    listing = ent.get(f"/projects/{pk}/monthly-reports", {"year": LAST[0]}).json()
    assert listing["items"][0]["restated"] and listing["items"][0]["restatements"]
    steps = AuditRecord.objects.filter(object_type="monthlyreport", object_id=str(rid), channel="api")
    assert steps.count() >= 7


def test_stale_version_is_409_and_changes_nothing(w, as_user):
    report = draft(w)
    r = as_user("enterprise").patch(f"/monthly-reports/{report.pk}", {"investment": "5", "version": report.version + 1})
    assert r.status_code == 409 and has_chinese(r.json()["detail"])
    assert stored(report).investment == D("1000.00")
    r = as_user("enterprise").post(f"/monthly-reports/{report.pk}/submit", {"version": 99})
    assert r.status_code == 409 and stored(report).status == ReportStatus.DRAFT


def test_reviewers_cannot_slip_figures_into_an_action(w, as_user):
    report = draft(w)
    domain.submit(report, by=w.enterprise)
    unit = as_user("town_officer")
    r = unit.post(f"/monthly-reports/{report.pk}/review", {"investment": "99999"})
    assert errors_at(r)["investment"] == ["不支持该字段（字段名有误，或该字段不能通过此接口修改）。"]
    r = unit.post(f"/monthly-reports/{report.pk}/return", {"reason": "x", "ytd_investment": "1"})
    assert r.status_code == 422
    saved = stored(report)
    assert saved.status == ReportStatus.SUBMITTED and saved.investment == D("1000.00")


# ---------------------------------------------------------------------------------------------
# Bad input


def future() -> tuple[int, int]:
    today = timezone.localdate()
    return (today.year, today.month + 1) if today.month < 12 else (today.year + 1, 1)


@pytest.mark.parametrize(
    "changes,field,message",
    [
        ({"investment": "-5"}, "investment", "本月完成投资不能为负数"),
        ({"investment": "12.345"}, "investment", "最多保留两位小数"),
        ({"investment": "十万"}, "investment", "请输入有效的数字"),
        ({"investment": True}, "investment", "请输入数字"),
        ({"investment": 1.005}, "investment", "最多保留两位小数"),
        ({"workers_on_site": "三十"}, "workers_on_site", "请输入整数"),
        ({"month": 13}, "month", "月份应在1到12之间"),
        ({"month": "三月"}, "month", "请输入整数"),
        ({"year": future()[0], "month": future()[1]}, "month", "尚未到来"),
        ({"status": "confirmed"}, "status", "不支持该字段"),
        ({"ytd_investment": "-1"}, "ytd_investment", "不能为负数"),
    ],
)
def test_bad_input_is_422_in_chinese_and_saves_nothing(w, as_user, changes, field, message):
    body = {"year": LAST[0], "month": LAST[1], "investment": "100", **changes}
    r = as_user("enterprise").post(f"/projects/{w.project_a.pk}/monthly-reports", body)
    errors = errors_at(r)
    assert any(message in m for m in errors[field]), errors
    assert not MonthlyReport.objects.exists()


def test_locked_duplicate_and_out_of_scope(w, as_user):
    report = draft(w, w.project_b, period=PREV)
    domain.submit(report, by=w.dispatcher)
    domain.review(report, by=w.other_town_officer)
    domain.confirm(report, by=w.dispatcher)
    domain.lock_month(PREV[0], PREV[1], by=w.dispatcher)
    ent = as_user("enterprise")
    url = f"/projects/{w.project_a.pk}/monthly-reports"
    assert "已锁定" in errors_at(ent.post(url, {"year": PREV[0], "month": PREV[1], "investment": "1"}))["month"][0]
    assert ent.post(url, {"year": LAST[0], "month": LAST[1], "investment": "1"}).status_code == 201
    assert (
        "不能重复填报" in errors_at(ent.post(url, {"year": LAST[0], "month": LAST[1], "investment": "2"}))["month"][0]
    )
    r = ent.post(f"/projects/{w.project_b.pk}/monthly-reports", {"year": LAST[0], "month": LAST[1], "investment": "1"})
    assert r.status_code == 404 and has_chinese(r.json()["detail"])
    assert ent.get(f"/monthly-reports/{report.pk}").status_code == 404
    assert MonthlyReport.objects.filter(project=w.project_a).count() == 1
    # Above the project's total: refused at submission.
    mine = MonthlyReport.objects.get(project=w.project_a)
    ent.patch(f"/monthly-reports/{mine.pk}", {"investment": "160000"})
    r = ent.post(f"/monthly-reports/{mine.pk}/submit", {"explanation": "x"})
    assert "超过项目总投资" in errors_at(r)["investment"][0]
    assert stored(mine).status == ReportStatus.DRAFT


def test_not_json_and_unknown_ids(w, as_user):
    api = as_user("dispatcher")
    r = api.post(f"/projects/{w.project_a.pk}/monthly-reports", raw="{not json")
    assert r.status_code == 400 and has_chinese(r.json()["detail"])
    assert api.get("/monthly-reports/999999").status_code == 404
    assert "report_id" in errors_at(api.get("/monthly-reports/abc"))
    assert api.get(f"/projects/{w.project_a.pk}/annual-plans/1999").status_code == 404
    assert api.get("/projects/999999/monthly-reports").status_code == 404


# ---------------------------------------------------------------------------------------------
# Annual plans


def test_plan_get_put_revision_and_conflict(w, as_user):
    api = as_user("town_officer")
    year = LAST[0] + 1
    url = f"/projects/{w.project_a.pk}/annual-plans/{year}"
    months = ["100.00"] * 11 + ["900.00"]
    r = api.put(url, {"planned_investment": "2000", "monthly_plan": months, "to_commission": True})
    assert r.status_code == 201
    plan = r.json()
    assert plan["monthly_plan"] == months and plan["revision_count"] == 0 and len(plan["revisions"]) == 1
    # A revision needs a reason; then it is kept beside the original.
    assert errors_at(api.put(url, {"planned_investment": "2500"}))["reason"]
    r = api.put(
        url, {"planned_investment": "2500", "reason": "追加设备", "effective_month": 3, "version": plan["version"]}
    )
    assert r.status_code == 200, r.content
    plan = r.json()
    assert plan["planned_investment"] == "2500.00" and plan["original_planned_investment"] == "2000.00"
    assert plan["revision_count"] == 1 and plan["effective_month"] == 3
    assert plan["revisions"][1]["changes"]["planned_investment"] == {"old": "2000.00", "new": "2500.00"}
    assert api.get(url).json() == plan
    r = api.put(url, {"planned_investment": "2600", "reason": "x", "version": 1})
    assert r.status_code == 409
    assert errors_at(api.put(url, {"planned_investment": "-1", "reason": "x"}))["planned_investment"]
    assert errors_at(api.put(url, {"planned_investment": "999999", "reason": "x"}))["planned_investment"]
    assert errors_at(api.put(url, {"planned_investment": "1000", "monthly_plan": ["1"] * 3, "reason": "x"}))
    assert AnnualPlanRevision.objects.filter(plan__year=year).count() == 2


# ---------------------------------------------------------------------------------------------
# Completion rates


def test_completion_stats_by_group_uncapped(w, as_user):
    for project, amount in ((w.project_a, "6000"), (w.project_b, "6000")):
        report = draft(w, project, investment=amount)
        domain.submit(report, by=w.enterprise if project == w.project_a else w.dispatcher, explanation="设备款")
    api = as_user("dispatcher")
    r = api.get("/stats/completion", {"year": LAST[0], "month": LAST[1], "group_by": "town"})
    assert r.status_code == 200, r.content
    data = r.json()
    rows = {row["label"]: row for row in data["rows"]}
    assert rows["洪门镇"]["annual_rate"] == "150.0" and rows["东街街道"]["annual_rate"] == "50.0"
    assert rows["洪门镇"]["ytd_in_plan"] == "6000.00" and rows["洪门镇"]["planned"] == "4000.00"
    assert rows["洪门镇"]["key"] == str(w.hongmen.pk)
    expected_gap = (D(150) - D(LAST[1]) / 12 * 100).quantize(D("0.1"))
    assert rows["洪门镇"]["gap_points"] == str(expected_gap)
    assert data["total"]["annual_rate"] == "75.0" and data["total"]["projects"] == 2
    # The project filters of the list apply.
    r = api.get("/stats/completion", {"year": LAST[0], "month": LAST[1], "group_by": "unit", "town": w.hongmen.pk})
    assert [row["label"] for row in r.json()["rows"]] == ["洪门镇"]
    for group in ("unit", "industry", "level", "size_band", "district"):
        assert api.get("/stats/completion", {"year": LAST[0], "month": LAST[1], "group_by": group}).status_code == 200


@pytest.mark.parametrize(
    "params,field",
    [
        ({"year": 2026, "month": 13}, "month"),
        ({"year": "abc", "month": 1}, "year"),
        ({"month": 1}, "year"),
        ({"year": 2026, "month": 1, "group_by": "planet"}, "group_by"),
        ({"year": 2026, "month": 1, "town": "999999"}, "town"),
        ({"year": future()[0], "month": future()[1]}, "month"),
    ],
)
def test_completion_stats_bad_query(w, as_user, params, field):
    assert field in errors_at(as_user("dispatcher").get("/stats/completion", params))


def test_completion_stats_query_count_is_constant(w, client, django_assert_max_num_queries):
    api = api_as(client, w.dispatcher)
    params = {"year": LAST[0], "month": LAST[1], "group_by": "unit"}
    make_projects(w, 3)
    api.get("/stats/completion", params)  # the token's first use is written once
    with CaptureQueriesContext(connection) as small:
        assert api.get("/stats/completion", params).status_code == 200
    make_projects(w, 60)
    with CaptureQueriesContext(connection) as large:
        assert api.get("/stats/completion", params).status_code == 200
    assert len(large.captured_queries) == len(small.captured_queries)
    with django_assert_max_num_queries(10):
        api.get("/stats/completion", params)
    with CaptureQueriesContext(connection) as listing:
        assert api.get(f"/projects/{w.project_a.pk}/monthly-reports").status_code == 200
    assert len(listing.captured_queries) <= 8
