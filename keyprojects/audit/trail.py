"""Writing the audit trail. Domain functions call `record()` for every change they make."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.db import models
from django.utils import translation

from keyprojects.audit.models import AuditRecord
from keyprojects.lib import context


def plain_value(value: Any) -> Any:
    """A JSON-safe, human-readable value for before/after columns."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    if isinstance(value, models.Model):
        return str(value)
    if isinstance(value, models.fields.files.FieldFile):
        return value.name or ""
    return str(value)


def snapshot(obj: models.Model, fields: list[str] | None = None) -> dict[str, Any]:
    """Field values keyed by field name, with FKs and choices shown by their (Chinese) label."""
    with translation.override("zh-hans"):
        return _snapshot(obj, fields)


def _snapshot(obj: models.Model, fields: list[str] | None) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for field in obj._meta.concrete_fields:
        if fields is not None and field.name not in fields:
            continue
        if field.name in ("id", "created_at", "updated_at", "version"):
            continue
        if field.is_relation:
            fk_id = getattr(obj, field.attname)
            data[field.name] = str(getattr(obj, field.name)) if fk_id else None
        elif isinstance(field, models.DecimalField):
            raw = getattr(obj, field.attname)
            data[field.name] = None if raw is None else f"{Decimal(raw):.{field.decimal_places}f}"
        elif field.choices:
            raw = getattr(obj, field.attname)
            data[field.name] = str(dict(field.flatchoices).get(raw, raw)) if raw else raw
        else:
            data[field.name] = plain_value(getattr(obj, field.attname))
    return data


def record(
    *,
    actor,
    action: str,
    obj: models.Model,
    before: dict | None = None,
    after: dict | None = None,
    project_id: int | None = None,
    reason: str = "",
) -> AuditRecord:
    if action == AuditRecord.Action.UPDATE and before is not None and after is not None:
        changed = [k for k in after if before.get(k) != after.get(k)]
        before = {k: before.get(k) for k in changed}
        after = {k: after[k] for k in changed}
    return _write(
        actor=actor, actor_name=actor.get_username() if actor else "system", action=action,
        object_type=obj._meta.model_name, object_id=str(obj.pk), object_repr=str(obj), project_id=project_id,
        before=before, after=after, reason=reason,
    )  # fmt: skip


def security_event(
    *, action: str, actor=None, actor_name: str = "", object_type: str, object_id: str, object_repr: str,
    reason: str = "",
) -> AuditRecord:  # fmt: skip
    """A security event with no model object behind it: a login, a refused request, a download."""
    known = actor is not None and actor.pk
    return _write(
        actor=actor, actor_name=actor.get_username() if known else actor_name or "anonymous", action=action,
        object_type=object_type, object_id=object_id, object_repr=object_repr, reason=reason,
    )  # fmt: skip


def _write(*, actor, actor_name: str, object_type: str, object_id: str, object_repr: str, reason: str,
           **fields) -> AuditRecord:  # fmt: skip
    """One record, with the actor's unit as it is now and the request's channel and id."""
    ctx = context.current()
    return AuditRecord.objects.create(
        actor=actor if actor is not None and actor.pk else None,
        actor_name=actor_name[:150],
        actor_unit=str(actor.unit)[:100] if actor is not None and getattr(actor, "unit_id", None) else "",
        channel=ctx.channel,
        request_id=ctx.request_id,
        object_type=object_type[:40],
        object_id=object_id[:40],
        object_repr=object_repr[:200],
        reason=reason[:200],
        **fields,
    )
