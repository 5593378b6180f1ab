"""Forms of the problem pages, and the one problem list filter (the page and the API use it).

Forms only parse input; the domain functions (`keyprojects.problems.domain`) check who may act, the
state and the values, and save.
"""

from __future__ import annotations

import datetime
import functools
from typing import Any

from django import forms
from django.conf import settings
from django.db.models import F, Q, QuerySet
from django.forms.models import ModelChoiceIterator
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from keyprojects.org.models import Role, Unit, User
from keyprojects.problems import clock
from keyprojects.problems.models import (
    DONE_STATUSES,
    OPEN_STATUSES,
    Category,
    EscalationLevel,
    Problem,
    Rating,
    Severity,
    SolveLevel,
    Source,
    Status,
)
from keyprojects.projects.access import visible_projects
from keyprojects.projects.filters import use_fast_selects
from keyprojects.projects.forms import BootstrapMixin, DateInput, users_with_role, validate_upload
from keyprojects.projects.models import Project
from keyprojects.workcal import calendar

# ---------------------------------------------------------------------------------------------
# The list filter

# The status filter's values for groups of statuses: every problem on the 13710 clock (交办, 部署 or
# 办理中), and every problem resolved (办结, 回访 or 销号: what 办结率 and the cockpit count as resolved).
OPEN = "open"
DONE = "done"
STATUS_GROUPS = {OPEN: OPEN_STATUSES, DONE: DONE_STATUSES}
SORTS = {
    "-received": ("-received_on", "-id"),
    "due": (F("current_due").asc(nulls_last=True), "id"),
}
SORT_LABELS = {
    "-received": _("收到日期从新到旧"),
    "due": _("当前期限从近到远"),
}
LIGHT_CHOICES = [
    (clock.Light.RED.value, _("红灯（逾期）")),
    (clock.Light.YELLOW.value, _("黄灯（临期）")),
    (clock.Light.GREEN.value, _("绿灯（正常）")),
]


def staff_units() -> QuerySet[Unit]:
    """Units that may lead or help with a problem: active, not companies."""
    return Unit.objects.filter(is_active=True).exclude(kind=Unit.Kind.ENTERPRISE).order_by("path", "id")


def yellow_until(today: datetime.date, cfg: clock.ClockConfig) -> datetime.date | None:
    """The latest deadline that shows yellow on `today` (the same rule as `clock.yellow_from`).

    Working days: a deadline is yellow when the working days in (today, due] are at most
    `warn_before_days`, so the last such day is the day before the (warn + 1)-th working day after
    today. Calendar days: today + warn.
    """
    try:
        if cfg.basis == calendar.DayBasis.WORKDAYS:
            return calendar.add_workdays(today, cfg.warn_before_days + 1) - datetime.timedelta(days=1)
        return calendar.add_calendar_days(today, cfg.warn_before_days)
    except (ValueError, OverflowError):
        return None


def light_q(light: str, today: datetime.date, cfg: clock.ClockConfig) -> Q:
    """The problems whose light (`clock.problem_light`: the worse of the running step and named
    supervision) is `light` on `today`, as a query."""
    step_on = Q(status__in=OPEN_STATUSES, current_due__isnull=False)
    sup_on = Q(supervised=True, supervision_due__isnull=False) & ~Q(status__in=DONE_STATUSES)
    red = (step_on & Q(current_due__lt=today)) | (sup_on & Q(supervision_due__lt=today))
    if light == clock.Light.RED:
        return red
    until = yellow_until(today, cfg)
    if until is None:
        yellow = Q(pk__in=[])
    else:
        yellow = (step_on & Q(current_due__gte=today, current_due__lte=until)) | (
            sup_on & Q(supervision_due__gte=today, supervision_due__lte=until)
        )
    if light == clock.Light.YELLOW:
        return yellow & ~red
    return (step_on | sup_on) & ~red & ~yellow


