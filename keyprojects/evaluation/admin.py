"""Admin: evaluation schemes are edited here (audited, weights checked); tours are read-only here.

A scheme's page edits its groups (weights must add up to 100); a group's page edits its indicators
(weights inside the group must add up to 100; each rule's parameters are checked). Every change,
inline rows included, writes the audit trail.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from keyprojects.audit.admin import AuditedAdmin
from keyprojects.audit.models import AuditRecord
from keyprojects.audit.trail import record, snapshot
from keyprojects.evaluation.models import (
    HUNDRED,
    Indicator,
    IndicatorGroup,
    ObservationTour,
    Rule,
    Scheme,
    ScoreSheet,
    TourCriterion,
    TourJudge,
    TourProject,
)
from keyprojects.evaluation.rules import ZERO, number, parse_steps, steps_text
from keyprojects.evaluation.sources import source_choices


class AuditedInlinesMixin:
    """Writes an audit record for every inline row created, changed or deleted."""

    def save_formset(self, request, form, formset, change):
        formset.save(commit=False)  # fills new_objects, changed_objects and deleted_objects
        for obj in formset.deleted_objects:
            record(actor=request.user, action=AuditRecord.Action.DELETE, obj=obj, before=snapshot(obj))
            obj.delete()
        for obj, _fields in formset.changed_objects:
            before = snapshot(type(obj).objects.get(pk=obj.pk))
            obj.save()
            record(actor=request.user, action=AuditRecord.Action.UPDATE, obj=obj, before=before, after=snapshot(obj))
        for obj in formset.new_objects:
            obj.save()
            record(actor=request.user, action=AuditRecord.Action.CREATE, obj=obj, after=snapshot(obj))
        formset.save_m2m()


class GroupFormSet(forms.BaseInlineFormSet):
    """The groups' weights must add up to 100 (adjustment groups weigh 0)."""

    def clean(self):
        super().clean()
        if any(self.errors):
            return
        rows = [f.cleaned_data for f in self.forms if f.cleaned_data and not f.cleaned_data.get("DELETE")]
        regular = [r for r in rows if not r.get("is_adjustment")]
        total = sum((r.get("weight") or ZERO for r in regular), ZERO)
        if regular and total != HUNDRED:
            parts = "、".join(f"{r.get('name')}{number(r.get('weight') or ZERO)}" for r in regular)
            raise ValidationError(
                _("各指标组权重合计为%(total)s，应为100（%(parts)s）。") % {"total": number(total), "parts": parts}
            )
        if not regular:
            raise ValidationError(_("方案至少要有一个计权重的指标组。"))


class GroupInline(admin.TabularInline):
    model = IndicatorGroup
    formset = GroupFormSet
    fields = ["position", "name", "weight", "is_adjustment"]
    extra = 0
    show_change_link = True


@admin.register(Scheme)
class SchemeAdmin(AuditedInlinesMixin, AuditedAdmin):
    list_display = ["name", "code", "unit_kind", "basis", "is_active", "position"]
    list_editable = ["is_active", "position"]
    inlines = [GroupInline]


class StepsField(forms.CharField):
    """The step table as lines "达到值 得分" (highest first), stored as [[达到值, 得分], …]."""

    widget = forms.Textarea(attrs={"rows": 4, "cols": 24})

    def prepare_value(self, value):
        if isinstance(value, list):
            try:
                return steps_text(parse_steps(value))
            except ValueError:
                return str(value)
        return value

    def to_python(self, value):
        text = super().to_python(value) or ""
        steps = []
        for line in text.replace("，", " ").replace(",", " ").splitlines():
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 2:
                raise ValidationError(_("每行填写“达到值 得分”两个数，如“95 100”：%(line)s") % {"line": line})
            try:
                steps.append([str(Decimal(parts[0])), str(Decimal(parts[1]))])
            except InvalidOperation:
                raise ValidationError(_("不是数字：%(line)s") % {"line": line}) from None
        return steps


class IndicatorForm(forms.ModelForm):
    source = forms.ChoiceField(label=gettext_lazy("数据来源"), choices=source_choices)
    steps = StepsField(label=gettext_lazy("分档"), required=False, help_text=gettext_lazy("每行“达到值 得分”"))

    class Meta:
        model = Indicator
        fields = [
            "position", "code", "name", "source", "weight", "rule", "no_data", "note", "floor", "cap", "steps",
            "rank_first", "rank_step", "rank_min", "lower_is_better", "per_item", "limit",
        ]  # fmt: skip


