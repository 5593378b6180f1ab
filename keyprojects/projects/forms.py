"""Forms of the project pages. They only parse input; the domain functions validate and save."""

from __future__ import annotations

import datetime
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from keyprojects.org.models import Role, Unit, User, UserRole
from keyprojects.projects import access, domain
from keyprojects.projects.models import ApprovalItem, ApprovalStatus, Batch, Phase, Project, Stage


class BootstrapMixin:
    """Give every widget its Bootstrap class (the template adds is-invalid)."""

    def _style_widgets(self) -> None:
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, forms.HiddenInput):
                continue
            if isinstance(widget, forms.CheckboxInput):
                css = "form-check-input"
            elif isinstance(widget, (forms.Select, forms.SelectMultiple)):
                css = "form-select"
            else:
                css = "form-control"
            widget.attrs["class"] = f"{widget.attrs.get('class', '')} {css}".strip()


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs=attrs, format="%Y-%m-%d")


def attach_errors(form: forms.Form, exc: ValidationError) -> None:
    """Put a domain ValidationError on the form: on its fields when they exist, else on the form."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            target = field if field in form.fields else None
            for message in errors:
                form.add_error(target, message)
    else:
        for message in exc.messages:
            form.add_error(None, message)


def _widget_for(db_field, **kwargs):
    if db_field.get_internal_type() == "DateField":
        kwargs["widget"] = DateInput
    elif db_field.name == "construction_content":
        kwargs["widget"] = forms.Textarea(attrs={"rows": 3})
    return db_field.formfield(**kwargs)


def users_with_role(role: str):
    return User.objects.filter(is_active=True, pk__in=UserRole.objects.filter(role=role).values("user_id")).order_by(
        "id"
    )


def _person_label(user: User) -> str:
    return f"{user} · {user.unit}" if user.unit_id else str(user)


class ProjectForm(BootstrapMixin, forms.Form):
    """The editable fields of a project (domain.EDITABLE_FIELDS), with choices limited per user."""

    # Groups of fields in the order the page shows them.
    SECTIONS = [
        (_("基本信息"), ["name", "code", "industry", "project_type", "level", "status"]),
        (_("项目单位"), ["owner_name", "owner_credit_code", "owner_credit_override", "owner_unit"]),
        (_("投资与建设"), ["total_investment", "financing_model", "construction_content"]),
        (_("地点"), ["town", "latitude", "longitude"]),
        (_("责任分工"), ["responsible_unit", "responsible_leader", "service_officer"]),
        (_("日期"), ["planned_start", "planned_end", "actual_start", "actual_end"]),
    ]

    def __init__(self, *args, user: User, project: Project | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.project = project
        self.fields.update(
            forms.fields_for_model(Project, fields=domain.EDITABLE_FIELDS, formfield_callback=_widget_for)
        )
        current = project or Project()

        def with_current(queryset, fk_id):
            # A value the project already has stays selectable even when it is outside the user's choices.
            if fk_id:
                model = queryset.model
                queryset = model.objects.filter(Q(pk__in=queryset.values("pk")) | Q(pk=fk_id)).order_by(
                    *model._meta.ordering or ["pk"]
                )
            return queryset

        self.fields["responsible_unit"].queryset = with_current(
            access.assignable_responsible_units(user), current.responsible_unit_id
        )
        self.fields["town"].queryset = with_current(
            Unit.objects.filter(kind=Unit.Kind.TOWN, is_active=True), current.town_id
        )
        self.fields["owner_unit"].queryset = with_current(
            Unit.objects.filter(kind=Unit.Kind.ENTERPRISE, is_active=True), current.owner_unit_id
        )
        for name, role in (("responsible_leader", Role.LEADER), ("service_officer", Role.SERVICE_OFFICER)):
            field = self.fields[name]
            field.queryset = with_current(users_with_role(role), getattr(current, f"{name}_id")).select_related("unit")
            field.label_from_instance = _person_label
        for field in self.fields.values():
            if isinstance(field, forms.ModelChoiceField):
                field.empty_label = _("请选择") if field.required else _("（无）")
            elif isinstance(field, forms.TypedChoiceField) and field.choices and field.choices[0][0] == "":
                field.choices = [("", _("请选择")), *field.choices[1:]]
        self.fields["code"].help_text = _("24位，格式 YYMM-RRRRRR-DD-TT-NNNNNC；尚未赋码可留空。")
        self.fields["owner_credit_code"].help_text = _("18位统一社会信用代码。")
        self.fields["owner_credit_override"].help_text = _("仅当信用代码校验未通过但确认无误时填写。")
        self.fields["total_investment"].help_text = _("单位：万元，保留2位小数。")
        self.fields["construction_content"].widget.attrs["rows"] = 3
        if project is not None:
            self.fields["version"] = forms.IntegerField(widget=forms.HiddenInput, required=False)
            self.initial.setdefault("version", project.version)
            for name in domain.EDITABLE_FIELDS:
                self.initial.setdefault(name, getattr(project, Project._meta.get_field(name).attname))
        else:
            self.fields["initial_stage"] = forms.ChoiceField(
                label=_("初始阶段"), choices=Stage.choices, initial=Stage.PLANNING
            )
            self.fields["stage_on"] = forms.DateField(
                label=_("进入该阶段日期"), widget=DateInput, initial=timezone.localdate
            )
        self._style_widgets()

    def clean_owner_credit_code(self) -> str:
        return (self.cleaned_data.get("owner_credit_code") or "").strip().upper()

    def clean_code(self) -> str:
        return (self.cleaned_data.get("code") or "").strip()

    def clean_stage_on(self) -> datetime.date:
        value = self.cleaned_data["stage_on"]
        if value > timezone.localdate():
            raise ValidationError(gettext("日期不能晚于今天。"))
        return value

    # Grid columns of a field on the page (Bootstrap classes); the rest get COLUMN.
    COLUMN = "col-12 col-md-6 col-xl-4"
    COLUMNS = {
        "name": "col-12 col-xl-8",
        "owner_name": "col-12 col-xl-8",
        "construction_content": "col-12",
        "planned_start": "col-12 col-sm-6 col-xl-3",
        "planned_end": "col-12 col-sm-6 col-xl-3",
        "actual_start": "col-12 col-sm-6 col-xl-3",
        "actual_end": "col-12 col-sm-6 col-xl-3",
    }

    def sections(self) -> list[tuple[str, list[tuple[forms.BoundField, str]]]]:
        """The fields by section, each with its grid column classes."""
        sections = list(self.SECTIONS)
        if self.project is None:
            sections.insert(0, (_("建档阶段"), ["initial_stage", "stage_on"]))
        return [
            (title, [(self[name], self.COLUMNS.get(name, self.COLUMN)) for name in names]) for title, names in sections
        ]

    def domain_data(self) -> dict[str, Any]:
        return {name: self.cleaned_data.get(name) for name in domain.EDITABLE_FIELDS}


class StageChangeForm(BootstrapMixin, forms.Form):
    to_stage = forms.ChoiceField(label=_("变更为"), choices=Stage.choices)
    happened_on = forms.DateField(label=_("变更日期"), widget=DateInput, initial=timezone.localdate)
    note = forms.CharField(label=_("说明"), max_length=200, required=False, help_text=_("阶段回退时必须说明理由。"))

    def __init__(self, *args, project: Project, **kwargs):
        super().__init__(*args, **kwargs)
        following = [s for s in Stage if Stage.order(s) == project.stage_order + 1]
        if following:
            self.initial.setdefault("to_stage", following[0].value)
        self._style_widgets()


class BatchMembershipForm(BootstrapMixin, forms.Form):
    """One phase select per "三个一批" list."""

    def __init__(self, *args, project: Project, **kwargs):
        super().__init__(*args, **kwargs)
        phases = list(Phase.objects.all())
        current = {m.batch: m.phase_id for m in project.memberships.all()}
        for batch in Batch:
            field = forms.ModelChoiceField(
                label=batch.label, queryset=Phase.objects.all(), required=False, empty_label=_("未列入")
            )
            field.choices = [("", _("未列入")), *((p.pk, str(p)) for p in phases)]
            self.fields[batch.value] = field
            self.initial.setdefault(batch.value, current.get(batch.value))
        self._style_widgets()


ALLOWED_EXTENSIONS = {"pdf", "jpg", "jpeg", "png", "docx", "xlsx", "ofd"}
# The first bytes each allowed type starts with (docx, xlsx and ofd are ZIP containers).
MAGIC = {
    "pdf": (b"%PDF",),
    "jpg": (b"\xff\xd8\xff",),
    "jpeg": (b"\xff\xd8\xff",),
    "png": (b"\x89PNG\r\n\x1a\n",),
    "docx": (b"PK\x03\x04",),
    "xlsx": (b"PK\x03\x04",),
    "ofd": (b"PK\x03\x04",),
}


def validate_upload(upload) -> None:
    name = upload.name or ""
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if ext not in ALLOWED_EXTENSIONS:
        raise ValidationError(
            gettext("只能上传 PDF、JPG、PNG、DOCX、XLSX 或 OFD 文件（当前文件类型：%(ext)s）。")
            % {"ext": ext or gettext("无扩展名")}
        )
    limit = settings.ATTACHMENT_MAX_BYTES
    if upload.size > limit:
        raise ValidationError(
            gettext("文件大小不能超过 %(limit)s MB（当前 %(size)s MB）。")
            % {"limit": f"{limit / 1024 / 1024:.1f}", "size": f"{upload.size / 1024 / 1024:.1f}"}
        )
    if upload.size == 0:
        raise ValidationError(gettext("文件为空。"))
    head = upload.read(8)
    upload.seek(0)
    if not any(head.startswith(magic) for magic in MAGIC[ext]):
        raise ValidationError(gettext("文件内容与扩展名（%(ext)s）不符，请上传正确的文件。") % {"ext": ext})


class ApprovalForm(BootstrapMixin, forms.Form):
    status = forms.ChoiceField(label=_("办理状态"), choices=ApprovalStatus.choices)
    planned_date = forms.DateField(label=_("计划办结"), widget=DateInput, required=False)
    actual_date = forms.DateField(label=_("实际办结"), widget=DateInput, required=False)
    document_number = forms.CharField(label=_("批复文号"), max_length=80, required=False)
    note = forms.CharField(label=_("备注"), max_length=200, required=False)
    upload = forms.FileField(
        label=_("批复文件"), required=False,
        help_text=_("PDF、JPG、PNG、DOCX、XLSX 或 OFD，不超过 %(mb)s MB。"),
        widget=forms.ClearableFileInput(attrs={"accept": ".pdf,.jpg,.jpeg,.png,.docx,.xlsx,.ofd"}),
    )  # fmt: skip

    DOMAIN_FIELDS = ["status", "planned_date", "actual_date", "document_number", "note"]

    def __init__(self, *args, item: ApprovalItem, **kwargs):
        super().__init__(*args, **kwargs)
        for name in self.DOMAIN_FIELDS:
            self.initial.setdefault(name, getattr(item, name))
        self.fields["upload"].widget = forms.FileInput(attrs=self.fields["upload"].widget.attrs)
        self.fields["upload"].help_text = self.fields["upload"].help_text % {
            "mb": f"{settings.ATTACHMENT_MAX_BYTES / 1024 / 1024:g}"
        }
        self._style_widgets()

    def clean_upload(self):
        upload = self.cleaned_data.get("upload")
        if upload:
            validate_upload(upload)
        return upload

    def domain_data(self) -> dict[str, Any]:
        return {name: self.cleaned_data.get(name) for name in self.DOMAIN_FIELDS}
