"""Pages of site visits, meetings, instructions and service officers.

Every object is fetched through `keyprojects.visits.access` (outside the user's scope: 404) and every
change goes through `keyprojects.visits.domain`, which validates, refuses (403) and audits. 三员 accounts
(no business data) get 403 on every page.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Prefetch, Q
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django.views.decorators.http import require_http_methods, require_POST

from keyprojects.org.models import DataScope, Role
from keyprojects.problems import access as problem_access
from keyprojects.problems import clock
from keyprojects.problems.models import OPEN_STATUSES, Problem, Source
from keyprojects.projects.forms import attach_errors
from keyprojects.projects.gates import scoped_page
from keyprojects.projects.models import Project
from keyprojects.visits import access, domain, forms
from keyprojects.visits.figures import Month, officer_figures, paired_in, without_visit
from keyprojects.visits.models import Meeting, OfficerPairing, OriginLink, PolicyPush, SiteVisit

PER_PAGE = 25
LOG_PER_PAGE = 20
LIGHT_BADGES = {
    clock.Light.GREEN: "text-bg-success",
    clock.Light.YELLOW: "text-bg-warning",
    clock.Light.RED: "text-bg-danger",
    clock.Light.DONE: "text-bg-light border",
    clock.Light.LATE: "text-bg-secondary",
    clock.Light.NONE: "text-bg-light border",
}


business_page = scoped_page(gettext_noop("您的账号没有查看业务数据的权限。"))


def _rows(request: HttpRequest) -> int:
    try:
        return max(1, min(int(request.GET.get("rows", forms.DEFAULT_ROWS)), forms.MAX_FORM_ROWS))
    except (TypeError, ValueError):
        return forms.DEFAULT_ROWS


def _attach(exc: ValidationError, form, formsets: dict | None = None) -> None:
    """Put a domain error on the page: on the form's fields, or on the row (``demands.0.title``) it names."""
    formsets = formsets or {}
    if not hasattr(exc, "error_dict"):
        attach_errors(form, exc)
        return
    for key, messages_ in exc.message_dict.items():
        head, _dot, rest = key.partition(".")
        if head in formsets and rest:
            formset, index = formsets[head]
            number, _dot, field = rest.partition(".")
            try:
                row = formset.forms[index[int(number)]]
            except (ValueError, IndexError):
                row = None
            if row is not None:
                for message in messages_:
                    row.add_error(field if field in row.fields else None, message)
                continue
        target = head if head in form.fields else None
        for message in messages_:
            form.add_error(target, message)


def _tasks(links) -> list[Problem]:
    """The problems of origin links with their light, one clock configuration for all."""
    cfg = clock.load_config()
    today = timezone.localdate()
    problems = []
    for link in links:
        problem = link.problem
        problem.link_kind = link.kind
        problem.light_value = clock.problem_light(problem, today, cfg)
        problem.light_label = clock.Light(problem.light_value).label
        problem.light_badge = LIGHT_BADGES.get(problem.light_value, "text-bg-light")
        problem.is_overdue = clock.is_overdue(problem, today)
        problem.is_open = problem.status in OPEN_STATUSES
        problems.append(problem)
    return problems


def _links(**parent):
    return OriginLink.objects.filter(**parent).select_related("problem__project", "problem__lead_unit").order_by("id")


def _task_counts(problems: list[Problem]) -> dict:
    from keyprojects.problems.models import DONE_STATUSES, Status

    return {
        "total": len(problems),
        "closed": sum(1 for p in problems if p.status == Status.CLOSED),
        "done": sum(1 for p in problems if p.status in DONE_STATUSES),
        "overdue": sum(1 for p in problems if p.is_overdue),
    }


# ---------------------------------------------------------------------------------------------
# Site visits


def _page(request: HttpRequest, queryset, per_page: int = PER_PAGE):
    page = Paginator(queryset, per_page).get_page(request.GET.get("page"))
    return page, page.paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1)


def _project_filter(request: HttpRequest, queryset):
    """?project=<id>: only what concerns that project (one the user sees; any other id shows nothing)."""
    try:
        project_id = int(request.GET.get("project", ""))
    except (ValueError, OverflowError):
        return queryset, None
    if not 0 < project_id < 2**63:
        return queryset.none(), None
    project = access.visible_projects(request.user).filter(pk=project_id).only("id", "name").first()
    if project is None:
        return queryset.none(), None
    return queryset.filter(projects=project_id), project


