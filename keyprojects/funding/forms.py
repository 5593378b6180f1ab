"""Forms of the funding pages. They only parse input; `funding.domain` validates and saves."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from keyprojects.funding import domain
from keyprojects.funding.models import (
    INDICATORS,
    STEP_ORDER,
    ApprovalAcceleration,
    Building,
    FundType,
    IndustryChain,
    ProjectLand,
    PromiseOutcome,
    Step,
    TaxBand,
)
from keyprojects.org.models import Role, Unit, User, UserRole
from keyprojects.projects.forms import BootstrapMixin, DateInput, users_with_role
from keyprojects.projects.models import Project


def _person_label(user: User) -> str:
    return f"{user} · {user.unit}" if user.unit_id else str(user)


class FundingLineForm(BootstrapMixin, forms.Form):
    """A funding line: header, one amount/date/document per step, and the bond when issued."""

    fund_type = forms.ModelChoiceField(label=_("资金类型"), queryset=FundType.objects.none())
    year = forms.IntegerField(label=_("年度"), min_value=2000, max_value=2100)
    batch = forms.CharField(label=_("批次"), max_length=40, required=False, help_text=_("如“第三批”，可留空。"))
    rejected = forms.BooleanField(label=_("审核未通过"), required=False)
    note = forms.CharField(label=_("备注"), max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 2}))
    bond_name = forms.CharField(label=_("债券名称"), max_length=120, required=False)
    bond_code = forms.CharField(label=_("债券代码"), max_length=40, required=False)
    bond_term_years = forms.IntegerField(label=_("期限（年）"), required=False)
    bond_rate = forms.DecimalField(label=_("票面利率（%）"), required=False, max_digits=6, decimal_places=3)
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, line=None, **kwargs):
        super().__init__(*args, **kwargs)
        types = FundType.objects.filter(is_active=True)
        if line is not None:
            types = FundType.objects.filter(Q(is_active=True) | Q(pk=line.fund_type_id))
        self.fields["fund_type"].queryset = types
        self.step_rows = []
        for step in STEP_ORDER:
            label = Step(step).label
            self.fields[f"{step}_amount"] = forms.DecimalField(
                label=_("%(step)s金额（万元）") % {"step": label}, required=False, max_digits=16, decimal_places=2
            )
            self.fields[f"{step}_date"] = forms.DateField(label=_("%(step)s日期") % {"step": label}, required=False,
                                                          widget=DateInput)  # fmt: skip
            self.fields[f"{step}_document_number"] = forms.CharField(
                label=_("%(step)s文号") % {"step": label}, max_length=80, required=False
            )
        if line is not None:
            self.initial.update(fund_type=line.fund_type_id, year=line.year, batch=line.batch, rejected=line.rejected,
                                note=line.note, version=line.version)  # fmt: skip
            for step, value in domain.step_values(line).items():
                self.initial.update({f"{step}_amount": value.amount, f"{step}_date": value.date,
                                     f"{step}_document_number": value.document_number})  # fmt: skip
            for key, value in domain.bond_values(line).items():
                self.initial[f"bond_{key}"] = value
        else:
            self.initial.setdefault("year", timezone.localdate().year)
        self._style_widgets()
        for step in STEP_ORDER:
            self.step_rows.append({
                "step": step, "label": Step(step).label, "amount": self[f"{step}_amount"], "date": self[f"{step}_date"],
                "document_number": self[f"{step}_document_number"],
            })  # fmt: skip

    def domain_data(self) -> dict[str, Any]:
        c = self.cleaned_data
        steps = {
            step: domain.StepValue(
                c.get(f"{step}_amount"), c.get(f"{step}_date"), c.get(f"{step}_document_number") or ""
            )
            for step in STEP_ORDER
        }
        bond = {"name": c.get("bond_name") or "", "code": c.get("bond_code") or "",
                "term_years": c.get("bond_term_years"), "rate": c.get("bond_rate")}  # fmt: skip
        if not any(v not in (None, "") for v in bond.values()):
            bond = {}
        return {"fund_type": c.get("fund_type"), "year": c.get("year"), "batch": c.get("batch") or "",
                "rejected": c.get("rejected", False), "note": c.get("note") or "", "steps": steps,
                "bond": bond}  # fmt: skip


def agents() -> QuerySet[User]:
    """People who may act as 代办员: active dispatchers, unit officers and service officers."""
    roles = UserRole.objects.filter(role__in=[Role.DISPATCHER, Role.UNIT_OFFICER, Role.SERVICE_OFFICER])
    return User.objects.filter(is_active=True, pk__in=roles.values("user_id")).select_related("unit").order_by("id")


class AccelerationForm(BootstrapMixin, forms.Form):
    on_promise = forms.BooleanField(label=_("信用承诺制办理"), required=False,
                                    help_text=_("企业作出承诺后先行办理，承诺事项在期限内补齐。"))  # fmt: skip
    promise_content = forms.CharField(label=_("承诺内容"), max_length=300, required=False)
    promise_deadline = forms.DateField(label=_("承诺期限"), required=False, widget=DateInput)
    promise_outcome = forms.ChoiceField(label=_("承诺履行"), choices=PromiseOutcome.choices, required=False)
    promise_checked_on = forms.DateField(label=_("核查日期"), required=False, widget=DateInput)
    agent = forms.ModelChoiceField(label=_("代办员（全程代办）"), queryset=User.objects.none(), required=False,
                                   empty_label=_("未安排代办"))  # fmt: skip
    agent_started_on = forms.DateField(label=_("代办受理日期"), required=False, widget=DateInput)

    FIELDS = ["on_promise", "promise_content", "promise_deadline", "promise_outcome", "promise_checked_on", "agent",
              "agent_started_on"]  # fmt: skip

    def __init__(self, *args, acceleration: ApprovalAcceleration | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        queryset = agents()
        if acceleration is not None and acceleration.agent_id:
            queryset = (queryset | User.objects.filter(pk=acceleration.agent_id)).distinct()
        self.fields["agent"].queryset = queryset
        self.fields["agent"].label_from_instance = _person_label
        if acceleration is not None:
            for name in self.FIELDS:
                self.initial.setdefault(name, getattr(acceleration, f"{name}_id" if name == "agent" else name))
        self._style_widgets()

    def domain_data(self) -> dict[str, Any]:
        data = {name: self.cleaned_data.get(name) for name in self.FIELDS}
        data["promise_outcome"] = data["promise_outcome"] or PromiseOutcome.PENDING
        data["promise_content"] = data["promise_content"] or ""
        return data


class LandForm(BootstrapMixin, forms.Form):
    """The project's land certificate date and its 标准地 indicators."""

    def __init__(self, *args, land: ProjectLand | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        for name in domain.LAND_FIELDS:
            db_field = ProjectLand._meta.get_field(name)
            kwargs_ = {"required": False}
            if db_field.get_internal_type() == "DateField":
                kwargs_["widget"] = DateInput
            self.fields[name] = db_field.formfield(**kwargs_)
            if land is not None:
                self.initial[name] = getattr(land, name)
        self._style_widgets()
        self.promised = [self[f"promised_{key}"] for key, *_r in INDICATORS]
        self.checked = [self[f"checked_{key}"] for key, *_r in INDICATORS]

    def domain_data(self) -> dict[str, Any]:
        data = {name: self.cleaned_data.get(name) for name in domain.LAND_FIELDS}
        data["is_standard"] = bool(data["is_standard"])
        return data


class DistrictFilter(BootstrapMixin, forms.Form):
    year = forms.TypedChoiceField(label=_("年度"), required=False, coerce=int, empty_value=None)
    fund_type = forms.ModelChoiceField(label=_("资金类型"), queryset=FundType.objects.all(), required=False,
                                       empty_label=_("全部类型"))  # fmt: skip

    def __init__(self, *args, years: list[int], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["year"].choices = [("", _("全部年度"))] + [(y, f"{y}年") for y in years]
        self._style_widgets()

    def values(self) -> tuple[int | None, FundType | None]:
        if not self.is_valid():
            return None, None
        return self.cleaned_data.get("year"), self.cleaned_data.get("fund_type")


FLAG_CHOICES = [("", _("全部")), ("at_most_once", _("最多跑一次")), ("on_the_spot", _("即来即办")),
                ("near_home", _("就近办")), ("online", _("网上可办")), ("offline", _("不能网上办"))]  # fmt: skip


class MatterFilter(BootstrapMixin, forms.Form):
    q = forms.CharField(label=_("事项名称或编码"), required=False, max_length=100)
    department = forms.ChoiceField(label=_("办理部门"), required=False)
    flag = forms.ChoiceField(label=_("办理方式"), required=False, choices=FLAG_CHOICES)

    def __init__(self, *args, departments: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["department"].choices = [("", _("全部部门"))] + [(d, d) for d in departments]
        self._style_widgets()

    def filter(self, matters):
        if not self.is_valid():
            return matters
        c = self.cleaned_data
        if c.get("q"):
            q = c["q"].strip()
            matters = matters.filter(Q(name__icontains=q) | Q(code__icontains=q))
        if c.get("department"):
            matters = matters.filter(department_name=c["department"])
        flag = c.get("flag")
        if flag == "offline":
            matters = matters.filter(online=False)
        elif flag:
            matters = matters.filter(**{flag: True})
        return matters


class MatterUploadForm(forms.Form):
    file = forms.FileField(
        label=_("政务服务事项目录（.xlsx）"), widget=forms.ClearableFileInput(attrs={"accept": ".xlsx"})
    )


def enterprises() -> QuerySet[Unit]:
    return Unit.objects.filter(kind=Unit.Kind.ENTERPRISE, is_active=True).order_by("name")


class ChainForm(BootstrapMixin, forms.Form):
    name = forms.CharField(label=_("产业链"), max_length=60)
    leader = forms.ModelChoiceField(label=_("链长"), queryset=User.objects.none(), required=False)
    lead_company = forms.ModelChoiceField(label=_("链主企业"), queryset=Unit.objects.none(), required=False)
    description = forms.CharField(label=_("说明"), required=False, widget=forms.Textarea(attrs={"rows": 3}),
                                  max_length=2000)  # fmt: skip
    position = forms.IntegerField(label=_("顺序"), min_value=0, max_value=32767, required=False)
    projects = forms.ModelMultipleChoiceField(label=_("链上项目"), queryset=Project.objects.none(), required=False,
                                              widget=forms.SelectMultiple(attrs={"size": 10}))  # fmt: skip
    companies = forms.ModelMultipleChoiceField(label=_("链上企业"), queryset=Unit.objects.none(), required=False,
                                               widget=forms.SelectMultiple(attrs={"size": 8}))  # fmt: skip

    def __init__(self, *args, projects: QuerySet[Project], chain: IndustryChain | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["leader"].queryset = users_with_role(Role.LEADER).select_related("unit")
        self.fields["leader"].label_from_instance = _person_label
        self.fields["lead_company"].queryset = enterprises()
        self.fields["companies"].queryset = enterprises()
        self.fields["projects"].queryset = projects.order_by("name")
        if chain is not None:
            seen = chain.projects.filter(pk__in=projects.values("pk")).values_list("pk", flat=True)
            self.initial.update(name=chain.name, leader=chain.leader_id, lead_company=chain.lead_company_id,
                                description=chain.description, position=chain.position, projects=list(seen),
                                companies=list(chain.companies.values_list("pk", flat=True)))  # fmt: skip
        self._style_widgets()

    def domain_data(self) -> dict[str, Any]:
        c = self.cleaned_data
        return {"name": c["name"], "leader": c.get("leader"), "lead_company": c.get("lead_company"),
                "description": c.get("description") or "", "position": c.get("position") or 0,
                "projects": list(c.get("projects") or []), "companies": list(c.get("companies") or [])}  # fmt: skip


class BuildingForm(BootstrapMixin, forms.Form):
    name = forms.CharField(label=_("楼宇名称"), max_length=100)
    address = forms.CharField(label=_("地址"), max_length=200, required=False)
    town = forms.ModelChoiceField(label=_("所在乡镇街道"), queryset=Unit.objects.none(), required=False)
    star_rating = forms.TypedChoiceField(
        label=_("星级"), required=False, coerce=int, empty_value=None,
        choices=[("", _("未评定"))] + [(n, "★" * n) for n in range(5, 0, -1)],
    )  # fmt: skip
    annual_tax = forms.DecimalField(label=_("年税收（万元）"), required=False, max_digits=16, decimal_places=2,
                                    help_text=_("填写后自动确定税收档次。"))  # fmt: skip
    tax_band = forms.ChoiceField(label=_("税收档次"), required=False, choices=[("", _("未填写"))] + TaxBand.choices)
    floor_area = forms.DecimalField(label=_("建筑面积（平方米）"), required=False, max_digits=14, decimal_places=2)
    tenant_count = forms.IntegerField(label=_("入驻企业数"), min_value=0, max_value=1_000_000)
    companies = forms.ModelMultipleChoiceField(label=_("系统内入驻企业"), queryset=Unit.objects.none(), required=False,
                                               widget=forms.SelectMultiple(attrs={"size": 8}))  # fmt: skip
    note = forms.CharField(label=_("备注"), max_length=300, required=False)

    FIELDS = ["name", "address", "town", "star_rating", "annual_tax", "tax_band", "floor_area", "tenant_count", "note"]

    def __init__(self, *args, building: Building | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["town"].queryset = Unit.objects.filter(kind=Unit.Kind.TOWN, is_active=True)
        self.fields["companies"].queryset = enterprises()
        if building is not None:
            for name in self.FIELDS:
                self.initial[name] = getattr(building, f"{name}_id" if name == "town" else name)
            self.initial["companies"] = list(building.companies.values_list("pk", flat=True))
        else:
            self.initial.setdefault("tenant_count", 0)
        self._style_widgets()

    def domain_data(self) -> dict[str, Any]:
        c = self.cleaned_data
        data = {name: c.get(name) for name in self.FIELDS}
        data["tax_band"] = data["tax_band"] or ""
        data["address"] = data["address"] or ""
        data["note"] = data["note"] or ""
        data["companies"] = list(c.get("companies") or [])
        return data
