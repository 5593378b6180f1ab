"""Pages of the rhythm's documents: the archive, making a draft, a document (commentary, issue, downloads).

Bulletins are fetched only through `bulletins.access` (no access 403; a draft is invisible to readers,
404; changing needs 调度员 or 领导, 403). Every change goes through `bulletins.domain`, which validates,
refuses anything on an issued document and writes the audit trail.
"""

from __future__ import annotations

import base64
import functools
import io

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from keyprojects.audit.models import AuditRecord
from keyprojects.audit.trail import security_event
from keyprojects.bulletins import access, domain, files
from keyprojects.bulletins.charts import bar_chart
from keyprojects.bulletins.forms import BulletinFilter, CommentaryForm, CreateForm, MeetingForm
from keyprojects.bulletins.models import Bulletin, Kind
from keyprojects.bulletins.outline import outline
from keyprojects.projects.forms import attach_errors

PER_PAGE = 50


def reader_page(view):
    """Signed-in users who may read bulletins (调度员, 领导, 责任单位经办人); others get 403."""

    @login_required
    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        access.ensure_reader(request.user)
        return view(request, *args, **kwargs)

    return wrapper


@reader_page
@require_http_methods(["GET", "HEAD"])
def bulletin_list(request: HttpRequest) -> HttpResponse:
    form = BulletinFilter(request.GET or None)
    bulletins = access.visible_bulletins(request.user)
    if form.is_bound and form.is_valid():
        bulletins = form.filter(bulletins)
    rows = bulletins.only("pk", "kind", "as_of", "title", "status", "document_number", "issued_at", "period_start",
                          "period_end").order_by("-as_of", "-id")  # fmt: skip
    page = Paginator(rows, PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "bulletins/list.html", {
        "nav": "bulletins", "form": form, "page": page, "query": query.urlencode(),
        "page_range": page.paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1),
        "can_manage": access.can_manage(request.user), "kinds": Kind.choices,
    })  # fmt: skip


@reader_page
@require_http_methods(["GET", "POST"])
def bulletin_create(request: HttpRequest) -> HttpResponse:
    access.ensure_manager(request.user)
    form = CreateForm(request.POST or None, initial={"kind": request.GET.get("kind", Kind.MONTHLY)})
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                bulletin = domain.create_draft(kind=form.cleaned_data["kind"], as_of=form.cleaned_data["as_of"],
                                               by=request.user)  # fmt: skip
            except ValidationError as exc:
                attach_errors(form, exc)
            else:
                messages.success(request, _("草稿已生成，数据为此刻的快照。"))
                return redirect("bulletin-detail", pk=bulletin.pk)
        status = 400
    return render(request, "bulletins/create.html", {"nav": "bulletins", "form": form}, status=status)


def _page_outline(bulletin: Bulletin):
    """The outline with each chart as a PNG data URI (drawn offline, like in the Word document)."""
    doc = outline(bulletin)
    for s in doc.sections:
        if s.chart:
            png, _named = bar_chart(s.chart)
            s.chart_uri = "data:image/png;base64," + base64.b64encode(png).decode()
    return doc


def _detail_context(request: HttpRequest, bulletin: Bulletin, **extra) -> dict:
    manage = access.can_manage(request.user)
    ctx = {
        "nav": "bulletins", "bulletin": bulletin, "outline": _page_outline(bulletin), "can_manage": manage,
        "editable": manage and not bulletin.issued,
    }  # fmt: skip
    if ctx["editable"] and "form" not in extra:
        initial = {"version": bulletin.version, **(bulletin.commentary or {})}
        ctx["form"] = CommentaryForm(initial=initial, kind=bulletin.kind)
    if ctx["editable"] and bulletin.kind == Kind.WEEKLY and not bulletin.meeting_id and "meeting_form" not in extra:
        ctx["meeting_form"] = MeetingForm(initial={"held_on": bulletin.as_of})
    ctx.update(extra)
    return ctx