@business_page
@require_http_methods(["GET", "HEAD"])
def visit_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    visits, project = _project_filter(request, access.visible_site_visits(user))
    visits = visits.annotate(
        demand_count=Count("links", filter=Q(links__kind=OriginLink.Kind.DEMAND)),
        decision_count=Count("links", filter=Q(links__kind=OriginLink.Kind.DECISION)),
    ).prefetch_related("leaders", Prefetch("projects", queryset=Project.objects.only("id", "name")))
    page, page_range = _page(request, visits.order_by("-visited_on", "-id"))
    ctx = {"nav": "visits", "tab": "visits", "page": page, "page_range": page_range, "project": project,
           "can_record": access.can_record(user)}  # fmt: skip
    return render(request, "visits/visit_list.html", ctx)


def _visit_forms(request: HttpRequest, data=None, files=None):
    user = request.user
    include = [int(x) for x in (data.getlist("projects") if data else request.GET.getlist("project")) if x.isdigit()]
    options = forms.project_choices(user, include=include)
    leaders = forms.role_choices(Role.LEADER)
    units = forms.unit_choices()
    form = forms.SiteVisitForm(data, files, project_options=options, leader_options=leaders)
    if data is None:
        form.initial["projects"] = include
        if user.has_role(Role.LEADER):
            form.initial["leaders"] = [user.pk]
    rows = _rows(request)
    initial_project = include[0] if len(include) == 1 else None
    demands = forms.row_formset(forms.DemandFormSet, data, prefix="demands", rows=rows, project_options=options,
                                initial={"project": initial_project})  # fmt: skip
    decisions = forms.row_formset(forms.DecisionFormSet, data, prefix="decisions", rows=rows, project_options=options,
                                  unit_options=units, initial={"project": initial_project})  # fmt: skip
    return form, demands, decisions


