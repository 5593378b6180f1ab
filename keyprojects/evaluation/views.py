"""Pages of quarterly observation tours (季度观摩) and evaluations (半年考评、年底总评).

Tours are fetched through `keyprojects.evaluation.access` (outside the user's scope: 404) and changed
through `keyprojects.evaluation.tours` (which refuses and audits). Evaluations are computed by
`keyprojects.evaluation.scoring`. 三员 accounts get 403 on every page.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django.views.decorators.http import require_http_methods, require_POST

from keyprojects.evaluation import access, forms, tours
from keyprojects.evaluation.models import ObservationTour, Scheme, ScoreSheet, TourJudge, TourProject, TourStatus
from keyprojects.evaluation.periods import PeriodError, parse_period, recent_periods
from keyprojects.evaluation.rules import ZERO, describe
from keyprojects.evaluation.scoring import SchemeInvalid, check_scheme, evaluate, load_scheme, rule_summary
from keyprojects.evaluation.scoring import scheme_units as evaluated_units
from keyprojects.evaluation.sources import SOURCES
from keyprojects.org.models import Unit
from keyprojects.projects.access import visible_projects
from keyprojects.projects.forms import attach_errors
from keyprojects.projects.gates import scoped_page

SEARCH_LIMIT = 20


business_page = scoped_page(gettext_noop("您的账号没有查看业务数据的权限。"))


def _refusal(request: HttpRequest, exc: ValidationError) -> None:
    for message in exc.messages:
        messages.error(request, message)


# ---------------------------------------------------------------------------------------------
# Tours: list, create, detail, edit


@business_page
@require_http_methods(["GET", "HEAD"])
def tour_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    items = list(
        access.visible_tours(user)
        .annotate(
            n_projects=Count("tour_projects", distinct=True),
            n_judges=Count("judges", distinct=True),
            n_sheets=Count("sheets", distinct=True),
        )
        .order_by("-year", "-quarter", "-held_on", "-id")
    )
    judged = set(TourJudge.objects.filter(user=user.pk).values_list("tour_id", flat=True))
    ctx = {"nav": "evaluation", "tab": "tours", "tours": items, "judged": judged,
           "can_manage": access.can_manage_tours(user)}  # fmt: skip
    return render(request, "evaluation/tour_list.html", ctx)


@business_page
@require_http_methods(["GET", "HEAD", "POST"])
def tour_create(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not access.can_manage_tours(user):
        raise PermissionDenied(_("只有调度员可以组织观摩活动。"))
    today = timezone.localdate()
    post = request.POST if request.method == "POST" else None
    form = forms.TourForm.blank(today, post)
    criteria = forms.criteria_formset(data=post, defaults=tours.DEFAULT_CRITERIA)
    if post is not None and all([form.is_valid(), criteria.is_valid()]):
        try:
            tour = tours.create_tour(by=user, data=form.cleaned_data, criteria=forms.criteria_rows(criteria))
        except ValidationError as exc:
            attach_errors(form, exc)
        else:
            messages.success(request, _("观摩活动已创建。请添加观摩项目和评委，然后开始评分。"))
            return redirect("tour-detail", pk=tour.pk)
    status = 400 if post is not None else 200
    return render(request, "evaluation/tour_form.html", {"nav": "evaluation", "form": form, "criteria": criteria,
                                                         "editable_criteria": True}, status=status)  # fmt: skip


@business_page
@require_http_methods(["GET", "HEAD", "POST"])
def tour_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    tour = access.get_tour(user, pk, manage=True)
    post = request.POST if request.method == "POST" else None
    form = forms.TourForm.for_tour(tour, post)
    editable = tour.status == TourStatus.DRAFT
    criteria = forms.criteria_formset(list(tour.criteria.all()), data=post if editable else None)
    if post is not None and all([form.is_valid(), not editable or criteria.is_valid()]):
        try:
            version = int(request.POST.get("version", ""))
        except ValueError:
            version = None
        try:
            tours.update_tour(tour, by=user, data=form.cleaned_data, expected_version=version)
            if editable:
                tours.set_criteria(tour, by=user, rows=forms.criteria_rows(criteria))
        except tours.ConflictError as exc:
            form.add_error(None, _(exc.message))
        except ValidationError as exc:
            attach_errors(form, exc)
        else:
            messages.success(request, _("已保存。"))
            return redirect("tour-detail", pk=tour.pk)
    status = 400 if post is not None else 200
    ctx = {"nav": "evaluation", "form": form, "criteria": criteria, "tour": tour, "editable_criteria": editable}
    return render(request, "evaluation/tour_form.html", ctx, status=status)


def _progress(tour: ObservationTour) -> dict:
    """Who has scored what (no scores): sheets per project and per judge."""
    done = defaultdict(set)
    for project_id, judge_id in ScoreSheet.objects.filter(tour=tour).values_list("project_id", "judge_id"):
        done[project_id].add(judge_id)
    return done


@business_page
@require_http_methods(["GET", "HEAD"])
def tour_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    tour = access.get_tour(user, pk)
    can_manage = access.can_manage_tours(user)
    judge = access.is_judge(user, tour)
    links = list(TourProject.objects.filter(tour=tour).select_related("project__town", "project__responsible_unit"))
    visible = access.result_project_ids(user, tour)
    if visible is not None:
        links = [link for link in links if link.project_id in visible]
    judges = list(TourJudge.objects.filter(tour=tour).select_related("user__unit"))
    done = _progress(tour) if (can_manage or judge) else {}
    for link in links:
        link.scored = len(done.get(link.project_id, ()))
    for j in judges:
        j.scored = sum(1 for judged in done.values() if j.user_id in judged)
    mine = set(ScoreSheet.objects.filter(tour=tour, judge=user.pk).values_list("project_id", flat=True))
    search = forms.ProjectSearchForm(request.GET or None)
    found = []
    if can_manage and tour.status != TourStatus.CLOSED and search.is_valid() and search.cleaned_data["q"]:
        q = search.cleaned_data["q"]
        present = [link.project_id for link in links]
        found = list(
            visible_projects(user)
            .filter(Q(name__icontains=q) | Q(code__icontains=q) | Q(owner_name__icontains=q))
            .exclude(pk__in=present)
            .select_related("town")
            .order_by("-total_investment", "pk")[:SEARCH_LIMIT]
        )
    judge_form = None
    if can_manage and tour.status != TourStatus.CLOSED:
        judge_form = forms.JudgeForm(
            queryset=tours.eligible_judges()
            .exclude(tour_judgings__tour=tour)
            .select_related("unit")
            .order_by("unit_id", "pk")
        )
    ctx = {
        "nav": "evaluation", "tab": "tours", "tour": tour, "links": links, "judges": judges,
        "mine": mine, "can_manage": can_manage, "is_judge": judge, "search": search, "found": found,
        "searched": bool(search.is_bound and search.is_valid() and search.cleaned_data["q"]),
        "judge_form": judge_form, "criteria": list(tour.criteria.all()), "rule": tours.rule_text(tour),
        "max_total": sum((c.max_points for c in tour.criteria.all()), ZERO),
    }  # fmt: skip
    return render(request, "evaluation/tour_detail.html", ctx)


def _manage_action(request: HttpRequest, pk: int, action, success: str) -> HttpResponse:
    user = request.user
    tour = access.get_tour(user, pk, manage=True)
    try:
        action(tour, user)
    except ValidationError as exc:
        _refusal(request, exc)
    else:
        messages.success(request, success)
    return redirect("tour-detail", pk=tour.pk)


@business_page
@require_POST
def tour_add_projects(request: HttpRequest, pk: int) -> HttpResponse:
    ids = request.POST.getlist("project")
    if not ids:
        messages.error(request, _("请勾选要加入的项目。"))
        return redirect("tour-detail", pk=pk)
    return _manage_action(request, pk, lambda t, u: tours.add_projects(t, by=u, project_ids=ids),
                          _("已加入观摩项目。"))  # fmt: skip


@business_page
@require_POST
def tour_remove_project(request: HttpRequest, pk: int, project_id: int) -> HttpResponse:
    return _manage_action(request, pk, lambda t, u: tours.remove_project(t, by=u, project_id=project_id),
                          _("已移出观摩项目。"))  # fmt: skip


@business_page
@require_POST
def tour_add_judges(request: HttpRequest, pk: int) -> HttpResponse:
    ids = request.POST.getlist("judges")
    if not ids:
        messages.error(request, _("请选择评委。"))
        return redirect("tour-detail", pk=pk)
    return _manage_action(request, pk, lambda t, u: tours.add_judges(t, by=u, user_ids=ids), _("已添加评委。"))


@business_page
@require_POST
def tour_remove_judge(request: HttpRequest, pk: int, user_id: int) -> HttpResponse:
    return _manage_action(request, pk, lambda t, u: tours.remove_judge(t, by=u, user_id=user_id), _("已移除评委。"))


@business_page
@require_POST
def tour_open(request: HttpRequest, pk: int) -> HttpResponse:
    return _manage_action(request, pk, lambda t, u: tours.open_tour(t, by=u), _("评分已开始，评委可以打分了。"))


@business_page
@require_POST
def tour_close(request: HttpRequest, pk: int) -> HttpResponse:
    return _manage_action(request, pk, lambda t, u: tours.close_tour(t, by=u), _("评分已结束，结果已公布。"))


# ---------------------------------------------------------------------------------------------
# Scoring (phone-friendly: one project at a time)


def _judge_tour(user, pk) -> tuple[ObservationTour, list[TourProject]]:
    tour = access.get_tour(user, pk)
    if not access.is_judge(user, tour):
        raise PermissionDenied(_("您不是本次观摩的评委，不能评分。"))
    links = list(TourProject.objects.filter(tour=tour).select_related("project__town").order_by("position", "id"))
    return tour, links


@business_page
@require_http_methods(["GET", "HEAD"])
def tour_score_start(request: HttpRequest, pk: int) -> HttpResponse:
    """The judge's first project without a sheet (or the first project when all are scored)."""
    tour, links = _judge_tour(request.user, pk)
    if not links:
        raise Http404(_("本次观摩还没有项目。"))
    mine = set(ScoreSheet.objects.filter(tour=tour, judge=request.user.pk).values_list("project_id", flat=True))
    target = next((link for link in links if link.project_id not in mine), links[0])
    return redirect("tour-score", pk=tour.pk, project_id=target.project_id)


