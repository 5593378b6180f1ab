"""Pages for Excel in and out: the template download and upload page, the ledger and monthly-table exports.

The upload page shows the error list of a refused file and offers the same workbook with the bad cells
marked; the refused file and its errors are kept for a day under a random name in the (never served)
media storage, and only the session that uploaded them can fetch the marked copy.
"""

from __future__ import annotations

import datetime
import json
import secrets

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop
from django.views.decorators.http import require_http_methods

from keyprojects.org.models import Role, Unit
from keyprojects.progress import excel_import, rates
from keyprojects.progress.excel_common import XLSX_CONTENT_TYPE, last_month, month_refusal, xlsx_response
from keyprojects.progress.excel_export import export_filename, ledger_file, monthly_file
from keyprojects.projects.gates import scoped_page

ERROR_DIR = "excel-import"
SESSION_KEY = "excel_import_errors"
KEEP = datetime.timedelta(days=1)
SHOWN_ERRORS = 300


excel_page = scoped_page(gettext_noop("您的账号没有查看月报的权限。"))


def _months(today: datetime.date, count: int = 24) -> list[tuple[str, str]]:
    year, month = today.year, today.month
    out = []
    for _i in range(count):
        out.append((f"{year}-{month:02d}", f"{year}年{month}月"))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return out


class TemplateForm(forms.Form):
    period = forms.ChoiceField(label=gettext_lazy("月份"))
    unit = forms.ModelChoiceField(label=gettext_lazy("单位"), required=False, queryset=Unit.objects.none(),
                                  empty_label=gettext_lazy("本人可填报的全部项目"))  # fmt: skip

    def __init__(self, *args, user, today: datetime.date, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["period"].choices = _months(today)
        self.fields["period"].initial = "{}-{:02d}".format(*last_month(today))
        if user.has_role(Role.DISPATCHER):
            self.fields["unit"].queryset = Unit.objects.filter(is_active=True).exclude(kind=Unit.Kind.ENTERPRISE)
        elif user.unit_id and user.has_role(Role.UNIT_OFFICER):
            self.fields["unit"].queryset = Unit.objects.filter(path__startswith=user.unit.path, is_active=True)
        else:
            del self.fields["unit"]

    def month(self) -> tuple[int, int]:
        year, month = self.cleaned_data["period"].split("-")
        return int(year), int(month)


class UploadForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("填好的模板（.xlsx）"),
                           widget=forms.ClearableFileInput(attrs={"accept": ".xlsx"}))  # fmt: skip


def _store_refused(request: HttpRequest, data: bytes, errors: list[excel_import.CellError]) -> str:
    """Keep a refused file and its errors for the marked download; returns the token."""
    _cleanup()
    previous = request.session.get(SESSION_KEY)
    if previous:
        _delete(previous)
    token = secrets.token_hex(16)
    default_storage.save(f"{ERROR_DIR}/{token}.xlsx", ContentFile(data))
    payload = json.dumps([e.as_dict() for e in errors], ensure_ascii=False).encode()
    default_storage.save(f"{ERROR_DIR}/{token}.json", ContentFile(payload))
    request.session[SESSION_KEY] = token
    return token


def _delete(token: str) -> None:
    for suffix in ("xlsx", "json"):
        name = f"{ERROR_DIR}/{token}.{suffix}"
        if default_storage.exists(name):
            default_storage.delete(name)


def _cleanup() -> None:
    """Delete error reports older than a day (the directory does not exist before the first one)."""
    try:
        _dirs, files = default_storage.listdir(ERROR_DIR)
    except OSError:
        return
    cutoff = timezone.now() - KEEP
    for name in files:
        try:
            if default_storage.get_modified_time(f"{ERROR_DIR}/{name}") < cutoff:
                default_storage.delete(f"{ERROR_DIR}/{name}")
        except OSError:  # removed meanwhile by another request's clean-up
            continue


