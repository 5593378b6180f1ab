"""The local working-day calendar: admin-entered overrides on top of the `chinese_calendar` data.

`chinese_calendar` carries the State Council holiday notices only up to the year of its release
(2026 for 1.11.0). Each November the next year's notice appears; until the package is upgraded,
an administrator enters it here. An override also serves a local decision (a district closing for a
flood, say). The date maths lives in `keyprojects.workcal.calendar`; this module only holds the table,
the signals that tell the calendar's cache that the table changed, and the system check that warns
when a year has no holiday data at all.
"""

from __future__ import annotations

import datetime
import logging

from django.core import checks
from django.core.exceptions import ValidationError
from django.db import DatabaseError, models, transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

logger = logging.getLogger(__name__)


class CalendarOverride(models.Model):
    """One day whose status differs from what `chinese_calendar` (or Monday–Friday) says.

    `kind` is "holiday" (放假: nobody works, even on a weekday) or "workday" (调休上班: a make-up
    working day, even on a Saturday or Sunday). An override always wins over the package data, so an
    administrator can both fill a year the package does not cover and correct a year it does.
    A date has at most one override (a unique column), so a day is never both a holiday and a workday.
    """

    class Kind(models.TextChoices):
        HOLIDAY = "holiday", _("放假")
        WORKDAY = "workday", _("调休上班")

    date = models.DateField(
        _("日期"),
        unique=True,
        error_messages={"unique": _("该日期已有工作日历调整记录。")},
    )
    kind = models.CharField(_("类型"), max_length=10, choices=Kind.choices)
    name = models.CharField(_("名称"), max_length=50, help_text=_("例如“2027年春节”。"))
    note = models.TextField(_("备注"), blank=True)
    created_at = models.DateTimeField(_("录入时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("工作日历调整")
        verbose_name_plural = _("工作日历调整")
        ordering = ["date"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=["holiday", "workday"]),
                name="workcal_override_kind_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.date.isoformat()} {self.get_kind_display()}（{self.name}）"

    def clean(self) -> None:
        if not self.date:
            return
        other = CalendarOverride.objects.filter(date=self.date).exclude(pk=self.pk).first()
        if other is None:
            return
        params = {"kind": other.get_kind_display(), "name": other.name}
        if other.kind != self.kind:
            message = _("同一天不能既是假日又是工作日：该日期已录入为“%(kind)s”（%(name)s）。")
        else:
            message = _("该日期已录入为“%(kind)s”（%(name)s），无需重复录入。")
        raise ValidationError({"date": ValidationError(message, code="conflict", params=params)})


@receiver(post_save, sender=CalendarOverride, dispatch_uid="workcal_override_saved")
@receiver(post_delete, sender=CalendarOverride, dispatch_uid="workcal_override_deleted")
def _override_changed(sender, **kwargs) -> None:
    """Drop this process's cached year tables now, and tell every process again after the commit.

    Clearing at once lets the saving transaction see its own change; clearing again on commit drops
    a table another thread may have loaded from the not-yet-committed state in between, and the
    shared version stamp makes other processes reload.
    """
    from keyprojects.workcal import calendar

    calendar.clear_local_cache()
    transaction.on_commit(calendar.invalidate_cache)


def calendar_year_warnings(today: datetime.date | None = None) -> list[checks.CheckMessage]:
    """Warnings for this year and next year when neither the package nor the override table has them."""
    from keyprojects.workcal.calendar import missing_calendar_years

    today = today or timezone.localdate()
    return [
        checks.Warning(
            f"{year}年的法定节假日安排尚未录入，工作日按周一至周五计算，请在“工作日历”中补录。",
            id="workcal.W001",
        )
        for year in missing_calendar_years([today.year, today.year + 1])
    ]


@checks.register()
def check_calendar_years(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """System check workcal.W001. Never fails: without a database or before `migrate` it says nothing."""
    try:
        from django.db import connection

        if CalendarOverride._meta.db_table not in connection.introspection.table_names():
            return []
        return calendar_year_warnings()
    except DatabaseError:  # OperationalError, ProgrammingError: no server, no table yet
        logger.debug("workcal check skipped: database not ready", exc_info=True)
        return []
