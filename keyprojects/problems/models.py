"""Problems (问题诉求) and supervision (督办) on the "13710" clock.

A problem is raised about a project, assigned by a dispatcher to a lead unit (主办) and helper
units (协办), then runs through 待交办 → 已交办 → 已部署 → 办理中 → 已办结 → 已回访 → 已销号. Every
change is a `ProblemEvent`: the visible history and, through `processed_at`, the worker's outbox.
The dates and the light of each step come from `keyprojects.problems.clock`; every change goes
through `keyprojects.problems.domain`.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from keyprojects.org.models import Unit
from keyprojects.projects.models import Project
from keyprojects.workcal.calendar import DayBasis


class ProblemSettings(models.Model):
    """The 13710 configuration: one row (id 1), edited in the admin.

    Durations are counted per `basis` from the day of assignment (that day never counts, see
    `keyprojects.workcal.calendar`): deploy the same day (0), first feedback in 3, ordinary problems
    resolved in 7, major ones in 1 month. A deadline is yellow from `warn_before_days` before it and red
    after it. Past a deadline the problem climbs the ladder one level per `escalation_period_days`.
    """

    deploy_days = models.PositiveSmallIntegerField(
        _("部署时限（天）"), default=0, validators=[MaxValueValidator(60)], help_text=_("0 表示当天部署。")
    )
    feedback_days = models.PositiveSmallIntegerField(
        _("首次反馈时限（天）"), default=3, validators=[MaxValueValidator(60)]
    )
    resolve_days_ordinary = models.PositiveSmallIntegerField(
        _("一般问题办结时限（天）"), default=7, validators=[MinValueValidator(1), MaxValueValidator(365)]
    )
    resolve_months_major = models.PositiveSmallIntegerField(
        _("重大问题办结时限（月）"), default=1, validators=[MinValueValidator(1), MaxValueValidator(24)]
    )
    basis = models.CharField(_("计日方式"), max_length=10, choices=DayBasis.choices, default=DayBasis.WORKDAYS)
    warn_before_days = models.PositiveSmallIntegerField(
        _("临期提醒（到期前天数）"), default=1, validators=[MaxValueValidator(30)],
        help_text=_("到期前这么多天起显示黄灯并提醒主办单位；0 表示到期当天。"),
    )  # fmt: skip
    escalation_enabled = models.BooleanField(_("逾期自动升级督办"), default=True)
    escalation_period_days = models.PositiveSmallIntegerField(
        _("每级升级间隔（天）"), default=3, validators=[MinValueValidator(1), MaxValueValidator(60)],
        help_text=_("逾期后每超过这么多天升级一级：主办单位 → 分管领导 → 主要领导 → 上报。"),
    )  # fmt: skip
    principal_leaders = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="+", verbose_name=_("主要领导"),
        help_text=_("升级到“主要领导”时通知的人（书记、区长）。未指定时，通知主办单位所属领导机构中的全部领导。"),
    )  # fmt: skip
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("问题督办设置")
        verbose_name_plural = _("问题督办设置")
        constraints = [models.CheckConstraint(condition=Q(id=1), name="problem_settings_singleton")]

    def __str__(self) -> str:
        return str(_("问题督办设置（13710）"))

    def save(self, *args, **kwargs):
        self.pk = 1
        super().save(*args, **kwargs)

    def clean(self) -> None:
        if self.feedback_days is not None and self.deploy_days is not None and self.feedback_days < self.deploy_days:
            raise ValidationError({"feedback_days": _("首次反馈时限不能短于部署时限。")})
        if (
            self.resolve_days_ordinary is not None
            and self.feedback_days is not None
            and self.resolve_days_ordinary < self.feedback_days
        ):
            raise ValidationError({"resolve_days_ordinary": _("办结时限不能短于首次反馈时限。")})

    @classmethod
    def load(cls) -> ProblemSettings:
        """The configuration row, or the defaults when nobody saved one yet (reading never writes)."""
        return cls.objects.filter(pk=1).first() or cls(pk=1)


class Source(models.TextChoices):
    ENTERPRISE = "enterprise", _("企业反映")
    SERVICE_OFFICER = "service_officer", _("首席服务员收集")
    MONTHLY_REPORT = "monthly_report", _("月报反映")
    SITE_VISIT = "site_visit", _("马路办公/现场办公")
    LEADER_INSTRUCTION = "leader_instruction", _("领导批示")
    WEEKLY_MEETING = "weekly_meeting", _("周调度会")


class Category(models.TextChoices):
    LAND = "land", _("用地")
    PLANNING = "planning", _("规划")
    ENVIRONMENT = "environment", _("环评")
    FUNDING = "funding", _("资金")
    UTILITIES = "utilities", _("水电气暖")
    RELOCATION = "relocation", _("征迁")
    APPROVAL = "approval", _("审批")
    POLICY = "policy", _("政策")
    OTHER = "other", _("其他")


class Severity(models.TextChoices):
    ORDINARY = "ordinary", _("一般问题")
    MAJOR = "major", _("重大复杂问题")


class SolveLevel(models.TextChoices):
    DISTRICT = "district", _("区级")
    CITY = "city", _("市级")
    PROVINCE = "province", _("省级")


class Status(models.TextChoices):
    NEW = "new", _("待交办")
    ASSIGNED = "assigned", _("已交办")
    DEPLOYED = "deployed", _("已部署")
    IN_PROGRESS = "in_progress", _("办理中")
    RESOLVED = "resolved", _("已办结")
    RATED = "rated", _("已回访")
    CLOSED = "closed", _("已销号")


# On the clock: a step deadline is running.
OPEN_STATUSES = (Status.ASSIGNED, Status.DEPLOYED, Status.IN_PROGRESS)
# Resolved (办结), whatever happened after.
DONE_STATUSES = (Status.RESOLVED, Status.RATED, Status.CLOSED)


class Rating(models.TextChoices):
    SATISFIED = "satisfied", _("满意")
    BASIC = "basic", _("基本满意")
    DISSATISFIED = "dissatisfied", _("不满意")


GOOD_RATINGS = (Rating.SATISFIED, Rating.BASIC)


class Step(models.TextChoices):
    """The 13710 steps that carry a deadline, plus named supervision's own deadline."""

    DEPLOY = "deploy", _("部署")
    FEEDBACK = "feedback", _("首次反馈")
    RESOLVE = "resolve", _("办结")
    SUPERVISION = "supervision", _("督办期限")


