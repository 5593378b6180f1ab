"""Forms of the monthly-report pages. They only parse input; `keyprojects.progress.domain` validates and saves.

Money and counts are taken as text and handed to the domain as typed, so that the page, the API and
an import give the same Chinese message for "-5", "1.234" or "十万" (see `rules.parse_amount`).
"""

from __future__ import annotations

import datetime
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from keyprojects.progress import rates
from keyprojects.progress.models import AnnualPlan, MonthlyReport, ReportStatus
from keyprojects.projects.forms import BootstrapMixin

EARLIEST_YEAR = 2000
MONTH_CHOICES = [(m, _("%(m)s月") % {"m": m}) for m in range(1, 13)]


def last_month(today: datetime.date | None = None) -> tuple[int, int]:
    today = today or timezone.localdate()
    return (today.year, today.month - 1) if today.month > 1 else (today.year - 1, 12)


def year_choices(today: datetime.date | None = None) -> list[tuple[int, str]]:
    today = today or timezone.localdate()
    return [(y, _("%(y)s年") % {"y": y}) for y in range(today.year + 1, today.year - 6, -1)]


class AmountField(forms.CharField):
    """A 万元 figure kept as text: the domain parses it (and refuses negatives, >2 decimals, text)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("max_length", 30)
        super().__init__(**kwargs)
        self.widget.attrs.update({"inputmode": "decimal", "autocomplete": "off", "class": "form-control kp-num"})


class PeriodForm(BootstrapMixin, forms.Form):
    """A year and month from the query string; missing or invalid values fall back to last month."""

    year = forms.TypedChoiceField(label=_("年度"), coerce=int, required=False)
    month = forms.TypedChoiceField(label=_("月份"), coerce=int, required=False, choices=MONTH_CHOICES)

    def __init__(self, data=None, *args, today: datetime.date | None = None, default: tuple[int, int] | None = None,
                 **kwargs):  # fmt: skip
        self.today = today or timezone.localdate()
        self.default = default or last_month(self.today)
        years = year_choices(self.today)
        if data is not None:
            # A missing or unknown year or month shows (and means) the default month, not the first option.
            data = data.copy()
            for name, allowed, value in (
                ("year", {str(y) for y, _label in years}, self.default[0]),
                ("month", {str(m) for m in range(1, 13)}, self.default[1]),
            ):
                if data.get(name) not in allowed:
                    data[name] = str(value)
        super().__init__(data, *args, **kwargs)
        self.fields["year"].choices = years
        self._style_widgets()

    def period(self) -> tuple[int, int]:
        data = self.cleaned_data if self.is_valid() else {}
        year = data.get("year") or self.default[0]
        month = data.get("month") or self.default[1]
        return year, month


REPORT_STATE_CHOICES = [("", _("全部状态")), ("missing", _("未填报")), *ReportStatus.choices]
FLAG_CHOICES = [
    ("", _("不限")),
    ("overdue", _("逾期未报")),
    ("late", _("迟报")),
    ("warnings", _("有异常提示")),
    ("restated", _("已更正")),
]


class ReportListFilter(PeriodForm):
    """The month of the report list and its report filters (the project filters are `ProjectFilter`)."""

    report_status = forms.ChoiceField(label=_("月报状态"), required=False, choices=REPORT_STATE_CHOICES)
    flag = forms.ChoiceField(label=_("标记"), required=False, choices=FLAG_CHOICES)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._style_widgets()


RATE_SORTS = {
    "label": _("分组"),
    "projects": _("项目数"),
    "planned": _("年度计划"),
    "ytd_in_plan": _("年度累计完成"),
    "annual_rate": _("年度投资完成率"),
    "gap_points": _("与时序进度差距"),
    "since_start": _("开工累计完成"),
    "total_rate": _("总投资完成率"),
    "start_rate": _("开工率"),
    "complete_rate": _("竣工率"),
    "commission_rate": _("投产率"),
}

ORDER_CHOICES = [("", _("默认顺序"))]
for _key, _label in RATE_SORTS.items():
    if _key == "label":
        ORDER_CHOICES += [("label", _label), ("-label", format_lazy("{}（{}）", _label, _("倒序")))]
    else:
        ORDER_CHOICES += [(f"-{_key}", format_lazy("{}{}", _label, _("从高到低"))),
                          (_key, format_lazy("{}{}", _label, _("从低到高")))]  # fmt: skip


class RatesForm(PeriodForm):
    group_by = forms.ChoiceField(label=_("汇总方式"), required=False, choices=list(rates.GROUPINGS.items()))
    # Not "sort": that is the project filter's own parameter (ProjectFilter reads the same query string).
    order = forms.ChoiceField(label=_("排序"), required=False, choices=ORDER_CHOICES)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._style_widgets()

    def chosen_group_by(self) -> str:
        data = self.cleaned_data if self.is_valid() else {}
        return data.get("group_by") or "unit"

    def chosen_order(self) -> str:
        data = self.cleaned_data if self.is_valid() else {}
        return data.get("order") or ""


# ---------------------------------------------------------------------------------------------
# Filing


class ReportForm(BootstrapMixin, forms.Form):
    """What the company (or the unit on its behalf) fills in; the totals are derived, never typed."""

    investment = AmountField(label=_("本月完成投资（万元）"), help_text=_("没有投资请填0；最多两位小数。"))
    progress_text = forms.CharField(
        label=_("形象进度"), required=False, max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3}), help_text=_("如：主体结构施工至三层，钢结构厂房封顶。"),
    )  # fmt: skip
    workers_on_site = forms.CharField(label=_("在岗工人数"), required=False, max_length=12)
    output_value = AmountField(label=_("本月产值（万元）"), help_text=_("投产后填写。"))
    tax = AmountField(label=_("本月税收（万元）"), help_text=_("投产后填写。"))
    problems_text = forms.CharField(
        label=_("存在问题及建议"), required=False, max_length=4000, widget=forms.Textarea(attrs={"rows": 3})
    )
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    FIELDS = ("investment", "progress_text", "workers_on_site", "output_value", "tax", "problems_text")

    def __init__(self, *args, report: MonthlyReport | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["workers_on_site"].widget.attrs.update({"inputmode": "numeric", "autocomplete": "off"})
        if report is not None:
            self.initial.setdefault("version", report.version)
            for name in self.FIELDS:
                value = getattr(report, name)
                self.initial.setdefault(name, "" if value is None else value)
        self._style_widgets()

    def domain_data(self) -> dict[str, Any]:
        return {name: self.cleaned_data.get(name, "") for name in self.FIELDS}


class NewReportForm(ReportForm):
    year = forms.TypedChoiceField(label=_("年度"), coerce=int)
    month = forms.TypedChoiceField(label=_("月份"), coerce=int, choices=MONTH_CHOICES)

    def __init__(self, *args, today: datetime.date | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["year"].choices = year_choices(today)
        self.order_fields(["year", "month"])
        self._style_widgets()


class PhotoForm(BootstrapMixin, forms.Form):
    photo = forms.FileField(
        label=_("照片文件"), widget=forms.FileInput(attrs={"accept": "image/jpeg,image/png"}),
        help_text=_("JPG或PNG格式；上传后会重新编码并去除拍摄信息。"),
    )  # fmt: skip
    caption = forms.CharField(label=_("照片说明"), required=False, max_length=200)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._style_widgets()


class VersionForm(BootstrapMixin, forms.Form):
    """An action that takes nothing but the version the user saw (review, confirm, delete)."""

    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, report: MonthlyReport, **kwargs):
        super().__init__(*args, **kwargs)
        self.initial.setdefault("version", report.version)
        self._style_widgets()


class SubmitForm(VersionForm):
    explanation = forms.CharField(
        label=_("情况说明"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("月报有异常提示时必须填写，审核人员会看到。"),
    )  # fmt: skip

    def __init__(self, *args, report: MonthlyReport, **kwargs):
        super().__init__(*args, report=report, **kwargs)
        self.initial.setdefault("explanation", report.explanation)


class ReturnForm(VersionForm):
    reason = forms.CharField(
        label=_("退回理由"), max_length=500, widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("企业会看到此理由，请写明需要核实或修改的内容。"),
    )  # fmt: skip

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reason"].error_messages["required"] = _("请填写退回理由。")


class RestateForm(VersionForm):
    """A correction of a closed report: the new figures and why."""

    investment = AmountField(label=_("本月完成投资（万元）"))
    workers_on_site = forms.CharField(label=_("在岗工人数"), required=False, max_length=12)
    output_value = AmountField(label=_("本月产值（万元）"))
    tax = AmountField(label=_("本月税收（万元）"))
    reason = forms.CharField(
        label=_("更正理由"), max_length=500, widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("如：统计部门核查后调整、企业补报发票。更正记录永久保留并在各处显示。"),
    )  # fmt: skip

    FIGURES = ("investment", "workers_on_site", "output_value", "tax")

    def __init__(self, *args, report: MonthlyReport, **kwargs):
        super().__init__(*args, report=report, **kwargs)
        for name in self.FIGURES:
            value = getattr(report, name)
            self.initial.setdefault(name, "" if value is None else value)
        self.fields["reason"].error_messages["required"] = _("请填写更正理由。")
        self._style_widgets()

    def changes(self) -> dict[str, Any]:
        return {name: self.cleaned_data.get(name, "") for name in self.FIGURES}


# ---------------------------------------------------------------------------------------------
# Annual plans and month locks


class AnnualPlanForm(BootstrapMixin, forms.Form):
    planned_investment = AmountField(label=_("年度计划投资（万元）"), required=True)
    to_start = forms.BooleanField(label=_("计划年内开工"), required=False)
    to_complete = forms.BooleanField(label=_("计划年内竣工"), required=False)
    to_commission = forms.BooleanField(label=_("计划年内投产"), required=False)
    effective_month = forms.TypedChoiceField(
        label=_("调整自几月起执行"), coerce=int, required=False, empty_value=None,
        choices=[("", _("默认（本月）")), *MONTH_CHOICES],
        help_text=_("仅调整计划时使用；之前的月份仍按原计划计算完成率。"),
    )  # fmt: skip
    reason = forms.CharField(
        label=_("调整理由"), required=False, max_length=500,
        help_text=_("调整已有计划时必须填写；新制定计划时可填写依据。"),
    )  # fmt: skip
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, plan: AnnualPlan | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.plan = plan
        self.fields["planned_investment"].error_messages["required"] = _("请填写年度计划投资。")
        for m in range(1, 13):
            self.fields[f"m{m}"] = AmountField(label=_("%(m)s月") % {"m": m})
        if plan is not None:
            self.initial.setdefault("version", plan.version)
            self.initial.setdefault("planned_investment", plan.planned_investment)
            for name in ("to_start", "to_complete", "to_commission"):
                self.initial.setdefault(name, getattr(plan, name))
            for m, value in enumerate(plan.monthly_plan or [], start=1):
                self.initial.setdefault(f"m{m}", value)
        self._style_widgets()

    def month_fields(self) -> list[forms.BoundField]:
        return [self[f"m{m}"] for m in range(1, 13)]

    def domain_data(self) -> dict[str, Any]:
        months = [(self.cleaned_data.get(f"m{m}") or "").strip() for m in range(1, 13)]
        return {
            "planned_investment": self.cleaned_data.get("planned_investment", ""),
            "to_start": self.cleaned_data.get("to_start", False),
            "to_complete": self.cleaned_data.get("to_complete", False),
            "to_commission": self.cleaned_data.get("to_commission", False),
            "monthly_plan": months if any(months) else [],
        }


class LockForm(BootstrapMixin, forms.Form):
    year = forms.TypedChoiceField(label=_("年度"), coerce=int)
    month = forms.TypedChoiceField(label=_("月份"), coerce=int, choices=MONTH_CHOICES)
    note = forms.CharField(label=_("备注"), required=False, max_length=200)

    def __init__(self, *args, today: datetime.date | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["year"].choices = year_choices(today)
        year, month = last_month(today)
        self.initial.setdefault("year", year)
        self.initial.setdefault("month", month)
        self._style_widgets()