@business_page
@require_http_methods(["GET", "POST"])
def visit_create(request: HttpRequest) -> HttpResponse:
    user = request.user
    access.ensure_can_record(user, _("现场办公"))
    data = request.POST if request.method == "POST" else None
    form, demands, decisions = _visit_forms(request, data, request.FILES if data else None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid() & demands.is_valid() & decisions.is_valid():
            demand_rows, demand_index = forms.filled_rows(demands)
            decision_rows, decision_index = forms.filled_rows(decisions)
            try:
                visit = domain.create_site_visit(
                    by=user, visited_on=form.cleaned_data["visited_on"], place=form.cleaned_data["place"],
                    leaders=form.cleaned_data["leaders"], projects=form.cleaned_data["projects"],
                    attendees=form.cleaned_data["attendees"], summary=form.cleaned_data["summary"],
                    demands=demand_rows, decisions=decision_rows, uploads=form.cleaned_data["photos"],
                )  # fmt: skip
            except ValidationError as exc:
                _attach(exc, form, {"demands": (demands, demand_index), "decisions": (decisions, decision_index)})
            else:
                messages.success(request, _("现场办公已登记：诉求 %(d)s 条，议定事项 %(t)s 项。") % {
                    "d": len(demand_rows), "t": len(decision_rows)
                })  # fmt: skip
                return redirect("visit-detail", pk=visit.pk)
    ctx = {"nav": "visits", "form": form, "demands": demands, "decisions": decisions, "rows": _rows(request)}
    return render(request, "visits/visit_form.html", ctx, status=status)


def _render_visit(request: HttpRequest, visit: SiteVisit, *, demand_form=None, decision_form=None, photos_form=None,
                  status: int = 200) -> HttpResponse:  # fmt: skip
    user = request.user
    can_record = access.can_record(user)
    projects = list(visit.projects.select_related("responsible_unit").order_by("name"))
    problems = _tasks(_links(site_visit=visit))
    ctx = {
        "nav": "visits", "visit": visit, "projects": projects, "leaders": list(visit.leaders.all()),
        "photos": list(visit.photos.all()), "can_record": can_record,
        "demand_list": [p for p in problems if p.link_kind == OriginLink.Kind.DEMAND],
        "decision_list": [p for p in problems if p.link_kind == OriginLink.Kind.DECISION],
    }  # fmt: skip
    ctx["counts"] = _task_counts(ctx["decision_list"])
    if can_record:
        options = [(p.pk, p.name) for p in projects]
        ctx["demand_form"] = demand_form or forms.DemandRowForm(prefix="demand", project_options=options)
        ctx["decision_form"] = decision_form or forms.DecisionRowForm(
            prefix="decision", project_options=options, unit_options=forms.unit_choices()
        )
        ctx["photos_form"] = photos_form or forms.PhotosForm()
    return render(request, "visits/visit_detail.html", ctx, status=status)


@business_page
@require_http_methods(["GET", "HEAD"])
def visit_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _render_visit(request, access.get_site_visit(request.user, pk))


def _visit_project_options(visit: SiteVisit) -> list[tuple[int, str]]:
    return list(visit.projects.order_by("name").values_list("pk", "name"))


@business_page
@require_POST
def visit_add_demand(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    visit = access.get_site_visit(user, pk)
    access.ensure_can_record(user, _("现场办公"))
    form = forms.DemandRowForm(request.POST, prefix="demand", project_options=_visit_project_options(visit))
    if form.is_valid():
        if form.is_blank():
            form.add_error("title", _("请填写诉求内容。"))
        else:
            try:
                problem = domain.add_visit_demand(visit, by=user, row=form.row())
            except ValidationError as exc:
                _attach(exc, form, {"demands": (_SingleRow(form), [0])})
            else:
                messages.success(request, _("诉求“%(title)s”已登记，等待调度员交办。") % {"title": problem.title})
                return redirect("visit-detail", pk=visit.pk)
    return _render_visit(request, visit, demand_form=form, status=400)


class _SingleRow:
    """One row form seen as a formset (so that ``demands.0.title`` lands on it)."""

    def __init__(self, form):
        self.forms = [form]


@business_page
@require_POST
def visit_add_decision(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    visit = access.get_site_visit(user, pk)
    access.ensure_can_record(user, _("现场办公"))
    form = forms.DecisionRowForm(request.POST, prefix="decision", project_options=_visit_project_options(visit),
                                 unit_options=forms.unit_choices())  # fmt: skip
    if form.is_valid():
        if form.is_blank():
            form.add_error("text", _("请填写议定事项。"))
        else:
            try:
                problem = domain.add_visit_decision(visit, by=user, row=form.row())
            except ValidationError as exc:
                _attach(exc, form, {"decisions": (_SingleRow(form), [0])})
            else:
                messages.success(request, _("议定事项已交办“%(unit)s”，办结期限 %(due)s。") % {
                    "unit": problem.lead_unit, "due": problem.resolve_due.isoformat()
                })  # fmt: skip
                return redirect("visit-detail", pk=visit.pk)
    return _render_visit(request, visit, decision_form=form, status=400)


@business_page
@require_POST
def visit_add_photos(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    visit = access.get_site_visit(user, pk)
    access.ensure_can_record(user, _("现场办公"))
    form = forms.PhotosForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            saved = domain.add_visit_photos(visit, by=user, uploads=form.cleaned_data["photos"])
        except ValidationError as exc:
            attach_errors(form, exc)
        else:
            messages.success(request, _("已上传照片 %(n)s 张。") % {"n": len(saved)})
            return redirect("visit-detail", pk=visit.pk)
    return _render_visit(request, visit, photos_form=form, status=400)


@business_page
@require_http_methods(["GET", "HEAD"])
def photo(request: HttpRequest, pk: int) -> FileResponse:
    """Stream a photo to someone who may see its visit; never served by path."""
    item = access.get_photo(request.user, pk)
    try:
        handle = item.file.open("rb")
    except (FileNotFoundError, OSError):
        raise Http404(_("照片文件不存在。")) from None
    response = FileResponse(handle, content_type=item.content_type)
    response["Content-Disposition"] = f'inline; filename="photo-{item.pk}.{item.image_type}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, max-age=3600"
    return response


# ---------------------------------------------------------------------------------------------
# Meetings


@business_page
@require_http_methods(["GET", "HEAD"])
def meeting_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    meetings, project = _project_filter(request, access.visible_meetings(user))
    meetings = meetings.select_related("chair").annotate(decision_count=Count("links")).order_by("-held_on", "-id")
    page, page_range = _page(request, meetings)
    ctx = {"nav": "visits", "tab": "meetings", "page": page, "page_range": page_range, "project": project,
           "can_record": access.can_record(user)}  # fmt: skip
    return render(request, "visits/meeting_list.html", ctx)


@business_page
@require_http_methods(["GET", "POST"])
def meeting_create(request: HttpRequest) -> HttpResponse:
    user = request.user
    access.ensure_can_record(user, _("会议"))
    data = request.POST if request.method == "POST" else None
    include = [int(x) for x in (data.getlist("projects") if data else request.GET.getlist("project")) if x.isdigit()]
    options = forms.project_choices(user, include=include)
    leaders = forms.role_choices(Role.LEADER)
    form = forms.MeetingForm(data, project_options=options, leader_options=leaders)
    if data is None:
        form.initial["projects"] = include
        if user.has_role(Role.LEADER):
            form.initial["chair"] = user.pk
    decisions = forms.row_formset(forms.DecisionFormSet, data, prefix="decisions", rows=max(_rows(request), 3),
                                  project_options=options, unit_options=forms.unit_choices())  # fmt: skip
    status = 200
    if data is not None:
        status = 400
        if form.is_valid() & decisions.is_valid():
            rows, index = forms.filled_rows(decisions)
            try:
                meeting = domain.create_meeting(
                    by=user, kind=form.cleaned_data["kind"], held_on=form.cleaned_data["held_on"],
                    chair=form.cleaned_data["chair"], title=form.cleaned_data["title"],
                    projects=form.cleaned_data["projects"], attendees=form.cleaned_data["attendees"],
                    minutes=form.cleaned_data["minutes"], decisions=rows,
                )  # fmt: skip
            except ValidationError as exc:
                _attach(exc, form, {"decisions": (decisions, index)})
            else:
                messages.success(request, _("会议已登记，议定事项 %(n)s 项已交办。") % {"n": len(rows)})
                return redirect("meeting-detail", pk=meeting.pk)
    ctx = {"nav": "visits", "form": form, "decisions": decisions, "rows": max(_rows(request), 3)}
    return render(request, "visits/meeting_form.html", ctx, status=status)


def _render_meeting(request: HttpRequest, meeting: Meeting, *, decision_form=None, status: int = 200) -> HttpResponse:
    can_record = access.can_record(request.user)
    projects = list(meeting.projects.order_by("name"))
    problems = _tasks(_links(meeting=meeting))
    ctx = {"nav": "visits", "meeting": meeting, "projects": projects, "decision_list": problems,
           "counts": _task_counts(problems), "can_record": can_record}  # fmt: skip
    if can_record:
        options = forms.project_choices(request.user)
        ctx["decision_form"] = decision_form or forms.DecisionRowForm(
            prefix="decision", project_options=options, unit_options=forms.unit_choices()
        )
    return render(request, "visits/meeting_detail.html", ctx, status=status)


@business_page
@require_http_methods(["GET", "HEAD"])
def meeting_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _render_meeting(request, access.get_meeting(request.user, pk))


@business_page
@require_POST
def meeting_add_decision(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    meeting = access.get_meeting(user, pk)
    access.ensure_can_record(user, _("会议"))
    form = forms.DecisionRowForm(request.POST, prefix="decision", project_options=forms.project_choices(user),
                                 unit_options=forms.unit_choices())  # fmt: skip
    if form.is_valid():
        if form.is_blank():
            form.add_error("text", _("请填写议定事项。"))
        else:
            try:
                problem = domain.add_meeting_decision(meeting, by=user, row=form.row())
            except ValidationError as exc:
                _attach(exc, form, {"decisions": (_SingleRow(form), [0])})
            else:
                messages.success(request, _("议定事项已交办“%(unit)s”，办结期限 %(due)s。") % {
                    "unit": problem.lead_unit, "due": problem.resolve_due.isoformat()
                })  # fmt: skip
                return redirect("meeting-detail", pk=meeting.pk)
    return _render_meeting(request, meeting, decision_form=form, status=400)


# ---------------------------------------------------------------------------------------------
# Instructions


@business_page
@require_http_methods(["GET", "HEAD"])
def instruction_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    items, project = _project_filter(request, access.visible_instructions(user))
    items = items.select_related("leader", "lead_unit").annotate(task_count=Count("links")).order_by("-given_on", "-id")
    page, page_range = _page(request, items)
    ctx = {"nav": "visits", "tab": "instructions", "page": page, "page_range": page_range, "project": project,
           "can_record": access.can_record(user), "today": timezone.localdate()}  # fmt: skip
    return render(request, "visits/instruction_list.html", ctx)


@business_page
@require_http_methods(["GET", "POST"])
def instruction_create(request: HttpRequest) -> HttpResponse:
    user = request.user
    access.ensure_can_record(user, _("领导批示"))
    data = request.POST if request.method == "POST" else None
    include = [int(x) for x in (data.getlist("projects") if data else request.GET.getlist("project")) if x.isdigit()]
    form = forms.InstructionForm(
        data, project_options=forms.project_choices(user, include=include),
        leader_options=forms.role_choices(Role.LEADER), unit_options=forms.unit_choices(),
    )  # fmt: skip
    if data is None:
        form.initial["projects"] = include
        if user.has_role(Role.LEADER):
            form.initial["leader"] = user.pk
    status = 200
    if data is not None:
        status = 400
        if form.is_valid():
            try:
                instruction = domain.create_instruction(by=user, **form.cleaned_data)
            except ValidationError as exc:
                _attach(exc, form)
            else:
                messages.success(request, _("批示已登记，形成督办任务 %(n)s 项。") % {
                    "n": instruction.links.count()
                })  # fmt: skip
                return redirect("instruction-detail", pk=instruction.pk)
    return render(request, "visits/instruction_form.html", {"nav": "visits", "form": form}, status=status)


@business_page
@require_http_methods(["GET", "HEAD"])
def instruction_detail(request: HttpRequest, pk: int) -> HttpResponse:
    instruction = access.get_instruction(request.user, pk)
    problems = _tasks(_links(instruction=instruction))
    ctx = {"nav": "visits", "instruction": instruction, "projects": list(instruction.projects.order_by("name")),
           "task_list": problems, "counts": _task_counts(problems)}  # fmt: skip
    return render(request, "visits/instruction_detail.html", ctx)


# ---------------------------------------------------------------------------------------------
# Service officers


def _month(request: HttpRequest) -> Month:
    month = Month.parse(request.GET.get("month"))
    if month is None:
        messages.warning(request, _("月份格式应为 YYYY-MM，已显示本月。"))
        month = Month.of(timezone.localdate())
    return month


@business_page
@require_http_methods(["GET", "HEAD"])
def officer_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    month = _month(request)
    officers = list(access.visible_officers(user).select_related("unit").order_by("id"))
    ids = [o.pk for o in officers]
    pairings: dict[int, list[OfficerPairing]] = {}
    for pairing in paired_in(month).filter(officer_id__in=ids).select_related("project").order_by("started_on", "id"):
        pairings.setdefault(pairing.officer_id, []).append(pairing)
    figures = officer_figures(ids, month)
    for officer in officers:
        officer.figures = figures[officer.pk]
        officer.month_pairings = pairings.get(officer.pk, [])
    idle = without_visit(officers, figures, set(pairings))
    totals = {
        "visits": sum(f.visits for f in figures.values()),
        "relayed": sum(f.relayed for f in figures.values()),
        "pushes": sum(f.pushes for f in figures.values()),
        "paired": len(pairings),
    }
    ctx = {"nav": "officers", "month": month, "officers": officers, "idle": idle, "totals": totals,
           "can_pair": access.can_pair(user), "is_current": month == Month.of(timezone.localdate())}  # fmt: skip
    return render(request, "visits/officer_list.html", ctx)


def _render_officer(request: HttpRequest, officer, *, visit_form=None, push_form=None, status: int = 200):
    user = request.user
    month = _month(request)
    pairings = list(
        access.visible_pairings(user).filter(officer=officer).select_related("project").prefetch_related("roles")
    )
    today = timezone.localdate()
    for pairing in pairings:
        pairing.active = pairing.is_active_on(today)
    figures = officer_figures([officer.pk], month)[officer.pk]
    visits = (
        access.visible_officer_visits(user).filter(officer=officer).select_related("project").prefetch_related("photos")
    )
    page, page_range = _page(request, visits, LOG_PER_PAGE)
    demands = list(
        problem_access.visible_problems(user)
        .filter(raised_by=officer, source=Source.SERVICE_OFFICER)
        .select_related("project", "lead_unit")
        .order_by("-received_on", "-id")[:LOG_PER_PAGE]
    )
    pushes = PolicyPush.objects.filter(officer=officer).select_related("project").order_by("-pushed_on", "-id")
    if not (user.effective_scope == DataScope.ALL or user.pk == officer.pk):
        pushes = pushes.filter(project__in=access.visible_projects(user).values("pk"))
    ctx = {
        "nav": "officers", "officer": officer, "month": month, "figures": figures, "pairings": pairings,
        "page": page, "page_range": page_range, "demands": demands, "pushes": list(pushes[:LOG_PER_PAGE]),
        "can_log": access.can_log_for(user, officer), "can_pair": access.can_pair(user),
    }  # fmt: skip
    if ctx["can_log"]:
        options = forms.officer_project_choices(officer)
        ctx["visit_form"] = visit_form or forms.OfficerVisitForm(prefix="visit", project_options=options)
        ctx["push_form"] = push_form or forms.PolicyPushForm(prefix="push", project_options=options)
    if ctx["can_pair"]:
        ctx["end_form"] = forms.EndPairingForm(prefix="end")
    return render(request, "visits/officer_detail.html", ctx, status=status)


@business_page
@require_http_methods(["GET", "HEAD"])
def officer_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _render_officer(request, access.get_officer(request.user, pk))


def _own_log(request: HttpRequest, pk: int):
    officer = access.get_officer(request.user, pk)
    if not access.can_log_for(request.user, officer):
        raise PermissionDenied(_("只有首席服务员本人可以登记走访和政策推送。"))
    return officer


@business_page
@require_POST
def officer_add_visit(request: HttpRequest, pk: int) -> HttpResponse:
    officer = _own_log(request, pk)
    form = forms.OfficerVisitForm(request.POST, request.FILES, prefix="visit",
                                  project_options=forms.officer_project_choices(officer))  # fmt: skip
    if form.is_valid():
        try:
            visit = domain.log_officer_visit(
                by=request.user, project=form.cleaned_data["project"], visited_on=form.cleaned_data["visited_on"],
                kind=form.cleaned_data["kind"], content=form.cleaned_data["content"],
                uploads=form.cleaned_data["photos"], demand=form.demand(),
            )  # fmt: skip
        except ValidationError as exc:
            if hasattr(exc, "error_dict"):
                renamed = {("demand_" + k.split(".", 1)[1] if k.startswith("demand.") else k): v
                           for k, v in exc.message_dict.items()}  # fmt: skip
                exc = ValidationError(renamed)
            attach_errors(form, exc)
        else:
            relayed = visit.links.exists()
            messages.success(request, _("走访已登记。") + (_("诉求已报送调度中心。") if relayed else ""))
            return redirect("officer-detail", pk=officer.pk)
    return _render_officer(request, officer, visit_form=form, status=400)


@business_page
@require_POST
def officer_add_policy(request: HttpRequest, pk: int) -> HttpResponse:
    officer = _own_log(request, pk)
    form = forms.PolicyPushForm(request.POST, prefix="push", project_options=forms.officer_project_choices(officer))
    if form.is_valid():
        try:
            domain.push_policy(by=request.user, **form.cleaned_data)
        except ValidationError as exc:
            attach_errors(form, exc)
        else:
            messages.success(request, _("政策推送已登记。"))
            return redirect("officer-detail", pk=officer.pk)
    return _render_officer(request, officer, push_form=form, status=400)


@business_page
@require_http_methods(["GET", "POST"])
def pairing_create(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not access.can_pair(user):
        raise PermissionDenied(_("只有调度员可以安排首席服务员结对。"))
    data = request.POST if request.method == "POST" else None
    form = forms.PairingForm(data, project_options=forms.key_project_choices(user),
                             officer_options=forms.role_choices(Role.SERVICE_OFFICER))  # fmt: skip
    if data is None:
        for name in ("project", "officer"):
            if request.GET.get(name, "").isdigit():
                form.initial[name] = int(request.GET[name])
    status = 200
    if data is not None:
        status = 400
        if form.is_valid():
            try:
                pairing = domain.pair_officer(by=user, **form.cleaned_data)
            except ValidationError as exc:
                attach_errors(form, exc)
            else:
                messages.success(request, _("已安排“%(officer)s”与“%(project)s”结对。") % {
                    "officer": pairing.officer, "project": pairing.project
                })  # fmt: skip
                return redirect("officer-detail", pk=pairing.officer_id)
    return render(request, "visits/pairing_form.html", {"nav": "officers", "form": form}, status=status)


@business_page
@require_POST
def pairing_end(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    try:
        pairing = access.visible_pairings(user).select_related("officer", "project").get(pk=int(pk))
    except (OfficerPairing.DoesNotExist, ValueError, OverflowError):
        raise Http404(_("结对记录不存在或无权查看。")) from None
    form = forms.EndPairingForm(request.POST, prefix="end")
    if form.is_valid():
        try:
            domain.end_pairing(pairing, by=user, **form.cleaned_data)
        except ValidationError as exc:
            for message in exc.messages:
                messages.error(request, message)
        else:
            messages.success(request, _("“%(officer)s”与“%(project)s”的结对已结束。") % {
                "officer": pairing.officer, "project": pairing.project
            })  # fmt: skip
    else:
        for errors in form.errors.values():
            for message in errors:
                messages.error(request, message)
    return redirect(reverse("officer-detail", args=[pairing.officer_id]))