class IndicatorFormSet(forms.BaseInlineFormSet):
    """Inside a regular group the indicators' weights add up to 100; an adjustment group holds only
    bonus and penalty items. Indicator codes are unique in the scheme."""

    def clean(self):
        super().clean()
        if any(self.errors):
            return
        group = self.instance
        rows = [f.cleaned_data for f in self.forms if f.cleaned_data and not f.cleaned_data.get("DELETE")]
        adjust = {Rule.BONUS, Rule.PENALTY}
        if group.is_adjustment:
            wrong = [r["name"] for r in rows if r.get("rule") not in adjust]
            if wrong:
                raise ValidationError(
                    _("加减分项组“%(g)s”只能包含加分或减分项：%(items)s。")
                    % {"g": group.name, "items": "、".join(wrong)}
                )
        else:
            wrong = [r["name"] for r in rows if r.get("rule") in adjust]
            if wrong:
                raise ValidationError(
                    _("加分、减分项应放在加减分项组，不能放在“%(g)s”：%(items)s。")
                    % {"g": group.name, "items": "、".join(wrong)}
                )
            total = sum((r.get("weight") or ZERO for r in rows), ZERO)
            if total != HUNDRED:
                parts = "、".join(f"{r.get('name')}{number(r.get('weight') or ZERO)}" for r in rows)
                raise ValidationError(
                    _("指标组“%(g)s”的指标权重合计为%(total)s，应为100（%(parts)s）。")
                    % {"g": group.name, "total": number(total), "parts": parts}
                )
        codes = [r.get("code") for r in rows]
        if len(set(codes)) != len(codes):
            raise ValidationError(_("同一方案内指标代码不能重复。"))
        if group.pk:
            elsewhere = set(
                Indicator.objects.filter(group__scheme_id=group.scheme_id)
                .exclude(group=group)
                .values_list("code", flat=True)
            )
            clash = sorted(elsewhere & set(codes))
            if clash:
                raise ValidationError(_("指标代码已在本方案其他指标组使用：%(codes)s。") % {"codes": "、".join(clash)})


class IndicatorInline(admin.StackedInline):
    model = Indicator
    form = IndicatorForm
    formset = IndicatorFormSet
    extra = 0
    fieldsets = [
        (None, {"fields": [("position", "code", "name"), ("source", "weight", "rule", "no_data"), "note"]}),
        (gettext_lazy("计分参数（按规则填写）"), {"fields": [
            ("floor", "cap"), "steps", ("rank_first", "rank_step", "rank_min", "lower_is_better"),
            ("per_item", "limit"),
        ]}),
    ]  # fmt: skip


@admin.register(IndicatorGroup)
class IndicatorGroupAdmin(AuditedInlinesMixin, AuditedAdmin):
    list_display = ["name", "scheme", "weight", "is_adjustment", "position"]
    list_filter = ["scheme"]
    inlines = [IndicatorInline]

    def has_add_permission(self, request):
        return False  # groups are added on their scheme's page (weights are checked there)


# --- tours: read-only (organised on the pages, where the domain checks and audits) ------------------------


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class CriterionInline(ReadOnlyInline):
    model = TourCriterion
    fields = ["position", "name", "max_points", "description"]
    readonly_fields = fields


class TourProjectInline(ReadOnlyInline):
    model = TourProject
    fields = ["position", "project"]
    readonly_fields = fields


class JudgeInline(ReadOnlyInline):
    model = TourJudge
    fields = ["user"]
    readonly_fields = fields


@admin.register(ObservationTour)
class ObservationTourAdmin(admin.ModelAdmin):
    list_display = ["title", "year", "quarter", "held_on", "status"]
    list_filter = ["status", "year"]
    inlines = [CriterionInline, TourProjectInline, JudgeInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ScoreSheet)
class ScoreSheetAdmin(admin.ModelAdmin):
    list_display = ["tour", "project", "judge", "total", "updated_at"]
    list_filter = ["tour"]
    list_select_related = ["tour", "project", "judge"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
