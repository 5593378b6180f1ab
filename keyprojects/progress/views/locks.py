"""Closed months: the restatement (更正) of a locked report and /reports/locks/ (closing months, and
what still waits for confirmation).
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from keyprojects.progress import access, domain
from keyprojects.progress.forms import LockForm, RestateForm, last_month
from keyprojects.progress.models import MonthLock, MonthlyReport, ReportStatus, period_month, period_of
from keyprojects.progress.views.common import _detail_context, _error_status, _today, report_page, restatement_lines
from keyprojects.projects.forms import attach_errors


@report_page
@require_http_methods(["GET", "POST"])
def report_restate(request: HttpRequest, pk: int) -> HttpResponse:
    """The service center corrects a closed report: new figures, a reason, old values kept."""
    user = request.user
    report = access.get_report(user, pk)
    refusal = access.center_refusal(user, "更正已锁定的月报")
    if refusal:
        raise PermissionDenied(refusal)
    restatable = report.status == ReportStatus.CONFIRMED and domain.is_locked(report.year, report.month)
    form = RestateForm(request.POST or None, report=report)
    status = 200 if restatable else 409
    if request.method == "POST" and restatable:
        status = 400
        if form.is_valid():
            try:
                domain.restate(report, by=user, changes=form.changes(), reason=form.cleaned_data["reason"],
                               expected_version=form.cleaned_data.get("version"))  # fmt: skip
            except domain.ConflictError as exc:
                form.add_error(None, _(exc.message))
                status = 409
            except ValidationError as exc:
                attach_errors(form, exc)
                status = _error_status(exc)
            else:
                messages.success(request, _("更正已保存，原数据和更正记录均已保留。"))
                return redirect("report-detail", pk=report.pk)
    restatements = list(report.restatements.select_related("restated_by").order_by("id"))
    ctx = _detail_context(request, report.project)
    ctx.update(report=report, form=form, restatable=restatable, restatements=restatement_lines(restatements))
    return render(request, "progress/restate_form.html", ctx, status=status)


# ---------------------------------------------------------------------------------------------
# /reports/locks/


@report_page
@require_http_methods(["GET", "HEAD", "POST"])
def month_locks(request: HttpRequest) -> HttpResponse:
    user = request.user
    refusal = access.center_refusal(user, "锁定月份")
    if refusal:
        raise PermissionDenied(refusal)
    today = _today()
    form = LockForm(request.POST or None, today=today)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            year, month = form.cleaned_data["year"], form.cleaned_data["month"]
            try:
                domain.lock_month(year, month, by=user, note=form.cleaned_data["note"])
            except ValidationError as exc:
                attach_errors(form, exc)
                status = _error_status(exc)
            else:
                messages.success(request, _("已锁定至%(y)s年%(m)s月。") % {"y": year, "m": month})
                return redirect("month-locks")
    through = domain.locked_through()
    locks = list(MonthLock.objects.select_related("locked_by").order_by("-period")[:60])
    # What still waits for confirmation in the open months up to last month.
    last = period_of(*last_month(today))
    opened = Q(period__lte=last) if through is None else Q(period__gt=through, period__lte=last)
    pending = list(
        MonthlyReport.objects.filter(opened)
        .values("year", "month")
        .annotate(
            waiting=Count("pk", filter=Q(status__in=[ReportStatus.SUBMITTED, ReportStatus.REVIEWED,
                                                     ReportStatus.RETURNED])),
            confirmed=Count("pk", filter=Q(status=ReportStatus.CONFIRMED)),
            drafts=Count("pk", filter=Q(status=ReportStatus.DRAFT)),
        )
        .order_by("-year", "-month")[:24]
    )  # fmt: skip
    ctx = {
        "nav": "reports",
        "form": form,
        "locks": locks,
        "through": period_month(through) if through is not None else None,
        "pending": pending,
    }
    return render(request, "progress/locks.html", ctx, status=status)
