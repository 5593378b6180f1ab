"""Funding and the investment-environment measures.

- **Funding lines** (专项债, 中央预算内, 超长期特别国债, 银行贷款…): one line per project, fund type, year
  and batch, with its pipeline 储备 → 申报 → 审核通过 (发改 / 财政) → 额度下达 → 发行 → 拨付 → 支出 as
  `FundingStep` rows (amount, date, document number) and, for bonds, a `BondDetail`. Lines change only
  through `funding.domain`, which checks the pipeline and writes the audit trail.
- **Alerts**: `FundingLine.next_check_at` is the indexed "next check" column the worker polls;
  `FundingAlert` is the claimed-alert table (one row per line, kind and basis date), so each alert
  fires once even with two workers.
- **Acceleration measures** on an approval item (`ApprovalAcceleration`: 信用承诺, 全程代办) and per
  project (`ProjectLand`: 标准地 indicators promised and checked, the land certificate date for
  "拿地即开工").
- **Registries**: the government-service matters catalogue (`ServiceMatter`), industry chains under
  the 双长制 (`IndustryChain`) and office buildings of the building economy (`Building`).

Money is Decimal 万元 with 2 decimals.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from keyprojects.org.models import Unit
from keyprojects.projects.models import ApprovalItem, Project


def money_field(label, **kwargs) -> models.DecimalField:
    return models.DecimalField(label, max_digits=14, decimal_places=2, **kwargs)


class Step(models.TextChoices):
    """The pipeline of a funding line, in order. Steps may be skipped (a bank loan has no 下达)."""

    RESERVE = "reserve", _("储备")
    APPLIED = "applied", _("申报")
    NDRC_APPROVED = "ndrc", _("发改审核通过")
    MOF_APPROVED = "mof", _("财政审核通过")
    ALLOCATED = "allocated", _("额度下达")
    ISSUED = "issued", _("发行")
    DISBURSED = "disbursed", _("拨付")
    SPENT = "spent", _("支出")

    @classmethod
    def order(cls, step: str) -> int:
        return list(cls.values).index(step)


STEP_ORDER = list(Step.values)
APPROVAL_STEPS = (Step.NDRC_APPROVED, Step.MOF_APPROVED)


class FundType(models.Model):
    """A kind of funding (configurable): 地方政府专项债券, 中央预算内投资, 银行贷款, 企业自筹…

    `has_issuance` marks the bond types whose lines go through 发行 (bond name, term, rate).
    """

    name = models.CharField(_("资金类型"), max_length=40, unique=True)
    short_name = models.CharField(_("简称"), max_length=20, blank=True)
    has_issuance = models.BooleanField(_("有发行环节（债券）"), default=False)
    government = models.BooleanField(_("政府性资金"), default=True, help_text=_("计入“政府资金”统计。"))
    position = models.PositiveSmallIntegerField(_("顺序"), default=0)
    is_active = models.BooleanField(_("启用"), default=True)

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("资金类型")
        verbose_name_plural = _("资金类型")

    def __str__(self) -> str:
        return self.name

    @property
    def label(self) -> str:
        return self.short_name or self.name

    def steps(self) -> list[str]:
        """The steps a line of this type may record."""
        return [s for s in STEP_ORDER if s != Step.ISSUED or self.has_issuance]


class FundingSettings(models.Model):
    """Funding alerts and the "拿地即开工" target: one row (id 1), edited in the admin (audited).

    A change applies from the next check of each line: lines already scheduled keep their stored
    check time, and the worker re-reads these values when the check comes.
    """

    idle_days = models.PositiveSmallIntegerField(
        _("资金闲置提醒天数"), default=90, validators=[MinValueValidator(1), MaxValueValidator(3650)],
        help_text=_("下达（或拨付）的资金未支出完毕、且这么多天没有新的支出时提醒。"),
    )  # fmt: skip
    no_investment_days = models.PositiveSmallIntegerField(
        _("债券资金拨付后未报投资提醒天数"), default=60, validators=[MinValueValidator(1), MaxValueValidator(3650)],
        help_text=_("债券资金拨付后这么多天内，项目没有报送任何完成投资时提醒。"),
    )  # fmt: skip
    land_to_start_target = models.PositiveSmallIntegerField(
        _("拿地即开工目标（工作日）"), default=30, validators=[MinValueValidator(1), MaxValueValidator(1000)],
        help_text=_("从取得不动产权证到实际开工不超过这么多个工作日，计为“拿地即开工”。"),
    )  # fmt: skip
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("资金与营商环境设置")
        verbose_name_plural = _("资金与营商环境设置")
        constraints = [models.CheckConstraint(condition=Q(id=1), name="funding_settings_singleton")]

    def __str__(self) -> str:
        return str(_("资金与营商环境设置"))

    def save(self, *args, **kwargs):
        self.pk = 1
        super().save(*args, **kwargs)

    @classmethod
    def load(cls) -> FundingSettings:
        """The configuration row, or the defaults when nobody saved one yet (reading never writes)."""
        return cls.objects.filter(pk=1).first() or cls(pk=1)


class FundingLine(models.Model):
    """One funding line of a project: a fund type, a year and batch, and its pipeline steps.

    `stage` is the furthest step recorded (kept by the domain for filtering); `next_check_at` is when
    the worker next looks at the line for alerts (None: nothing to check).
    """

    project = models.ForeignKey(Project, models.PROTECT, related_name="funding_lines", verbose_name=_("项目"))
    fund_type = models.ForeignKey(FundType, models.PROTECT, related_name="lines", verbose_name=_("资金类型"))
    year = models.PositiveSmallIntegerField(_("年度"), validators=[MinValueValidator(2000), MaxValueValidator(2100)])
    batch = models.CharField(_("批次"), max_length=40, blank=True, help_text=_("如“第三批”；没有批次可留空。"))
    stage = models.CharField(_("当前环节"), max_length=16, choices=Step.choices, default=Step.RESERVE)
    rejected = models.BooleanField(_("审核未通过"), default=False)
    note = models.CharField(_("备注"), max_length=500, blank=True)
    next_check_at = models.DateTimeField(null=True, blank=True, editable=False)
    version = models.PositiveIntegerField(default=1, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+", editable=False
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-year", "fund_type__position", "id"]
        verbose_name = _("资金")
        verbose_name_plural = _("资金")
        constraints = [
            models.UniqueConstraint(fields=["project", "fund_type", "year", "batch"], name="funding_line_once"),
        ]
        indexes = [
            models.Index(fields=["fund_type", "year"], name="funding_line_type_year_idx"),
            models.Index(
                fields=["next_check_at"], name="funding_line_check_idx", condition=Q(next_check_at__isnull=False)
            ),
        ]

    def __str__(self) -> str:
        batch = f"{self.batch}" if self.batch else ""
        return f"{self.project} · {self.year}年{batch}{self.fund_type}"


class FundingStep(models.Model):
    """One step a funding line reached: the amount (万元, cumulative for 拨付 and 支出), date and document."""

    line = models.ForeignKey(FundingLine, models.CASCADE, related_name="steps")
    step = models.CharField(_("环节"), max_length=16, choices=Step.choices)
    amount = money_field(_("金额（万元）"), validators=[MinValueValidator(Decimal("0"))])
    date = models.DateField(_("日期"))
    document_number = models.CharField(_("文号"), max_length=80, blank=True)

    class Meta:
        ordering = ["line", "id"]
        verbose_name = _("资金环节")
        verbose_name_plural = _("资金环节")
        constraints = [models.UniqueConstraint(fields=["line", "step"], name="funding_step_once")]

    def __str__(self) -> str:
        return f"{self.get_step_display()} {self.amount}万元 {self.date}"


class BondDetail(models.Model):
    """The bond a line's money was issued in (for fund types with issuance): name, code, term, rate."""

    line = models.OneToOneField(FundingLine, models.CASCADE, related_name="bond")
    name = models.CharField(_("债券名称"), max_length=120)
    code = models.CharField(_("债券代码"), max_length=40, blank=True)
    term_years = models.PositiveSmallIntegerField(
        _("期限（年）"), validators=[MinValueValidator(1), MaxValueValidator(50)]
    )
    rate = models.DecimalField(
        _("票面利率（%）"), max_digits=6, decimal_places=3,
        validators=[MinValueValidator(Decimal("0.001")), MaxValueValidator(Decimal("20"))],
    )  # fmt: skip

    class Meta:
        verbose_name = _("债券信息")
        verbose_name_plural = _("债券信息")

    def __str__(self) -> str:
        return self.name


