"""The project library: projects, their lifecycle, "三个一批" memberships and approvals."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from keyprojects.lib.credit_code import credit_code_problem
from keyprojects.lib.project_code import project_code_problem
from keyprojects.org.models import Unit

# 1万亿元 in 万元: no single project is bigger; a larger figure is a typing error.
MAX_INVESTMENT_WAN = Decimal("100000000")


class Stage(models.TextChoices):
    """Lifecycle stages in order; a project only moves through them by dated transitions."""

    PLANNING = "planning", _("谋划储备")
    SIGNED = "signed", _("签约")
    PREPARATION = "preparation", _("前期手续")
    STARTED = "started", _("开工")
    CONSTRUCTION = "construction", _("在建")
    COMPLETED = "completed", _("竣工")
    COMMISSIONED = "commissioned", _("投产")
    EFFECTIVE = "effective", _("达效")

    @classmethod
    def order(cls, stage: str) -> int:
        return list(cls.values).index(stage)

    @classmethod
    def reached(cls, stage: str) -> list[str]:
        """`stage` and every later stage: where a project that has reached `stage` can be now."""
        return list(cls.values)[cls.order(stage) :]


# Stages from which a project must carry an actual date.
STAGE_REQUIRES = {
    Stage.STARTED: ("actual_start", _("进入“开工”及以后阶段前，必须填写实际开工日期。")),
    Stage.COMPLETED: ("actual_end", _("进入“竣工”及以后阶段前，必须填写实际竣工日期。")),
}


class Status(models.TextChoices):
    NORMAL = "normal", _("正常推进")
    BEHIND = "behind", _("滞后")
    STOPPED = "stopped", _("停工")
    PAUSED = "paused", _("暂缓")
    TERMINATED = "terminated", _("终止")


class Level(models.TextChoices):
    PROVINCE = "province", _("省重点")
    CITY = "city", _("市重点")
    DISTRICT = "district", _("区重点")


class ProjectType(models.TextChoices):
    """How the project is authorised (立项方式); it selects the approval checklist."""

    GOVERNMENT = "approval", _("审批类（政府投资）")
    CONFIRMATION = "confirmation", _("核准类")
    FILING = "filing", _("备案类")


class Industry(models.Model):
    """An industry category (configurable list)."""

    name = models.CharField(_("行业"), max_length=40, unique=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("行业")
        verbose_name_plural = _("行业")

    def __str__(self) -> str:
        return self.name


class FinancingModel(models.Model):
    """A financing model (EPC, EPC+F, BOT, PPP, 企业自筹…), configurable."""

    name = models.CharField(_("融资模式"), max_length=40, unique=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("融资模式")
        verbose_name_plural = _("融资模式")

    def __str__(self) -> str:
        return self.name


class SizeBand(models.Model):
    """A size band threshold (default ≥1亿, ≥10亿, ≥50亿). A project's band is the highest it reaches."""

    name = models.CharField(_("规模档次"), max_length=20, unique=True)
    min_investment = models.DecimalField(_("总投资下限（万元）"), max_digits=14, decimal_places=2, unique=True)

    class Meta:
        ordering = ["min_investment"]
        verbose_name = _("规模档次")
        verbose_name_plural = _("规模档次")

    def __str__(self) -> str:
        return self.name


class Phase(models.Model):
    """A numbered "三个一批" campaign phase (期), run quarterly by the province."""

    number = models.PositiveIntegerField(_("期次"), unique=True)
    name = models.CharField(_("名称"), max_length=60)
    held_on = models.DateField(_("活动日期"), null=True, blank=True)

    class Meta:
        ordering = ["-number"]
        verbose_name = _("三个一批期次")
        verbose_name_plural = _("三个一批期次")

    def __str__(self) -> str:
        return self.name or f"第{self.number}期"


