"""Admin for the working-day calendar: administrators enter each year's holiday notice here."""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from keyprojects.audit.admin import AuditedAdmin
from keyprojects.workcal.models import CalendarOverride, calendar_year_warnings


class YearFilter(admin.SimpleListFilter):
    title = _("年份")
    parameter_name = "year"

    def lookups(self, request, model_admin):
        years = CalendarOverride.objects.dates("date", "year", order="DESC")
        return [(str(d.year), f"{d.year}年") for d in years]

    def queryset(self, request, queryset):
        value = self.value()
        if value and value.isdigit():
            return queryset.filter(date__year=int(value))
        return queryset


@admin.register(CalendarOverride)
class CalendarOverrideAdmin(AuditedAdmin):
    list_display = ["date", "weekday", "kind", "name", "note", "created_at"]
    list_filter = [YearFilter, "kind"]
    search_fields = ["name", "note"]
    ordering = ["-date"]
    readonly_fields = ["created_at"]

    @admin.display(description=_("星期"), ordering="date")
    def weekday(self, obj: CalendarOverride) -> str:
        return "一二三四五六日"[obj.date.weekday()].join(("星期", ""))

    def changelist_view(self, request, extra_context=None):
        """Show the workcal.W001 warning (this year or next year has no holiday data) above the list."""
        if request.method == "GET":
            for warning in calendar_year_warnings(timezone.localdate()):
                messages.warning(request, warning.msg)
        return super().changelist_view(request, extra_context)