# What a list row shows (the page and `GET /api/v1/problems`), and what its deadline light reads
# (`clock.problem_light`, `views.problem_lamp`). Anything else would be loaded per row: the query-count
# tests of tests/test_list_queries.py catch that.
LIST_FIELDS = (
    "id", "project", "project__name", "source", "category", "title", "description", "severity", "lead_unit",
    "lead_unit__name", "lead_unit__short_name", "status", "received_on", "deploy_due", "feedback_due",
    "resolve_due", "current_step", "current_due", "first_feedback_at", "resolved_on_time", "escalation_level",
    "supervised", "supervision_due", "version",
)  # fmt: skip


def list_rows(problems: QuerySet[Problem]) -> QuerySet[Problem]:
    """The list page's and the API list's rows: each problem with its project's name and its lead unit.

    Only the columns a row shows are read: not the project's forty others, nor the problem's timestamps
    and the worker's `clock_marks` (25 rows of three models cost noticeably less to load that way).
    """
    return problems.select_related("project", "lead_unit").only(*LIST_FIELDS)


class ProjectOptions(ModelChoiceIterator):
    """The options of the list filter's project drop-down.

    Every visible project while there are at most `LIMIT` of them. A provincial portfolio has tens of
    thousands: a drop-down of all of them weighs megabytes and nobody scrolls it, so then only the chosen
    project is listed (reached from a project's page or a link) and the search box finds problems by
    project name. Validation is unchanged: any visible project id is accepted.
    """

    LIMIT = 500

    def __init__(self, field, chosen=None):
        super().__init__(field)
        self.chosen = chosen

    def __iter__(self):
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        few = len(self.queryset.order_by().values_list("pk", flat=True)[: self.LIMIT + 1]) <= self.LIMIT
        if few:
            rows = self.queryset
        elif str(self.chosen or "").isdigit():
            rows = self.queryset.filter(pk=int(self.chosen))
        else:
            rows = self.queryset.none()
        for obj in rows:
            yield self.choice(obj)

    def __len__(self):
        return sum(1 for _choice in self)


