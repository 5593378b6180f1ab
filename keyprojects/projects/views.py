"""Server-rendered pages of the project library.

Every project is fetched through the access module (out of scope: 404; not changeable: 403) and
every change goes through the domain functions, which validate and write the audit trail.
"""

from __future__ import annotations

import copy
import datetime
import os
from decimal import Decimal, InvalidOperation

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django.views.decorators.http import require_http_methods, require_POST

from keyprojects.audit.models import AuditRecord
from keyprojects.lib.choices import choice_label
from keyprojects.lib.money import format_wan
from keyprojects.lib.pagination import DeferredJoinPaginator
from keyprojects.org.models import Role
from keyprojects.projects import access, domain
from keyprojects.projects.filters import ProjectFilter, list_count
from keyprojects.projects.forms import (
    ApprovalForm,
    BatchMembershipForm,
    ProjectForm,
    StageChangeForm,
    attach_errors,
)
from keyprojects.projects.gates import scoped_page
from keyprojects.projects.models import ApprovalItem, Level, Project, Stage
from keyprojects.projects.models import Status as ProjectStatus

PER_PAGE = 25
HISTORY_PER_PAGE = 30
# The domain's conflict message, marked here so that it gets an English translation.
gettext_noop("该项目已被他人修改，请刷新后重新编辑（您的修改未保存）。")
DUPLICATE_CODE = gettext_noop("该项目代码已被其他项目使用。")


project_page = scoped_page(gettext_noop("您的账号没有查看项目的权限。"))


def _is_htmx_fragment(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true" and not request.headers.get("HX-History-Restore-Request")


# ---------------------------------------------------------------------------------------------
# /projects/


@project_page
@require_http_methods(["GET", "HEAD"])
def project_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    filter_form = ProjectFilter(request.GET)
    projects = filter_form.filter(access.visible_projects(user)).select_related("industry", "responsible_unit", "town")
    paginator = DeferredJoinPaginator(projects, PER_PAGE, count=list_count(projects))
    page = paginator.get_page(request.GET.get("page"))  # clamps ?page=abc and ?page=99999
    bands = domain.size_bands()
    for project in page.object_list:
        project.size_band = domain.size_band_for(project.total_investment, bands)
        # get_FOO_display() rebuilds the choice table on every call; cheaper once per row here.
        project.level_label = choice_label(Level, project.level)
        project.stage_label = choice_label(Stage, project.stage)
        project.status_label = choice_label(ProjectStatus, project.status)
    ctx = {
        "nav": "projects",
        "filter_form": filter_form,
        "page": page,
        "page_range": paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1),
        "can_create": access.can_create_project(user),
    }
    template = "projects/_results.html" if _is_htmx_fragment(request) else "projects/list.html"
    response = render(request, template, ctx)
    patch_vary_headers(response, ["HX-Request"])
    return response