class Project(models.Model):
    """A key investment project followed from idea to full output."""

    code = models.CharField(_("项目代码"), max_length=24, unique=True, null=True, blank=True)
    name = models.CharField(_("项目名称"), max_length=200)
    owner_name = models.CharField(_("项目单位"), max_length=200)
    owner_credit_code = models.CharField(_("统一社会信用代码"), max_length=18, blank=True)
    owner_credit_override = models.CharField(_("信用代码校验未通过的保存理由"), max_length=200, blank=True)
    owner_unit = models.ForeignKey(
        Unit, models.PROTECT, null=True, blank=True, related_name="owned_projects",
        limit_choices_to={"kind": Unit.Kind.ENTERPRISE}, verbose_name=_("企业账号单位"),
    )  # fmt: skip
    industry = models.ForeignKey(Industry, models.PROTECT, verbose_name=_("行业"))
    project_type = models.CharField(_("立项方式"), max_length=16, choices=ProjectType.choices)
    level = models.CharField(_("项目级别"), max_length=16, choices=Level.choices, default=Level.DISTRICT)
    total_investment = models.DecimalField(_("总投资（万元）"), max_digits=14, decimal_places=2)
    construction_content = models.TextField(_("建设内容"), blank=True)
    town = models.ForeignKey(
        Unit, models.PROTECT, null=True, blank=True, related_name="town_projects",
        limit_choices_to={"kind": Unit.Kind.TOWN}, verbose_name=_("所在乡镇街道"),
    )  # fmt: skip
    latitude = models.DecimalField(_("纬度"), max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(_("经度"), max_digits=9, decimal_places=6, null=True, blank=True)
    responsible_leader = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="led_projects",
        verbose_name=_("分包领导"),
    )  # fmt: skip
    responsible_unit = models.ForeignKey(
        Unit, models.PROTECT, related_name="responsible_projects", verbose_name=_("责任单位")
    )
    service_officer = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="served_projects",
        verbose_name=_("首席服务员"),
    )  # fmt: skip
    financing_model = models.ForeignKey(
        FinancingModel, models.PROTECT, null=True, blank=True, verbose_name=_("融资模式")
    )
    planned_start = models.DateField(_("计划开工"), null=True, blank=True)
    planned_end = models.DateField(_("计划竣工"), null=True, blank=True)
    actual_start = models.DateField(_("实际开工"), null=True, blank=True)
    actual_end = models.DateField(_("实际竣工"), null=True, blank=True)
    status = models.CharField(_("推进状态"), max_length=16, choices=Status.choices, default=Status.NORMAL)
    stage = models.CharField(_("所处阶段"), max_length=16, choices=Stage.choices, default=Stage.PLANNING)
    stage_changed_on = models.DateField(_("进入当前阶段日期"), null=True, blank=True)
    version = models.PositiveIntegerField(default=1, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("项目")
        verbose_name_plural = _("项目")
        indexes = [
            models.Index(fields=["stage", "id"], name="project_stage_idx"),
            models.Index(fields=["status", "id"], name="project_status_idx"),
            models.Index(fields=["level", "id"], name="project_level_idx"),
            models.Index(fields=["total_investment", "id"], name="project_investment_idx"),
            models.Index(fields=["updated_at", "id"], name="project_updated_idx"),
            models.Index(fields=["planned_start", "id"], name="project_planned_start_idx"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def stage_order(self) -> int:
        return Stage.order(self.stage)

    def clean(self) -> None:
        errors: dict[str, list] = {}

        def add(field: str, message) -> None:
            errors.setdefault(field, []).append(message)

        if self.code:
            problem = project_code_problem(self.code)
            if problem:
                add("code", problem)
        if self.owner_credit_code:
            problem = credit_code_problem(self.owner_credit_code)
            if problem and not self.owner_credit_override.strip():
                add("owner_credit_code", problem + "如确认无误，请填写保存理由。")
        if self.total_investment is not None:
            if self.total_investment <= 0:
                add("total_investment", _("总投资必须大于0。"))
            elif self.total_investment > MAX_INVESTMENT_WAN:
                add("total_investment", _("总投资超过1万亿元，请核对单位是否为万元。"))
        if self.planned_start and self.planned_end and self.planned_end < self.planned_start:
            add("planned_end", _("计划竣工日期不能早于计划开工日期。"))
        if self.actual_start and self.actual_end and self.actual_end < self.actual_start:
            add("actual_end", _("实际竣工日期不能早于实际开工日期。"))
        if self.latitude is not None and not -90 <= self.latitude <= 90:
            add("latitude", _("纬度应在 -90 到 90 之间。"))
        if self.longitude is not None and not -180 <= self.longitude <= 180:
            add("longitude", _("经度应在 -180 到 180 之间。"))
        if (self.latitude is None) != (self.longitude is None):
            add("longitude", _("经度和纬度需同时填写。"))
        if self.town_id and self.town.kind != Unit.Kind.TOWN:
            add("town", _("所在地必须是乡镇或街道。"))
        if self.responsible_unit_id and self.responsible_unit.kind == Unit.Kind.ENTERPRISE:
            add("responsible_unit", _("责任单位不能是企业。"))
        if self.owner_unit_id and self.owner_unit.kind != Unit.Kind.ENTERPRISE:
            add("owner_unit", _("企业账号单位必须是企业。"))
        if self.stage not in Stage.values:
            add("stage", _("无效的阶段。"))
        else:
            for stage, (field, message) in STAGE_REQUIRES.items():
                if Stage.order(self.stage) >= Stage.order(stage) and not getattr(self, field):
                    add(field, message)
        if errors:
            raise ValidationError(errors)


class StageTransition(models.Model):
    """A dated move of a project from one lifecycle stage to another; the stage timeline."""

    project = models.ForeignKey(Project, models.CASCADE, related_name="transitions")
    from_stage = models.CharField(max_length=16, choices=Stage.choices, blank=True)
    to_stage = models.CharField(max_length=16, choices=Stage.choices)
    happened_on = models.DateField(_("日期"))
    note = models.CharField(_("说明"), max_length=200, blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True)
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["happened_on", "id"]
        # The year's commissionings (rates, cockpit) start from the few transitions to a stage in a date
        # range instead of every project's timeline.
        indexes = [models.Index(fields=["to_stage", "happened_on", "project"], name="transition_stage_date_idx")]
        verbose_name = _("阶段变更")
        verbose_name_plural = _("阶段变更")

    def __str__(self) -> str:
        return f"{self.project} → {self.get_to_stage_display()} ({self.happened_on})"


class Batch(models.TextChoices):
    SIGN = "sign", _("签约一批")
    START = "start", _("开工一批")
    COMMISSION = "commission", _("投产一批")


class BatchMembership(models.Model):
    """A project's place in one "三个一批" list of a numbered phase."""

    project = models.ForeignKey(Project, models.CASCADE, related_name="memberships")
    phase = models.ForeignKey(Phase, models.PROTECT, related_name="memberships", verbose_name=_("期次"))
    batch = models.CharField(_("批次"), max_length=16, choices=Batch.choices)

    class Meta:
        ordering = ["phase__number", "batch"]
        constraints = [models.UniqueConstraint(fields=["project", "batch"], name="one_phase_per_batch")]
        indexes = [models.Index(fields=["phase", "batch"], name="membership_phase_idx")]
        verbose_name = _("三个一批")
        verbose_name_plural = _("三个一批")

    def __str__(self) -> str:
        return f"{self.phase} {self.get_batch_display()}"


class ApprovalStatus(models.TextChoices):
    PENDING = "pending", _("未办")
    IN_PROGRESS = "in_progress", _("在办")
    DONE = "done", _("已办")
    OVERDUE = "overdue", _("超期")
    NOT_APPLICABLE = "na", _("不涉及")


class ApprovalTemplateItem(models.Model):
    """One line of the approval checklist that new projects of a type start with."""

    project_type = models.CharField(_("立项方式"), max_length=16, choices=ProjectType.choices)
    position = models.PositiveSmallIntegerField(_("顺序"), default=0)
    name = models.CharField(_("审批事项"), max_length=60)
    department = models.ForeignKey(
        Unit, models.PROTECT, null=True, blank=True, limit_choices_to={"kind": Unit.Kind.DEPARTMENT},
        verbose_name=_("办理部门"),
    )  # fmt: skip

    class Meta:
        ordering = ["project_type", "position"]
        verbose_name = _("前期手续模板")
        verbose_name_plural = _("前期手续模板")

    def __str__(self) -> str:
        return self.name


def approval_upload_path(instance: ApprovalItem, filename: str) -> str:
    # Never a path the user chose: a random name under the project's folder.
    suffix = filename.rsplit(".", 1)[-1].lower() if "." in filename else "bin"
    return f"approvals/{instance.project_id}/{uuid.uuid4().hex}.{suffix}"


class ApprovalItem(models.Model):
    """One approval (前期手续) a project needs, with its department, status, dates and document."""

    project = models.ForeignKey(Project, models.CASCADE, related_name="approvals")
    position = models.PositiveSmallIntegerField(default=0)
    name = models.CharField(_("审批事项"), max_length=60)
    department = models.ForeignKey(
        Unit, models.PROTECT, null=True, blank=True, related_name="approval_items",
        verbose_name=_("办理部门"),
    )  # fmt: skip
    status = models.CharField(
        _("办理状态"), max_length=16, choices=ApprovalStatus.choices, default=ApprovalStatus.PENDING
    )
    planned_date = models.DateField(_("计划办结"), null=True, blank=True)
    actual_date = models.DateField(_("实际办结"), null=True, blank=True)
    document_number = models.CharField(_("批复文号"), max_length=80, blank=True)
    attachment = models.FileField(_("批复文件"), upload_to=approval_upload_path, blank=True, max_length=200)
    attachment_name = models.CharField(max_length=200, blank=True)
    note = models.CharField(_("备注"), max_length=200, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("前期手续")
        verbose_name_plural = _("前期手续")

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.status == ApprovalStatus.DONE and not self.actual_date:
            raise ValidationError({"actual_date": _("状态为“已办”时必须填写实际办结日期。")})
        if self.actual_date and self.status not in (ApprovalStatus.DONE,):
            raise ValidationError({"status": _("已填写实际办结日期的事项，状态应为“已办”。")})
