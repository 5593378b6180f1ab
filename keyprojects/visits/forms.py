"""Forms of the visit, meeting, instruction and service-officer pages. They only parse input; the domain
functions (`keyprojects.visits.domain`) validate against the user's scope and save.

Choice lists are computed once per page and shared by every row, so a form with several demand and
decision rows costs the same few queries as one. Ids a user may not name are refused by the domain.
"""

from __future__ import annotations

import datetime

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from keyprojects.org.models import Unit, User, UserRole
from keyprojects.problems.models import Category, Severity
from keyprojects.projects.access import visible_projects
from keyprojects.projects.forms import BootstrapMixin, DateInput
from keyprojects.projects.models import Level, Project, Status
from keyprojects.visits import photos
from keyprojects.visits.models import Instruction, Meeting, OfficerPairing, OfficerVisit, ServiceRole

# A project select lists at most this many projects (a district has a few hundred; a province's
# dispatcher may see tens of thousands: they start from the project page, which preselects it).
PROJECT_CHOICES_LIMIT = 1000
DEFAULT_ROWS = 2
MAX_FORM_ROWS = 10


# --- choice lists --------------------------------------------------------------------------------------------


def project_choices(user: User, *, include: list[int] | None = None, queryset=None) -> list[tuple[int, str]]:
    """(id, name) of the projects the user sees, not terminated, by name; `include` ids are kept."""
    base = queryset if queryset is not None else visible_projects(user)
    rows = list(
        base.exclude(status=Status.TERMINATED).order_by("name", "id").values_list("pk", "name")[:PROJECT_CHOICES_LIMIT]
    )
    missing = [pk for pk in include or () if pk not in {r[0] for r in rows}]
    if missing:
        rows += list(base.filter(pk__in=missing).values_list("pk", "name"))
    return rows


def role_choices(role: str) -> list[tuple[int, str]]:
    holders = UserRole.objects.filter(role=role).values("user_id")
    users = User.objects.filter(is_active=True, pk__in=holders).select_related("unit").order_by("id")
    return [(u.pk, f"{u}（{u.title}）" if u.title else str(u)) for u in users]


def unit_choices() -> list[tuple[int, str]]:
    units = Unit.objects.filter(is_active=True).exclude(kind=Unit.Kind.ENTERPRISE).order_by("kind", "id")
    return [(u.pk, str(u)) for u in units]