@project_page
@require_http_methods(["GET", "POST"])
def project_create(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not access.can_create_project(user):
        raise PermissionDenied(_("您没有新建项目的权限。"))
    form = ProjectForm(request.POST or None, user=user)
    if request.method == "POST" and form.is_valid():
        try:
            project = domain.create_project(
                by=user,
                data=form.domain_data(),
                stage=form.cleaned_data["initial_stage"],
                stage_on=form.cleaned_data["stage_on"],
            )
        except ValidationError as exc:
            attach_errors(form, exc)
        except IntegrityError:
            form.add_error("code", _(DUPLICATE_CODE))
        else:
            messages.success(request, _("项目“%(name)s”已建档。") % {"name": project.name})
            return redirect("project-detail", pk=project.pk)
    return render(request, "projects/project_form.html", {"nav": "projects", "form": form, "project": None})


# ---------------------------------------------------------------------------------------------
# /projects/<pk>/ and its tabs


def _detail_context(request: HttpRequest, project: Project, tab: str) -> dict:
    user = request.user
    return {
        "nav": "projects",
        "project": project,
        "tab": tab,
        "can_edit": access.can_edit_project(user, project),
        "can_delete": access.can_delete_project(user, project),
    }


def _render_overview(request: HttpRequest, project: Project, batch_form=None, status: int = 200) -> HttpResponse:
    ctx = _detail_context(request, project, "overview")
    ctx["size_band"] = domain.size_band_for(project.total_investment, domain.size_bands())
    ctx["memberships"] = list(project.memberships.select_related("phase"))
    if ctx["can_edit"]:
        ctx["batch_form"] = batch_form or BatchMembershipForm(project=project)
    return render(request, "projects/detail_overview.html", ctx, status=status)


@project_page
@require_http_methods(["GET", "HEAD"])
def project_detail(request: HttpRequest, pk: int) -> HttpResponse:
    project = access.get_project(request.user, pk)
    return _render_overview(request, project)


@project_page
@require_POST
def project_batches(request: HttpRequest, pk: int) -> HttpResponse:
    """Put the project on the "三个一批" lists (one phase per list, or none)."""
    project = access.get_project(request.user, pk, write=True)
    form = BatchMembershipForm(request.POST, project=project)
    if form.is_valid():
        try:
            with transaction.atomic():
                for batch, phase in form.cleaned_data.items():
                    domain.set_batch_membership(project, by=request.user, batch=batch, phase=phase)
        except ValidationError as exc:
            attach_errors(form, exc)
        else:
            messages.success(request, _("“三个一批”信息已保存。"))
            return redirect("project-detail", pk=project.pk)
    return _render_overview(request, project, batch_form=form, status=400)


def _stage_steps(project: Project, transitions: list) -> list[dict]:
    entered = {}
    for transition in transitions:
        entered[transition.to_stage] = transition.happened_on
    current = project.stage_order
    steps = []
    for stage in Stage:
        order = Stage.order(stage)
        state = "done" if order < current else "current" if order == current else "todo"
        steps.append(
            {"label": stage.label, "state": state, "date": entered.get(stage.value) if order <= current else None}
        )
    return steps


@project_page
@require_http_methods(["GET", "HEAD", "POST"])
def project_stages(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    project = access.get_project(user, pk, write=request.method == "POST")
    form = StageChangeForm(request.POST or None, project=project)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                domain.change_stage(
                    project,
                    by=user,
                    to_stage=form.cleaned_data["to_stage"],
                    happened_on=form.cleaned_data["happened_on"],
                    note=form.cleaned_data["note"],
                )
            except ValidationError as exc:
                attach_errors(form, exc)
            else:
                messages.success(request, _("阶段已变更为“%(stage)s”。") % {"stage": project.get_stage_display()})
                return redirect("project-stages", pk=project.pk)
        status = 400
    transitions = list(project.transitions.select_related("recorded_by").order_by("happened_on", "id"))
    ctx = _detail_context(request, project, "stages")
    ctx.update(form=form, transitions=transitions, steps=_stage_steps(project, transitions))
    return render(request, "projects/detail_stages.html", ctx, status=status)


@project_page
@require_http_methods(["GET", "HEAD"])
def project_approvals(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    project = access.get_project(user, pk)
    ctx = _detail_context(request, project, "approvals")
    items = list(project.approvals.select_related("department"))
    for item in items:
        item.project = project  # already loaded; spares a query per row in the access check
        if ctx["can_edit"]:
            item.editable = True
        else:
            item.editable = user.has_role(Role.UNIT_OFFICER) and access.can_edit_approval(user, item)
    ctx["items"] = items
    ctx["done"] = sum(1 for i in items if i.status == "done")
    ctx["applicable"] = sum(1 for i in items if i.status != "na")
    return render(request, "projects/detail_approvals.html", ctx)


@project_page
@require_http_methods(["GET", "POST"])
def approval_edit(request: HttpRequest, pk: int, item_pk: int) -> HttpResponse:
    user = request.user
    project = access.get_project(user, pk)
    item = access.get_approval(user, project, item_pk, write=True)
    form = ApprovalForm(request.POST or None, request.FILES or None, item=item)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                # Check the fields first so that a refused change does not leave an uploaded file behind.
                probe = copy.copy(item)
                for field, value in form.domain_data().items():
                    setattr(probe, field, value)
                probe.full_clean(exclude=["attachment"])
                domain.update_approval(item, by=user, data=form.domain_data(), upload=form.cleaned_data.get("upload"))
            except ValidationError as exc:
                attach_errors(form, exc)
            else:
                messages.success(request, _("“%(name)s”已保存。") % {"name": item.name})
                return redirect("project-approvals", pk=project.pk)
        status = 400
    ctx = _detail_context(request, project, "approvals")
    ctx.update(form=form, item=item)
    return render(request, "projects/approval_form.html", ctx, status=status)


@project_page
@require_http_methods(["GET", "HEAD"])
def approval_file(request: HttpRequest, pk: int, item_pk: int) -> FileResponse:
    """Stream an approval document to someone who may see the project; never served by path."""
    project = access.get_project(request.user, pk)
    item = access.get_approval(request.user, project, item_pk)
    if not item.attachment:
        raise Http404(_("该事项没有上传文件。"))
    try:
        handle = item.attachment.open("rb")
    except (FileNotFoundError, OSError):
        raise Http404(_("文件不存在。")) from None
    filename = item.attachment_name or os.path.basename(item.attachment.name)
    return FileResponse(handle, as_attachment=True, filename=filename)


# ---------------------------------------------------------------------------------------------
# History (the audit trail of the project)

CHANNEL_LABELS = {
    "web": gettext_noop("网页"),
    "api": gettext_noop("接口"),
    "import": gettext_noop("导入"),
    "command": gettext_noop("命令"),
    "worker": gettext_noop("后台任务"),
    "system": gettext_noop("系统"),
}
_MODELS = {"project": Project, "approvalitem": ApprovalItem}


def _field_info(object_type: str, key: str):
    model = _MODELS.get(object_type)
    if model is None:
        return key, None
    try:
        field = model._meta.get_field(key)
    except Exception:  # noqa: BLE001 - keys that are not fields (e.g. "签约一批") are shown as they are
        return key, None
    return str(getattr(field, "verbose_name", key)), field


def _readable(value, field) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return _("是") if value else _("否")
    if isinstance(value, list):
        return "、".join(str(v) for v in value) or "—"
    if isinstance(value, dict):
        return "；".join(f"{k}：{v}" for k, v in value.items())
    internal = field.get_internal_type() if field is not None else ""
    if internal == "DateField":
        try:
            return date_format(datetime.date.fromisoformat(str(value)), "DATE_FORMAT")
        except ValueError:
            return str(value)
    if field is not None and field.name == "total_investment":
        try:
            return format_wan(Decimal(str(value)))
        except InvalidOperation:
            return str(value)
    if internal == "FileField":
        return os.path.basename(str(value))
    return str(value)


def _history_rows(record: AuditRecord) -> list[dict]:
    rows = []
    for key, before, after in record.changed_fields():
        label, field = _field_info(record.object_type, key)
        if record.action in (AuditRecord.Action.CREATE, AuditRecord.Action.DELETE) and before is None and not after:
            continue
        rows.append({"label": label, "before": _readable(before, field), "after": _readable(after, field)})
    return rows


@project_page
@require_http_methods(["GET", "HEAD"])
def project_history(request: HttpRequest, pk: int) -> HttpResponse:
    project = access.get_project(request.user, pk)
    records = AuditRecord.objects.filter(project_id=project.pk).select_related("actor").order_by("-id")
    page = Paginator(records, HISTORY_PER_PAGE).get_page(request.GET.get("page"))
    for record in page.object_list:
        record.rows = _history_rows(record)
        record.channel_label = _(CHANNEL_LABELS[record.channel]) if record.channel in CHANNEL_LABELS else record.channel
        record.is_summary = record.action in (AuditRecord.Action.CREATE, AuditRecord.Action.DELETE)
        record.is_other_object = record.object_type != "project"
    ctx = _detail_context(request, project, "history")
    ctx.update(page=page, page_range=page.paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1))
    return render(request, "projects/detail_history.html", ctx)


# ---------------------------------------------------------------------------------------------
# Edit and delete


@project_page
@require_http_methods(["GET", "POST"])
def project_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    project = access.get_project(user, pk, write=True)
    form = ProjectForm(request.POST or None, user=user, project=project)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            expected = form.cleaned_data.get("version") or project.version
            try:
                saved = domain.update_project(project, by=user, data=form.domain_data(), expected_version=expected)
            except domain.ConflictError as exc:
                form.add_error(None, _(exc.message))
                status = 409
            except ValidationError as exc:
                attach_errors(form, exc)
                status = 400
            except IntegrityError:
                form.add_error("code", _(DUPLICATE_CODE))
                status = 400
            else:
                if saved.version == project.version:
                    messages.info(request, _("没有需要保存的修改。"))
                else:
                    messages.success(request, _("项目信息已保存。"))
                return redirect("project-detail", pk=project.pk)
        else:
            status = 400
    ctx = {"nav": "projects", "form": form, "project": project}
    return render(request, "projects/project_form.html", ctx, status=status)


@project_page
@require_http_methods(["GET", "POST"])
def project_delete(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    project = access.get_project(user, pk)
    if not access.can_delete_project(user, project):
        raise PermissionDenied(_("您没有删除项目的权限。"))
    if request.method == "POST":
        name = project.name
        try:
            domain.delete_project(project, by=user)
        except (ProtectedError, IntegrityError):
            messages.error(request, _("该项目已有关联的业务数据，不能删除。"))
            return redirect("project-detail", pk=pk)
        messages.success(request, _("项目“%(name)s”已删除。") % {"name": name})
        return redirect(reverse("project-list"))
    ctx = _detail_context(request, project, "overview")
    return render(request, "projects/project_confirm_delete.html", ctx)
