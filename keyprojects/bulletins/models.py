"""The rhythm (日通报、周调度、月点评、季度观摩、半年考评、年底总评): its schedule and its documents.

A `ReviewEvent` is one line of the schedule (configurable in the admin): when it is due, the worker
(`worker.run_pass`) creates a draft `Bulletin` from a snapshot of the data taken at that moment
(`snapshot.build`). Staff edit the commentary and issue it; an issued bulletin is archived and never
changes: its figures are the stored snapshot (JSON), never recomputed from live data, and its
`content_hash` is the SHA-256 of the canonical JSON of the figures and the commentary.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

# Neutral until the district sets its own name in 通报文件设置 (the demo sets "红旗区项目推进服务中心").
DEFAULT_ISSUING_BODY = "项目推进服务中心"
ISSUED_REFUSAL = _("该文件已印发归档，内容不能再修改。")


class Kind(models.TextChoices):
    """The review events of the rhythm, shortest cycle first."""

    DAILY = "daily", _("日通报")
    WEEKLY = "weekly", _("周调度")
    MONTHLY = "monthly", _("月点评")
    QUARTERLY = "quarterly", _("季度观摩")
    HALF_YEAR = "half_year", _("半年考评")
    ANNUAL = "annual", _("年底总评")


# The character of each kind in the 文号 ("区项推月〔2026〕3号").
NUMBER_MARK = {
    Kind.DAILY: "日",
    Kind.WEEKLY: "周",
    Kind.MONTHLY: "月",
    Kind.QUARTERLY: "季",
    Kind.HALF_YEAR: "半",
    Kind.ANNUAL: "年",
}


class BulletinSettings(models.Model):
    """The documents' letterhead: the issuing body (red header) and the 文号's abbreviation; one row (id 1)."""

    issuing_body = models.CharField(_("发文机关"), max_length=60, default=DEFAULT_ISSUING_BODY)
    number_prefix = models.CharField(
        _("文号机关代字"), max_length=20, default="区项推", help_text=_("文号形如：区项推月〔2026〕3号。")
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("通报文件设置")
        verbose_name_plural = _("通报文件设置")
        constraints = [models.CheckConstraint(condition=Q(id=1), name="bulletin_settings_singleton")]

    def __str__(self) -> str:
        return str(_("通报文件设置"))

    def save(self, *args, **kwargs):
        self.pk = 1
        super().save(*args, **kwargs)

    @classmethod
    def load(cls) -> BulletinSettings:
        """The configuration row, or the defaults when nobody saved one yet (reading never writes)."""
        return cls.objects.filter(pk=1).first() or cls(pk=1)


class ReviewEvent(models.Model):
    """One review event of the schedule and when it is next due.

    When it falls due (see `schedule.py`):

    - 日通报: every working day (`workcal`), at `hour`;
    - 周调度: on `weekday` (0 = Monday) each week, the next working day when that day is a holiday;
    - 月点评: `day` days after the monthly report's due day (`ProgressSettings.due_day`), for last month;
    - 季度观摩: on `day` of the first month after the quarter;
    - 半年考评: on `day` of `month` (July) for the first half-year;
    - 年底总评: on `day` of `month` (January) for the year before.

    `next_due_at` is the next moment the worker must create a draft (indexed; the worker claims it
    with a conditional UPDATE). `options` holds the kind's settings: the monthly ranking's indicators
    and red/black list size (`{"indicators": [...], "top_n": 3}`), the scheme of an evaluation
    (`{"scheme": "sangeyipi"}`).
    """

    kind = models.CharField(_("类型"), max_length=12, choices=Kind.choices, unique=True)
    title = models.CharField(_("文件名称"), max_length=60, blank=True, help_text=_("留空时用类型名称。"))
    enabled = models.BooleanField(_("启用"), default=True)
    weekday = models.PositiveSmallIntegerField(
        _("星期几（周调度）"), default=0, validators=[MaxValueValidator(6)], help_text=_("0 为星期一，6 为星期日。")
    )
    month = models.PositiveSmallIntegerField(
        _("月份（半年/年度）"), default=7, validators=[MinValueValidator(1), MaxValueValidator(12)]
    )
    day = models.PositiveSmallIntegerField(
        _("日/天数"), default=1, validators=[MinValueValidator(0), MaxValueValidator(28)],
        help_text=_("月点评：月报截止日后第几天；季度、半年、年度：当月几日。"),
    )  # fmt: skip
    hour = models.PositiveSmallIntegerField(_("生成时刻（时）"), default=8, validators=[MaxValueValidator(23)])
    options = models.JSONField(_("选项"), default=dict, blank=True)
    next_due_at = models.DateTimeField(_("下次生成时间"), null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("通报日程")
        verbose_name_plural = _("通报日程")
        indexes = [
            models.Index(fields=["next_due_at"], name="review_event_due_idx", condition=Q(next_due_at__isnull=False))
        ]

    def __str__(self) -> str:
        return self.title or str(Kind(self.kind).label)

    def clean(self) -> None:
        if self.kind == Kind.MONTHLY and self.day > 20:
            raise ValidationError({"day": _("月点评应在月报截止后20天内生成。")})
        options = self.options or {}
        if not isinstance(options, dict):
            raise ValidationError({"options": _("选项应为 JSON 对象。")})
        from keyprojects.bulletins.snapshot import INDICATORS  # the snapshot module defines them

        unknown = [i for i in options.get("indicators", []) if i not in INDICATORS]
        if unknown:
            raise ValidationError({"options": _("未知的排名指标：%(v)s。") % {"v": "、".join(map(str, unknown))}})
        top_n = options.get("top_n", 3)
        if not isinstance(top_n, int) or not 1 <= top_n <= 10:
            raise ValidationError({"options": _("红黑榜人数（top_n）应为1到10的整数。")})


class Status(models.TextChoices):
    DRAFT = "draft", _("草稿")
    ISSUED = "issued", _("已印发")


def canonical_json(value: Any) -> str:
    """The one serialisation the content hash is taken over: sorted keys, no spaces, UTF-8 text."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def content_hash(figures: Any, commentary: Any) -> str:
    return hashlib.sha256(canonical_json({"figures": figures, "commentary": commentary}).encode()).hexdigest()


