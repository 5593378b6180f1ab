"""Domain functions of the project library. Every change goes through here and is audited.

Pages, the API, imports and commands call these with the acting user; validation lives in the
models' `clean()` so that every path applies the same rules.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from keyprojects.audit.models import AuditRecord
from keyprojects.audit.trail import record, snapshot
from keyprojects.org.models import User
from keyprojects.projects.models import (
    ApprovalItem,
    ApprovalTemplateItem,
    Batch,
    BatchMembership,
    Phase,
    Project,
    SizeBand,
    Stage,
    StageTransition,
)
from keyprojects.rollups.cache import bump

EDITABLE_FIELDS = [
    "code", "name", "owner_name", "owner_credit_code", "owner_credit_override", "owner_unit",
    "industry", "project_type", "level", "total_investment", "construction_content", "town",
    "latitude", "longitude", "responsible_leader", "responsible_unit", "service_officer",
    "financing_model", "planned_start", "planned_end", "actual_start", "actual_end", "status",
]  # fmt: skip


class ConflictError(Exception):
    """The object changed since the user loaded it (optimistic locking)."""

    message = "该项目已被他人修改，请刷新后重新编辑（您的修改未保存）。"


def _apply(project: Project, data: dict[str, Any]) -> None:
    for field, value in data.items():
        if field not in EDITABLE_FIELDS:
            raise ValidationError({field: _("该字段不可修改。")})
        if field == "code" and not value:
            value = None
        setattr(project, field, value)
    if project.owner_credit_code:
        project.owner_credit_code = project.owner_credit_code.strip().upper()


def _credit_override_used(project: Project) -> bool:
    from keyprojects.lib.credit_code import credit_code_problem

    return bool(project.owner_credit_code and credit_code_problem(project.owner_credit_code))


@transaction.atomic
def create_project(*, by: User | None, data: dict[str, Any], stage: str = Stage.PLANNING,
                   stage_on: datetime.date | None = None) -> Project:  # fmt: skip
    project = Project(stage=stage, stage_changed_on=stage_on or timezone.localdate())
    _apply(project, data)
    project.full_clean()
    if not _credit_override_used(project):
        project.owner_credit_override = ""
    project.save()
    StageTransition.objects.create(
        project=project, from_stage="", to_stage=project.stage, happened_on=project.stage_changed_on,
        recorded_by=by, note=_("建档"),
    )  # fmt: skip
    record(actor=by, action=AuditRecord.Action.CREATE, obj=project, after=snapshot(project), project_id=project.pk)
    if project.owner_credit_override:
        _record_override(project, by)
    create_approvals_from_template(project, by=by)
    return project


def _record_override(project: Project, by: User | None) -> None:
    record(
        actor=by, action=AuditRecord.Action.OVERRIDE, obj=project, project_id=project.pk,
        after={"owner_credit_code": project.owner_credit_code}, reason=project.owner_credit_override,
    )  # fmt: skip


@transaction.atomic
def update_project(project: Project, *, by: User | None, data: dict[str, Any],
                   expected_version: int | None = None) -> Project:  # fmt: skip
    current = Project.objects.select_for_update().get(pk=project.pk)
    if expected_version is not None and current.version != expected_version:
        raise ConflictError()
    before = snapshot(current)
    _apply(current, data)
    current.full_clean()
    if not _credit_override_used(current):
        current.owner_credit_override = ""
    after = snapshot(current)
    if after == before:
        return current
    current.version += 1
    current.save()
    record(actor=by, action=AuditRecord.Action.UPDATE, obj=current, before=before, after=after, project_id=current.pk)
    if current.owner_credit_override and before.get("owner_credit_code") != after.get("owner_credit_code"):
        _record_override(current, by)
    return current


@transaction.atomic
def delete_project(project: Project, *, by: User | None) -> None:
    before = snapshot(project)
    pk = project.pk
    record(actor=by, action=AuditRecord.Action.DELETE, obj=project, before=before, project_id=pk)
    project.delete()


@transaction.atomic
def change_stage(project: Project, *, by: User | None, to_stage: str, happened_on: datetime.date,
                 note: str = "") -> StageTransition:  # fmt: skip
    """Move a project to another lifecycle stage on a date; the transition is kept as history.

    Moving forward needs the dates the new stage implies (实际开工 for 开工 and after, 实际竣工 for
    竣工 and after). Moving back is allowed only with a reason. Dates never go backwards in time.
    """
    current = Project.objects.select_for_update().get(pk=project.pk)
    if to_stage not in Stage.values:
        raise ValidationError({"to_stage": _("无效的阶段。")})
    if to_stage == current.stage:
        raise ValidationError({"to_stage": _("项目已处于该阶段。")})
    if happened_on > timezone.localdate():
        raise ValidationError({"happened_on": _("阶段变更日期不能晚于今天。")})
    last = current.transitions.order_by("-happened_on", "-id").first()
    if last and happened_on < last.happened_on:
        raise ValidationError(
            {"happened_on": _("阶段变更日期不能早于上一次变更（%(date)s）。") % {"date": last.happened_on}}
        )
    backwards = Stage.order(to_stage) < Stage.order(current.stage)
    if backwards and not note.strip():
        raise ValidationError({"note": _("阶段回退必须说明理由。")})
    before = snapshot(current, ["stage", "stage_changed_on"])
    from_stage = current.stage
    current.stage = to_stage
    current.stage_changed_on = happened_on
    try:
        current.full_clean()
    except ValidationError as exc:
        raise ValidationError({"to_stage": [m for msgs in exc.message_dict.values() for m in msgs]}) from None
    current.version += 1
    current.save(update_fields=["stage", "stage_changed_on", "version", "updated_at"])
    transition = StageTransition.objects.create(
        project=current, from_stage=from_stage, to_stage=to_stage, happened_on=happened_on, note=note,
        recorded_by=by,
    )  # fmt: skip
    record(
        actor=by, action=AuditRecord.Action.TRANSITION, obj=current, project_id=current.pk, reason=note,
        before=before, after=snapshot(current, ["stage", "stage_changed_on"]),
    )  # fmt: skip
    project.stage, project.stage_changed_on, project.version = current.stage, happened_on, current.version
    return transition


@transaction.atomic
def set_batch_membership(project: Project, *, by: User | None, batch: str, phase: Phase | None) -> None:
    """Put the project on (or take it off) one "三个一批" list of a phase."""
    if batch not in Batch.values:
        raise ValidationError({"batch": _("无效的批次。")})
    existing = BatchMembership.objects.filter(project=project, batch=batch).select_related("phase").first()
    with translation.override("zh-hans"):  # the audit trail is kept in Chinese whatever the UI language
        label = str(Batch(batch).label)
    before = {label: str(existing.phase) if existing else None}
    after = {label: str(phase) if phase else None}
    if before == after:
        return
    if existing and phase is None:
        existing.delete()
    elif existing:
        existing.phase = phase
        existing.save(update_fields=["phase"])
    else:
        BatchMembership.objects.create(project=project, batch=batch, phase=phase)
    record(actor=by, action=AuditRecord.Action.UPDATE, obj=project, before=before, after=after, project_id=project.pk)


def create_approvals_from_template(project: Project, *, by: User | None) -> list[ApprovalItem]:
    """Give a new project the approval checklist of its type."""
    template = ApprovalTemplateItem.objects.filter(project_type=project.project_type).order_by("position")
    items = [
        ApprovalItem(project=project, position=t.position, name=t.name, department_id=t.department_id) for t in template
    ]
    ApprovalItem.objects.bulk_create(items)
    bump("projects")  # bulk_create sends no save signal
    if items:
        record(
            actor=by, action=AuditRecord.Action.CREATE, obj=project, project_id=project.pk,
            after={"前期手续": [i.name for i in items]},
        )  # fmt: skip
    return items


@transaction.atomic
def update_approval(item: ApprovalItem, *, by: User | None, data: dict[str, Any], upload=None) -> ApprovalItem:
    allowed = {"status", "planned_date", "actual_date", "document_number", "note", "department"}
    item = ApprovalItem.objects.select_for_update().get(pk=item.pk)  # never half-apply to the caller's copy
    before = snapshot(item)
    for field, value in data.items():
        if field not in allowed:
            raise ValidationError({field: _("该字段不可修改。")})
        setattr(item, field, value)
    if upload is not None:
        item.attachment.save(upload.name, upload, save=False)
        item.attachment_name = upload.name[:200]
    item.full_clean()
    item.save()
    after = snapshot(item)
    record(
        actor=by, action=AuditRecord.Action.UPDATE, obj=item, before=before, after=after,
        project_id=item.project_id,
    )  # fmt: skip
    return item


def size_bands() -> list[SizeBand]:
    return list(SizeBand.objects.order_by("min_investment"))


def size_band_for(total_investment, bands: list[SizeBand]) -> str:
    """The highest configured band the investment reaches, or 1亿以下 style label."""
    label = ""
    for band in bands:
        if total_investment is not None and total_investment >= band.min_investment:
            label = band.name
    return band_label(label, bands[0].name if bands else None)


def band_label(reached: str | None, lowest: str | None) -> str:
    """The band's name given the highest band reached (None: none) and the lowest band's name."""
    return reached or (f"{lowest.lstrip('≥')}以下" if lowest else "")
