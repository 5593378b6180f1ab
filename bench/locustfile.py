"""The staff of a district at work, for locust: run by bench/load.py, which prepares the accounts and says which
projects, problems and months each may use (the plan, a JSON file named by KP_LOAD_PLAN).

Four kinds of virtual users, each signed in once through the login form (CSRF token from the page, as a browser
does) with its own account, so the per-username lockout (django-axes) never sees two sessions of one person:

- 领导: the cockpit, the project list, project pages.
- 调度员: the project list with filters and deep pages, project pages, the cockpit.
- 责任单位经办人: their unit's projects, and 问题办理: opens one of their unit's open problems and posts a 反馈办理情况
  (the feedback form of the problem page), then sees the page again.
- 企业填报员: their company's projects, and 月报填报: opens the new-report form of one of their projects for the
  next month not yet reported, saves the draft, opens it and submits it (with a 情况说明, which the rules ask for
  when a figure looks unusual), then sees the submitted report.

How many of each: the weights in the plan (bench/load.py ROLE_WEIGHTS: 15 / 20 / 30 / 35 %; equal in smoke mode,
so that even 5 users include every kind).

Between two actions a person reads and thinks: 3 to 10 s (uniform), as office staff click through an application;
in smoke mode (KP_LOAD_SMOKE=1) 0.5 to 1.5 s, and each user goes through its actions in order so that a short run
exercises every request type.

Redirects are not followed by the client: each request is timed and checked on its own, and the page a browser
would load after a redirect is requested explicitly, as its own request type. A request counts as an error when
its status is not the expected one (200 for a page, 302 to the right place after a form) or the page is not what
was asked for (a redirect to the login page is an error, not a success). 409 (someone else changed the record
first) is the platform's documented answer to a conflicting edit: counted apart, not as an error. At the end the
figures go to KP_LOAD_RESULT as JSON (bench/load.py prints and records them).
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
from collections import Counter
from pathlib import Path

from locust import FastHttpUser, between, events, task
from locust.exception import StopUser

PLAN = json.loads(Path(os.environ["KP_LOAD_PLAN"]).read_text())
SMOKE = os.environ.get("KP_LOAD_SMOKE") == "1"
PASSWORD = PLAN["password"]

# The request types, in the order of the result table.
SIGN_IN_PAGE, SIGN_IN = "登录页", "登录"
PROJECT_LIST, PROJECT_DETAIL, COCKPIT = "项目库列表", "项目详情", "驾驶舱"
REPORT_FORM, REPORT_CREATE, REPORT_DETAIL, REPORT_SUBMIT = "月报填报页", "月报保存草稿", "月报详情", "月报提交"
PROBLEM_DETAIL, PROBLEM_UPDATE = "问题详情", "问题反馈办理情况"
REQUEST_TYPES = [SIGN_IN_PAGE, SIGN_IN, PROJECT_LIST, PROJECT_DETAIL, COCKPIT, REPORT_FORM, REPORT_CREATE,
                 REPORT_DETAIL, REPORT_SUBMIT, PROBLEM_DETAIL, PROBLEM_UPDATE]  # fmt: skip

CONFLICTS: Counter = Counter()  # 409 answers by request type
NOTES: Counter = Counter()  # other things worth reporting (e.g. an enterprise account out of months)
_accounts = {role: itertools.count() for role in PLAN["accounts"]}

CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
LIST_FILTERS = ["", "?stage=construction", "?sort=-total_investment", "?status=behind", "?stage=preparation&page=2"]


def _field(page: str, name: str) -> str | None:
    match = re.search(rf'name="{re.escape(name)}"[^>]*value="([^"]*)"', page) or re.search(
        rf'value="([^"]*)"[^>]*name="{re.escape(name)}"', page
    )
    return match.group(1) if match else None


class Staff(FastHttpUser):
    """One person: signs in at the start, then does one of `actions` (weighted) after each pause."""

    abstract = True
    role = ""
    wait_time = between(0.5, 1.5) if SMOKE else between(3, 10)

    def on_start(self) -> None:
        accounts = PLAN["accounts"][self.role]
        n = next(_accounts[self.role])
        if n >= len(accounts):
            if self.role == "enterprise":
                # Two sessions of one company would file the same months: stop this user and say so.
                NOTES["enterprise users without an account"] += 1
                raise StopUser()
            n %= len(accounts)
        self.account = accounts[n]
        self.turn = 0
        self.sign_in()

    # -- requests -------------------------------------------------------------------------------------------------

    def call(self, method: str, path: str, name: str, *, expect: int = 200, location: str | None = None,
             must_contain: str | None = None, data: dict | None = None):  # fmt: skip
        """One request, checked: the expected status, for a redirect the expected target; returns the response or
        None when it failed (or was a counted 409)."""
        headers = {"Referer": self.host + path} if method == "POST" else None
        with self.client.request(method, path, name=name, data=data, headers=headers, allow_redirects=False,
                                 catch_response=True) as response:  # fmt: skip
            status = response.status_code
            if status == 409:
                CONFLICTS[name] += 1
                response.success()
                return None
            target = response.headers.get("Location", "") if response.headers else ""
            if status != expect:
                where = f" → {target}" if target else ""
                response.failure(f"HTTP {status}{where} (expected {expect})")
                return None
            if location is not None and not re.match(location, target):
                response.failure(f"redirected to {target!r} (expected {location})")
                return None
            if must_contain is not None and must_contain not in (response.text or ""):
                response.failure(f"the page does not show {must_contain!r}")
                return None
            response.success()
            return response

    def page(self, path: str, name: str, **kwargs):
        return self.call("GET", path, name, **kwargs)

    def post(self, path: str, name: str, page_text: str, data: dict, **kwargs):
        match = CSRF.search(page_text or "")
        if not match:
            self.environment.events.request.fire(
                request_type="POST",
                name=name,
                response_time=0,
                response_length=0,
                response=None,
                context={},
                exception=RuntimeError("no CSRF token on the page before the form"),
            )
            return None
        return self.call("POST", path, name, data={"csrfmiddlewaretoken": match.group(1), **data}, **kwargs)

    def sign_in(self) -> None:
        login = self.page("/accounts/login/", SIGN_IN_PAGE)
        if login is None:
            raise StopUser()
        done = self.post(
            "/accounts/login/",
            SIGN_IN,
            login.text,
            {"username": self.account["username"], "password": PASSWORD},
            expect=302,
            location=r"^/(dashboard|projects)/$",
        )
        if done is None:
            raise StopUser()
        # The landing page the browser opens next: the cockpit for leaders and dispatchers, else the project list.
        landing = done.headers["Location"]
        self.page(landing, COCKPIT if landing.startswith("/dashboard/") else PROJECT_LIST)

    # -- what people do -------------------------------------------------------------------------------------------

    actions: list[tuple[int, str]] = []

    @task
    def act(self) -> None:
        if SMOKE:
            _weight, name = self.actions[self.turn % len(self.actions)]
            self.turn += 1
        else:
            name = random.choices([a for _w, a in self.actions], [w for w, _a in self.actions])[0]
        getattr(self, name)()

    def project_list(self) -> None:
        self.page("/projects/" + random.choice(LIST_FILTERS), PROJECT_LIST, must_contain="个项目")

    def project_detail(self) -> None:
        projects = self.account["projects"] if "projects" in self.account else PLAN["all_projects"]
        self.page(f"/projects/{random.choice(projects)}/", PROJECT_DETAIL)

    def cockpit(self) -> None:
        self.page("/dashboard/", COCKPIT)


class Leader(Staff):
    role = "leader"
    weight = PLAN["weights"]["leader"]
    actions = [(3, "cockpit"), (1, "project_list"), (2, "project_detail")]


class Dispatcher(Staff):
    role = "dispatcher"
    weight = PLAN["weights"]["dispatcher"]
    actions = [(3, "project_list"), (3, "project_detail"), (1, "cockpit")]

    def project_list(self) -> None:
        # The service center pages through the whole library too.
        page = random.randint(1, max(1, PLAN["project_count"] // 25))
        path = random.choice([f"/projects/?page={page}", "/projects/" + random.choice(LIST_FILTERS)])
        self.page(path, PROJECT_LIST, must_contain="个项目")


class UnitOfficer(Staff):
    role = "unit"
    weight = PLAN["weights"]["unit"]
    actions = [(1, "project_list"), (2, "project_detail"), (2, "problem_update")]

    def project_detail(self) -> None:
        if not self.account["projects"]:
            # A unit that leads problems without being responsible for any project (e.g. 营商环境服务中心) sees none.
            self.problem_update()
            return
        super().project_detail()

    def problem_update(self) -> None:
        pk = random.choice(self.account["problems"])
        page = self.page(f"/problems/{pk}/", PROBLEM_DETAIL, must_contain=f"/problems/{pk}/feedback/")
        if page is None:
            return
        data = {"feedback-text": f"已协调相关部门现场办公，正在按计划推进（负载测试 {random.randint(1, 10**6)}）。"}
        version = _field(page.text, "feedback-version")
        if version is not None:
            data["feedback-version"] = version
        if self.post(f"/problems/{pk}/feedback/", PROBLEM_UPDATE, page.text, data, expect=302,
                     location=rf"^/problems/{pk}/$"):  # fmt: skip
            self.page(f"/problems/{pk}/", PROBLEM_DETAIL)


class Enterprise(Staff):
    role = "enterprise"
    weight = PLAN["weights"]["enterprise"]
    actions = [(1, "project_list"), (1, "project_detail"), (2, "monthly_report")]

    def on_start(self) -> None:
        super().on_start()
        # Every (project, month) this company may still report, earliest first: reports go in month by month.
        self.months = [(pk, y, m) for pk in self.account["projects"] for y, m in self.account["months"]]

    def monthly_report(self) -> None:
        if not self.months:
            NOTES["enterprise users out of months (looked at a project instead)"] += 1
            self.project_detail()
            return
        pk, year, month = self.months.pop(0)
        form = self.page(
            f"/projects/{pk}/reports/new/?year={year}&month={month}", REPORT_FORM, must_contain='name="investment"'
        )
        if form is None:
            return
        # 万元, small beside any project's total: eleven months of it stay under the smallest bench project's
        # total investment (about 3,000 万元), which the hard rule refuses to exceed (a 400, rightly; the 200-user
        # run of 08:35 met it four times with 50–900 a month).
        investment = f"{random.randint(5, 60)}.{random.randint(0, 99):02d}"
        data = {
            "year": str(year),
            "month": str(month),
            "investment": investment,
            "output_value": "",
            "tax": "",
            "progress_text": "主体结构施工，设备基础浇筑完成。",
            "workers_on_site": str(random.randint(20, 300)),
            "problems_text": "",
        }
        created = self.post(
            f"/projects/{pk}/reports/new/", REPORT_CREATE, form.text, data, expect=302, location=r"^/reports/\d+/$"
        )
        if created is None:
            return
        report_url = created.headers["Location"]
        detail = self.page(report_url, REPORT_DETAIL, must_contain=f"{report_url}submit/")
        if detail is None:
            return
        submit = {"explanation": "本月按施工计划推进，数据经企业核对。"}
        version = _field(detail.text[detail.text.find(f"{report_url}submit/") :], "version")
        if version is not None:
            submit["version"] = version
        if self.post(f"{report_url}submit/", REPORT_SUBMIT, detail.text, submit, expect=302,
                     location=rf"^{report_url}$"):  # fmt: skip
            self.page(report_url, REPORT_DETAIL)


@events.quitting.add_listener
def _write_result(environment, **kwargs) -> None:
    """Per request type: count, errors, 409s, median and 95th percentile (ms); the errors as locust saw them."""
    path = os.environ.get("KP_LOAD_RESULT")
    if not path:
        return
    stats = environment.stats
    rows = {}
    for (name, _method), entry in stats.entries.items():
        row = rows.setdefault(name, {"requests": 0, "errors": 0, "entries": []})
        row["requests"] += entry.num_requests
        row["errors"] += entry.num_failures
        row["entries"].append(entry)
    types = []
    for name in REQUEST_TYPES + sorted(set(rows) - set(REQUEST_TYPES)):
        row = rows.get(name)
        if not row:
            types.append(
                {"name": name, "requests": 0, "errors": 0, "conflicts": CONFLICTS[name], "p50": None, "p95": None}
            )
            continue
        (entry,) = row["entries"]  # one method per name
        types.append(
            {
                "name": name,
                "requests": row["requests"],
                "errors": row["errors"],
                "conflicts": CONFLICTS[name],
                "p50": entry.get_response_time_percentile(0.5),
                "p95": entry.get_response_time_percentile(0.95),
                "mean": entry.avg_response_time,
                "max": entry.max_response_time,
            }
        )
    total = stats.total
    runner = environment.runner
    result = {
        "types": types,
        "declared_types": REQUEST_TYPES,
        "total": {
            "requests": total.num_requests,
            "errors": total.num_failures,
            "conflicts": sum(CONFLICTS.values()),
            "p50": total.get_response_time_percentile(0.5),
            "p95": total.get_response_time_percentile(0.95),
            "rps": total.total_rps,
        },
        "error_messages": [
            {"name": e.name, "error": str(e.error), "occurrences": e.occurrences} for e in stats.errors.values()
        ],
        "exceptions": [
            {"msg": e["msg"], "count": e["count"], "traceback": e["traceback"][-1500:]}
            for e in (runner.exceptions.values() if runner else [])
        ],
        "notes": dict(NOTES),
        "users": runner.user_count if runner else 0,
        "smoke": SMOKE,
    }
    Path(path).write_text(json.dumps(result, ensure_ascii=False, indent=1))