class Bulletin(models.Model):
    """A document of the rhythm: the snapshot's figures, the staff's commentary, and its state.

    `figures` is the snapshot taken when the draft was made (plain JSON: Decimals as strings); every
    output (Word, Excel, the page) is rendered from it and the commentary alone. Once issued the row
    is immutable: `save()` refuses any change, and `content_hash` seals figures + commentary.
    (kind, as_of) is unique, so two workers, or a worker and a person, never make the same draft twice.
    """

    kind = models.CharField(_("类型"), max_length=12, choices=Kind.choices)
    as_of = models.DateField(_("截至日期"))
    period_start = models.DateField(_("统计起始日"))
    period_end = models.DateField(_("统计截止日"))
    title = models.CharField(_("标题"), max_length=120)
    status = models.CharField(_("状态"), max_length=8, choices=Status.choices, default=Status.DRAFT)
    year = models.PositiveSmallIntegerField(_("文号年份"), null=True, blank=True)
    number = models.PositiveIntegerField(_("文号序号"), null=True, blank=True)
    document_number = models.CharField(_("文号"), max_length=40, blank=True)
    issuing_body = models.CharField(_("发文机关"), max_length=60, blank=True)
    figures = models.JSONField(_("数据快照"), default=dict)
    commentary = models.JSONField(_("点评内容"), default=dict, blank=True)
    content_hash = models.CharField(_("内容摘要（SHA-256）"), max_length=64, blank=True)
    snapshot_at = models.DateTimeField(_("快照时间"))
    meeting = models.ForeignKey(
        "visits.Meeting", models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("会议记录")
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("生成人")
    )
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("印发人")
    )
    issued_at = models.DateTimeField(_("印发时间"), null=True, blank=True)
    version = models.PositiveIntegerField(default=1, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-as_of", "-id"]
        verbose_name = _("通报文件")
        verbose_name_plural = _("通报文件")
        constraints = [
            models.UniqueConstraint(fields=["kind", "as_of"], name="bulletin_one_per_day"),
            models.UniqueConstraint(
                fields=["kind", "year", "number"], name="bulletin_number_unique", condition=Q(number__isnull=False)
            ),
        ]
        indexes = [models.Index(fields=["kind", "as_of"], name="bulletin_kind_date_idx")]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Read without triggering a deferred-field query (a list may load the row with .only()).
        self._loaded_status = self.__dict__.get("status") if self.pk else None

    def __str__(self) -> str:
        return self.title

    def save(self, *args, **kwargs):
        if self._loaded_status == Status.ISSUED:
            raise ValidationError(ISSUED_REFUSAL, code="invalid_state")
        super().save(*args, **kwargs)
        self._loaded_status = self.status

    def delete(self, *args, **kwargs):
        if self._loaded_status == Status.ISSUED:
            raise ValidationError(ISSUED_REFUSAL, code="invalid_state")
        return super().delete(*args, **kwargs)

    @property
    def issued(self) -> bool:
        return self.status == Status.ISSUED

    @staticmethod
    def format_number(prefix: str, kind: str, year: int, number: int) -> str:
        """The 文号, e.g. 区项推月〔2026〕3号 (frozen into `document_number` when issued)."""
        return f"{prefix}{NUMBER_MARK[kind]}〔{year}〕{number}号"

    def compute_hash(self) -> str:
        return content_hash(self.figures, self.commentary)

    def hash_matches(self) -> bool:
        return bool(self.content_hash) and self.content_hash == self.compute_hash()