@reader_page
@require_http_methods(["GET", "HEAD", "POST"])
def bulletin_detail(request: HttpRequest, pk: int) -> HttpResponse:
    bulletin = access.get_bulletin(request.user, pk, write=request.method == "POST")
    if request.method == "POST":
        form = CommentaryForm(request.POST, kind=bulletin.kind)
        if form.is_valid():
            try:
                domain.update_commentary(bulletin, by=request.user, commentary=form.commentary(),
                                         expected_version=form.cleaned_data["version"])  # fmt: skip
            except domain.BulletinConflict as exc:
                form.add_error(None, exc.message)
            except ValidationError as exc:
                if getattr(exc, "code", None) == "invalid_state":
                    messages.error(request, exc.messages[0])
                    return redirect("bulletin-detail", pk=bulletin.pk)
                attach_errors(form, exc)
            else:
                messages.success(request, _("点评内容已保存。"))
                return redirect("bulletin-detail", pk=bulletin.pk)
        return render(request, "bulletins/detail.html", _detail_context(request, bulletin, form=form), status=400)
    return render(request, "bulletins/detail.html", _detail_context(request, bulletin))


@reader_page
@require_POST
def bulletin_issue(request: HttpRequest, pk: int) -> HttpResponse:
    bulletin = access.get_bulletin(request.user, pk, write=True)
    try:
        version = int(request.POST.get("version", ""))
    except ValueError:
        version = None
    try:
        domain.issue(bulletin, by=request.user, expected_version=version)
    except domain.BulletinConflict as exc:
        messages.error(request, exc.message)
    except ValidationError as exc:
        messages.error(request, exc.messages[0])
    else:
        messages.success(request, _("已印发：%(number)s。") % {"number": bulletin.document_number})
    return redirect("bulletin-detail", pk=bulletin.pk)


@reader_page
@require_POST
def bulletin_meeting(request: HttpRequest, pk: int) -> HttpResponse:
    bulletin = access.get_bulletin(request.user, pk, write=True)
    form = MeetingForm(request.POST)
    if form.is_valid():
        try:
            domain.record_meeting(bulletin, by=request.user, chair=form.cleaned_data["chair"],
                                  held_on=form.cleaned_data["held_on"])  # fmt: skip
        except ValidationError as exc:
            messages.error(request, "；".join(exc.messages))
        else:
            messages.success(request, _("已生成会议记录。"))
            return redirect("bulletin-detail", pk=bulletin.pk)
        return redirect("bulletin-detail", pk=bulletin.pk)
    return render(request, "bulletins/detail.html", _detail_context(request, bulletin, meeting_form=form), status=400)


@reader_page
@require_http_methods(["GET", "HEAD"])
def bulletin_print(request: HttpRequest, pk: int) -> HttpResponse:
    bulletin = access.get_bulletin(request.user, pk)
    return render(request, "bulletins/print.html", {"bulletin": bulletin, "outline": _page_outline(bulletin)})


def _download(request: HttpRequest, bulletin: Bulletin, data: bytes, ext: str, content_type: str) -> FileResponse:
    security_event(action=AuditRecord.Action.DOWNLOAD, actor=request.user, object_type="bulletin",
                   object_id=str(bulletin.pk), object_repr=bulletin.title, reason=ext)  # fmt: skip
    response = FileResponse(io.BytesIO(data), as_attachment=True, filename=files.filename(bulletin, ext),
                            content_type=content_type)  # fmt: skip
    response["Cache-Control"] = "no-store"
    return response


@reader_page
@require_http_methods(["GET", "HEAD"])
def bulletin_docx(request: HttpRequest, pk: int) -> HttpResponse:
    bulletin = access.get_bulletin(request.user, pk)
    return _download(request, bulletin, files.docx_bytes(bulletin), "docx", files.DOCX_CONTENT_TYPE)


@reader_page
@require_http_methods(["GET", "HEAD"])
def bulletin_xlsx(request: HttpRequest, pk: int) -> HttpResponse:
    bulletin = access.get_bulletin(request.user, pk)
    return _download(request, bulletin, files.xlsx_bytes(bulletin), "xlsx", files.XLSX_CONTENT_TYPE)