@business_page
@require_http_methods(["GET", "HEAD", "POST"])
def tour_score(request: HttpRequest, pk: int, project_id: int) -> HttpResponse:
    user = request.user
    tour, links = _judge_tour(user, pk)
    index = next((i for i, link in enumerate(links) if link.project_id == project_id), None)
    if index is None:
        raise Http404(_("该项目不在本次观摩名单中。"))
    link = links[index]
    criteria = list(tour.criteria.all())
    sheets = tours.own_sheets(tour, user)
    sheet = sheets.get(project_id)
    initial = {}
    if sheet is not None:
        initial = {f"c{i.criterion_id}": i.points for i in sheet.items.all()}
        initial.update(comment=sheet.comment, version=sheet.version)
    post = request.POST if request.method == "POST" else None
    form = forms.ScoreForm(post, initial=initial, criteria=criteria)
    status = 200
    if post is not None:
        if tour.status != TourStatus.OPEN:
            form.is_valid()
            closed = _("观摩评分已结束，不能再评分或修改评分。")
            form.add_error(None, closed if tour.is_closed else _("观摩尚未开始评分。"))
            status = 409
        elif form.is_valid():
            try:
                tours.save_sheet(tour, by=user, project=project_id, points=form.points(),
                                 comment=form.cleaned_data["comment"],
                                 expected_version=form.cleaned_data.get("version"))  # fmt: skip
            except tours.ConflictError as exc:
                form.add_error(None, _(exc.message))
                status = 409
            except ValidationError as exc:
                attach_errors(form, exc)
                status = 409 if getattr(exc, "code", None) in ("invalid_state", "duplicate_sheet") else 400
            else:
                messages.success(request, _("“%(p)s”的评分已保存。") % {"p": link.project.name})
                following = next((x for x in links[index + 1 :] + links[:index]
                                  if x.project_id not in sheets and x.project_id != project_id), None)  # fmt: skip
                if following is not None and "next" in request.POST:
                    return redirect("tour-score", pk=tour.pk, project_id=following.project_id)
                return redirect("tour-score", pk=tour.pk, project_id=project_id)
        else:
            status = 400
    ctx = {
        "nav": "evaluation", "tour": tour, "link": link, "project": link.project, "form": form, "sheet": sheet,
        "position": index + 1, "count": len(links),
        "previous": links[index - 1] if index > 0 else None,
        "next": links[index + 1] if index + 1 < len(links) else None,
        "scored": len(sheets), "max_total": sum((c.max_points for c in criteria), ZERO),
        "links": links, "mine": set(sheets),
        "editable": tour.status == TourStatus.OPEN,
    }  # fmt: skip
    return render(request, "evaluation/tour_score.html", ctx, status=status)


