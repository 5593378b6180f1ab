"""Forms of the tour and evaluation pages. They convert input; the domain (`tours.py`) validates it again."""

from __future__ import annotations

import datetime
from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from keyprojects.evaluation.models import ObservationTour, TourCriterion, TownMethod
from keyprojects.evaluation.periods import PeriodError, parse_period
from keyprojects.evaluation.rules import number
from keyprojects.projects.forms import DateInput

CRITERIA_ROWS = 8


class TourForm(forms.Form):
    title = forms.CharField(label=_("观摩活动名称"), max_length=100)
    year = forms.IntegerField(label=_("年度"), min_value=2000, max_value=2100)
    quarter = forms.TypedChoiceField(
        label=_("季度"),
        coerce=int,
        choices=[(1, _("第一季度")), (2, _("第二季度")), (3, _("第三季度")), (4, _("第四季度"))],
    )
    held_on = forms.DateField(label=_("观摩日期"), widget=DateInput)
    trim_count = forms.IntegerField(
        label=_("去掉最高分、最低分各几个"), min_value=0, max_value=5, initial=1, help_text=_("0 表示不去掉。")
    )
    trim_min_judges = forms.IntegerField(
        label=_("评委不少于几人时才去掉"), min_value=1, max_value=50, initial=3,
        help_text=_("评委人数少于此数时取全部评委的平均分。"),
    )  # fmt: skip
    town_method = forms.ChoiceField(label=_("乡镇街道得分"), choices=TownMethod.choices, initial=TownMethod.MEAN)
    note = forms.CharField(label=_("说明"), required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def clean(self):
        data = super().clean()
        if not self.errors:
            try:  # the model's own rules (trim settings, date), shown at once on the form
                ObservationTour(**{k: v for k, v in data.items() if k != "note"}).clean()
            except ValidationError as exc:
                for field, messages in exc.message_dict.items():
                    for message in messages:
                        self.add_error(field if field in self.fields else None, message)
        return data

    @classmethod
    def for_tour(cls, tour: ObservationTour, data=None) -> TourForm:
        initial = {name: getattr(tour, name) for name in cls.base_fields}
        return cls(data, initial=initial)

    @classmethod
    def blank(cls, today: datetime.date, data=None) -> TourForm:
        quarter = (today.month - 1) // 3 + 1
        return cls(data, initial={"year": today.year, "quarter": quarter, "held_on": today,
                                  "title": f"{today.year}年第{'一二三四'[quarter - 1]}季度重点项目观摩"})  # fmt: skip


class CriterionForm(forms.Form):
    name = forms.CharField(label=_("评分项"), max_length=40, required=False)
    max_points = forms.DecimalField(
        label=_("满分"),
        max_digits=5,
        decimal_places=2,
        min_value=Decimal("0.5"),
        max_value=Decimal("100"),
        required=False,
    )
    description = forms.CharField(label=_("评分要点"), max_length=200, required=False)

    def clean(self):
        data = super().clean()
        if data.get("name") and data.get("max_points") is None and "max_points" not in self.errors:
            self.add_error("max_points", _("请填写满分。"))
        if not data.get("name") and data.get("max_points") is not None:
            self.add_error("name", _("请填写评分项名称。"))
        return data


CriteriaFormSet = forms.formset_factory(CriterionForm, extra=0, max_num=20, absolute_max=20, validate_max=True)


def criteria_formset(criteria: list[TourCriterion] | None = None, data=None, defaults=None):
    if data is not None:
        return CriteriaFormSet(data, prefix="criteria")
    if criteria:
        rows = [{"name": c.name, "max_points": c.max_points, "description": c.description} for c in criteria]
    else:
        rows = [{"name": n, "max_points": p, "description": d} for n, p, d in (defaults or [])]
    rows += [{}] * max(0, CRITERIA_ROWS - len(rows))
    return CriteriaFormSet(initial=rows, prefix="criteria")


def criteria_rows(formset) -> list[tuple[str, Decimal, str]]:
    return [
        (f.cleaned_data["name"], f.cleaned_data["max_points"], f.cleaned_data.get("description", ""))
        for f in formset.forms
        if f.cleaned_data.get("name")
    ]


class ProjectSearchForm(forms.Form):
    q = forms.CharField(label=_("查找项目"), max_length=100, required=False,
                        widget=forms.TextInput(attrs={"placeholder": _("项目名称、代码或项目单位")}))  # fmt: skip


class JudgeForm(forms.Form):
    judges = forms.ModelMultipleChoiceField(
        label=_("添加评委"), queryset=None, widget=forms.SelectMultiple(attrs={"size": 8}),
        help_text=_("可多选（按住 Ctrl 或 ⌘）。评委须为在职的业务账号。"),
    )  # fmt: skip

    def __init__(self, *args, queryset, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["judges"].queryset = queryset
        self.fields["judges"].label_from_instance = lambda u: f"{u}（{u.unit or ''} {u.title}）".replace("（ ", "（")


class ScoreForm(forms.Form):
    """One field per criterion (big inputs for phones), the comment and the sheet's version."""

    comment = forms.CharField(label=_("评语（可不填）"), max_length=500, required=False,
                              widget=forms.Textarea(attrs={"rows": 2}))  # fmt: skip
    version = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, criteria: list[TourCriterion], **kwargs):
        super().__init__(*args, **kwargs)
        self.criteria = criteria
        for c in criteria:
            self.fields[f"c{c.pk}"] = forms.DecimalField(
                label=c.name, help_text=c.description, max_digits=5, decimal_places=2, min_value=Decimal("0"),
                max_value=c.max_points,
                widget=forms.NumberInput(attrs={
                    "class": "form-control form-control-lg kp-score-input", "inputmode": "decimal", "step": "0.5",
                    "min": "0", "max": f"{c.max_points}", "autocomplete": "off",
                }),
                error_messages={
                    "required": _("请为“%(c)s”打分。") % {"c": c.name},
                    "min_value": _("“%(c)s”的得分不能为负数。") % {"c": c.name},
                    "max_value": _("“%(c)s”的得分不能超过满分%(m)s分。") % {"c": c.name, "m": number(c.max_points)},
                },
            )  # fmt: skip
        self.order_fields([f"c{c.pk}" for c in criteria] + ["comment", "version"])

    def criterion_fields(self):
        return [(c, self[f"c{c.pk}"]) for c in self.criteria]

    def points(self) -> dict[int, Decimal]:
        return {c.pk: self.cleaned_data[f"c{c.pk}"] for c in self.criteria}


class PeriodForm(forms.Form):
    period = forms.CharField(label=_("考评期间"), max_length=10,
                             help_text=_("如 2026H1（上半年）、2026（全年）、2026Q3、2026-10。"))  # fmt: skip

    def clean_period(self) -> str:
        try:
            return parse_period(self.cleaned_data["period"]).code
        except PeriodError as exc:
            raise forms.ValidationError(str(exc)) from None