class FundingAlert(models.Model):
    """An alert the worker raised (or a check it made and found nothing) for one line.

    The unique (line, kind, basis_date) row is the claim: whoever inserts it notifies, so an alert
    fires once. `fired` is false for a check that came due and found the condition gone.
    """

    class Kind(models.TextChoices):
        IDLE = "idle", _("资金闲置")
        NO_INVESTMENT = "no_investment", _("债券资金到位未报投资")

    line = models.ForeignKey(FundingLine, models.CASCADE, related_name="alerts")
    kind = models.CharField(_("提醒类型"), max_length=16, choices=Kind.choices)
    basis_date = models.DateField(_("起算日期"))
    fired = models.BooleanField(_("已提醒"), default=True)
    message = models.CharField(_("提醒内容"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("时间"))

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("资金提醒")
        verbose_name_plural = _("资金提醒")
        constraints = [
            models.UniqueConstraint(fields=["line", "kind", "basis_date"], name="funding_alert_once"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.line}"


# --- acceleration measures -------------------------------------------------------------------------------


class PromiseOutcome(models.TextChoices):
    PENDING = "pending", _("未到期")
    KEPT = "kept", _("已兑现")
    BROKEN = "broken", _("未兑现")


class ApprovalAcceleration(models.Model):
    """The acceleration measures on one approval item: 信用承诺 and 全程代办.

    - 信用承诺: the item was granted on the company's promise, to be fulfilled by `promise_deadline`;
      `promise_outcome` records whether it was kept.
    - 全程代办: an agent handled the item from `agent_started_on`; the working days it took run to the
      item's actual completion date (or to today while it is open).
    """

    item = models.OneToOneField(ApprovalItem, models.CASCADE, related_name="acceleration", verbose_name=_("审批事项"))
    on_promise = models.BooleanField(_("信用承诺制办理"), default=False)
    promise_content = models.CharField(_("承诺内容"), max_length=300, blank=True)
    promise_deadline = models.DateField(_("承诺期限"), null=True, blank=True)
    promise_outcome = models.CharField(
        _("承诺履行"), max_length=10, choices=PromiseOutcome.choices, default=PromiseOutcome.PENDING
    )
    promise_checked_on = models.DateField(_("核查日期"), null=True, blank=True)
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="agent_items",
        verbose_name=_("代办员"),
    )  # fmt: skip
    agent_started_on = models.DateField(_("代办受理日期"), null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("审批提速措施")
        verbose_name_plural = _("审批提速措施")

    def __str__(self) -> str:
        return f"{self.item} 提速措施"


class ProjectLand(models.Model):
    """A project's land: the certificate date ("拿地即开工") and, for 标准地, the indicators.

    Indicators are promised at the land sale (出让) and checked at acceptance (达产复核); the gap is
    checked − promised. Higher is better for 亩均投资, 亩均税收 and 容积率; lower for 能耗 and 排放.
    """

    project = models.OneToOneField(Project, models.CASCADE, related_name="land", verbose_name=_("项目"))
    certificate_on = models.DateField(_("取得不动产权证日期"), null=True, blank=True)
    area_mu = models.DecimalField(
        _("用地面积（亩）"), max_digits=10, decimal_places=2, null=True, blank=True,
        validators=[MinValueValidator(Decimal("0.01"))],
    )  # fmt: skip
    is_standard = models.BooleanField(_("标准地出让"), default=False)
    sold_on = models.DateField(_("出让日期"), null=True, blank=True)
    promised_investment = models.DecimalField(
        _("承诺亩均投资（万元/亩）"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    promised_tax = models.DecimalField(
        _("承诺亩均税收（万元/亩）"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    promised_plot_ratio = models.DecimalField(_("承诺容积率"), max_digits=6, decimal_places=2, null=True, blank=True)
    promised_energy = models.DecimalField(
        _("承诺单位能耗（吨标煤/万元）"), max_digits=10, decimal_places=3, null=True, blank=True
    )
    promised_emission = models.DecimalField(
        _("承诺排放总量（吨/年）"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    checked_on = models.DateField(_("达产复核日期"), null=True, blank=True)
    checked_investment = models.DecimalField(
        _("复核亩均投资（万元/亩）"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    checked_tax = models.DecimalField(
        _("复核亩均税收（万元/亩）"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    checked_plot_ratio = models.DecimalField(_("复核容积率"), max_digits=6, decimal_places=2, null=True, blank=True)
    checked_energy = models.DecimalField(
        _("复核单位能耗（吨标煤/万元）"), max_digits=10, decimal_places=3, null=True, blank=True
    )
    checked_emission = models.DecimalField(
        _("复核排放总量（吨/年）"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("项目用地与标准地")
        verbose_name_plural = _("项目用地与标准地")

    def __str__(self) -> str:
        return f"{self.project} 用地"


# (key, label, unit, higher is better)
INDICATORS = [
    ("investment", _("亩均投资"), _("万元/亩"), True),
    ("tax", _("亩均税收"), _("万元/亩"), True),
    ("plot_ratio", _("容积率"), "", True),
    ("energy", _("单位能耗"), _("吨标煤/万元"), False),
    ("emission", _("排放总量"), _("吨/年"), False),
]


# --- registries --------------------------------------------------------------------------------------------


class MatterCategory(models.TextChoices):
    LICENSE = "license", _("行政许可")
    CONFIRMATION = "confirmation", _("行政确认")
    PAYMENT = "payment", _("行政给付")
    AWARD = "award", _("行政奖励")
    RULING = "ruling", _("行政裁决")
    OTHER_POWER = "other_power", _("其他行政权力")
    PUBLIC_SERVICE = "public_service", _("公共服务")


class ServiceMatter(models.Model):
    """One government-service matter (政务服务事项) of the district's catalogue, imported from Excel.

    The flags are the district's headline counts: 最多跑一次, 即来即办, 就近办, 网上可办.
    """

    code = models.CharField(_("事项编码"), max_length=64, unique=True)
    name = models.CharField(_("事项名称"), max_length=200)
    category = models.CharField(_("事项类型"), max_length=20, choices=MatterCategory.choices)
    department = models.ForeignKey(
        Unit, models.PROTECT, null=True, blank=True, related_name="service_matters", verbose_name=_("办理部门"),
    )  # fmt: skip
    department_name = models.CharField(_("办理部门名称"), max_length=100)
    at_most_once = models.BooleanField(_("最多跑一次"), default=False)
    on_the_spot = models.BooleanField(_("即来即办"), default=False)
    near_home = models.BooleanField(_("就近办"), default=False)
    online = models.BooleanField(_("网上可办"), default=False)
    promised_days = models.PositiveSmallIntegerField(
        _("承诺时限（工作日）"), null=True, blank=True, validators=[MaxValueValidator(365)]
    )
    is_active = models.BooleanField(_("在用"), default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["department_name", "code"]
        verbose_name = _("政务服务事项")
        verbose_name_plural = _("政务服务事项")
        indexes = [models.Index(fields=["department_name", "code"], name="matter_department_idx")]

    def __str__(self) -> str:
        return self.name


class IndustryChain(models.Model):
    """An industry chain under the 双长制: a chain leader (链长, a district leader) and a lead company
    (链主企业), with the chain's projects and member companies."""

    name = models.CharField(_("产业链"), max_length=60, unique=True)
    leader = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="led_chains",
        verbose_name=_("链长"),
    )  # fmt: skip
    lead_company = models.ForeignKey(
        Unit, models.PROTECT, null=True, blank=True, related_name="led_chains", verbose_name=_("链主企业"),
        limit_choices_to={"kind": Unit.Kind.ENTERPRISE},
    )  # fmt: skip
    description = models.TextField(_("说明"), blank=True)
    projects = models.ManyToManyField(Project, blank=True, related_name="industry_chains", verbose_name=_("链上项目"))
    companies = models.ManyToManyField(
        Unit,
        blank=True,
        related_name="chains",
        verbose_name=_("链上企业"),
        limit_choices_to={"kind": Unit.Kind.ENTERPRISE},
    )
    position = models.PositiveSmallIntegerField(_("顺序"), default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("产业链")
        verbose_name_plural = _("产业链")

    def __str__(self) -> str:
        return self.name


class TaxBand(models.TextChoices):
    """Annual tax paid by a building's companies (楼宇经济)."""

    YI = "yi", _("亿元楼宇（≥1亿元）")
    HALF_YI = "half_yi", _("5000万元至1亿元")
    TEN_MILLION = "ten_million", _("1000万元至5000万元")
    BELOW = "below", _("1000万元以下")


class Building(models.Model):
    """An office building of the building economy: tax band, star rating and the companies in it."""

    name = models.CharField(_("楼宇名称"), max_length=100, unique=True)
    address = models.CharField(_("地址"), max_length=200, blank=True)
    town = models.ForeignKey(
        Unit, models.PROTECT, null=True, blank=True, related_name="buildings", verbose_name=_("所在乡镇街道"),
        limit_choices_to={"kind": Unit.Kind.TOWN},
    )  # fmt: skip
    star_rating = models.PositiveSmallIntegerField(
        _("星级"), null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    tax_band = models.CharField(_("税收档次"), max_length=16, choices=TaxBand.choices, blank=True)
    annual_tax = money_field(_("年税收（万元）"), null=True, blank=True, validators=[MinValueValidator(Decimal("0"))])
    floor_area = models.DecimalField(
        _("建筑面积（平方米）"), max_digits=12, decimal_places=2, null=True, blank=True,
        validators=[MinValueValidator(Decimal("0"))],
    )  # fmt: skip
    tenant_count = models.PositiveIntegerField(_("入驻企业数"), default=0)
    companies = models.ManyToManyField(
        Unit, blank=True, related_name="buildings_in", verbose_name=_("系统内入驻企业"),
        limit_choices_to={"kind": Unit.Kind.ENTERPRISE},
    )  # fmt: skip
    note = models.CharField(_("备注"), max_length=300, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-star_rating", "name"]
        verbose_name = _("楼宇")
        verbose_name_plural = _("楼宇")

    def __str__(self) -> str:
        return self.name


TAX_BAND_FLOORS = [(TaxBand.YI, Decimal("10000")), (TaxBand.HALF_YI, Decimal("5000")),
                   (TaxBand.TEN_MILLION, Decimal("1000")), (TaxBand.BELOW, Decimal("0"))]  # fmt: skip


def tax_band_for(annual_tax: Decimal | None) -> str:
    """The band an annual tax (万元) falls in, or "" when unknown."""
    if annual_tax is None:
        return ""
    for band, floor in TAX_BAND_FLOORS:
        if annual_tax >= floor:
            return band
    return TaxBand.BELOW
