"""Server-rendered pages of funding and the investment-environment measures.

Projects and their funding lines, land records and approval items are fetched through `funding.access`
(built on `projects.access`: outside the scope 404, not changeable 403); the registries (service
matters, industry chains, buildings) are read by every business user and kept by 调度员. Every change
goes through `funding.domain`, which validates and writes the audit trail.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Prefetch, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django.views.decorators.http import require_http_methods, require_POST

from keyprojects.funding import access, domain, figures
from keyprojects.funding.excel import MATTER_HEADERS, district_file, import_matters, matters_file
from keyprojects.funding.forms import (
    AccelerationForm,
    BuildingForm,
    ChainForm,
    DistrictFilter,
    FundingLineForm,
    LandForm,
    MatterFilter,
    MatterUploadForm,
)
from keyprojects.funding.models import Building, FundingLine, FundingSettings, IndustryChain, ProjectLand, ServiceMatter
from keyprojects.progress.excel_common import xlsx_response
from keyprojects.progress.excel_import import MAX_ROWS, MAX_UPLOAD_BYTES, ImportRefused
from keyprojects.projects.access import can_delete_project, can_edit_project
from keyprojects.projects.forms import attach_errors
from keyprojects.projects.gates import scoped_page
from keyprojects.projects.models import Project
from keyprojects.workcal.calendar import workdays_between

PER_PAGE = 50
SHOWN_ERRORS = 300


business_page = scoped_page(gettext_noop("您的账号没有查看该数据的权限。"))


def _is_htmx_fragment(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true" and not request.headers.get("HX-History-Restore-Request")


def _project_context(request: HttpRequest, project: Project, **extra) -> dict:
    """What projects/detail_base.html needs (the project header and tabs) plus `extra`."""
    user = request.user
    return {"nav": "projects", "project": project, "tab": "overview", "can_edit": can_edit_project(user, project),
            "can_delete": can_delete_project(user, project), **extra}  # fmt: skip


def _project_anchor(project: Project) -> str:
    return reverse("project-detail", args=[project.pk]) + "#funding"


# ---------------------------------------------------------------------------------------------
# /funding/: the district view and its export


@business_page
@require_http_methods(["GET", "HEAD"])
def district(request: HttpRequest) -> HttpResponse:
    projects = access.visible_projects(request.user)
    form = DistrictFilter(request.GET or None, years=figures.funding_years(projects))
    year, fund_type = form.values()
    rows = figures.district_rows(projects, year=year, fund_type=fund_type)
    highlights = [r for r in rows if r.fund_type.government and r.prepared.projects][:6]
    ctx = {"nav": "funding", "form": form, "rows": rows, "year": year, "fund_type": fund_type,
           "highlights": highlights,
           "query": request.GET.urlencode()}  # fmt: skip
    return render(request, "funding/district.html", ctx)


@business_page
@require_http_methods(["GET", "HEAD"])
def district_export(request: HttpRequest) -> HttpResponse:
    projects = access.visible_projects(request.user)
    form = DistrictFilter(request.GET or None, years=figures.funding_years(projects))
    year, fund_type = form.values()
    out = district_file(request.user, projects, year=year, fund_type=fund_type)
    stamp = timezone.localdate().strftime("%Y%m%d")
    return xlsx_response(out, f"重点项目资金_{year or '全部年度'}_{stamp}.xlsx")


# ---------------------------------------------------------------------------------------------
# A project's funding lines, land record and acceleration measures


@business_page
@require_http_methods(["GET", "POST"])
def line_create(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    project = access.get_project(user, pk)
    if not access.can_edit_funding(user, project):
        raise PermissionDenied(_("无权修改该项目的资金信息。"))
    form = FundingLineForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                domain.create_line(by=user, project=project, data=form.domain_data())
            except ValidationError as exc:
                attach_errors(form, exc)
            else:
                messages.success(request, _("资金信息已保存。"))
                return redirect(_project_anchor(project))
        status = 400
    ctx = _project_context(request, project, form=form, line=None)
    return render(request, "funding/line_form.html", ctx, status=status)


@business_page
@require_http_methods(["GET", "POST"])
def line_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    line = access.get_line(user, pk, write=True)
    form = FundingLineForm(request.POST or None, line=line)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                domain.update_line(line, by=user, data=form.domain_data(),
                                   expected_version=form.cleaned_data.get("version") or None)  # fmt: skip
            except domain.ConflictError as exc:
                form.add_error(None, _(exc.message))
                status = 409
            except ValidationError as exc:
                attach_errors(form, exc)
                status = 400
            else:
                messages.success(request, _("资金信息已保存。"))
                return redirect(_project_anchor(line.project))
        else:
            status = 400
    ctx = _project_context(request, line.project, form=form, line=line)
    return render(request, "funding/line_form.html", ctx, status=status)


@business_page
@require_POST
def line_delete(request: HttpRequest, pk: int) -> HttpResponse:
    line = access.get_line(request.user, pk, write=True)
    project = line.project
    domain.delete_line(line, by=request.user)
    messages.success(request, _("资金信息已删除。"))
    return redirect(_project_anchor(project))


@business_page
@require_http_methods(["GET", "POST"])
def acceleration_edit(request: HttpRequest, pk: int, item_pk: int) -> HttpResponse:
    user = request.user
    item = access.get_acceleration_item(user, pk, item_pk, write=True)
    current = access.acceleration_of(item)
    form = AccelerationForm(request.POST or None, acceleration=current)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                domain.save_acceleration(item, by=user, data=form.domain_data())
            except ValidationError as exc:
                attach_errors(form, exc)
            else:
                messages.success(request, _("“%(name)s”的提速措施已保存。") % {"name": item.name})
                return redirect(_project_anchor(item.project))
        status = 400
    days = None
    if current is not None and current.agent_started_on:
        days = workdays_between(current.agent_started_on, item.actual_date or timezone.localdate())
    ctx = _project_context(request, item.project, item=item, form=form, agent_days=days)
    return render(request, "funding/acceleration_form.html", ctx, status=status)


@business_page
@require_http_methods(["GET", "POST"])
def land_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    project = access.get_project(user, pk, write=True)
    land = ProjectLand.objects.filter(project=project).first()
    form = LandForm(request.POST or None, land=land)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                domain.save_land(project, by=user, data=form.domain_data())
            except ValidationError as exc:
                attach_errors(form, exc)
            else:
                messages.success(request, _("用地和标准地信息已保存。"))
                return redirect(_project_anchor(project))
        status = 400
    ctx = _project_context(request, project, form=form)
    return render(request, "funding/land_form.html", ctx, status=status)


# ---------------------------------------------------------------------------------------------
# /funding/land/: 拿地即开工 across the district


@business_page
@require_http_methods(["GET", "HEAD"])
def land_to_start(request: HttpRequest) -> HttpResponse:
    result = figures.land_to_start(access.visible_projects(request.user))
    page = Paginator(result.rows, PER_PAGE).get_page(request.GET.get("page"))
    standard = ProjectLand.objects.filter(project__in=access.visible_projects(request.user).values("pk"),
                                          is_standard=True)  # fmt: skip
    ctx = {"nav": "funding", "tab": "land", "figures": result, "page": page,
           "page_range": page.paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1),
           "standard": standard.count(),
           "standard_checked": standard.filter(checked_on__isnull=False).count()}  # fmt: skip
    return render(request, "funding/land_list.html", ctx)


# ---------------------------------------------------------------------------------------------
# /service-matters/: the catalogue, its import and export


def _matter_context(request: HttpRequest) -> dict:
    active = ServiceMatter.objects.filter(is_active=True)
    departments = list(active.order_by().values_list("department_name", flat=True).distinct())
    departments.sort()
    form = MatterFilter(request.GET or None, departments=departments)
    matters = form.filter(active).order_by("department_name", "code")
    page = Paginator(matters, PER_PAGE).get_page(request.GET.get("page"))
    return {"nav": "funding", "tab": "matters", "form": form, "page": page,
            "page_range": page.paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1),
            "counts": figures.matter_counts(active), "by_department": figures.matter_departments(active)[:12],
            "filtered": form.is_valid() and any(form.cleaned_data.values()),
            "can_manage": access.can_manage_registries(request.user)}  # fmt: skip


@business_page
@require_http_methods(["GET", "HEAD"])
def matter_list(request: HttpRequest) -> HttpResponse:
    ctx = _matter_context(request)
    template = "funding/_matter_results.html" if _is_htmx_fragment(request) else "funding/matter_list.html"
    response = render(request, template, ctx)
    patch_vary_headers(response, ["HX-Request"])
    return response


@business_page
@require_http_methods(["GET", "HEAD"])
def matter_export(request: HttpRequest) -> HttpResponse:
    out = matters_file(ServiceMatter.objects.filter(is_active=True))
    return xlsx_response(out, f"政务服务事项目录_{timezone.localdate():%Y%m%d}.xlsx")


@business_page
@require_http_methods(["GET", "HEAD", "POST"])
def matter_import(request: HttpRequest) -> HttpResponse:
    user = request.user
    access.ensure_registry_manager(user)
    form = MatterUploadForm(request.POST or None, request.FILES or None)
    ctx = {"nav": "funding", "tab": "matters", "form": form, "headers": MATTER_HEADERS,
           "limit_mb": MAX_UPLOAD_BYTES // (1024 * 1024), "max_rows": MAX_ROWS}  # fmt: skip
    if request.method == "POST":
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                result = import_matters(user, upload, filename=upload.name)
            except ImportRefused as refused:
                ctx["errors"] = refused.errors[:SHOWN_ERRORS]
                ctx["error_count"] = len(refused.errors)
                return render(request, "funding/matter_import.html", ctx, status=422)
            messages.success(request, _("导入成功：共 %(rows)s 项，新增 %(c)s 项，更新 %(u)s 项，未变 %(n)s 项。") % {
                "rows": result.rows, "c": result.created, "u": result.updated, "n": result.unchanged})  # fmt: skip
            return redirect("matter-list")
        return render(request, "funding/matter_import.html", ctx, status=400)
    return render(request, "funding/matter_import.html", ctx)


# ---------------------------------------------------------------------------------------------
# /industry-chains/


@business_page
@require_http_methods(["GET", "HEAD"])
def chain_list(request: HttpRequest) -> HttpResponse:
    visible = access.visible_projects(request.user)
    projects = Project.objects.filter(pk__in=visible.values("pk")).only("pk", "name", "total_investment")
    chains = list(
        IndustryChain.objects.select_related("leader", "lead_company")
        .annotate(company_count=Count("companies", distinct=True))
        .prefetch_related(Prefetch("projects", queryset=projects.order_by("-total_investment"), to_attr="seen"))
    )
    for chain in chains:
        chain.investment = sum((p.total_investment for p in chain.seen), figures.ZERO)
    ctx = {"nav": "funding", "tab": "chains", "chains": chains,
           "can_manage": access.can_manage_registries(request.user)}  # fmt: skip
    return render(request, "funding/chain_list.html", ctx)


@business_page
@require_http_methods(["GET", "HEAD"])
def chain_detail(request: HttpRequest, pk: int) -> HttpResponse:
    chain = access.get_chain(request.user, pk)
    projects = list(
        access.chain_projects(request.user, chain).select_related("responsible_unit").order_by("-total_investment")
    )
    ctx = {"nav": "funding", "tab": "chains", "chain": chain, "projects": projects,
           "investment": sum((p.total_investment for p in projects), figures.ZERO),
           "companies": list(chain.companies.order_by("name")),
           "can_manage": access.can_manage_registries(request.user)}  # fmt: skip
    return render(request, "funding/chain_detail.html", ctx)


def _chain_form(request: HttpRequest, chain: IndustryChain | None) -> HttpResponse:
    user = request.user
    form = ChainForm(request.POST or None, projects=access.visible_projects(user), chain=chain)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.domain_data()
            if chain is not None:
                # Projects the user cannot see stay on the chain: the form only offered the visible ones.
                hidden = chain.projects.exclude(pk__in=access.visible_projects(user).values("pk"))
                data["projects"] = [*data["projects"], *hidden]
            try:
                saved = domain.save_chain(chain, by=user, data=data)
            except ValidationError as exc:
                attach_errors(form, exc)
            else:
                messages.success(request, _("产业链“%(name)s”已保存。") % {"name": saved.name})
                return redirect("chain-detail", pk=saved.pk)
        status = 400
    ctx = {"nav": "funding", "tab": "chains", "form": form, "chain": chain}
    return render(request, "funding/chain_form.html", ctx, status=status)


@business_page
@require_http_methods(["GET", "POST"])
def chain_create(request: HttpRequest) -> HttpResponse:
    access.ensure_registry_manager(request.user)
    return _chain_form(request, None)


@business_page
@require_http_methods(["GET", "POST"])
def chain_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _chain_form(request, access.get_chain(request.user, pk, write=True))


# ---------------------------------------------------------------------------------------------
# /buildings/


@business_page
@require_http_methods(["GET", "HEAD"])
def building_list(request: HttpRequest) -> HttpResponse:
    buildings = list(Building.objects.select_related("town").annotate(linked=Count("companies")))
    totals = Building.objects.aggregate(tax=Sum("annual_tax"), tenants=Sum("tenant_count"), area=Sum("floor_area"))
    ctx = {"nav": "funding", "tab": "buildings", "buildings": buildings, "totals": totals,
           "yi_buildings": sum(1 for b in buildings if b.tax_band == "yi"),
           "can_manage": access.can_manage_registries(request.user)}  # fmt: skip
    return render(request, "funding/building_list.html", ctx)


@business_page
@require_http_methods(["GET", "HEAD"])
def building_detail(request: HttpRequest, pk: int) -> HttpResponse:
    building = access.get_building(request.user, pk)
    ctx = {"nav": "funding", "tab": "buildings", "building": building,
           "companies": list(building.companies.order_by("name")),
           "can_manage": access.can_manage_registries(request.user)}  # fmt: skip
    return render(request, "funding/building_detail.html", ctx)


def _building_form(request: HttpRequest, building: Building | None) -> HttpResponse:
    form = BuildingForm(request.POST or None, building=building)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                saved = domain.save_building(building, by=request.user, data=form.domain_data())
            except ValidationError as exc:
                attach_errors(form, exc)
            else:
                messages.success(request, _("楼宇“%(name)s”已保存。") % {"name": saved.name})
                return redirect("building-detail", pk=saved.pk)
        status = 400
    ctx = {"nav": "funding", "tab": "buildings", "form": form, "building": building}
    return render(request, "funding/building_form.html", ctx, status=status)


@business_page
@require_http_methods(["GET", "POST"])
def building_create(request: HttpRequest) -> HttpResponse:
    access.ensure_registry_manager(request.user)
    return _building_form(request, None)


@business_page
@require_http_methods(["GET", "POST"])
def building_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _building_form(request, access.get_building(request.user, pk, write=True))


def project_section_context(request: HttpRequest, project: Project) -> dict:
    """What the funding section of the project page shows (used by the template tag)."""
    user = request.user
    lines = list(
        FundingLine.objects.filter(project=project)
        .select_related("fund_type", "bond")
        .prefetch_related("steps", "alerts")
        .order_by("-year", "fund_type__position", "id")
    )
    rows = []
    for line in lines:
        steps = {s.step: s for s in line.steps.all()}
        rows.append({"line": line, "steps": [steps.get(k) for k, _l in figures.STEP_LABELS.items()],
                     "amounts": figures.line_amounts(line),
                     "alerts": [a for a in line.alerts.all() if a.fired][:3]})  # fmt: skip
    items = list(project.approvals.select_related("acceleration__agent", "department"))
    today = timezone.localdate()
    measures = []
    can_edit_project = access.can_edit_funding(user, project)
    by_department: dict[int | None, bool] = {}  # the rule depends on the item's department only
    for item in items:
        item.project = project
        a = getattr(item, "acceleration", None)
        days = None
        if a is not None and a.agent_started_on:
            days = workdays_between(a.agent_started_on, item.actual_date or today)
        if item.department_id not in by_department:
            by_department[item.department_id] = can_edit_project or access.can_edit_acceleration(user, item)
        editable = by_department[item.department_id]
        measures.append({"item": item, "a": a, "agent_days": days, "editable": editable,
                         "overdue_promise": bool(a and a.on_promise and a.promise_outcome == "pending"
                                                 and a.promise_deadline and a.promise_deadline < today)})  # fmt: skip
    land = ProjectLand.objects.filter(project=project).first()
    land_row = None
    gaps = []
    if land is not None:
        if land.certificate_on:
            permits = figures.permit_dates([project.pk])
            land_row = figures.land_row(
                project, land, permits.get(project.pk), FundingSettings.load().land_to_start_target
            )
        if land.is_standard:
            gaps = figures.indicator_gaps(land)
    return {"project": project, "rows": rows, "step_labels": list(figures.STEP_LABELS.values()),
            "totals": figures.project_amounts(lines), "can_edit": can_edit_project,
            "measures": [m for m in measures if m["a"] is not None],
            "other_items": [m["item"] for m in measures if m["a"] is None and m["editable"]],
            "with_measures": sum(1 for m in measures if m["a"] is not None), "land": land, "land_row": land_row,
            "gaps": gaps}  # fmt: skip
