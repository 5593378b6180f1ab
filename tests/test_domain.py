"""Domain rules of the project library: validation, stage transitions, memberships, audit trail."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from keyprojects.audit.models import AuditRecord
from keyprojects.lib import context
from keyprojects.projects import domain
from keyprojects.projects.models import Batch, BatchMembership, Phase, Project, SizeBand, Stage

TODAY = timezone.localdate()


def test_create_writes_history_checklist_and_audit(world):
    project = world.project_a
    assert project.transitions.count() == 1
    assert project.approvals.count() == 10  # the 备案 checklist
    assert project.approvals.get(name="用地预审与选址意见书").department == world.resources
    created = AuditRecord.objects.filter(project_id=project.pk, action="create").order_by("id").first()
    assert created.actor == world.dispatcher
    assert created.actor_unit == "区重点项目建设服务中心"
    assert created.after["name"] == "联东U谷红旗科创园"
    assert created.after["total_investment"] == "150000.00"


def test_update_records_only_changed_fields(world):
    with context.bind(channel="import"):
        domain.update_project(world.project_a, by=world.dispatcher, data={"total_investment": Decimal("160000.5")})
    stored = Project.objects.get(pk=world.project_a.pk)
    assert stored.total_investment == Decimal("160000.50")
    assert stored.version == 2
    rec = AuditRecord.objects.filter(project_id=stored.pk, action="update").latest("id")
    assert rec.before == {"total_investment": "150000.00"}
    assert rec.after == {"total_investment": "160000.50"}
    assert rec.channel == "import"
    assert rec.request_id


def test_an_unchanged_update_writes_nothing(world):
    count = AuditRecord.objects.count()
    domain.update_project(world.project_a, by=world.dispatcher, data={"name": world.project_a.name})
    assert AuditRecord.objects.count() == count
    assert Project.objects.get(pk=world.project_a.pk).version == 1


def test_stale_version_is_a_conflict_and_changes_nothing(world):
    domain.update_project(world.project_a, by=world.dispatcher, data={"name": "新名称"}, expected_version=1)
    with pytest.raises(domain.ConflictError):
        domain.update_project(world.project_a, by=world.dispatcher, data={"name": "另一名称"}, expected_version=1)
    assert Project.objects.get(pk=world.project_a.pk).name == "新名称"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"owner_credit_code": "91350200776049653B"}, "owner_credit_code"),
        ({"code": "2111-522323-04-01-34206"}, "code"),
        ({"total_investment": Decimal("-1")}, "total_investment"),
        ({"total_investment": Decimal("0")}, "total_investment"),
        ({"total_investment": Decimal("100000001")}, "total_investment"),
        ({"planned_end": datetime.date(2025, 1, 1)}, "planned_end"),
        ({"latitude": Decimal("35.3")}, "longitude"),
        ({"name": ""}, "name"),
    ],
)
def test_bad_input_changes_nothing(world, data, field):
    before = AuditRecord.objects.count()
    with pytest.raises(ValidationError) as exc:
        domain.update_project(world.project_a, by=world.dispatcher, data=data)
    assert field in exc.value.message_dict
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in m) for m in exc.value.message_dict[field])
    stored = Project.objects.get(pk=world.project_a.pk)
    assert stored.total_investment == Decimal("150000.00") and stored.version == 1
    assert AuditRecord.objects.count() == before


def test_a_town_cannot_be_a_department_and_owner_must_be_an_enterprise(world):
    with pytest.raises(ValidationError) as exc:
        domain.update_project(
            world.project_a, by=world.dispatcher, data={"town": world.resources, "owner_unit": world.hongmen}
        )
    assert {"town", "owner_unit"} <= set(exc.value.message_dict)


def test_duplicate_code_is_refused(world):
    domain.update_project(world.project_a, by=world.dispatcher, data={"code": "2511-410702-04-01-12345A"})
    with pytest.raises(ValidationError) as exc:
        domain.update_project(world.project_b, by=world.dispatcher, data={"code": "2511-410702-04-01-12345A"})
    assert "code" in exc.value.message_dict
    assert Project.objects.get(pk=world.project_b.pk).code is None


def test_empty_codes_do_not_collide(world):
    domain.update_project(world.project_a, by=world.dispatcher, data={"code": ""})
    domain.update_project(world.project_b, by=world.dispatcher, data={"code": ""})
    assert Project.objects.filter(code__isnull=True).count() == 2


def test_failing_credit_code_is_kept_with_an_audited_reason(world):
    domain.update_project(
        world.project_a,
        by=world.dispatcher,
        data={"owner_credit_code": "91350203M0001QAY9B", "owner_credit_override": "营业执照原件核对无误"},
    )
    stored = Project.objects.get(pk=world.project_a.pk)
    assert stored.owner_credit_code == "91350203M0001QAY9B"
    override = AuditRecord.objects.get(project_id=stored.pk, action="override")
    assert override.reason == "营业执照原件核对无误"
    # A valid code drops the now-pointless reason.
    domain.update_project(stored, by=world.dispatcher, data={"owner_credit_code": "91350500798359476R"})
    assert Project.objects.get(pk=stored.pk).owner_credit_override == ""


def test_stage_moves_forward_with_dates_and_keeps_history(world):
    project = world.project_b  # 签约
    with pytest.raises(ValidationError) as exc:
        domain.change_stage(project, by=world.dispatcher, to_stage=Stage.CONSTRUCTION, happened_on=TODAY)
    assert "实际开工日期" in exc.value.message_dict["to_stage"][0]
    assert Project.objects.get(pk=project.pk).stage == Stage.SIGNED
    domain.update_project(project, by=world.dispatcher, data={"actual_start": TODAY})
    domain.change_stage(project, by=world.dispatcher, to_stage=Stage.STARTED, happened_on=TODAY)
    stored = Project.objects.get(pk=project.pk)
    assert stored.stage == Stage.STARTED and stored.stage_changed_on == TODAY
    assert [t.to_stage for t in stored.transitions.all()] == [Stage.SIGNED, Stage.STARTED]
    rec = AuditRecord.objects.filter(project_id=project.pk, action="transition").latest("id")
    assert rec.before == {"stage": "签约", "stage_changed_on": stored.transitions.first().happened_on.isoformat()}


def test_jump_to_completion_needs_the_end_date(world):
    project = world.project_a
    domain.update_project(project, by=world.dispatcher, data={"actual_start": TODAY - datetime.timedelta(days=30)})
    with pytest.raises(ValidationError) as exc:
        domain.change_stage(project, by=world.dispatcher, to_stage=Stage.COMMISSIONED, happened_on=TODAY)
    assert "实际竣工日期" in " ".join(exc.value.message_dict["to_stage"])
    assert Project.objects.get(pk=project.pk).stage == Stage.PLANNING


def test_stage_dates_are_never_in_the_future_or_before_the_last_move(world):
    project = world.project_b
    with pytest.raises(ValidationError):
        domain.change_stage(project, by=world.dispatcher, to_stage=Stage.PREPARATION,
                            happened_on=TODAY + datetime.timedelta(days=1))  # fmt: skip
    with pytest.raises(ValidationError):
        domain.change_stage(project, by=world.dispatcher, to_stage=Stage.PREPARATION,
                            happened_on=TODAY - datetime.timedelta(days=400))  # fmt: skip
    assert project.transitions.count() == 1


def test_moving_back_needs_a_reason(world):
    project = world.project_b
    with pytest.raises(ValidationError) as exc:
        domain.change_stage(project, by=world.dispatcher, to_stage=Stage.PLANNING, happened_on=TODAY)
    assert "note" in exc.value.message_dict
    domain.change_stage(project, by=world.dispatcher, to_stage=Stage.PLANNING, happened_on=TODAY, note="签约主体变更")
    assert Project.objects.get(pk=project.pk).stage == Stage.PLANNING


def test_batch_memberships_are_one_phase_per_list(world):
    p7 = Phase.objects.create(number=7, name="第七期")
    p8 = Phase.objects.create(number=8, name="第八期")
    domain.set_batch_membership(world.project_a, by=world.dispatcher, batch=Batch.SIGN, phase=p7)
    domain.set_batch_membership(world.project_a, by=world.dispatcher, batch=Batch.START, phase=p8)
    domain.set_batch_membership(world.project_a, by=world.dispatcher, batch=Batch.SIGN, phase=p8)
    assert {(m.batch, m.phase.number) for m in world.project_a.memberships.all()} == {("sign", 8), ("start", 8)}
    domain.set_batch_membership(world.project_a, by=world.dispatcher, batch=Batch.START, phase=None)
    assert BatchMembership.objects.filter(project=world.project_a).count() == 1
    assert AuditRecord.objects.filter(project_id=world.project_a.pk, after__has_key="签约一批").exists()
    with pytest.raises(IntegrityError), transaction.atomic():
        BatchMembership.objects.create(project=world.project_a, batch=Batch.SIGN, phase=p7)


def test_approval_done_needs_a_date(world):
    item = world.project_a.approvals.first()
    with pytest.raises(ValidationError):
        domain.update_approval(item, by=world.dispatcher, data={"status": "done"})
    domain.update_approval(item, by=world.dispatcher, data={"status": "done", "actual_date": TODAY,
                                                             "document_number": "红发改备〔2026〕12号"})  # fmt: skip
    rec = AuditRecord.objects.filter(object_type="approvalitem", object_id=str(item.pk)).get()
    assert rec.after["status"] == "已办" and rec.project_id == world.project_a.pk


def test_delete_is_audited_with_the_last_values(world):
    pk = world.project_b.pk
    with context.bind(channel="command"):
        domain.delete_project(world.project_b, by=None)
    assert not Project.objects.filter(pk=pk).exists()
    rec = AuditRecord.objects.get(project_id=pk, action="delete")
    assert rec.before["name"] == "洪门镇智能传感器产业园" and rec.actor_name == "system" and rec.channel == "command"


def test_size_bands_follow_configuration(world):
    bands = domain.size_bands()
    assert domain.size_band_for(Decimal("9999.99"), bands) == "1亿以下"
    assert domain.size_band_for(Decimal("10000"), bands) == "≥1亿"
    assert domain.size_band_for(Decimal("150000"), bands) == "≥10亿"
    assert domain.size_band_for(Decimal("500000"), bands) == "≥50亿"
    SizeBand.objects.filter(name="≥10亿").update(min_investment=Decimal("200000"))
    assert domain.size_band_for(Decimal("150000"), domain.size_bands()) == "≥1亿"


def test_audit_records_cannot_be_changed(world):
    rec = AuditRecord.objects.first()
    with pytest.raises(PermissionError):
        rec.save()
    with pytest.raises(PermissionError):
        rec.delete()
    with pytest.raises(Exception, match="append-only"), transaction.atomic():
        AuditRecord.objects.filter(pk=rec.pk).update(actor_name="someone else")
    assert AuditRecord.objects.get(pk=rec.pk).actor_name == "dispatcher"
