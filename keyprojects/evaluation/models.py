"""季度观摩 (quarterly observation tours with judges' score sheets) and 考评方案 (evaluation schemes).

A tour (`ObservationTour`) visits chosen projects; each judge fills one `ScoreSheet` per project with
one `ScoreItem` per criterion. Changes go through `keyprojects.evaluation.tours`, aggregation too.

A scheme (`Scheme`) is a weighted indicator tree: groups (`IndicatorGroup`, weights summing to 100)
and indicators (`Indicator`, weights summing to 100 inside each group), each with a scoring rule and a
named data source. `keyprojects.evaluation.scoring.evaluate` computes it per unit for a period.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from keyprojects.projects.models import Project

HUNDRED = Decimal("100")


# --- 季度观摩 ------------------------------------------------------------------------------------------------


class TourStatus(models.TextChoices):
    DRAFT = "draft", _("筹备中")
    OPEN = "open", _("评分中")
    CLOSED = "closed", _("已结束")


class TownMethod(models.TextChoices):
    MEAN = "mean", _("所观摩项目得分的平均分")
    SUM = "sum", _("所观摩项目得分之和")


class ObservationTour(models.Model):
    """One quarterly observation tour (季度观摩): the projects visited, the judges and the criteria.

    筹备中 → 评分中 (judges score) → 已结束 (results published; scores frozen). A project's score is
    the mean of the judges' totals after dropping the `trim_count` highest and lowest, when at least
    `trim_min_judges` judges scored it; otherwise the plain mean.
    """

    year = models.PositiveSmallIntegerField(_("年度"), validators=[MinValueValidator(2000), MaxValueValidator(2100)])
    quarter = models.PositiveSmallIntegerField(_("季度"), validators=[MinValueValidator(1), MaxValueValidator(4)])
    title = models.CharField(_("观摩活动名称"), max_length=100)
    held_on = models.DateField(_("观摩日期"))
    status = models.CharField(_("状态"), max_length=10, choices=TourStatus.choices, default=TourStatus.DRAFT)
    trim_count = models.PositiveSmallIntegerField(
        _("去掉最高分、最低分各几个"), default=1, validators=[MaxValueValidator(5)],
        help_text=_("0 表示不去掉，直接取平均分。"),
    )  # fmt: skip
    trim_min_judges = models.PositiveSmallIntegerField(
        _("去掉最高最低分的最少评委数"), default=3, validators=[MinValueValidator(1), MaxValueValidator(50)],
        help_text=_("评委人数少于此数时取全部评委的平均分。"),
    )  # fmt: skip
    town_method = models.CharField(
        _("乡镇街道得分"), max_length=10, choices=TownMethod.choices, default=TownMethod.MEAN
    )
    note = models.TextField(_("说明"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("创建人")
    )
    opened_at = models.DateTimeField(_("开始评分时间"), null=True, blank=True)
    closed_at = models.DateTimeField(_("结束时间"), null=True, blank=True)
    version = models.PositiveIntegerField(default=1, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-year", "-quarter", "-held_on", "-id"]
        indexes = [models.Index(fields=["status", "held_on"], name="tour_status_held_idx")]
        verbose_name = _("季度观摩")
        verbose_name_plural = _("季度观摩")

    def __str__(self) -> str:
        return self.title

    @property
    def period_label(self) -> str:
        return f"{self.year}年第{'一二三四'[self.quarter - 1]}季度" if 1 <= (self.quarter or 0) <= 4 else ""

    @property
    def is_open(self) -> bool:
        return self.status == TourStatus.OPEN

    @property
    def is_closed(self) -> bool:
        return self.status == TourStatus.CLOSED

    def clean(self) -> None:
        errors: dict[str, list] = {}
        trim, minimum = self.trim_count, self.trim_min_judges
        if trim and minimum is not None and minimum < 2 * trim + 1:
            message = _("去掉最高分、最低分各%(n)s个后至少要留下1个分数，评委数下限应不少于%(m)s。")
            errors["trim_min_judges"] = [message % {"n": trim, "m": 2 * trim + 1}]
        if self.held_on and self.year and abs(self.held_on.year - self.year) > 1:
            errors["held_on"] = [_("观摩日期与年度相差过大，请核对。")]
        if errors:
            raise ValidationError(errors)


class TourCriterion(models.Model):
    """One scoring criterion of a tour (规模体量, 建设进度, 科技含量…) with its maximum points."""

    tour = models.ForeignKey(ObservationTour, models.CASCADE, related_name="criteria")
    position = models.PositiveSmallIntegerField(_("顺序"), default=0)
    name = models.CharField(_("评分项"), max_length=40)
    max_points = models.DecimalField(
        _("满分"), max_digits=5, decimal_places=2,
        validators=[MinValueValidator(Decimal("0.5")), MaxValueValidator(HUNDRED)],
    )  # fmt: skip
    description = models.CharField(_("评分要点"), max_length=200, blank=True)

    class Meta:
        ordering = ["position", "id"]
        constraints = [models.UniqueConstraint(fields=["tour", "name"], name="tour_criterion_unique_name")]
        verbose_name = _("观摩评分项")
        verbose_name_plural = _("观摩评分项")

    def __str__(self) -> str:
        return f"{self.name}（{self.max_points}分）"


class TourProject(models.Model):
    """A project chosen for a tour, in visiting order."""

    tour = models.ForeignKey(ObservationTour, models.CASCADE, related_name="tour_projects")
    project = models.ForeignKey(Project, models.PROTECT, related_name="tour_visits", verbose_name=_("项目"))
    position = models.PositiveSmallIntegerField(_("观摩顺序"), default=0)

    class Meta:
        ordering = ["position", "id"]
        constraints = [models.UniqueConstraint(fields=["tour", "project"], name="tour_project_unique")]
        verbose_name = _("观摩项目")
        verbose_name_plural = _("观摩项目")

    def __str__(self) -> str:
        return f"{self.tour} · {self.project}"


class TourJudge(models.Model):
    """A judge (评委) of a tour: a user who fills one score sheet per project."""

    tour = models.ForeignKey(ObservationTour, models.CASCADE, related_name="judges")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="tour_judgings",
                             verbose_name=_("评委"))  # fmt: skip

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["tour", "user"], name="tour_judge_unique")]
        verbose_name = _("观摩评委")
        verbose_name_plural = _("观摩评委")

    def __str__(self) -> str:
        return f"{self.tour} · {self.user}"


class ScoreSheet(models.Model):
    """One judge's score sheet for one project of a tour: at most one per (tour, project, judge).

    `total` is the sum of the items, stored when the sheet is saved.
    """

    tour = models.ForeignKey(ObservationTour, models.CASCADE, related_name="sheets")
    project = models.ForeignKey(Project, models.PROTECT, related_name="+", verbose_name=_("项目"))
    judge = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="+", verbose_name=_("评委"))
    total = models.DecimalField(_("总分"), max_digits=6, decimal_places=2, default=Decimal("0"))
    comment = models.CharField(_("评语"), max_length=500, blank=True)
    version = models.PositiveIntegerField(default=1, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["tour", "project", "judge"]
        constraints = [
            models.UniqueConstraint(fields=["tour", "project", "judge"], name="one_sheet_per_judge_project"),
            models.CheckConstraint(condition=Q(total__gte=0), name="sheet_total_not_negative"),
        ]
        verbose_name = _("观摩评分表")
        verbose_name_plural = _("观摩评分表")

    def __str__(self) -> str:
        return f"{self.tour} · {self.project} · {self.judge}"


class ScoreItem(models.Model):
    """The points one judge gave one criterion on a score sheet (0 to the criterion's maximum)."""

    sheet = models.ForeignKey(ScoreSheet, models.CASCADE, related_name="items")
    criterion = models.ForeignKey(TourCriterion, models.PROTECT, related_name="+")
    points = models.DecimalField(_("得分"), max_digits=5, decimal_places=2)

    class Meta:
        ordering = ["criterion__position", "criterion_id"]
        constraints = [
            models.UniqueConstraint(fields=["sheet", "criterion"], name="one_item_per_criterion"),
            models.CheckConstraint(condition=Q(points__gte=0), name="score_item_not_negative"),
        ]
        verbose_name = _("评分明细")
        verbose_name_plural = _("评分明细")

    def __str__(self) -> str:
        return f"{self.criterion.name} {self.points}"


# --- 考评方案 --------------------------------------------------------------------------------------------------


class UnitKind(models.TextChoices):
    TOWN = "town", _("乡镇街道")
    DEPARTMENT = "department", _("职能部门")
    BOTH = "both", _("乡镇街道和职能部门")


class Basis(models.TextChoices):
    UNIT = "unit", _("按责任单位（含下级单位）")
    TOWN = "town", _("按项目所在乡镇街道")


class Scheme(models.Model):
    """An evaluation scheme (考评方案) for 半年考评 and 年底总评: a weighted indicator tree.

    `code` names it in URLs and the API (`/api/v1/evaluations/{code}/{period}`). The units evaluated
    are the active first-level units of `unit_kind` (with at least one project when
    `with_projects_only`); a project belongs to a unit by `basis`, a sub-unit's figures to its parent.
    """

    code = models.SlugField(_("代码"), max_length=40, unique=True, help_text=_("用于网址和接口，如 sangeyipi。"))
    name = models.CharField(_("方案名称"), max_length=100)
    description = models.TextField(_("说明"), blank=True)
    unit_kind = models.CharField(_("参评单位"), max_length=12, choices=UnitKind.choices, default=UnitKind.BOTH)
    basis = models.CharField(_("项目归属"), max_length=8, choices=Basis.choices, default=Basis.UNIT)
    with_projects_only = models.BooleanField(
        _("只评比有项目的单位"), default=True,
        help_text=_("按项目归属没有任何项目的单位不参加评比（如没有项目任务的部门）。"),
    )  # fmt: skip
    is_active = models.BooleanField(_("启用"), default=True)
    position = models.PositiveSmallIntegerField(_("顺序"), default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("考评方案")
        verbose_name_plural = _("考评方案")

    def __str__(self) -> str:
        return self.name


class IndicatorGroup(models.Model):
    """A first-level part of a scheme (谋划储备, 签约落地…) with its weight (points out of 100).

    An adjustment group (加减分项) holds only bonus and penalty items and has weight 0: its items add
    to or take from the total within their limits.
    """

    scheme = models.ForeignKey(Scheme, models.CASCADE, related_name="groups")
    position = models.PositiveSmallIntegerField(_("顺序"), default=0)
    name = models.CharField(_("指标组"), max_length=60)
    weight = models.DecimalField(
        _("权重（分）"), max_digits=5, decimal_places=2, default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(HUNDRED)],
    )  # fmt: skip
    is_adjustment = models.BooleanField(_("加减分项组"), default=False, help_text=_("只含加分、减分项，权重为0。"))

    class Meta:
        ordering = ["position", "id"]
        constraints = [models.UniqueConstraint(fields=["scheme", "name"], name="indicator_group_unique_name")]
        verbose_name = _("指标组")
        verbose_name_plural = _("指标组")

    def __str__(self) -> str:
        return f"{self.name}（{self.weight}）"

    def clean(self) -> None:
        if self.is_adjustment and self.weight:
            raise ValidationError({"weight": _("加减分项组的权重应为0（加减分不占基本分）。")})
        if not self.is_adjustment and not self.weight:
            raise ValidationError({"weight": _("请填写权重（大于0）。")})


class Rule(models.TextChoices):
    LINEAR = "linear", _("线性折算（下限、上限）")
    THRESHOLDS = "thresholds", _("分档计分")
    RANK = "rank", _("按排名计分")
    BONUS = "bonus", _("加分项")
    PENALTY = "penalty", _("减分项")


class NoData(models.TextChoices):
    ZERO = "zero", _("计0分")
    AVERAGE = "average", _("按有数据单位的平均分")
    EXCLUDE = "exclude", _("不计该项，权重按比例分给其他指标")


class Indicator(models.Model):
    """One indicator of a group: a data source, a weight inside the group and a scoring rule.

    Rules give 0–100 points (the score rate), weighted by the indicator's share of the total
    (group weight × indicator weight ÷ 100):

    - linear: raw ≤ `floor` → 0, raw ≥ `cap` → 100, in between proportionally;
    - thresholds: `steps` [[at least, points], …]: the highest step reached, 0 below all;
    - rank: units ranked by raw (ties share a rank), points = `rank_first` − (rank − 1) × `rank_step`,
      not below `rank_min`;
    - bonus / penalty (adjustment groups only, weight 0): raw × `per_item` points, at most `limit`,
      added to or taken from the total.

    A unit without data for the indicator (a rate whose denominator is zero) is scored by `no_data`.
    """

    group = models.ForeignKey(IndicatorGroup, models.CASCADE, related_name="indicators", verbose_name=_("指标组"))
    position = models.PositiveSmallIntegerField(_("顺序"), default=0)
    code = models.SlugField(_("代码"), max_length=40, help_text=_("方案内唯一，如 start_rate。"))
    name = models.CharField(_("指标"), max_length=80)
    source = models.CharField(_("数据来源"), max_length=40)
    weight = models.DecimalField(
        _("组内权重（%）"), max_digits=5, decimal_places=2, default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(HUNDRED)],
    )  # fmt: skip
    rule = models.CharField(_("计分规则"), max_length=12, choices=Rule.choices, default=Rule.LINEAR)
    floor = models.DecimalField(_("下限（得0分）"), max_digits=14, decimal_places=2, null=True, blank=True)
    cap = models.DecimalField(_("上限（得满分）"), max_digits=14, decimal_places=2, null=True, blank=True)
    steps = models.JSONField(_("分档"), default=list, blank=True, help_text=_("[[达到值, 得分], …]"))
    rank_first = models.DecimalField(_("第一名得分"), max_digits=5, decimal_places=2, null=True, blank=True)
    rank_step = models.DecimalField(_("名次每降一位减"), max_digits=5, decimal_places=2, null=True, blank=True)
    rank_min = models.DecimalField(_("排名最低得分"), max_digits=5, decimal_places=2, null=True, blank=True)
    lower_is_better = models.BooleanField(_("数值越小排名越前"), default=False)
    per_item = models.DecimalField(_("每个（每单位）加减分"), max_digits=6, decimal_places=2, null=True, blank=True)
    limit = models.DecimalField(_("加减分上限"), max_digits=6, decimal_places=2, null=True, blank=True)
    no_data = models.CharField(_("无数据时"), max_length=10, choices=NoData.choices, default=NoData.EXCLUDE)
    note = models.CharField(_("说明"), max_length=200, blank=True)

    class Meta:
        ordering = ["position", "id"]
        constraints = [models.UniqueConstraint(fields=["group", "code"], name="indicator_unique_code")]
        verbose_name = _("考评指标")
        verbose_name_plural = _("考评指标")

    def __str__(self) -> str:
        return self.name

    @property
    def is_adjustment(self) -> bool:
        return self.rule in (Rule.BONUS, Rule.PENALTY)

    def clean(self) -> None:
        from keyprojects.evaluation.rules import indicator_problems

        errors = indicator_problems(self)
        if errors:
            raise ValidationError(errors)
