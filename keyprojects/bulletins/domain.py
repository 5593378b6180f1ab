"""Every change to a bulletin: make a draft from a snapshot, edit its commentary, record its meeting, issue it.

Each function checks the actor (`access`), validates, changes the row inside one transaction (the row
is locked, so two people issuing at once issue once) and writes the audit trail. Refusals change
nothing: `PermissionDenied` for the wrong person; `ValidationError` with a Chinese message for bad input
(code "invalid_state" for an issued document or a step out of order, "duplicate" for a second draft of
the same kind and date); `ConflictError` for a stale version.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from keyprojects.audit.models import AuditRecord
from keyprojects.audit.trail import record
from keyprojects.bulletins import access, snapshot
from keyprojects.bulletins.models import (
    ISSUED_REFUSAL,
    Bulletin,
    BulletinSettings,
    Kind,
    ReviewEvent,
    Status,
    content_hash,
)
from keyprojects.bulletins.outline import COMMENTARY, title_for
from keyprojects.org.models import User
from keyprojects.projects.domain import ConflictError

MAX_COMMENTARY = 10000
EARLIEST = datetime.date(2000, 1, 1)


class BulletinConflict(ConflictError):
    message = "该文件已被他人修改，请刷新后重新编辑（您的修改未保存）。"


def _state_error(message: str) -> ValidationError:
    return ValidationError(message, code="invalid_state")


def _summary(b: Bulletin) -> dict[str, Any]:
    return {"类型": str(Kind(b.kind).label), "截至日期": b.as_of.isoformat(), "标题": b.title,
            "状态": str(Status(b.status).label)}  # fmt: skip


def _default_commentary(kind: str, figures: dict[str, Any]) -> dict[str, str]:
    text = {key: "" for key, _label in COMMENTARY[kind]}
    if kind == Kind.WEEKLY:
        text["agenda"] = "\n".join(f"{i}. {item}" for i, item in enumerate(figures.get("agenda", []), start=1))
    if kind == Kind.MONTHLY:
        text["highlights"] = "\n".join(figures.get("highlights", []))
    return text


def _check_date(as_of: Any, today: datetime.date) -> datetime.date:
    if isinstance(as_of, datetime.datetime):
        as_of = as_of.date()
    if isinstance(as_of, str):
        try:
            as_of = datetime.date.fromisoformat(as_of)
        except ValueError:
            raise ValidationError({"as_of": _("请输入有效的日期，格式为 YYYY-MM-DD。")}) from None
    if not isinstance(as_of, datetime.date):
        raise ValidationError({"as_of": _("请输入日期。")})
    if as_of > today:
        raise ValidationError({"as_of": _("截至日期不能晚于今天。")})
    if as_of < EARLIEST:
        raise ValidationError({"as_of": _("截至日期过早。")})
    return as_of


def create_draft(
    *,
    kind: str,
    as_of: datetime.date | str,
    by: User | None = None,
    options: dict[str, Any] | None = None,
    now: datetime.datetime | None = None,
) -> Bulletin:
    """A draft of `kind` dated `as_of` from a snapshot taken now (`by` None: the worker).

    `options` default to the schedule row's (indicators, red/black list size, evaluation scheme).
    """
    if by is not None:
        access.ensure_manager(by)
    now = now or timezone.now()
    if kind not in Kind.values:
        raise ValidationError({"kind": _("无效的类型：%(v)s。") % {"v": kind}})
    day = _check_date(as_of, timezone.localdate(now))
    if Bulletin.objects.filter(kind=kind, as_of=day).exists():
        raise ValidationError(
            {
                "as_of": _("%(date)s的%(kind)s已经生成，不能重复生成。")
                % {"date": day.isoformat(), "kind": Kind(kind).label}
            },
            code="duplicate",
        )
    if options is None:
        event = ReviewEvent.objects.filter(kind=kind).first()
        options = event.options if event else {}
    previous = None
    if kind == Kind.DAILY:
        previous = (
            Bulletin.objects.filter(kind=kind, as_of__lt=day).order_by("-as_of").values_list("as_of", flat=True).first()
        )
    try:
        figures = snapshot.build(kind, day, options=options, previous=previous)
    except ValidationError as exc:  # an evaluation scheme that cannot be computed
        raise ValidationError({"kind": exc.messages}) from None
    except Exception as exc:
        from keyprojects.evaluation.models import Scheme

        if isinstance(exc, Scheme.DoesNotExist):
            raise ValidationError({"kind": _("考评方案不存在：%(v)s。") % {"v": options.get("scheme")}}) from None
        raise
    with translation.override("zh-hans"):
        title = title_for(kind, figures)
    p = figures["period"]
    bulletin = Bulletin(
        kind=kind, as_of=day, period_start=datetime.date.fromisoformat(p["start"]),
        period_end=datetime.date.fromisoformat(p["end"]), title=title, figures=figures,
        commentary=_default_commentary(kind, figures), snapshot_at=now, created_by=by,
    )  # fmt: skip
    try:
        with transaction.atomic():
            bulletin.save()
            record(actor=by, action=AuditRecord.Action.CREATE, obj=bulletin, after=_summary(bulletin),
                   reason=_("生成草稿（数据快照）"))  # fmt: skip
    except IntegrityError:
        raise ValidationError(
            {
                "as_of": _("%(date)s的%(kind)s已经生成，不能重复生成。")
                % {"date": day.isoformat(), "kind": Kind(kind).label}
            },
            code="duplicate",
        ) from None
    return bulletin


def _locked(bulletin: Bulletin) -> Bulletin:
    return Bulletin.objects.select_for_update().get(pk=bulletin.pk)


def _sync(target: Bulletin, source: Bulletin) -> None:
    for field in source._meta.concrete_fields:
        setattr(target, field.attname, getattr(source, field.attname))
    target._loaded_status = source._loaded_status


@transaction.atomic
def update_commentary(
    bulletin: Bulletin, *, by: User, commentary: dict[str, Any], expected_version: int | None = None
) -> Bulletin:
    """Replace the commentary parts given (the figures never change). Refused once issued."""
    access.ensure_manager(by)
    current = _locked(bulletin)
    if current.issued:
        raise _state_error(str(ISSUED_REFUSAL))
    if expected_version is not None and current.version != expected_version:
        raise BulletinConflict()
    allowed = dict(COMMENTARY[current.kind])
    errors: dict[str, list[str]] = {}
    clean: dict[str, str] = dict(current.commentary or {})
    for key, value in commentary.items():
        if key not in allowed:
            errors.setdefault(key, []).append(_("该文件没有这一部分。"))
            continue
        text = "" if value is None else str(value).replace("\x00", "").strip()
        if len(text) > MAX_COMMENTARY:
            errors.setdefault(key, []).append(_("最多 %(n)s 个字符。") % {"n": MAX_COMMENTARY})
        clean[key] = text
    if errors:
        raise ValidationError(errors)
    before = {allowed[k]: (current.commentary or {}).get(k, "") for k in allowed}
    current.commentary = clean
    current.version += 1
    current.save(update_fields=["commentary", "version", "updated_at"])
    record(actor=by, action=AuditRecord.Action.UPDATE, obj=current, before=before,
           after={allowed[k]: clean.get(k, "") for k in allowed}, reason=_("修改点评内容"))  # fmt: skip
    _sync(bulletin, current)
    return bulletin


@transaction.atomic
def issue(bulletin: Bulletin, *, by: User, now: datetime.datetime | None = None,
          expected_version: int | None = None) -> Bulletin:  # fmt: skip
    """Issue (印发) the draft: give it its 文号, freeze the letterhead, seal figures + commentary with the hash."""
    access.ensure_manager(by)
    now = now or timezone.now()
    current = _locked(bulletin)
    if current.issued:
        raise _state_error(
            _("该文件已于%(at)s印发（%(number)s），不能重复印发。")
            % {
                "at": timezone.localtime(current.issued_at).strftime("%Y-%m-%d %H:%M"),
                "number": current.document_number,
            }
        )
    if expected_version is not None and current.version != expected_version:
        raise BulletinConflict()
    settings = BulletinSettings.load()
    year = timezone.localdate(now).year
    last = Bulletin.objects.filter(kind=current.kind, year=year).aggregate(n=Max("number"))["n"] or 0
    current.year, current.number = year, last + 1
    current.document_number = Bulletin.format_number(settings.number_prefix, current.kind, year, current.number)
    current.issuing_body = settings.issuing_body
    current.status = Status.ISSUED
    current.issued_by, current.issued_at = by, now
    current.content_hash = content_hash(current.figures, current.commentary)
    current.version += 1
    current.save()
    record(actor=by, action=AuditRecord.Action.UPDATE, obj=current, before={"状态": str(Status.DRAFT.label)},
           after={"状态": str(Status.ISSUED.label), "文号": current.document_number, "内容摘要": current.content_hash},
           reason=_("印发"))  # fmt: skip
    _sync(bulletin, current)
    return bulletin


@transaction.atomic
def record_meeting(
    bulletin: Bulletin, *, by: User, chair: User | int, held_on: datetime.date | None = None
) -> Bulletin:
    """周调度: turn the pack's agenda into the meeting record (a visits `Meeting` with the pack's projects)."""
    from keyprojects.visits import domain as visits_domain

    access.ensure_manager(by)
    current = _locked(bulletin)
    if current.kind != Kind.WEEKLY:
        raise _state_error(_("只有周调度材料可以生成会议记录。"))
    if current.issued:
        raise _state_error(str(ISSUED_REFUSAL))
    if current.meeting_id:
        raise _state_error(_("该调度材料已生成会议记录。"))
    project_ids: list[int] = []
    for leader in current.figures.get("leaders", []):
        project_ids += [p["id"] for p in leader.get("behind", [])]
    minutes = (current.commentary or {}).get("agenda") or "\n".join(current.figures.get("agenda", []))
    meeting = visits_domain.create_meeting(
        by=by, held_on=held_on or current.as_of, chair=chair, projects=list(dict.fromkeys(project_ids))[:200],
        minutes=minutes,
    )  # fmt: skip
    current.meeting = meeting
    current.version += 1
    current.save(update_fields=["meeting", "version", "updated_at"])
    record(actor=by, action=AuditRecord.Action.UPDATE, obj=current, after={"会议记录": str(meeting)},
           reason=_("由调度材料生成会议记录"))  # fmt: skip
    _sync(bulletin, current)
    return bulletin