# ---------------------------------------------------------------------------------------------
# Results


@business_page
@require_http_methods(["GET", "HEAD"])
def tour_results(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    tour = access.get_tour(user, pk)
    ctx = {"nav": "evaluation", "tab": "tours", "tour": tour, "rule": tours.rule_text(tour)}
    if tour.status != TourStatus.CLOSED:
        ctx["sheets"] = list(
            ScoreSheet.objects.filter(tour=tour, judge=user.pk).select_related("project").order_by("project_id")
        )
        return render(request, "evaluation/tour_results.html", ctx)
    results = tours.tour_results(tour)
    allowed = access.result_project_ids(user, tour)
    projects = [r for r in results.projects if allowed is None or r.project_id in allowed]
    towns = {r.town_id for r in projects}
    ctx.update(
        results=results, projects=projects, partial=allowed is not None,
        towns=[t for t in results.towns if allowed is None or t.town_id in towns],
    )  # fmt: skip
    return render(request, "evaluation/tour_results.html", ctx)


# ---------------------------------------------------------------------------------------------
# Schemes and evaluations


@business_page
@require_http_methods(["GET", "HEAD"])
def scheme_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    schemes = list(Scheme.objects.filter(is_active=True).prefetch_related("groups"))
    try:
        access.evaluation_unit_ids(user)
        can_evaluate = True
    except PermissionDenied:
        can_evaluate = False
    form = forms.PeriodForm(request.GET or None)
    if form.is_bound and form.is_valid() and can_evaluate:
        code = request.GET.get("scheme", "")
        if any(s.code == code for s in schemes):
            return redirect("evaluation-result", code=code, period=form.cleaned_data["period"])
        form.add_error(None, _("请选择考评方案。"))
    ctx = {"nav": "evaluation", "tab": "schemes", "schemes": schemes, "form": form, "can_evaluate": can_evaluate,
           "periods": recent_periods(timezone.localdate())}  # fmt: skip
    return render(request, "evaluation/scheme_list.html", ctx, status=400 if form.errors else 200)


@business_page
@require_http_methods(["GET", "HEAD"])
def scheme_detail(request: HttpRequest, code: str) -> HttpResponse:
    try:
        scheme, groups = load_scheme(code)
    except Scheme.DoesNotExist:
        raise Http404(_("考评方案不存在。")) from None
    rows = []
    for group in groups:
        items = []
        for ind in group.indicators.all():
            source = SOURCES.get(ind.source)
            items.append({
                "indicator": ind, "source": source, "rule": describe(ind, source.unit if source else ""),
                "share": (group.weight * ind.weight / 100).quantize(Decimal("0.01")),
            })  # fmt: skip
        rows.append({"group": group, "items": items})
    ctx = {
        "nav": "evaluation",
        "tab": "schemes",
        "scheme": scheme,
        "rows": rows,
        "problems": check_scheme(groups),
        "periods": recent_periods(timezone.localdate()),
        "rule": rule_summary(),
        "admin_url": reverse("admin:evaluation_scheme_change", args=[scheme.pk]) if request.user.is_staff else "",
    }
    return render(request, "evaluation/scheme_detail.html", ctx)  # fmt: skip


def _evaluation(request: HttpRequest, code: str, period: str):
    """The evaluation (for `?kind=`), the visible rows, and the context shared by the two pages."""
    user = request.user
    visible = access.evaluation_unit_ids(user)
    try:
        scheme = Scheme.objects.get(code=code)
    except Scheme.DoesNotExist:
        raise Http404(_("考评方案不存在。")) from None
    try:
        p = parse_period(period)
    except PeriodError as exc:
        raise Http404(str(exc)) from None
    kind = request.GET.get("kind", "")
    units = None
    if kind in (Unit.Kind.TOWN, Unit.Kind.DEPARTMENT):
        units = [u for u in evaluated_units(scheme) if u.kind == kind]
    else:
        kind = ""
    try:
        result = evaluate(code, p.code, units=units)
    except SchemeInvalid as exc:
        return None, {"scheme": scheme, "period": p, "problems": exc.messages, "kind": kind}
    rows = [r for r in result.rows if visible is None or r.unit_id in visible]
    return result, {"scheme": scheme, "period": p, "rows": rows, "kind": kind, "partial": visible is not None}


def _group_totals(indicators) -> list[tuple[str, Decimal]]:
    totals: dict[str, Decimal] = {}
    for s in indicators:
        totals[s.group] = totals.get(s.group, ZERO) + s.weighted
    return list(totals.items())


@business_page
@require_http_methods(["GET", "HEAD"])
def evaluation_result(request: HttpRequest, code: str, period: str) -> HttpResponse:
    result, ctx = _evaluation(request, code, period)
    ctx.update(nav="evaluation", tab="schemes", result=result, rule=rule_summary(),
               periods=recent_periods(timezone.localdate()))  # fmt: skip
    if result is None:
        return render(request, "evaluation/evaluation_result.html", ctx, status=422)
    ctx["groups"] = [name for name, _total in _group_totals(result.rows[0].indicators)] if result.rows else []
    ctx["table"] = [(r, [t for _n, t in _group_totals(r.indicators)]) for r in ctx["rows"]]
    return render(request, "evaluation/evaluation_result.html", ctx)


@business_page
@require_http_methods(["GET", "HEAD"])
def evaluation_unit(request: HttpRequest, code: str, period: str, unit_id: int) -> HttpResponse:
    result, ctx = _evaluation(request, code, period)
    if result is None:
        ctx.update(nav="evaluation", tab="schemes", result=None, rule=rule_summary())
        return render(request, "evaluation/evaluation_result.html", ctx, status=422)
    row = next((r for r in ctx["rows"] if r.unit_id == unit_id), None)
    if row is None:
        raise Http404(_("该单位不在考评范围内或无权查看。"))
    groups: list[dict] = []
    for s in row.indicators:
        if not groups or groups[-1]["name"] != s.group:
            groups.append({"name": s.group, "items": [], "weight": ZERO, "weighted": ZERO})
        groups[-1]["items"].append(s)
        groups[-1]["weight"] += s.weight
        groups[-1]["weighted"] += s.weighted
    ctx.update(nav="evaluation", tab="schemes", result=result, row=row, groups=groups, rule=rule_summary(),
               count=len(result.rows))  # fmt: skip
    return render(request, "evaluation/evaluation_unit.html", ctx)