class ProblemFilter(BootstrapMixin, forms.Form):
    """Validates the problem list filters from a query string (the list page and `GET /api/v1/problems`).

    Unknown or forged values are field errors; the page then shows the errors and ignores the filter,
    the API answers 422. The project choices are the user's visible projects.
    """

    q = forms.CharField(label=_("搜索"), required=False, max_length=100)
    status = forms.ChoiceField(
        label=_("状态"), required=False,
        choices=[("", _("全部状态")), (OPEN, _("计时中（未办结）")), (DONE, _("已办结（含回访、销号）")),
                 *Status.choices],
    )  # fmt: skip
    category = forms.ChoiceField(label=_("类别"), required=False, choices=[("", _("全部类别")), *Category.choices])
    severity = forms.ChoiceField(label=_("性质"), required=False, choices=[("", _("全部")), *Severity.choices])
    source = forms.ChoiceField(label=_("来源"), required=False, choices=[("", _("全部来源")), *Source.choices])
    lead_unit = forms.ModelChoiceField(
        label=_("主办单位"), required=False, queryset=Unit.objects.none(), empty_label=_("全部主办单位")
    )
    project = forms.ModelChoiceField(
        label=_("项目"), required=False, queryset=Project.objects.none(), empty_label=_("全部项目")
    )
    light = forms.ChoiceField(label=_("期限灯"), required=False, choices=[("", _("全部")), *LIGHT_CHOICES])
    sort = forms.ChoiceField(label=_("排序"), required=False, choices=list(SORT_LABELS.items()))
    overdue = forms.BooleanField(label=_("只看逾期"), required=False)
    supervised = forms.BooleanField(label=_("只看挂牌督办"), required=False)
    on_time = forms.BooleanField(label=_("按期办结"), required=False)

    # Shown as check boxes under the drop-downs (templates/problems/list.html).
    CHECKBOXES = ("overdue", "supervised", "on_time")

    def __init__(self, *args, user: User, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["lead_unit"].queryset = staff_units()
        project = self.fields["project"]
        project.queryset = visible_projects(user).order_by("name", "id")
        project.iterator = functools.partial(ProjectOptions, chosen=self.data.get(self.add_prefix("project")))
        project.widget.choices = project.choices
        use_fast_selects(self)
        self._style_widgets()

    def filter(
        self, problems: QuerySet[Problem], *, today: datetime.date | None = None, cfg: clock.ClockConfig | None = None
    ) -> QuerySet[Problem]:
        """Apply the valid filters to a queryset that already went through `access.visible_problems`."""
        data = self.cleaned_data if self.is_valid() else {}
        today = today or timezone.localdate()
        if q := (data.get("q") or "").strip():
            problems = problems.filter(
                Q(title__icontains=q) | Q(description__icontains=q) | Q(project__name__icontains=q)
            )
        if group := STATUS_GROUPS.get(data.get("status")):
            problems = problems.filter(status__in=group)
        elif value := data.get("status"):
            problems = problems.filter(status=value)
        for field in ("category", "severity", "source", "lead_unit", "project"):
            if value := data.get(field):
                problems = problems.filter(**{field: value})
        if data.get("overdue"):
            problems = problems.filter(status__in=OPEN_STATUSES, current_due__lt=today)
        if data.get("supervised"):
            problems = problems.filter(supervised=True)
        if data.get("on_time"):
            problems = problems.filter(resolved_on_time=True)
        if light := data.get("light"):
            problems = problems.filter(light_q(light, today, cfg or clock.load_config()))
        return problems.order_by(*SORTS[data.get("sort") or "-received"])


# ---------------------------------------------------------------------------------------------
# Raising and correcting a problem


def raisable_projects(user: User) -> QuerySet[Project]:
    """The projects the user may raise a problem about (`access.raise_refusal` as a query)."""
    projects = visible_projects(user).order_by("name", "id")
    if user.has_role(Role.DISPATCHER, Role.LEADER, Role.UNIT_OFFICER):
        return projects
    mine = Q(pk__in=[])
    if user.has_role(Role.ENTERPRISE) and user.unit_id:
        mine |= Q(owner_unit_id=user.unit_id)
    if user.has_role(Role.SERVICE_OFFICER):
        mine |= Q(service_officer=user)
    return projects.filter(mine)


def can_raise(user: User) -> bool:
    return user.has_role(Role.DISPATCHER, Role.LEADER, Role.UNIT_OFFICER, Role.ENTERPRISE, Role.SERVICE_OFFICER)


def _upload_field(label) -> forms.FileField:
    mb = f"{settings.ATTACHMENT_MAX_BYTES / 1024 / 1024:g}"
    return forms.FileField(
        label=label, required=False,
        help_text=_("PDF、JPG、PNG、DOCX、XLSX 或 OFD，不超过 %(mb)s MB。") % {"mb": mb},
        widget=forms.FileInput(attrs={"accept": ".pdf,.jpg,.jpeg,.png,.docx,.xlsx,.ofd"}),
    )  # fmt: skip


class UploadMixin:
    def clean_upload(self):
        upload = self.cleaned_data.get("upload")
        if upload:
            validate_upload(upload)
        return upload


class RaiseForm(UploadMixin, BootstrapMixin, forms.Form):
    """反映问题. Staff choose the source; companies and service officers raise with their own. Only a
    dispatcher sees the received date (back-entry of a problem received earlier)."""

    project = forms.ModelChoiceField(label=_("项目"), queryset=Project.objects.none(), empty_label=_("请选择项目"))
    source = forms.ChoiceField(label=_("来源"), choices=[("", _("请选择")), *Source.choices])
    category = forms.ChoiceField(label=_("问题类别"), choices=[("", _("请选择")), *Category.choices])
    severity = forms.ChoiceField(label=_("问题性质"), choices=Severity.choices, initial=Severity.ORDINARY)
    title = forms.CharField(label=_("问题标题"), max_length=200)
    description = forms.CharField(
        label=_("问题描述"), required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_("写清问题的来龙去脉、已做的工作和希望解决的事项。"),
    )  # fmt: skip
    received_on = forms.DateField(
        label=_("收到日期"), widget=DateInput, required=False,
        help_text=_("补录以往收到的问题时填写实际收到日期；留空为今天。"),
    )  # fmt: skip
    upload = _upload_field(_("附件"))

    def __init__(self, *args, user: User, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["project"].queryset = raisable_projects(user)
        if user.has_role(Role.DISPATCHER, Role.LEADER, Role.UNIT_OFFICER):
            if user.has_role(Role.LEADER) and not user.has_role(Role.DISPATCHER):
                self.initial.setdefault("source", Source.LEADER_INSTRUCTION)
        else:
            del self.fields["source"]  # the domain gives the company's or the officer's own source
        if not user.has_role(Role.DISPATCHER):
            del self.fields["received_on"]
        self._style_widgets()

    def domain_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "project": data["project"],
            "source": data.get("source") or None,
            "category": data["category"],
            "severity": data["severity"],
            "title": data["title"],
            "description": data.get("description", ""),
            "received_on": data.get("received_on"),
            "upload": data.get("upload") or None,
        }


class EditForm(BootstrapMixin, forms.Form):
    category = forms.ChoiceField(label=_("问题类别"), choices=Category.choices)
    severity = forms.ChoiceField(label=_("问题性质"), choices=Severity.choices)
    title = forms.CharField(label=_("问题标题"), max_length=200)
    description = forms.CharField(
        label=_("问题描述"), required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 5})
    )
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, problem: Problem, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("category", "severity", "title", "description"):
            self.initial.setdefault(name, getattr(problem, name))
        self.initial.setdefault("version", problem.version)
        self._style_widgets()


