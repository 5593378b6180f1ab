"""Site visits (马路办公/现场办公), meetings (周调度会/专题会), leaders' instructions (批示/交办) and
service officers (首席服务员).

What companies ask and what leaders decide do not live here: each demand heard at a site visit is a
`Problem` (待交办), and each decision or instruction is a *task*: a `Problem` with source 现场办公, 周调度会
or 领导批示, assigned at once to its owner unit with its own 办结 deadline (`problems.domain.assign(...,
resolve_due=...)`). So tasks run on the same 13710 clock as problems: the worker reminds, marks them
overdue and escalates them, the unit figures count them, and they are handled and closed on the problem
pages. `OriginLink` is the forward link (visit → its problems, indexed) and `Problem.origin_type` /
`origin_id` the link back.

Every change goes through `keyprojects.visits.domain`; who sees what is decided in `keyprojects.visits.access`.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from keyprojects.org.models import Unit
from keyprojects.problems.models import Problem
from keyprojects.projects.models import Project

# Problem.origin_type values: what a problem or task came from (Problem.origin_id is that object's id).
ORIGIN_SITE_VISIT = "visits.sitevisit"
ORIGIN_MEETING = "visits.meeting"
ORIGIN_INSTRUCTION = "visits.instruction"
ORIGIN_OFFICER_VISIT = "visits.officervisit"


class SiteVisit(models.Model):
    """A leaders' site visit (马路办公/现场办公): who, when, where, which projects, what was heard and decided."""

    visited_on = models.DateField(_("日期"))
    place = models.CharField(_("地点"), max_length=200)
    leaders = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="led_site_visits", verbose_name=_("带队领导")
    )
    projects = models.ManyToManyField(Project, related_name="site_visits", verbose_name=_("现场项目"))
    attendees = models.TextField(_("参加人员"), blank=True)
    summary = models.TextField(_("现场办公情况"), blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="+", verbose_name=_("登记人"))
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-visited_on", "-id"]
        verbose_name = _("现场办公")
        verbose_name_plural = _("现场办公")
        indexes = [models.Index(fields=["visited_on", "id"], name="sitevisit_date_idx")]

    def __str__(self) -> str:
        return f"{self.visited_on:%Y-%m-%d} {self.place}"


class Meeting(models.Model):
    """A weekly dispatch meeting (周调度会) or a topical meeting (专题会) with its minutes and decisions."""

    class Kind(models.TextChoices):
        WEEKLY = "weekly", _("周调度会")
        TOPIC = "topic", _("专题会")

    kind = models.CharField(_("会议类型"), max_length=10, choices=Kind.choices, default=Kind.WEEKLY)
    title = models.CharField(_("会议名称"), max_length=200, blank=True, help_text=_("留空时按日期和类型生成。"))
    held_on = models.DateField(_("会议日期"))
    chair = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, related_name="chaired_meetings", verbose_name=_("主持人")
    )
    projects = models.ManyToManyField(Project, blank=True, related_name="meetings", verbose_name=_("调度项目"))
    attendees = models.TextField(_("参会人员"), blank=True)
    minutes = models.TextField(_("会议纪要"), blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="+", verbose_name=_("登记人"))
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-held_on", "-id"]
        verbose_name = _("调度会议")
        verbose_name_plural = _("调度会议")
        indexes = [models.Index(fields=["held_on", "id"], name="meeting_date_idx")]

    def __str__(self) -> str:
        return self.title or f"{self.held_on:%Y-%m-%d} {self.get_kind_display()}"


