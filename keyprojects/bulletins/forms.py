"""Forms of the bulletin pages: the archive filter, making a draft, the commentary, the meeting record."""

from __future__ import annotations

import datetime

from django import forms
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from keyprojects.bulletins.models import Bulletin, Kind
from keyprojects.bulletins.outline import COMMENTARY
from keyprojects.org.models import Role, User

DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class BulletinFilter(forms.Form):
    """The archive's filter: kind, and the as-of date range."""

    kind = forms.ChoiceField(label=_("类型"), choices=[("", _("全部类型")), *Kind.choices], required=False)
    date_from = forms.DateField(label=_("起始日期"), required=False, widget=DATE_INPUT)
    date_to = forms.DateField(label=_("截止日期"), required=False, widget=DATE_INPUT)
    date = forms.DateField(label=_("日期"), required=False, widget=forms.HiddenInput)

    def clean(self):
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            self.add_error("date_to", _("截止日期不能早于起始日期。"))
        return data

    def filter(self, queryset: QuerySet[Bulletin]) -> QuerySet[Bulletin]:
        data = self.cleaned_data
        if data.get("kind"):
            queryset = queryset.filter(kind=data["kind"])
        if data.get("date"):
            queryset = queryset.filter(as_of=data["date"])
        if data.get("date_from"):
            queryset = queryset.filter(as_of__gte=data["date_from"])
        if data.get("date_to"):
            queryset = queryset.filter(as_of__lte=data["date_to"])
        return queryset


class CreateForm(forms.Form):
    kind = forms.ChoiceField(label=_("类型"), choices=Kind.choices)
    as_of = forms.DateField(
        label=_("截至日期"), widget=DATE_INPUT,
        help_text=_("按该日的数据生成草稿：月点评为上月，季度观摩为上季度，半年考评为上半年，年底总评为上年度。"),
    )  # fmt: skip

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["as_of"].initial = timezone.localdate()

    def clean_as_of(self) -> datetime.date:
        value = self.cleaned_data["as_of"]
        if value > timezone.localdate():
            raise forms.ValidationError(_("截至日期不能晚于今天。"))
        return value


class CommentaryForm(forms.Form):
    """The commentary parts of one kind of document (a textarea each) and the version read."""

    version = forms.IntegerField(widget=forms.HiddenInput)

    def __init__(self, *args, kind: str, **kwargs):
        super().__init__(*args, **kwargs)
        for key, label in COMMENTARY[kind]:
            self.fields[key] = forms.CharField(label=label, required=False, max_length=10000,
                                               widget=forms.Textarea(attrs={"rows": 4}))  # fmt: skip
        self.keys = [key for key, _label in COMMENTARY[kind]]

    def commentary(self) -> dict[str, str]:
        return {key: self.cleaned_data.get(key, "") for key in self.keys}


class MeetingForm(forms.Form):
    chair = forms.ModelChoiceField(label=_("主持人"), queryset=User.objects.none())
    held_on = forms.DateField(label=_("会议日期"), widget=DATE_INPUT)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["chair"].queryset = User.objects.filter(is_active=True, roles__role=Role.LEADER).distinct()