# ---------------------------------------------------------------------------------------------
# The actions on a problem. Each form is built with the problem and the acting user; field names are
# the keys of the domain's ValidationError, so its messages land at the fields.


class ActionForm(BootstrapMixin, forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, problem: Problem, user: User, **kwargs):
        kwargs.setdefault("prefix", self.prefix_name)
        super().__init__(*args, **kwargs)
        self.problem, self.user = problem, user
        self.initial.setdefault("version", problem.version)
        self.setup()
        self._style_widgets()
        for field in self.fields.values():
            if isinstance(field.widget, (forms.RadioSelect, forms.CheckboxSelectMultiple)):
                field.widget.attrs["class"] = "form-check-input"  # rendered one by one in the template

    prefix_name = ""

    def setup(self) -> None:
        pass


def _person_label(user: User) -> str:
    return f"{user} · {user.unit}" if user.unit_id else str(user)


class AssignForm(ActionForm):
    """交办. Helper units are check boxes (the template lists them in a scrolling box)."""

    prefix_name = "assign"
    lead_unit = forms.ModelChoiceField(label=_("主办单位"), queryset=Unit.objects.none(), empty_label=_("请选择"))
    helper_units = forms.ModelMultipleChoiceField(
        label=_("协办单位"), queryset=Unit.objects.none(), required=False, widget=forms.CheckboxSelectMultiple
    )
    responsible_leader = forms.ModelChoiceField(
        label=_("分管领导"), queryset=User.objects.none(), required=False, empty_label=_("（默认：项目分包领导）")
    )
    severity = forms.ChoiceField(label=_("问题性质"), choices=Severity.choices)
    solve_level = forms.ChoiceField(label=_("需协调层级"), choices=SolveLevel.choices)
    assigned_on = forms.DateField(
        label=_("交办日期"), widget=DateInput, required=False,
        help_text=_("留空为今天；补录的问题填实际交办日期（不早于收到日期）。"),
    )  # fmt: skip
    resolve_due = forms.DateField(
        label=_("任务办结期限"), widget=DateInput, required=False,
        help_text=_("现场办公、周调度会、领导批示形成的任务可自定办结期限；留空按13710时限。"),
    )  # fmt: skip
    note = forms.CharField(
        label=_("交办意见"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )

    def setup(self) -> None:
        from keyprojects.problems.domain import TASK_SOURCES

        units = staff_units()
        self.fields["lead_unit"].queryset = units
        self.fields["helper_units"].queryset = units
        leaders = users_with_role(Role.LEADER).select_related("unit")
        self.fields["responsible_leader"].queryset = leaders
        self.fields["responsible_leader"].label_from_instance = _person_label
        self.initial.setdefault("severity", self.problem.severity)
        self.initial.setdefault("solve_level", self.problem.solve_level)
        if self.problem.source not in TASK_SOURCES:
            del self.fields["resolve_due"]
        elif not self.user.has_role(Role.DISPATCHER):
            self.fields["resolve_due"].required = True  # a leader assigns a task with its own deadline


class DeployForm(ActionForm):
    prefix_name = "deploy"
    note = forms.CharField(
        label=_("部署情况"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("如：已召开专题会，明确责任人和时间表。"),
    )  # fmt: skip


class FeedbackForm(UploadMixin, ActionForm):
    prefix_name = "feedback"
    text = forms.CharField(label=_("办理情况"), max_length=5000, widget=forms.Textarea(attrs={"rows": 3}))
    upload = _upload_field(_("附件"))


class ResolveForm(UploadMixin, ActionForm):
    prefix_name = "resolve"
    evidence = forms.CharField(
        label=_("办结情况及佐证"), max_length=5000, widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("说明解决结果，附上批复、会议纪要或现场照片等佐证材料。"),
    )  # fmt: skip
    upload = _upload_field(_("佐证材料"))


class RateForm(ActionForm):
    prefix_name = "rate"
    rating = forms.ChoiceField(label=_("评价"), choices=Rating.choices, widget=forms.RadioSelect)
    comment = forms.CharField(
        label=_("评价意见"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("选择“不满意”时必须说明原因，问题将退回重新办理。"),
    )  # fmt: skip


class CloseForm(ActionForm):
    prefix_name = "close"
    note = forms.CharField(label=_("销号说明"), required=False, max_length=2000)


class SuperviseForm(ActionForm):
    prefix_name = "supervise"
    supervision_due = forms.DateField(label=_("督办期限"), widget=DateInput)
    note = forms.CharField(
        label=_("督办要求"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )


class EscalateForm(ActionForm):
    prefix_name = "escalate"
    reason = forms.CharField(label=_("升级理由"), max_length=200)

    def setup(self) -> None:
        following = self.problem.escalation_level + 1
        if following in EscalationLevel.values:
            self.target_label = EscalationLevel(following).label
        else:
            self.target_label = ""


ACTION_FORMS: dict[str, type[ActionForm]] = {
    "assign": AssignForm,
    "deploy": DeployForm,
    "feedback": FeedbackForm,
    "resolve": ResolveForm,
    "rate": RateForm,
    "close": CloseForm,
    "supervise": SuperviseForm,
    "escalate": EscalateForm,
}


# ---------------------------------------------------------------------------------------------
# Unit figures

FIGURE_SORTS = {
    "name": _("名称"),
    "assigned": _("交办数"),
    "resolved": _("办结数"),
    "closure_rate": _("办结率"),
    "on_time_rate": _("按期办结率"),
    "satisfaction_rate": _("满意率"),
    "average_workdays": _("平均用时（工作日）"),
    "overdue": _("逾期数"),
    "open": _("在办数"),
}


class FiguresFilter(BootstrapMixin, forms.Form):
    received_from = forms.DateField(label=_("收到日期自"), widget=DateInput, required=False)
    received_to = forms.DateField(label=_("至"), widget=DateInput, required=False)
    sort = forms.ChoiceField(
        required=False,
        choices=[(key, label) for key in FIGURE_SORTS for key, label in ((key, FIGURE_SORTS[key]), (f"-{key}", ""))],
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._style_widgets()

    def clean(self):
        data = super().clean()
        start, end = data.get("received_from"), data.get("received_to")
        if start and end and end < start:
            self.add_error("received_to", _("结束日期不能早于开始日期。"))
        return data
