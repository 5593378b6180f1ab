"""The project list filter, defined once: the list page, the Excel export and the API use it."""

from __future__ import annotations

from django import forms
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.forms.utils import flatatt
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from keyprojects.org.models import Unit
from keyprojects.projects.models import (
    Batch,
    BatchMembership,
    FinancingModel,
    Industry,
    Level,
    Phase,
    Project,
    SizeBand,
    Stage,
    Status,
)

SORTS = {
    "-id": ("-id",),
    "name": ("name", "id"),
    "-total_investment": ("-total_investment", "-id"),
    "total_investment": ("total_investment", "id"),
    "planned_start": ("planned_start", "id"),
    "-planned_start": ("-planned_start", "-id"),
    "-updated_at": ("-updated_at", "-id"),
}
# 阶段及以后: a project that has reached a stage is in it or in a later one (`Stage.reached`).
REACHED_CHOICES = [
    ("", _("不限")),
    *((value, format_lazy(_("{stage}及以后"), stage=label)) for value, label in Stage.choices),
]

SORT_LABELS = {
    "-id": _("最新建档"),
    "name": _("名称"),
    "-total_investment": _("总投资从高到低"),
    "total_investment": _("总投资从低到高"),
    "planned_start": _("计划开工从早到晚"),
    "-planned_start": _("计划开工从晚到早"),
    "-updated_at": _("最近更新"),
}


class FastSelect(forms.Select):
    """A <select> rendered in Python, with the markup of Django's own template.

    Django renders a select through a template per option; the list filters show a hundred options
    or so on every page load, which cost more than the rest of the page. Option groups fall back to
    Django's rendering.
    """

    def render(self, name, value, attrs=None, renderer=None):
        if self.allow_multiple_selected:
            return super().render(name, value, attrs, renderer)
        values = {str(v) for v in self.format_value(value)}
        options = []
        for option_value, label in self.choices:
            if isinstance(label, (list, tuple)):
                return super().render(name, value, attrs, renderer)
            text = "" if option_value is None else str(option_value)
            selected = " selected" if text in values else ""
            options.append(f'<option value="{escape(text)}"{selected}>{escape(label)}</option>')
        head = f'<select name="{escape(name)}"{flatatt(self.build_attrs(self.attrs, attrs))}>'
        return mark_safe(head + "\n  " + "\n  ".join(options) + "\n</select>")


def list_count(queryset: QuerySet, topics: tuple[str, ...] = ("projects",)) -> int:
    """`queryset.count()`, kept in the cache while none of the data `topics` has changed.

    At provincial scale a list's COUNT(*) reads 50,000 index entries on every page load (10-15 ms on
    PostgreSQL). The count is cached under the queryset's SQL (so each scope and filter has its own)
    and the current tokens of `topics` (`rollups.cache`): any saved or deleted project or problem
    replaces the token, so the count shown is always exact; it is never an estimate.
    """
    from keyprojects.rollups.cache import cached, queryset_key

    return cached("list-count", topics, queryset_key(queryset), queryset.count)


def use_fast_selects(form: forms.Form) -> None:
    """Give every plain drop-down of `form` the FastSelect rendering (same choices, same attributes)."""
    for field in form.fields.values():
        if type(field.widget) is forms.Select:
            field.widget = FastSelect(attrs=field.widget.attrs, choices=field.widget.choices)


class ProjectFilter(forms.Form):
    """Validates list filters from a query string; unknown or forged values give field errors."""

    q = forms.CharField(label=_("搜索"), required=False, max_length=100)
    stage = forms.ChoiceField(label=_("阶段"), required=False, choices=[("", _("全部阶段")), *Stage.choices])
    reached = forms.ChoiceField(label=_("阶段及以后"), required=False, choices=REACHED_CHOICES)
    status = forms.ChoiceField(label=_("状态"), required=False, choices=[("", _("全部状态")), *Status.choices])
    level = forms.ChoiceField(label=_("级别"), required=False, choices=[("", _("全部级别")), *Level.choices])
    size_band = forms.ModelChoiceField(
        label=_("规模"), required=False, queryset=SizeBand.objects.all(), empty_label=_("全部规模")
    )
    industry = forms.ModelChoiceField(
        label=_("行业"), required=False, queryset=Industry.objects.all(), empty_label=_("全部行业")
    )
    financing_model = forms.ModelChoiceField(
        label=_("融资模式"), required=False, queryset=FinancingModel.objects.all(), empty_label=_("全部融资模式")
    )
    town = forms.ModelChoiceField(
        label=_("乡镇街道"), required=False, queryset=Unit.objects.filter(kind=Unit.Kind.TOWN),
        empty_label=_("全部乡镇街道"),
    )  # fmt: skip
    responsible_unit = forms.ModelChoiceField(
        label=_("责任单位"), required=False,
        queryset=Unit.objects.exclude(kind=Unit.Kind.ENTERPRISE), empty_label=_("全部责任单位"),
    )  # fmt: skip
    phase = forms.ModelChoiceField(
        label=_("三个一批期次"), required=False, queryset=Phase.objects.all(), empty_label=_("全部期次")
    )
    batch = forms.ChoiceField(label=_("批次"), required=False, choices=[("", _("全部批次")), *Batch.choices])
    sort = forms.ChoiceField(label=_("排序"), required=False, choices=list(SORT_LABELS.items()))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        use_fast_selects(self)

    def filter(self, projects: QuerySet[Project]) -> QuerySet[Project]:
        """Apply the valid filters to a queryset that already went through the access module."""
        data = self.cleaned_data if self.is_valid() else {}
        if q := (data.get("q") or "").strip():
            projects = projects.filter(Q(name__icontains=q) | Q(code__icontains=q) | Q(owner_name__icontains=q))
        for field in ("stage", "status", "level", "industry", "financing_model", "town", "responsible_unit"):
            if value := data.get(field):
                projects = projects.filter(**{field: value})
        if reached := data.get("reached"):
            projects = projects.filter(stage__in=Stage.reached(reached))
        if band := data.get("size_band"):
            projects = projects.filter(total_investment__gte=band.min_investment)
        phase, batch = data.get("phase"), data.get("batch")
        if phase or batch:
            members = BatchMembership.objects.filter(project=OuterRef("pk"))
            if phase:
                members = members.filter(phase=phase)
            if batch:
                members = members.filter(batch=batch)
            projects = projects.filter(Exists(members))
        return projects.order_by(*SORTS[data.get("sort") or "-id"])