class Instruction(models.Model):
    """A leader's written instruction (批示) or assignment (交办): one tracked task per project."""

    class Kind(models.TextChoices):
        INSTRUCTION = "instruction", _("批示")
        ASSIGNMENT = "assignment", _("交办")

    kind = models.CharField(_("类型"), max_length=12, choices=Kind.choices, default=Kind.INSTRUCTION)
    leader = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, related_name="instructions", verbose_name=_("批示领导")
    )
    given_on = models.DateField(_("批示日期"))
    text = models.TextField(_("批示内容"))
    projects = models.ManyToManyField(Project, related_name="instructions", verbose_name=_("涉及项目"))
    lead_unit = models.ForeignKey(Unit, models.PROTECT, related_name="+", verbose_name=_("承办单位"))
    due_on = models.DateField(_("办结期限"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="+", verbose_name=_("登记人"))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-given_on", "-id"]
        verbose_name = _("领导批示")
        verbose_name_plural = _("领导批示")
        indexes = [models.Index(fields=["given_on", "id"], name="instruction_date_idx")]

    def __str__(self) -> str:
        text = self.text if len(self.text) <= 30 else self.text[:30] + "…"
        return f"{self.leader}{self.get_kind_display()}：{text}"


# --- service officers ------------------------------------------------------------------------------------


class ServiceRole(models.Model):
    """A role a service officer holds on a pairing (configurable; Hongqi's four by default)."""

    name = models.CharField(_("名称"), max_length=40, unique=True)
    description = models.CharField(_("说明"), max_length=200, blank=True)
    position = models.PositiveSmallIntegerField(_("顺序"), default=0)
    is_active = models.BooleanField(_("启用"), default=True)

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("首席服务员职责")
        verbose_name_plural = _("首席服务员职责")

    def __str__(self) -> str:
        return self.name


class OfficerPairing(models.Model):
    """A service officer paired with one provincial or municipal key project for a period.

    Active means: started and not ended (`ended_on` empty or not before the day asked about). A
    project has at most one active pairing (the domain refuses overlapping periods; the partial
    unique constraint refuses a second open-ended one even under concurrency).
    """

    officer = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, related_name="officer_pairings", verbose_name=_("首席服务员")
    )
    project = models.ForeignKey(Project, models.PROTECT, related_name="officer_pairings", verbose_name=_("项目"))
    roles = models.ManyToManyField(ServiceRole, blank=True, related_name="pairings", verbose_name=_("职责"))
    started_on = models.DateField(_("结对日期"))
    ended_on = models.DateField(_("结束日期"), null=True, blank=True)
    note = models.CharField(_("备注"), max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("登记人")
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-started_on", "-id"]
        verbose_name = _("首席服务员结对")
        verbose_name_plural = _("首席服务员结对")
        constraints = [
            models.UniqueConstraint(
                fields=["project"], condition=Q(ended_on__isnull=True), name="pairing_one_open_per_project"
            ),
            models.CheckConstraint(
                condition=Q(ended_on__isnull=True) | Q(ended_on__gte=models.F("started_on")),
                name="pairing_end_not_before_start",
            ),
        ]
        indexes = [models.Index(fields=["officer", "started_on"], name="pairing_officer_idx")]

    def __str__(self) -> str:
        return f"{self.officer} · {self.project}"

    def is_active_on(self, day) -> bool:
        return self.started_on <= day and (self.ended_on is None or self.ended_on >= day)


class OfficerVisit(models.Model):
    """One entry of a service officer's visit log (走访记录)."""

    class Kind(models.TextChoices):
        ON_SITE = "on_site", _("实地走访")
        PHONE = "phone", _("电话联系")

    officer = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, related_name="officer_visits", verbose_name=_("首席服务员")
    )
    project = models.ForeignKey(Project, models.PROTECT, related_name="officer_visits", verbose_name=_("项目"))
    visited_on = models.DateField(_("走访日期"))
    kind = models.CharField(_("方式"), max_length=10, choices=Kind.choices, default=Kind.ON_SITE)
    content = models.TextField(_("走访内容"))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-visited_on", "-id"]
        verbose_name = _("首席服务员走访")
        verbose_name_plural = _("首席服务员走访")
        indexes = [
            models.Index(fields=["officer", "visited_on"], name="officervisit_officer_idx"),
            models.Index(fields=["visited_on", "officer"], name="officervisit_month_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.officer} {self.visited_on:%Y-%m-%d} {self.get_kind_display()}"


class PolicyPush(models.Model):
    """A policy a service officer brought to the project's company (惠企政策宣传)."""

    officer = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, related_name="policy_pushes", verbose_name=_("首席服务员")
    )
    project = models.ForeignKey(Project, models.PROTECT, related_name="policy_pushes", verbose_name=_("项目"))
    pushed_on = models.DateField(_("推送日期"))
    title = models.CharField(_("政策名称"), max_length=200)
    note = models.TextField(_("说明"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-pushed_on", "-id"]
        verbose_name = _("惠企政策推送")
        verbose_name_plural = _("惠企政策推送")
        indexes = [models.Index(fields=["officer", "pushed_on"], name="policypush_officer_idx")]

    def __str__(self) -> str:
        return self.title


# --- links and photos --------------------------------------------------------------------------------------


class OriginLink(models.Model):
    """The forward link from a visit, meeting, instruction or officer visit to a problem or task it produced.

    Exactly one of the four parents is set. `kind` tells a demand heard (诉求, a problem waiting to be
    assigned) from a decision or instruction (a task with an owner unit and its own deadline).
    """

    class Kind(models.TextChoices):
        DEMAND = "demand", _("企业诉求")
        DECISION = "decision", _("议定事项")
        INSTRUCTION = "instruction", _("批示事项")

    problem = models.OneToOneField(Problem, models.CASCADE, related_name="origin_link")
    kind = models.CharField(_("类别"), max_length=12, choices=Kind.choices)
    site_visit = models.ForeignKey(SiteVisit, models.CASCADE, null=True, blank=True, related_name="links")
    meeting = models.ForeignKey(Meeting, models.CASCADE, null=True, blank=True, related_name="links")
    instruction = models.ForeignKey(Instruction, models.CASCADE, null=True, blank=True, related_name="links")
    officer_visit = models.ForeignKey(OfficerVisit, models.CASCADE, null=True, blank=True, related_name="links")

    class Meta:
        ordering = ["id"]
        verbose_name = _("来源关联")
        verbose_name_plural = _("来源关联")
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(site_visit__isnull=False, meeting=None, instruction=None, officer_visit=None)
                    | Q(site_visit=None, meeting__isnull=False, instruction=None, officer_visit=None)
                    | Q(site_visit=None, meeting=None, instruction__isnull=False, officer_visit=None)
                    | Q(site_visit=None, meeting=None, instruction=None, officer_visit__isnull=False)
                ),
                name="originlink_one_parent",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.problem_id}"


def _photo_path(instance: Photo, filename: str) -> str:
    # Never a name the user chose: a random name, the suffix of the detected image type.
    return f"visit-photos/{uuid.uuid4().hex}.{instance.image_type}"


class Photo(models.Model):
    """A JPEG or PNG photo of a site visit or of an officer's visit.

    Stored under a random name and served only through `visits.views.photo`, after the access check
    of the visit it belongs to (no URL maps to MEDIA_ROOT).
    """

    class ImageType(models.TextChoices):
        JPEG = "jpg", "JPEG"
        PNG = "png", "PNG"

    site_visit = models.ForeignKey(SiteVisit, models.CASCADE, null=True, blank=True, related_name="photos")
    officer_visit = models.ForeignKey(OfficerVisit, models.CASCADE, null=True, blank=True, related_name="photos")
    file = models.FileField(upload_to=_photo_path, max_length=200)
    image_type = models.CharField(max_length=4, choices=ImageType.choices)
    original_name = models.CharField(_("原文件名"), max_length=200, blank=True)
    size = models.PositiveIntegerField(_("大小（字节）"))
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, related_name="+")
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("照片")
        verbose_name_plural = _("照片")
        constraints = [
            models.CheckConstraint(
                condition=Q(site_visit__isnull=False, officer_visit=None)
                | Q(site_visit=None, officer_visit__isnull=False),
                name="photo_one_parent",
            )
        ]

    def __str__(self) -> str:
        return self.original_name or self.file.name

    @property
    def content_type(self) -> str:
        return "image/png" if self.image_type == self.ImageType.PNG else "image/jpeg"
