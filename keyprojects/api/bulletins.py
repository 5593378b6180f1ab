"""The rhythm's documents over the API: list, make a draft, read its figures, edit its commentary,
issue it, and download it as Word or Excel.

Access is `keyprojects.bulletins.access`: 调度员 and 领导 make, edit and issue and see drafts;
责任单位经办人 read issued documents (a draft is 404 to them); everyone else 403. An issued document
refuses every change (409, "该文件已印发归档…"), a second draft of the same kind and date is 422
(`as_of`), a stale `version` is 409; the one error shape of `keyprojects.api.errors`.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.utils.http import content_disposition_header
from ninja import Query, Router, Schema
from ninja import Status as Answer
from ninja.errors import HttpError
from pydantic import ConfigDict, Field

from keyprojects.api.errors import ApiValidationError, domain_refusal, error_item
from keyprojects.api.schemas import Choice, Day, Id, Message, Text, ValidationErrors
from keyprojects.audit.models import AuditRecord
from keyprojects.audit.trail import security_event
from keyprojects.bulletins import access, domain, files
from keyprojects.bulletins.models import Bulletin, Kind, Status
from keyprojects.lib.choices import choice_label
from keyprojects.lib.pagination import window

router = Router(tags=["通报文件"])


class BulletinOut(Schema):
    id: int
    kind: str = Field(description="daily 日通报 / weekly 周调度 / monthly 月点评 / quarterly 季度观摩 / "
                                  "half_year 半年考评 / annual 年底总评")  # fmt: skip
    kind_label: str
    as_of: datetime.date = Field(description="截至日期")
    period_start: datetime.date
    period_end: datetime.date
    title: str
    status: str = Field(description="draft 草稿 / issued 已印发")
    status_label: str
    document_number: str = Field(description="文号（印发后）")
    issued_at: datetime.datetime | None
    content_hash: str = Field(description="印发时数据与点评内容规范 JSON 的 SHA-256")
    version: int


class BulletinDetail(BulletinOut):
    issuing_body: str
    snapshot_at: datetime.datetime = Field(description="数据快照时间")
    figures: dict[str, Any] = Field(description="数据快照（金额、比率为字符串）")
    commentary: dict[str, str] = Field(description="点评内容，按部分")
    meeting: int | None = Field(description="周调度：生成的会议记录 id")


class BulletinPage(Schema):
    count: int
    items: list[BulletinOut]


class BulletinListQuery(Schema):
    kind: str | None = Field(None, description="类型", json_schema_extra={"enum": ["", *Kind.values]})
    date: datetime.date | None = Field(None, description="截至日期（精确匹配）")
    limit: int = Field(25, ge=1, le=100, description="每页条数，默认25，最多100。")
    offset: int = Field(0, ge=0, le=1_000_000_000, description="跳过的条数。")


class _Input(Schema):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class BulletinCreate(_Input):
    """生成草稿：按截至日期此刻的数据拍快照。"""

    kind: Choice(Kind) = Field(description="类型")
    as_of: Day = Field(description="截至日期，不晚于今天")


class BulletinPatch(_Input):
    commentary: dict[str, Text | None] = Field(description="要修改的点评部分（键见 GET 的 commentary）")
    version: Id | None = Field(None, description="读取时的版本号；已被他人修改时返回 409")


class IssueIn(_Input):
    version: Id | None = Field(None, description="读取时的版本号")


def bulletin_item(b: Bulletin) -> dict[str, Any]:
    return {
        "id": b.pk, "kind": b.kind, "kind_label": choice_label(Kind, b.kind), "as_of": b.as_of,
        "period_start": b.period_start, "period_end": b.period_end, "title": b.title, "status": b.status,
        "status_label": choice_label(Status, b.status), "document_number": b.document_number,
        "issued_at": b.issued_at, "content_hash": b.content_hash, "version": b.version,
    }  # fmt: skip


def bulletin_detail(b: Bulletin) -> dict[str, Any]:
    return {
        **bulletin_item(b), "issuing_body": b.issuing_body, "snapshot_at": b.snapshot_at, "figures": b.figures,
        "commentary": {k: str(v) for k, v in (b.commentary or {}).items()}, "meeting": b.meeting_id,
    }  # fmt: skip


def _act(fn, *args, **kwargs):
    """Call a domain function: an issued document or a stale version is 409, invalid values 422."""
    try:
        return fn(*args, **kwargs)
    except domain.BulletinConflict as exc:
        raise HttpError(409, exc.message) from None
    except ValidationError as exc:
        raise domain_refusal(exc, names={}) from None


ANSWERS = {200: BulletinDetail, 401: Message, 403: Message, 404: Message, 409: Message, 422: ValidationErrors}


@router.get(
    "/bulletins",
    response={200: BulletinPage, 401: Message, 403: Message, 422: ValidationErrors},
    summary="通报文件列表",
    operation_id="list_bulletins",
)
def list_bulletins(request, params: Query[BulletinListQuery]):
    """本人可读的通报文件（调度员、领导含草稿），按截至日期从新到旧。"""
    user = request.auth
    access.ensure_reader(user)
    if params.kind and params.kind not in Kind.values:
        raise ApiValidationError([error_item(["query", "kind"], "无效的类型。")])
    qs = access.visible_bulletins(user).order_by("-as_of", "-id")
    if params.kind:
        qs = qs.filter(kind=params.kind)
    if params.date:
        qs = qs.filter(as_of=params.date)
    count = qs.count()
    rows = window(qs, params.offset, params.limit) if count > params.offset else []
    return {"count": count, "items": [bulletin_item(b) for b in rows]}


@router.post(
    "/bulletins",
    response={201: BulletinDetail, 400: Message, 401: Message, 403: Message, 422: ValidationErrors},
    summary="生成通报草稿",
    operation_id="create_bulletin",
)
def create_bulletin(request, payload: BulletinCreate):
    """调度员、领导。按截至日期拍数据快照生成草稿；同类型同日期已有文件：422（`as_of`）。"""
    user = request.auth
    access.ensure_manager(user)
    bulletin = _act(domain.create_draft, kind=payload.kind, as_of=payload.as_of, by=user)
    return Answer(201, bulletin_detail(bulletin))


@router.get("/bulletins/{bulletin_id}", response=ANSWERS, summary="通报文件（数据快照）", operation_id="get_bulletin")
def get_bulletin(request, bulletin_id: int):
    return bulletin_detail(access.get_bulletin(request.auth, bulletin_id))


@router.patch(
    "/bulletins/{bulletin_id}", response={**ANSWERS, 400: Message}, summary="修改点评内容",
    operation_id="update_bulletin",
)  # fmt: skip
def update_bulletin(request, bulletin_id: int, payload: BulletinPatch):
    """草稿的点评内容；数据快照不能修改。已印发：409。"""
    user = request.auth
    bulletin = access.get_bulletin(user, bulletin_id, write=True)
    _act(domain.update_commentary, bulletin, by=user, commentary=payload.commentary, expected_version=payload.version)
    return bulletin_detail(bulletin)


@router.post(
    "/bulletins/{bulletin_id}/issue", response={**ANSWERS, 400: Message}, summary="印发",
    operation_id="issue_bulletin",
)  # fmt: skip
def issue_bulletin(request, bulletin_id: int, payload: IssueIn | None = None):
    """编文号、归档并计算内容摘要；已印发的文件再次印发：409。"""
    user = request.auth
    bulletin = access.get_bulletin(user, bulletin_id, write=True)
    _act(domain.issue, bulletin, by=user, expected_version=payload.version if payload else None)
    return bulletin_detail(bulletin)


def _file(request, bulletin: Bulletin, data: bytes, ext: str, content_type: str) -> HttpResponse:
    security_event(action=AuditRecord.Action.DOWNLOAD, actor=request.auth, object_type="bulletin",
                   object_id=str(bulletin.pk), object_repr=bulletin.title, reason=ext)  # fmt: skip
    response = HttpResponse(data, content_type=content_type)
    response["Content-Disposition"] = content_disposition_header(True, files.filename(bulletin, ext))
    response["Cache-Control"] = "no-store"
    return response


FILE_ANSWERS = {401: Message, 403: Message, 404: Message, 422: ValidationErrors}


@router.get(
    "/bulletins/{bulletin_id}/document.docx", response=FILE_ANSWERS, summary="下载 Word 文件",
    operation_id="bulletin_docx",
    openapi_extra={"responses": {"200": {"description": "公文格式的 Word 文件",
                                         "content": {files.DOCX_CONTENT_TYPE: {}}}}},
)  # fmt: skip
def bulletin_docx(request, bulletin_id: int):
    bulletin = access.get_bulletin(request.auth, bulletin_id)
    return _file(request, bulletin, files.docx_bytes(bulletin), "docx", files.DOCX_CONTENT_TYPE)


@router.get(
    "/bulletins/{bulletin_id}/document.xlsx", response=FILE_ANSWERS, summary="下载 Excel 表格",
    operation_id="bulletin_xlsx",
    openapi_extra={"responses": {"200": {"description": "文件中的表格", "content": {files.XLSX_CONTENT_TYPE: {}}}}},
)  # fmt: skip
def bulletin_xlsx(request, bulletin_id: int):
    bulletin = access.get_bulletin(request.auth, bulletin_id)
    return _file(request, bulletin, files.xlsx_bytes(bulletin), "xlsx", files.XLSX_CONTENT_TYPE)
