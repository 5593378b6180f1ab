"""One monthly report: filing (new report, edit, photos) and /reports/<id>/ with its workflow actions
(submit, return, review, confirm, delete).
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from keyprojects.progress import access, domain
from keyprojects.progress.forms import (
    NewReportForm,
    PhotoForm,
    ReportForm,
    ReturnForm,
    SubmitForm,
    VersionForm,
    last_month,
)
from keyprojects.progress.models import (
    COUNTED_STATUSES,
    EDITABLE_STATUSES,
    MonthlyReport,
    ProgressSettings,
    ReportPhoto,
    ReportStatus,
)
from keyprojects.progress.views.common import (
    STATUS_BADGES,
    _detail_context,
    _error_status,
    _percent,
    _plans_in_force,
    _today,
    report_page,
    restated_fields,
    restatement_lines,
)
from keyprojects.projects import access as project_access
from keyprojects.projects.forms import attach_errors
from keyprojects.projects.models import Project

# ---------------------------------------------------------------------------------------------
# Filing: new report, edit, photos


def _may_file(user, project: Project, report: MonthlyReport | None = None) -> None:
    refusal = access.filing_refusal(user, project, report)
    if refusal:
        raise PermissionDenied(refusal)


@report_page
@require_http_methods(["GET", "POST"])
def report_create(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    today = _today()
    project = project_access.get_project(user, pk)
    _may_file(user, project)
    initial_year, initial_month = last_month(today)
    try:
        asked_year, asked_month = (
            int(request.GET.get("year", initial_year)),
            int(request.GET.get("month", initial_month)),
        )
    except ValueError:
        pass
    else:
        # Only a plausible month preselects the form (an absurd one would overflow the database lookup).
        if 2000 <= asked_year <= 2100 and 1 <= asked_month <= 12:
            initial_year, initial_month = asked_year, asked_month
    if request.method == "GET":
        existing = MonthlyReport.objects.filter(project=project, year=initial_year, month=initial_month).first()
        if existing:
            messages.info(request, _("该月的月报已存在，已为您打开。"))
            return redirect("report-detail", pk=existing.pk)
    form = NewReportForm(request.POST or None, today=today, initial={"year": initial_year, "month": initial_month})
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                report = domain.create_report(
                    project, by=user, year=form.cleaned_data["year"], month=form.cleaned_data["month"],
                    data=form.domain_data(),
                )  # fmt: skip
            except ValidationError as exc:
                attach_errors(form, exc)
            else:
                messages.success(request, _("月报草稿已保存。请核对后添加照片并提交。"))
                return redirect("report-detail", pk=report.pk)
    ctx = _detail_context(request, project)
    ctx.update(form=form, report=None, on_behalf=not access.is_company_reporter(user, project))
    return render(request, "progress/report_form.html", ctx, status=status)


@report_page
@require_http_methods(["GET", "POST"])
def report_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    report = access.get_report(user, pk)
    project = report.project
    _may_file(user, project, report)
    if report.status not in EDITABLE_STATUSES:
        messages.error(request, _("只有草稿和退回的月报可以修改。"))
        return redirect("report-detail", pk=report.pk)
    form = ReportForm(request.POST or None, report=report)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                domain.update_report(report, by=user, data=form.domain_data(),
                                     expected_version=form.cleaned_data.get("version"))  # fmt: skip
            except domain.ConflictError as exc:
                form.add_error(None, _(exc.message))
                status = 409
            except ValidationError as exc:
                attach_errors(form, exc)
                status = _error_status(exc)
            else:
                messages.success(request, _("月报已保存。"))
                return redirect("report-detail", pk=report.pk)
    ctx = _detail_context(request, project)
    ctx.update(form=form, report=report, on_behalf=report.on_behalf)
    return render(request, "progress/report_form.html", ctx, status=status)


@report_page
@require_POST
def photo_add(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    report = access.get_report(user, pk)
    _may_file(user, report.project, report)
    form = PhotoForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            domain.add_photo(report, by=user, upload=form.cleaned_data["photo"], caption=form.cleaned_data["caption"])
        except ValidationError as exc:
            attach_errors(form, exc)
            return _render_detail(request, report, {"photo": form}, status=_error_status(exc))
        messages.success(request, _("照片已上传。"))
        return redirect(f"{reverse('report-detail', args=[report.pk])}#photos")
    return _render_detail(request, report, {"photo": form}, status=400)


@report_page
@require_POST
def photo_delete(request: HttpRequest, pk: int, photo_pk: int) -> HttpResponse:
    user = request.user
    report = access.get_report(user, pk)
    photo = _get_photo(report, photo_pk)
    try:
        domain.remove_photo(photo, by=user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("report-detail", pk=report.pk)
    messages.success(request, _("照片已删除。"))
    return redirect(f"{reverse('report-detail', args=[report.pk])}#photos")


def _get_photo(report: MonthlyReport, photo_pk) -> ReportPhoto:
    try:
        return report.photos.get(pk=int(photo_pk))
    except (ReportPhoto.DoesNotExist, ValueError, TypeError, OverflowError):
        raise Http404(_("照片不存在。")) from None


@report_page
@require_http_methods(["GET", "HEAD"])
def photo_file(request: HttpRequest, pk: int, photo_pk: int) -> FileResponse:
    """Stream a site photo to someone who may see the report; never served by path."""
    report = access.get_report(request.user, pk)
    photo = _get_photo(report, photo_pk)
    try:
        handle = photo.file.open("rb")
    except (FileNotFoundError, OSError):
        raise Http404(_("文件不存在。")) from None
    suffix = "png" if photo.content_type == "image/png" else "jpg"
    response = FileResponse(handle, content_type=photo.content_type, filename=f"photo-{photo.pk}.{suffix}")
    response["Cache-Control"] = "private, max-age=3600"
    return response


# ---------------------------------------------------------------------------------------------
# /reports/<id>/ and its workflow actions


ACTION_FORMS = {
    "submit": SubmitForm,
    "return": ReturnForm,
    "review": VersionForm,
    "confirm": VersionForm,
    "delete": VersionForm,
}
ACTION_MESSAGES = {
    "submit": gettext_lazy("月报已提交，等待责任单位审核。"),
    "return": gettext_lazy("月报已退回企业。"),
    "review": gettext_lazy("月报已审核，等待项目服务中心确认。"),
    "confirm": gettext_lazy("月报已确认。"),
}


def _actions(user, report: MonthlyReport, locked: bool) -> dict[str, bool]:
    project = report.project
    filer = access.filing_refusal(user, project, report) is None
    returnable = [ReportStatus.SUBMITTED, ReportStatus.REVIEWED]
    if access.is_dispatcher(user):
        returnable.append(ReportStatus.CONFIRMED)
    editable = report.status in EDITABLE_STATUSES and not locked
    return {
        "edit": filer and editable,
        "submit": filer and editable,
        "delete": filer and report.status == ReportStatus.DRAFT and not report.submission_hash and not locked,
        "return": access.return_refusal(user, report) is None and report.status in returnable and not locked,
        "review": access.review_refusal(user, report) is None and report.status == ReportStatus.SUBMITTED,
        "confirm": access.confirm_refusal(user) is None and report.status == ReportStatus.REVIEWED,
        "restate": access.is_dispatcher(user) and report.status == ReportStatus.CONFIRMED and locked,
    }


def _render_detail(request: HttpRequest, report: MonthlyReport, forms: dict | None = None, status: int = 200,
                   warnings: list | None = None) -> HttpResponse:  # fmt: skip
    user = request.user
    project = report.project
    locked = domain.is_locked(report.year, report.month)
    actions = _actions(user, report, locked)
    forms = dict(forms or {})
    for name in ("submit", "return", "review", "confirm", "delete"):
        if actions[name] and name not in forms:
            forms[name] = ACTION_FORMS[name](report=report, auto_id=f"id_{name}_%s")
    if actions["edit"] and "photo" not in forms:
        forms["photo"] = PhotoForm()
    check_errors, check_warnings = {}, []
    if actions["submit"]:
        check_errors, check_warnings = domain.check_report(report)
    if warnings is not None:
        check_warnings = warnings
    restatements = list(report.restatements.select_related("restated_by").order_by("id"))
    plan = _plans_in_force([project.pk], report.year, report.month).get(project.pk)
    planned = plan["_planned"] if plan else None
    ytd = report.ytd_investment if report.status in COUNTED_STATUSES else None
    settings = ProgressSettings.load()
    due = domain.due_date(report.year, report.month, settings)
    ctx = _detail_context(request, project)
    ctx.update(
        report=report,
        badge=STATUS_BADGES.get(report.status),
        locked=locked,
        actions=actions,
        forms=forms,
        check_errors=[m for messages_ in check_errors.values() for m in messages_],
        check_warnings=check_warnings,
        restatements=restatement_lines(restatements),
        restated=restated_fields(restatements),
        photos=list(report.photos.all()),
        planned=planned,
        original_planned=plan["original_planned_investment"] if plan else None,
        rate=_percent(ytd / planned) if ytd is not None and planned else "—",
        due=due,
        overdue=report.status in EDITABLE_STATUSES and _today() > due and not locked,
        adjusted_by=report.totals_adjusted_by,
        people=report,
        settings=settings,
    )
    return render(request, "progress/report_detail.html", ctx, status=status)


@report_page
@require_http_methods(["GET", "HEAD"])
def report_detail(request: HttpRequest, pk: int) -> HttpResponse:
    report = access.get_report(request.user, pk)
    return _render_detail(request, report)


@report_page
@require_POST
def report_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """submit / return / review / confirm / delete: the figures are never taken from this request."""
    user = request.user
    report = access.get_report(user, pk)
    form = ACTION_FORMS[action](request.POST, report=report, auto_id=f"id_{action}_%s")
    if not form.is_valid():
        return _render_detail(request, report, {action: form}, status=400)
    version = form.cleaned_data.get("version")
    warnings = None
    try:
        if action == "submit":
            domain.submit(report, by=user, explanation=form.cleaned_data["explanation"], expected_version=version)
        elif action == "return":
            domain.return_report(report, by=user, reason=form.cleaned_data["reason"], expected_version=version)
        elif action == "review":
            domain.review(report, by=user, expected_version=version)
        elif action == "confirm":
            domain.confirm(report, by=user, expected_version=version)
        else:
            project_pk = report.project_id
            domain.delete_draft(report, by=user, expected_version=version)
            messages.success(request, _("草稿已删除。"))
            return redirect("project-reports", pk=project_pk)
    except domain.ConflictError as exc:
        form.add_error(None, _(exc.message))
        status = 409
    except ValidationError as exc:
        warnings = getattr(exc, "warnings", None)
        attach_errors(form, exc)
        status = _error_status(exc)
    else:
        messages.success(request, ACTION_MESSAGES[action])
        return redirect("report-detail", pk=report.pk)
    report = access.get_report(user, pk)  # as saved: nothing changed
    return _render_detail(request, report, {action: form}, status=status, warnings=warnings)