class LooseChoiceField(forms.TypedChoiceField):
    """A select whose value the domain checks (against the user's scope), not the listed choices."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("coerce", int)
        kwargs.setdefault("empty_value", None)
        super().__init__(*args, **kwargs)

    def valid_value(self, value) -> bool:
        return True

    def to_python(self, value):
        value = super().to_python(value)
        if value in self.empty_values:
            return value
        try:
            int(value)
        except (TypeError, ValueError):
            raise ValidationError(_("请选择有效的选项。"), code="invalid_choice") from None
        return value


class LooseMultipleChoiceField(forms.TypedMultipleChoiceField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("coerce", int)
        super().__init__(*args, **kwargs)

    def valid_value(self, value) -> bool:
        try:
            int(value)
        except (TypeError, ValueError):
            return False
        return True


class MultipleFileInput(forms.FileInput):
    allow_multiple_selected = True


class PhotosField(forms.FileField):
    """Several photos in one input (a phone's camera or gallery); each checked by content."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": "image/jpeg,image/png,.jpg,.jpeg,.png"}))
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        files = data if isinstance(data, (list, tuple)) else [data]
        files = [single(f, initial) for f in files if f]
        photos.inspect_all(files)
        return files


def photo_help() -> str:
    return _("JPG 或 PNG 照片，每张不超过 %(mb)s MB，一次最多 %(n)s 张。") % {
        "mb": f"{photos.max_photo_bytes() / 1024 / 1024:g}", "n": photos.max_photos()
    }  # fmt: skip


# --- rows: demands and decisions -----------------------------------------------------------------------------


class DemandRowForm(BootstrapMixin, forms.Form):
    """One demand heard (企业诉求): becomes a problem waiting to be assigned."""

    project = LooseChoiceField(label=_("项目"), required=False)
    category = forms.ChoiceField(label=_("问题类别"), choices=Category.choices, initial=Category.OTHER, required=False)
    title = forms.CharField(label=_("诉求内容"), max_length=200, required=False)
    description = forms.CharField(
        label=_("详细说明"), required=False, widget=forms.Textarea(attrs={"rows": 2}), max_length=5000
    )
    severity = forms.ChoiceField(
        label=_("问题性质"), choices=Severity.choices, initial=Severity.ORDINARY, required=False
    )

    def __init__(self, *args, project_options=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["project"].choices = [("", _("请选择")), *project_options]
        self._style_widgets()

    def is_blank(self) -> bool:
        data = self.cleaned_data if hasattr(self, "cleaned_data") else {}
        return not (data.get("title") or "").strip() and not data.get("description")

    def row(self) -> dict:
        return {k: self.cleaned_data.get(k) for k in ("project", "category", "title", "description", "severity")}


class DecisionRowForm(BootstrapMixin, forms.Form):
    """One decision (议定事项): becomes a task for the owner unit, due by its date."""

    project = LooseChoiceField(label=_("项目"), required=False)
    text = forms.CharField(
        label=_("议定事项"), required=False, widget=forms.Textarea(attrs={"rows": 2}), max_length=5000
    )
    lead_unit = LooseChoiceField(label=_("责任单位"), required=False)
    due = forms.DateField(label=_("办结期限"), required=False, widget=DateInput)

    def __init__(self, *args, project_options=(), unit_options=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["project"].choices = [("", _("请选择")), *project_options]
        self.fields["lead_unit"].choices = [("", _("请选择")), *unit_options]
        self._style_widgets()

    def is_blank(self) -> bool:
        data = self.cleaned_data if hasattr(self, "cleaned_data") else {}
        return not (data.get("text") or "").strip()

    def row(self) -> dict:
        return {k: self.cleaned_data.get(k) for k in ("project", "text", "lead_unit", "due")}


DemandFormSet = forms.formset_factory(DemandRowForm, extra=0, max_num=MAX_FORM_ROWS, absolute_max=MAX_FORM_ROWS)
DecisionFormSet = forms.formset_factory(DecisionRowForm, extra=0, max_num=MAX_FORM_ROWS, absolute_max=MAX_FORM_ROWS)


def row_formset(cls, data, *, prefix: str, rows: int, **options):
    formset = cls(data, prefix=prefix, form_kwargs=options)
    if data is None:
        formset.extra = rows
    return formset


def filled_rows(formset) -> tuple[list[dict], list[int]]:
    """The non-blank rows of a valid formset, and the index of each in the formset."""
    rows, index = [], []
    for i, form in enumerate(formset.forms):
        if not form.is_blank():
            rows.append(form.row())
            index.append(i)
    return rows, index


# --- site visits -----------------------------------------------------------------------------------------------


class SiteVisitForm(BootstrapMixin, forms.Form):
    visited_on = forms.DateField(label=_("日期"), widget=DateInput, initial=timezone.localdate)
    place = forms.CharField(label=_("地点"), max_length=200)
    leaders = LooseMultipleChoiceField(label=_("带队领导"), widget=forms.CheckboxSelectMultiple, required=False)
    projects = LooseMultipleChoiceField(
        label=_("现场项目"), required=False, help_text=_("可多选；下面诉求、议定事项涉及的项目会自动加入。")
    )
    attendees = forms.CharField(label=_("参加人员"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    summary = forms.CharField(label=_("现场办公情况"), required=False, widget=forms.Textarea(attrs={"rows": 4}))
    photos = PhotosField(label=_("现场照片"))

    def __init__(self, *args, project_options=(), leader_options=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["projects"].choices = list(project_options)
        self.fields["projects"].widget.attrs["size"] = "6"
        self.fields["leaders"].choices = list(leader_options)
        self.fields["photos"].help_text = photo_help()
        self._style_widgets()
        self.fields["leaders"].widget.attrs["class"] = "form-check-input"


class PhotosForm(BootstrapMixin, forms.Form):
    photos = PhotosField(label=_("照片"), required=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["photos"].help_text = photo_help()
        self._style_widgets()


# --- meetings and instructions -----------------------------------------------------------------------------------


class MeetingForm(BootstrapMixin, forms.Form):
    kind = forms.ChoiceField(label=_("会议类型"), choices=Meeting.Kind.choices, initial=Meeting.Kind.WEEKLY)
    held_on = forms.DateField(label=_("会议日期"), widget=DateInput, initial=timezone.localdate)
    title = forms.CharField(
        label=_("会议名称"), max_length=200, required=False, help_text=_("留空时按日期和类型生成。")
    )
    chair = LooseChoiceField(label=_("主持人"))
    projects = LooseMultipleChoiceField(label=_("调度项目"), required=False)
    attendees = forms.CharField(label=_("参会人员"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    minutes = forms.CharField(label=_("会议纪要"), required=False, widget=forms.Textarea(attrs={"rows": 6}))

    def __init__(self, *args, project_options=(), leader_options=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["projects"].choices = list(project_options)
        self.fields["projects"].widget.attrs["size"] = "6"
        self.fields["chair"].choices = [("", _("请选择")), *leader_options]
        self._style_widgets()


class InstructionForm(BootstrapMixin, forms.Form):
    kind = forms.ChoiceField(label=_("类型"), choices=Instruction.Kind.choices, initial=Instruction.Kind.INSTRUCTION)
    leader = LooseChoiceField(label=_("批示领导"))
    given_on = forms.DateField(label=_("批示日期"), widget=DateInput, initial=timezone.localdate)
    text = forms.CharField(label=_("批示内容"), widget=forms.Textarea(attrs={"rows": 4}), max_length=5000)
    projects = LooseMultipleChoiceField(label=_("涉及项目"), help_text=_("每个项目形成一项督办任务。"))
    lead_unit = LooseChoiceField(label=_("承办单位"))
    due_on = forms.DateField(label=_("办结期限"), widget=DateInput)

    def __init__(self, *args, project_options=(), leader_options=(), unit_options=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["projects"].choices = list(project_options)
        self.fields["projects"].widget.attrs["size"] = "6"
        self.fields["leader"].choices = [("", _("请选择")), *leader_options]
        self.fields["lead_unit"].choices = [("", _("请选择")), *unit_options]
        self._style_widgets()


# --- service officers -------------------------------------------------------------------------------------------


def key_project_choices(user: User) -> list[tuple[int, str]]:
    return project_choices(user, queryset=visible_projects(user).filter(level__in=[Level.PROVINCE, Level.CITY]))


class PairingForm(BootstrapMixin, forms.Form):
    officer = LooseChoiceField(label=_("首席服务员"))
    project = LooseChoiceField(label=_("项目"), help_text=_("只能为省重点、市重点项目结对。"))
    roles = forms.ModelMultipleChoiceField(
        label=_("职责"), queryset=ServiceRole.objects.filter(is_active=True), widget=forms.CheckboxSelectMultiple
    )
    started_on = forms.DateField(label=_("结对日期"), widget=DateInput, initial=timezone.localdate)
    note = forms.CharField(label=_("备注"), max_length=200, required=False)

    def __init__(self, *args, project_options=(), officer_options=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["project"].choices = [("", _("请选择")), *project_options]
        self.fields["officer"].choices = [("", _("请选择")), *officer_options]
        self.initial.setdefault("roles", list(ServiceRole.objects.filter(is_active=True).values_list("pk", flat=True)))
        self._style_widgets()
        self.fields["roles"].widget.attrs["class"] = "form-check-input"


class EndPairingForm(BootstrapMixin, forms.Form):
    ended_on = forms.DateField(label=_("结束日期"), widget=DateInput, initial=timezone.localdate)
    note = forms.CharField(label=_("说明"), max_length=200, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._style_widgets()


class OfficerVisitForm(BootstrapMixin, forms.Form):
    project = LooseChoiceField(label=_("项目"))
    visited_on = forms.DateField(label=_("走访日期"), widget=DateInput, initial=timezone.localdate)
    kind = forms.ChoiceField(
        label=_("方式"), choices=OfficerVisit.Kind.choices, initial=OfficerVisit.Kind.ON_SITE, widget=forms.RadioSelect
    )
    content = forms.CharField(label=_("走访内容"), widget=forms.Textarea(attrs={"rows": 3}), max_length=5000)
    photos = PhotosField(label=_("照片"))
    demand_title = forms.CharField(
        label=_("企业诉求（可选）"), max_length=200, required=False, help_text=_("填写后作为问题诉求报送调度中心。")
    )
    demand_category = forms.ChoiceField(
        label=_("诉求类别"), choices=Category.choices, initial=Category.OTHER, required=False
    )
    demand_description = forms.CharField(
        label=_("诉求说明"), required=False, widget=forms.Textarea(attrs={"rows": 2}), max_length=5000
    )

    def __init__(self, *args, project_options=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["project"].choices = [("", _("请选择")), *project_options]
        if len(project_options) == 1:
            self.initial.setdefault("project", project_options[0][0])
        self.fields["photos"].help_text = photo_help()
        self._style_widgets()
        self.fields["kind"].widget.attrs["class"] = "form-check-input"

    def demand(self) -> dict | None:
        title = (self.cleaned_data.get("demand_title") or "").strip()
        if not title:
            return None
        return {
            "title": title,
            "category": self.cleaned_data.get("demand_category") or Category.OTHER,
            "description": self.cleaned_data.get("demand_description") or "",
        }


class PolicyPushForm(BootstrapMixin, forms.Form):
    project = LooseChoiceField(label=_("项目"))
    pushed_on = forms.DateField(label=_("推送日期"), widget=DateInput, initial=timezone.localdate)
    title = forms.CharField(label=_("政策名称"), max_length=200)
    note = forms.CharField(label=_("说明"), required=False, widget=forms.Textarea(attrs={"rows": 2}), max_length=5000)

    def __init__(self, *args, project_options=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["project"].choices = [("", _("请选择")), *project_options]
        if len(project_options) == 1:
            self.initial.setdefault("project", project_options[0][0])
        self._style_widgets()


def officer_project_choices(officer: User) -> list[tuple[int, str]]:
    """The projects the officer is paired with, or was within the last year (a late entry is still possible)."""
    since = timezone.localdate() - datetime.timedelta(days=366)
    pairings = OfficerPairing.objects.filter(officer=officer).filter(Q(ended_on__isnull=True) | Q(ended_on__gte=since))
    return list(Project.objects.filter(pk__in=pairings.values("project_id")).order_by("name").values_list("pk", "name"))