@excel_page
@require_http_methods(["GET", "HEAD", "POST"])
def report_excel(request: HttpRequest) -> HttpResponse:
    """Download the template; upload a filled one (all rows saved, or none with the error list)."""
    user = request.user
    today = timezone.localdate()
    may_file = excel_import.may_file(user)
    template_form = TemplateForm(user=user, today=today)
    upload_form = UploadForm()
    ctx = {"nav": "reports", "may_file": may_file, "template_form": template_form, "upload_form": upload_form,
           "limit_mb": excel_import.MAX_UPLOAD_BYTES // (1024 * 1024), "max_rows": excel_import.MAX_ROWS}  # fmt: skip
    if request.method == "POST":
        if not may_file:
            raise PermissionDenied(excel_import.FILING_REFUSAL)
        upload_form = UploadForm(request.POST, request.FILES)
        ctx["upload_form"] = upload_form
        if upload_form.is_valid():
            upload = upload_form.cleaned_data["file"]
            try:
                result = excel_import.import_reports(user, upload, filename=upload.name)
            except excel_import.ImportRefused as refused:
                ctx["errors"] = refused.errors[:SHOWN_ERRORS]
                ctx["error_count"] = len(refused.errors)
                if refused.markable:
                    ctx["token"] = _store_refused(request, excel_import.read_upload(upload), refused.errors)
                return render(request, "progress/excel/import.html", ctx, status=422)
            parts = [_("%(year)s年%(month)s月月报导入成功：提交 %(n)s 份") % {
                "year": result.year, "month": result.month, "n": result.submitted}]  # fmt: skip
            if result.unchanged:
                parts.append(_("已提交未改动 %(n)s 行") % {"n": result.unchanged})
            if result.skipped:
                parts.append(_("未填写 %(n)s 行") % {"n": result.skipped})
            if result.flagged:
                parts.append(_("其中 %(n)s 份有异常提示，已附情况说明") % {"n": result.flagged})
            messages.success(request, "，".join(parts) + "。")
            if result.late:
                messages.warning(request, _("已过报送截止日，本次提交的月报记为迟报。"))
            return redirect("report-excel")
    return render(request, "progress/excel/import.html", ctx)


@excel_page
@require_http_methods(["GET", "HEAD"])
def report_template(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not excel_import.may_file(user):
        raise PermissionDenied(excel_import.FILING_REFUSAL)
    form = TemplateForm(request.GET, user=user, today=timezone.localdate())
    if not form.is_valid():
        messages.error(request, _("请选择有效的月份和单位。"))
        return redirect("report-excel")
    year, month = form.month()
    message = excel_import.template_refusal(user, year, month)
    if message:
        messages.error(request, message)
        return redirect("report-excel")
    unit = form.cleaned_data.get("unit")
    data = excel_import.build_template(user, year, month, unit=unit)
    response = HttpResponse(data, content_type=XLSX_CONTENT_TYPE)
    filename = excel_import.template_filename(year, month, unit or (user.unit if user.unit_id else None))
    response["Content-Disposition"] = content_disposition_header(True, filename)
    response["Cache-Control"] = "no-store"
    return response


@excel_page
@require_http_methods(["GET", "HEAD"])
def report_import_errors(request: HttpRequest, token: str) -> HttpResponse:
    """The last refused upload of this session, with its bad cells marked."""
    if not token.isalnum() or request.session.get(SESSION_KEY) != token:
        raise Http404(_("文件不存在或已过期，请重新上传。"))
    try:
        with default_storage.open(f"{ERROR_DIR}/{token}.xlsx") as f:
            data = f.read()
        with default_storage.open(f"{ERROR_DIR}/{token}.json") as f:
            items = json.loads(f.read())
    except (FileNotFoundError, OSError, ValueError):
        raise Http404(_("文件不存在或已过期，请重新上传。")) from None
    errors = [excel_import.CellError(i["message"], sheet=i["sheet"], row=i["row"], column=i["column"],
                                     header=i.get("header", "")) for i in items]  # fmt: skip
    response = HttpResponse(excel_import.marked_workbook(data, errors), content_type=XLSX_CONTENT_TYPE)
    response["Content-Disposition"] = content_disposition_header(True, "月报导入错误标注.xlsx")
    response["Cache-Control"] = "no-store"
    return response


def _export_month(request: HttpRequest) -> tuple[int, int] | None:
    default = last_month()
    try:
        year = int(request.GET.get("year") or default[0])
        month = int(request.GET.get("month") or default[1])
    except (TypeError, ValueError):
        return None
    if month_refusal(year, month):
        return None
    return year, month


@excel_page
@require_http_methods(["GET", "HEAD"])
def project_export(request: HttpRequest) -> HttpResponse:
    """The ledger with the list page's filters (the query string of /projects/), for year/month."""
    period = _export_month(request)
    if period is None:
        messages.error(request, _("请选择有效的年份和月份。"))
        return redirect("project-list")
    out = ledger_file(request.user, request.GET, *period)
    return xlsx_response(out, export_filename("项目台账", *period))


@excel_page
@require_http_methods(["GET", "HEAD"])
def report_month_export(request: HttpRequest) -> HttpResponse:
    """The monthly table: completion roll-up by `group_by` plus the projects, with the list filters."""
    period = _export_month(request)
    group_by = request.GET.get("group_by") or "unit"
    if period is None or group_by not in rates.GROUPINGS:
        messages.error(request, _("请选择有效的年份、月份和汇总方式。"))
        return redirect("report-excel")
    out = monthly_file(request.user, request.GET, *period, group_by)
    return xlsx_response(out, export_filename("月报表", *period))
