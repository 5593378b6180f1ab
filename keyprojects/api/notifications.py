"""The user's own inbox (站内消息) over the API: list with the unread count, mark read."""

from __future__ import annotations

import datetime

from django.utils.translation import gettext as _
from ninja import Query, Router, Schema
from pydantic import ConfigDict, Field

from keyprojects.api.errors import ApiValidationError, error_item
from keyprojects.api.schemas import Id, Message, ValidationErrors
from keyprojects.lib.pagination import window
from keyprojects.notify import delivery

router = Router(tags=["消息"])


class NotificationOut(Schema):
    id: int
    title: str
    body: str
    link: str = Field(description="相关页面的路径，如 /problems/12/")
    object_type: str
    object_id: str
    created_at: datetime.datetime
    read: bool
    read_at: datetime.datetime | None


class NotificationPage(Schema):
    count: int = Field(description="符合条件的消息数")
    unread: int = Field(description="未读消息数")
    items: list[NotificationOut]


class NotificationQuery(Schema):
    unread: bool | None = Field(None, description="只看未读")
    limit: int = Field(25, ge=1, le=100, description="每页条数，默认25，最多100。")
    offset: int = Field(0, ge=0, le=1_000_000_000, description="跳过的条数。")


class MarkReadIn(Schema):
    model_config = ConfigDict(extra="forbid")

    ids: list[Id] | None = Field(None, description="要标为已读的消息 id（只影响本人的消息）")
    all: bool = Field(False, description="true：全部标为已读")


class MarkReadOut(Schema):
    marked: int = Field(description="本次标为已读的条数")
    unread: int = Field(description="剩余未读条数")


def _item(n) -> dict:
    return {
        "id": n.pk, "title": n.title, "body": n.body, "link": n.link, "object_type": n.object_type,
        "object_id": n.object_id, "created_at": n.created_at, "read": n.read_at is not None, "read_at": n.read_at,
    }  # fmt: skip


@router.get(
    "/notifications",
    response={200: NotificationPage, 401: Message, 422: ValidationErrors},
    summary="我的消息",
    operation_id="list_notifications",
)
def list_notifications(request, params: Query[NotificationQuery]):
    """本人的站内消息，新的在前，附未读数。"""
    user = request.auth
    rows = delivery.inbox(user)
    if params.unread:
        rows = rows.filter(read_at__isnull=True)
    count = rows.count()
    items = window(rows, params.offset, params.limit) if count > params.offset else []
    return {"count": count, "unread": delivery.unread_count(user), "items": [_item(n) for n in items]}


@router.post(
    "/notifications/mark-read",
    response={200: MarkReadOut, 400: Message, 401: Message, 422: ValidationErrors},
    summary="标为已读",
    operation_id="mark_notifications_read",
)
def mark_read(request, payload: MarkReadIn):
    """`{"ids": [1, 2]}` 标记指定消息，`{"all": true}` 标记全部；他人的消息 id 被忽略。"""
    user = request.auth
    if payload.all == (payload.ids is not None):
        raise ApiValidationError([error_item(["body"], _("请给出 ids（指定消息）或 all: true（全部），二者选一。"))])
    marked = delivery.mark_read(user, None if payload.all else payload.ids)
    return {"marked": marked, "unread": delivery.unread_count(user)}