class EscalationLevel(models.IntegerChoices):
    UNIT = 0, _("主办单位")
    CHARGE_LEADER = 1, _("分管领导")
    PRINCIPAL_LEADER = 2, _("主要领导")
    REPORTED = 3, _("上报市/省")


# The columns `figures.py` aggregates over.
FIGURE_COLUMNS = ["status", "rating", "resolved_on_time", "current_due", "resolve_workdays"]


def _evidence_path(instance: ProblemEvent, filename: str) -> str:
    # Never a path the user chose: a random name under the problem's folder.
    suffix = filename.rsplit(".", 1)[-1].lower() if "." in filename else "bin"
    return f"problems/{instance.problem_id}/{uuid.uuid4().hex}.{suffix}"


class Problem(models.Model):
    """A problem or demand (问题诉求) about a project, supervised on the 13710 clock.

    Clock columns (`*_due`, `current_step`, `current_due`, `next_action_at`) are derived by
    `clock.refresh()` in every domain function; `next_action_at` is the next moment the worker must act
    (a yellow reminder, an overdue mark or an escalation) and is what it polls. `clock_marks` lists the
    reminders and overdue marks already sent ("warn:feedback@2024-10-09"), so none is sent twice.
    `resolve_workdays` and `resolved_on_time` are stored at 办结 so unit figures are plain aggregates.
    `origin_type` / `origin_id` point at what the problem came from (a site visit, a meeting item…).
    """

    project = models.ForeignKey(Project, models.PROTECT, related_name="problems", verbose_name=_("项目"))
    source = models.CharField(_("来源"), max_length=20, choices=Source.choices)
    origin_type = models.CharField(_("来源对象类型"), max_length=40, blank=True)
    origin_id = models.BigIntegerField(_("来源对象编号"), null=True, blank=True)
    category = models.CharField(_("问题类别"), max_length=16, choices=Category.choices)
    title = models.CharField(_("问题标题"), max_length=200)
    description = models.TextField(_("问题描述"), blank=True)
    severity = models.CharField(_("问题性质"), max_length=10, choices=Severity.choices, default=Severity.ORDINARY)
    solve_level = models.CharField(
        _("需协调层级"), max_length=10, choices=SolveLevel.choices, default=SolveLevel.DISTRICT
    )
    raised_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="raised_problems",
        verbose_name=_("提出人"),
    )  # fmt: skip
    received_on = models.DateField(_("收到日期"))

    lead_unit = models.ForeignKey(
        Unit, models.PROTECT, null=True, blank=True, related_name="led_problems", verbose_name=_("主办单位")
    )
    helper_units = models.ManyToManyField(Unit, blank=True, related_name="helped_problems", verbose_name=_("协办单位"))
    responsible_leader = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="charged_problems",
        verbose_name=_("分管领导"),
    )  # fmt: skip

    status = models.CharField(_("状态"), max_length=16, choices=Status.choices, default=Status.NEW)
    assigned_on = models.DateField(_("交办日期"), null=True, blank=True)
    assigned_at = models.DateTimeField(_("交办登记时间"), null=True, blank=True)
    clock_start = models.DateField(_("计时起点"), null=True, blank=True, editable=False)
    deploy_due = models.DateField(_("部署期限"), null=True, blank=True)
    feedback_due = models.DateField(_("首次反馈期限"), null=True, blank=True)
    resolve_due = models.DateField(_("办结期限"), null=True, blank=True)
    current_step = models.CharField(_("当前环节"), max_length=12, choices=Step.choices, blank=True)
    current_due = models.DateField(_("当前环节期限"), null=True, blank=True)
    deployed_at = models.DateTimeField(_("部署时间"), null=True, blank=True)
    first_feedback_at = models.DateTimeField(_("首次反馈时间"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("办结时间"), null=True, blank=True)
    resolve_workdays = models.PositiveIntegerField(_("办结用时（工作日）"), null=True, blank=True)
    resolved_on_time = models.BooleanField(_("按期办结"), null=True, blank=True)
    rating = models.CharField(_("企业评价"), max_length=12, choices=Rating.choices, blank=True)
    rated_at = models.DateTimeField(_("评价时间"), null=True, blank=True)
    reopen_count = models.PositiveSmallIntegerField(_("重办次数"), default=0)
    closed_at = models.DateTimeField(_("销号时间"), null=True, blank=True)

    escalation_level = models.PositiveSmallIntegerField(
        _("督办层级"), choices=EscalationLevel.choices, default=EscalationLevel.UNIT
    )
    escalated_at = models.DateTimeField(_("升级时间"), null=True, blank=True)
    supervised = models.BooleanField(_("挂牌督办"), default=False)
    supervisor = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="supervised_problems",
        verbose_name=_("督办领导"),
    )  # fmt: skip
    supervision_due = models.DateField(_("督办期限"), null=True, blank=True)
    supervised_at = models.DateTimeField(_("挂牌时间"), null=True, blank=True)

    clock_marks = models.JSONField(_("已发送的提醒"), default=list, blank=True, editable=False)
    next_action_at = models.DateTimeField(_("下次处理时间"), null=True, blank=True, editable=False)
    version = models.PositiveIntegerField(default=1, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("问题诉求")
        verbose_name_plural = _("问题诉求")
        indexes = [
            models.Index(
                fields=["next_action_at"], name="problem_next_action_idx", condition=Q(next_action_at__isnull=False)
            ),
            # Covering indexes for the unit and leader figures: the aggregate reads only the index. The
            # figures page groups by (lead unit, leader) in one pass; unit figures alone use its prefix.
            models.Index(
                fields=["lead_unit", "responsible_leader", *FIGURE_COLUMNS], name="problem_unitlead_figures_idx"
            ),
            models.Index(fields=["responsible_leader", *FIGURE_COLUMNS], name="problem_leader_figures_idx"),
            models.Index(fields=["project", "status"], name="problem_project_status_idx"),
            models.Index(fields=["status", "current_due"], name="problem_status_due_idx"),
            models.Index(fields=["received_on", "id"], name="problem_received_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(escalation_level__lte=3), name="problem_escalation_level_range"),
            models.CheckConstraint(condition=Q(rating__in=["", *Rating.values]), name="problem_rating_valid"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def overdue(self) -> bool:
        """Whether the running step's deadline has passed (today, local time)."""
        from keyprojects.problems import clock

        return clock.is_overdue(self)

    @property
    def light(self) -> str:
        """green / yellow / red for the running deadline (worst of the step and named supervision)."""
        from keyprojects.problems import clock

        return clock.problem_light(self)


class ProblemEvent(models.Model):
    """One entry of a problem's history: a state change, a feedback, a reminder, an escalation.

    It is also the outbox: the worker claims events with `processed_at` empty and turns each into
    notifications for the people concerned, exactly once. Feedback entries are events of kind
    `feedback` with their text and optional evidence file.
    """

    class Kind(models.TextChoices):
        RAISED = "raised", _("提出")
        ASSIGNED = "assigned", _("交办")
        DEPLOYED = "deployed", _("部署")
        FEEDBACK = "feedback", _("反馈办理情况")
        RESOLVED = "resolved", _("办结")
        RATED = "rated", _("回访评价")
        REOPENED = "reopened", _("不满意重办")
        CLOSED = "closed", _("销号")
        SUPERVISED = "supervised", _("挂牌督办")
        REMINDER = "reminder", _("临期提醒")
        OVERDUE = "overdue", _("逾期")
        ESCALATED = "escalated", _("升级督办")

    problem = models.ForeignKey(Problem, models.CASCADE, related_name="events")
    kind = models.CharField(_("事项"), max_length=16, choices=Kind.choices)
    from_status = models.CharField(_("原状态"), max_length=16, choices=Status.choices, blank=True)
    to_status = models.CharField(_("新状态"), max_length=16, choices=Status.choices, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("操作人")
    )
    at = models.DateTimeField(_("时间"), default=timezone.now)
    text = models.TextField(_("内容"), blank=True)
    step = models.CharField(_("环节"), max_length=12, choices=Step.choices, blank=True)
    level = models.PositiveSmallIntegerField(_("督办层级"), choices=EscalationLevel.choices, null=True, blank=True)
    evidence = models.FileField(_("佐证材料"), upload_to=_evidence_path, blank=True, max_length=200)
    evidence_name = models.CharField(max_length=200, blank=True)
    processed_at = models.DateTimeField(_("通知处理时间"), null=True, blank=True, editable=False)

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("问题办理记录")
        verbose_name_plural = _("问题办理记录")
        indexes = [
            models.Index(fields=["problem", "at"], name="problem_event_history_idx"),
            models.Index(fields=["id"], name="problem_event_outbox_idx", condition=Q(processed_at__isnull=True)),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.problem_id}"
