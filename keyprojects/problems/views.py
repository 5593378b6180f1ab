"""Server-rendered pages of problems and supervision (问题督办).

Every problem is fetched through `keyprojects.problems.access` (outside the scope: 404); an action the
user's role does not allow is 403 before the domain is asked; every change goes through
`keyprojects.problems.domain`, whose ValidationErrors are shown at the form fields (400) and whose
"step out of order" refusals are shown at the top of the form (409), nothing changed.

One clock configuration (`clock.load_config()`) and one "today" per request serve every light.
"""

from __future__ import annotations

import datetime
import os
from decimal import Decimal

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop
from django.views.decorators.http import require_http_methods, require_POST

from keyprojects.lib.choices import choice_label
from keyprojects.lib.pagination import DeferredJoinPaginator
from keyprojects.problems import access, clock, domain, figures
from keyprojects.problems.forms import (
    ACTION_FORMS,
    FIGURE_SORTS,
    EditForm,
    FiguresFilter,
    ProblemFilter,
    RaiseForm,
    can_raise,
    list_rows,
)
from keyprojects.problems.models import (
    DONE_STATUSES,
    Category,
    EscalationLevel,
    Problem,
    ProblemEvent,
    Source,
    Status,
    Step,
)
from keyprojects.projects.access import visible_projects
from keyprojects.projects.filters import list_count
from keyprojects.projects.forms import attach_errors
from keyprojects.projects.gates import scoped_page

PER_PAGE = 25
DONE_MESSAGES = {
    "assign": gettext_lazy("问题已交办，13710 计时开始。"),
    "deploy": gettext_lazy("已确认部署。"),
    "feedback": gettext_lazy("办理情况已反馈。"),
    "resolve": gettext_lazy("问题已办结，等待企业评价。"),
    "rate": gettext_lazy("评价已提交。"),
    "close": gettext_lazy("问题已销号。"),
    "supervise": gettext_lazy("已挂牌督办。"),
    "escalate": gettext_lazy("已升级督办。"),
}
LIGHT_BADGES = {
    clock.Light.GREEN: "kp-light kp-light-green",
    clock.Light.YELLOW: "kp-light kp-light-yellow",
    clock.Light.RED: "kp-light kp-light-red",
    clock.Light.DONE: "kp-light kp-light-done",
    clock.Light.LATE: "kp-light kp-light-late",
    clock.Light.NONE: "kp-light kp-light-none",
}


problem_page = scoped_page(gettext_noop("您的账号没有查看问题诉求的权限。"))


def _is_htmx_fragment(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true" and not request.headers.get("HX-History-Restore-Request")


class Lamp:
    """A deadline light for a template: its key, CSS class, label and the date it refers to."""

    def __init__(self, light: str, due: datetime.date | None = None, label: str | None = None):
        self.light = light
        self.css = LIGHT_BADGES.get(light, LIGHT_BADGES[clock.Light.NONE])
        self.label = label or clock.Light(light).label
        self.due = due

    def __str__(self) -> str:
        return str(self.label)


def problem_lamp(problem: Problem, today: datetime.date, cfg: clock.ClockConfig) -> Lamp:
    """The light shown for a problem in lists and headers: the worse of the running step and named
    supervision, with that deadline; for a resolved problem whether it was resolved on time."""
    light = clock.problem_light(problem, today, cfg)
    if light == clock.Light.NONE:
        if problem.status in DONE_STATUSES and problem.resolved_on_time is not None:
            if problem.resolved_on_time:
                return Lamp(clock.Light.DONE, None, _("按期办结"))
            return Lamp(clock.Light.LATE, None, _("逾期办结"))
        return Lamp(clock.Light.NONE, None, _("未计时") if problem.status == Status.NEW else None)
    due = problem.current_due
    if problem.supervised and problem.status not in DONE_STATUSES and problem.supervision_due:
        step_light = clock.light_for(problem.current_due, today, cfg) if problem.current_due else clock.Light.NONE
        if step_light != light or problem.current_due is None:
            due = problem.supervision_due
    return Lamp(light, due)


# ---------------------------------------------------------------------------------------------
# /problems/


@problem_page
@require_http_methods(["GET", "HEAD"])
def problem_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    cfg, today = clock.load_config(), timezone.localdate()
    filter_form = ProblemFilter(request.GET, user=user)
    problems = list_rows(filter_form.filter(access.visible_problems(user), today=today, cfg=cfg))
    paginator = DeferredJoinPaginator(problems, PER_PAGE, count=list_count(problems, ("projects", "problems")))
    page = paginator.get_page(request.GET.get("page"))
    for problem in page.object_list:
        problem.lamp = problem_lamp(problem, today, cfg)
        # get_FOO_display() rebuilds the choice table on every call; five columns × 25 rows added up.
        problem.status_label = choice_label(Status, problem.status)
        problem.category_label = choice_label(Category, problem.category)
        problem.source_label = choice_label(Source, problem.source)
        problem.escalation_label = choice_label(EscalationLevel, problem.escalation_level)
    ctx = {
        "nav": "problems",
        "filter_form": filter_form,
        "page": page,
        "page_range": paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1),
        "can_raise": can_raise(user),
        "today": today,
    }
    template = "problems/_results.html" if _is_htmx_fragment(request) else "problems/list.html"
    response = render(request, template, ctx)
    patch_vary_headers(response, ["HX-Request"])
    return response


@problem_page
@require_http_methods(["GET", "POST"])
def problem_create(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not can_raise(user):
        raise PermissionDenied(_("您的角色不能提出问题诉求。"))
    initial = {}
    if request.method == "GET" and (wanted := request.GET.get("project", "")).isdigit():
        project = visible_projects(user).filter(pk=int(wanted)).first()
        if project is None:
            raise Http404(_("项目不存在或无权查看。"))
        initial["project"] = project.pk
    form = RaiseForm(request.POST or None, request.FILES or None, user=user, initial=initial)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                problem = domain.raise_problem(by=user, **form.domain_kwargs())
            except ValidationError as exc:
                attach_errors(form, exc)
            else:
                messages.success(request, _("问题“%(title)s”已提交，等待调度员交办。") % {"title": problem.title})
                return redirect("problem-detail", pk=problem.pk)
    return render(request, "problems/form.html", {"nav": "problems", "form": form}, status=status)


# ---------------------------------------------------------------------------------------------
# /problems/<pk>/


def _timeline(problem: Problem, today: datetime.date, cfg: clock.ClockConfig) -> list[dict]:
    """The 13710 steps with their deadline, light and the moment each was met."""
    lights = clock.step_lights(problem, today, cfg)
    rows = [
        {"label": _("收到"), "due": None, "done_at": None, "done_on": problem.received_on, "lamp": None},
        {"label": _("交办"), "due": None, "done_at": problem.assigned_at, "done_on": problem.assigned_on,
         "lamp": None},
    ]  # fmt: skip
    steps = [
        (Step.DEPLOY, problem.deploy_due, problem.deployed_at),
        (Step.FEEDBACK, problem.feedback_due, problem.first_feedback_at),
        (Step.RESOLVE, problem.resolve_due, problem.resolved_at if problem.status in DONE_STATUSES else None),
    ]
    for step, due, done_at in steps:
        light = lights.get(step, clock.Light.NONE)
        lamp = Lamp(light) if problem.status != Status.NEW else None  # the due date has its own column
        current = problem.current_step == step
        rows.append({"label": Step(step).label, "due": due, "done_at": done_at, "lamp": lamp, "current": current})
    rows.append({"label": _("回访评价"), "due": None, "done_at": problem.rated_at, "lamp": None,
                 "note": problem.get_rating_display() if problem.rating else ""})  # fmt: skip
    rows.append({"label": _("销号"), "due": None, "done_at": problem.closed_at, "lamp": None})
    if problem.supervised:
        light = lights.get(Step.SUPERVISION, clock.Light.NONE)
        done = problem.resolved_at if problem.status in DONE_STATUSES else None
        rows.append({"label": _("挂牌督办期限"), "due": problem.supervision_due, "done_at": done,
                     "lamp": Lamp(light), "supervision": True})  # fmt: skip
    for row in rows:
        row["state"] = "done" if (row.get("done_at") or row.get("done_on")) else (
            "current" if row.get("current") else "todo"
        )  # fmt: skip
    return rows


def _detail_context(request: HttpRequest, problem: Problem, bound: dict | None = None) -> dict:
    user = request.user
    cfg, today = clock.load_config(), timezone.localdate()
    allowed = access.allowed_actions(user, problem)
    forms = {}
    for action, form_class in ACTION_FORMS.items():
        if action in allowed:
            forms[action] = (bound or {}).get(action) or form_class(problem=problem, user=user)
    events = list(problem.events.select_related("actor", "actor__unit").order_by("-at", "-id"))
    return {
        "nav": "problems",
        "problem": problem,
        "helpers": list(problem.helper_units.all()),
        "lamp": problem_lamp(problem, today, cfg),
        "timeline": _timeline(problem, today, cfg),
        "events": events,
        "forms": forms,
        "can_edit": "edit" in allowed,
        "project_visible": visible_projects(user).filter(pk=problem.project_id).exists(),
        "overdue": clock.is_overdue(problem, today),
        "max_level": clock.max_level(problem),
    }


@problem_page
@require_http_methods(["GET", "HEAD"])
def problem_detail(request: HttpRequest, pk: int) -> HttpResponse:
    problem = access.get_problem(request.user, pk)
    return render(request, "problems/detail.html", _detail_context(request, problem))


def _run(action: str, problem: Problem, user, data: dict) -> None:
    version = data.get("version") or None
    if action == "assign":
        kwargs = {}
        if data.get("resolve_due"):
            kwargs["resolve_due"] = data["resolve_due"]
        domain.assign(
            problem, by=user, lead_unit=data["lead_unit"], helper_units=list(data["helper_units"]),
            responsible_leader=data["responsible_leader"], solve_level=data["solve_level"],
            severity=data["severity"], assigned_on=data["assigned_on"], note=data["note"],
            expected_version=version, **kwargs,
        )  # fmt: skip
    elif action == "deploy":
        domain.deploy(problem, by=user, note=data["note"], expected_version=version)
    elif action == "feedback":
        domain.add_feedback(problem, by=user, text=data["text"], upload=data.get("upload") or None)
    elif action == "resolve":
        domain.resolve(problem, by=user, evidence=data["evidence"], upload=data.get("upload") or None,
                       expected_version=version)  # fmt: skip
    elif action == "rate":
        domain.rate(problem, by=user, rating=data["rating"], comment=data["comment"], expected_version=version)
    elif action == "close":
        domain.close(problem, by=user, note=data["note"], expected_version=version)
    elif action == "supervise":
        domain.supervise(problem, by=user, due=data["supervision_due"], note=data["note"])
    elif action == "escalate":
        domain.escalate(problem, by=user, to_level=problem.escalation_level + 1, reason=data["reason"])


@problem_page
@require_POST
def problem_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """One action form of the detail page: 403 for the wrong role, the domain decides the rest."""
    user = request.user
    problem = access.get_problem(user, pk)
    if reason := access.refusal(user, problem, action):
        raise PermissionDenied(reason)
    form = ACTION_FORMS[action](request.POST, request.FILES or None, problem=problem, user=user)
    status = 400
    if form.is_valid():
        try:
            _run(action, problem, user, form.cleaned_data)
        except domain.ConflictError as exc:
            form.add_error(None, _(exc.message))
            status = 409
        except ValidationError as exc:
            attach_errors(form, exc)
            if getattr(exc, "code", None) == "invalid_state":
                status = 409
        else:
            messages.success(request, DONE_MESSAGES[action])
            return redirect("problem-detail", pk=problem.pk)
    problem = access.get_problem(user, pk)  # as stored: nothing of a refused action is kept
    ctx = _detail_context(request, problem, bound={action: form})
    if action not in ctx["forms"]:
        # The step is no longer open (someone else acted first): say so above the page.
        for error in form.non_field_errors() or [_("该操作当前不可用。")]:
            messages.error(request, error)
    ctx["open_action"] = action
    return render(request, "problems/detail.html", ctx, status=status)


@problem_page
@require_http_methods(["GET", "POST"])
def problem_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    problem = access.get_problem(user, pk)
    if reason := access.refusal(user, problem, "edit"):
        raise PermissionDenied(reason)
    form = EditForm(request.POST or None, problem=problem)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = {k: form.cleaned_data[k] for k in domain.EDITABLE_FIELDS}
            try:
                domain.update_problem(problem, by=user, data=data, expected_version=form.cleaned_data["version"])
            except domain.ConflictError as exc:
                form.add_error(None, _(exc.message))
                status = 409
            except ValidationError as exc:
                attach_errors(form, exc)
                if getattr(exc, "code", None) == "invalid_state":
                    status = 409
            else:
                messages.success(request, _("问题内容已保存。"))
                return redirect("problem-detail", pk=problem.pk)
    ctx = {"nav": "problems", "form": form, "problem": problem}
    return render(request, "problems/edit.html", ctx, status=status)


@problem_page
@require_http_methods(["GET", "HEAD"])
def problem_evidence(request: HttpRequest, pk: int, event_pk: int) -> FileResponse:
    """Stream an attachment of a problem's history to someone who may see the problem; never by path."""
    problem = access.get_problem(request.user, pk)
    event = ProblemEvent.objects.filter(problem=problem, pk=event_pk).first()
    if event is None or not event.evidence:
        raise Http404(_("该记录没有附件。"))
    try:
        handle = event.evidence.open("rb")
    except (FileNotFoundError, OSError):
        raise Http404(_("文件不存在。")) from None
    filename = event.evidence_name or os.path.basename(event.evidence.name)
    return FileResponse(handle, as_attachment=True, filename=filename)


# ---------------------------------------------------------------------------------------------
# /problems/figures/


def _sort_figures(rows: list[figures.Figures], sort: str) -> list[figures.Figures]:
    """Sort by a column; empty values (no problem to rate, say) always last; ties by name."""
    key = sort.lstrip("-")
    descending = sort.startswith("-")
    if key == "name":
        return sorted(rows, key=lambda f: f.name, reverse=descending)
    present = [f for f in rows if getattr(f, key) is not None]
    absent = [f for f in rows if getattr(f, key) is None]
    present.sort(key=lambda f: f.name)
    present.sort(key=lambda f: Decimal(getattr(f, key)), reverse=descending)
    return present + sorted(absent, key=lambda f: f.name)


@problem_page
@require_http_methods(["GET", "HEAD"])
def problem_figures(request: HttpRequest) -> HttpResponse:
    """办结率, 按期办结率, 满意率, average working days and overdue counts per lead unit and per 分管领导,
    over the problems the user may see."""
    user = request.user
    form = FiguresFilter(request.GET)
    data = form.cleaned_data if form.is_valid() else {}
    sort = data.get("sort") or "-closure_rate"
    today = timezone.localdate()
    scope = access.visible_problems(user)
    period = {"received_from": data.get("received_from"), "received_to": data.get("received_to")}
    found = figures.scope_figures(scope, today=today, total_name=_("合计"), **period)
    columns = []
    for key, label in FIGURE_SORTS.items():
        current = sort.lstrip("-") == key
        following = key if current and sort.startswith("-") else f"-{key}"
        if key == "name" and not current:
            following = "name"
        columns.append({"key": key, "label": label, "sort": following, "current": current,
                        "descending": current and sort.startswith("-")})  # fmt: skip
    ctx = {
        "nav": "problems",
        "form": form,
        "sort": sort,
        "columns": columns,
        "units": _sort_figures(found.units, sort),
        "leaders": _sort_figures(found.leaders, sort),
        "total": found.total,
        "today": today,
    }
    return render(request, "problems/figures.html", ctx)
