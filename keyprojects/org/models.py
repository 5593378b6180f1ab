"""Regions, units and people."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Coalesce, NullIf
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _


class Region(models.Model):
    """An administrative division with its GB/T 2260 code (or the 9/12-digit NBS township code)."""

    class Level(models.TextChoices):
        PROVINCE = "province", _("省")
        CITY = "city", _("市")
        COUNTY = "county", _("县区")
        TOWNSHIP = "township", _("乡镇街道")

    code = models.CharField(_("区划代码"), max_length=12, unique=True)
    name = models.CharField(_("名称"), max_length=64)
    level = models.CharField(_("层级"), max_length=16, choices=Level.choices)
    parent = models.ForeignKey("self", models.PROTECT, null=True, blank=True, related_name="children")
    latitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    note = models.CharField(_("备注"), max_length=200, blank=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("行政区划")
        verbose_name_plural = _("行政区划")

    def __str__(self) -> str:
        return self.name


class Unit(models.Model):
    """An organisation: the leadership, the service center, a department, a town or a company.

    `path` holds the ids from the root down (``/1/4/17/``) so that "this unit and everything
    below it" is one indexed prefix query.
    """

    class Kind(models.TextChoices):
        LEADERSHIP = "leadership", _("领导机构")
        SERVICE_CENTER = "service_center", _("项目服务中心")
        DEPARTMENT = "department", _("职能部门")
        TOWN = "town", _("乡镇街道")
        ENTERPRISE = "enterprise", _("企业")

    name = models.CharField(_("单位名称"), max_length=100)
    short_name = models.CharField(_("简称"), max_length=40, blank=True)
    kind = models.CharField(_("单位类型"), max_length=20, choices=Kind.choices)
    parent = models.ForeignKey(
        "self", models.PROTECT, null=True, blank=True, related_name="children", verbose_name=_("上级单位")
    )
    region = models.ForeignKey(Region, models.PROTECT, null=True, blank=True, verbose_name=_("行政区划"))
    credit_code = models.CharField(_("统一社会信用代码"), max_length=18, blank=True)
    path = models.CharField(max_length=255, editable=False, db_index=True, default="")
    is_active = models.BooleanField(_("启用"), default=True)

    class Meta:
        ordering = ["kind", "id"]
        verbose_name = _("单位")
        verbose_name_plural = _("单位")

    def __str__(self) -> str:
        return self.short_name or self.name

    def save(self, *args, **kwargs):
        super().save(*args, **kwargs)
        expected = f"{self.parent.path if self.parent else '/'}{self.pk}/"
        if self.path != expected:
            old = self.path
            self.path = expected
            Unit.objects.filter(pk=self.pk).update(path=expected)
            if old:
                # Re-root the subtree when a unit moves.
                for child in Unit.objects.filter(path__startswith=old).exclude(pk=self.pk):
                    child.path = expected + child.path[len(old) :]
                    Unit.objects.filter(pk=child.pk).update(path=child.path)

    def subtree_ids(self) -> list[int]:
        return list(Unit.objects.filter(path__startswith=self.path).values_list("id", flat=True))


class Role(models.TextChoices):
    DISPATCHER = "dispatcher", _("调度员")
    LEADER = "leader", _("领导")
    UNIT_OFFICER = "unit_officer", _("责任单位经办人")
    SERVICE_OFFICER = "service_officer", _("首席服务员")
    ENTERPRISE = "enterprise", _("企业填报员")
    SYSADMIN = "sysadmin", _("系统管理员")
    SECADMIN = "secadmin", _("安全管理员")
    AUDITOR = "auditor", _("审计管理员")


ADMIN_ROLES = frozenset({Role.SYSADMIN, Role.SECADMIN, Role.AUDITOR})
BUSINESS_ROLES = frozenset(set(Role) - ADMIN_ROLES)


class DataScope(models.TextChoices):
    ALL = "all", _("全部")
    UNIT_AND_BELOW = "unit_tree", _("本单位及下级")
    UNIT = "unit", _("本单位")
    PERSONAL = "personal", _("本人相关")
    NONE = "none", _("无业务数据")


# The scope a role gets unless an administrator sets another one on the user.
DEFAULT_SCOPE = {
    Role.DISPATCHER: DataScope.ALL,
    Role.LEADER: DataScope.ALL,
    Role.UNIT_OFFICER: DataScope.UNIT_AND_BELOW,
    Role.SERVICE_OFFICER: DataScope.PERSONAL,
    Role.ENTERPRISE: DataScope.UNIT,
}
SCOPE_BREADTH = [DataScope.NONE, DataScope.PERSONAL, DataScope.UNIT, DataScope.UNIT_AND_BELOW, DataScope.ALL]


def validate_role_set(roles: set[str]) -> None:
    """三员分立: an admin role excludes the other admin roles and every business role."""
    admin = roles & ADMIN_ROLES
    if len(admin) > 1 or (admin and roles - admin):
        raise ValidationError(_("系统管理员、安全管理员、审计管理员互斥，且不能兼任业务角色。"))


class User(AbstractUser):
    """A person who signs in. Belongs to one unit and holds one or more roles."""

    full_name = models.CharField(_("姓名"), max_length=40, blank=True)
    unit = models.ForeignKey(
        Unit, models.PROTECT, null=True, blank=True, related_name="members", verbose_name=_("所属单位")
    )
    title = models.CharField(_("职务"), max_length=60, blank=True)
    phone = models.CharField(_("手机"), max_length=20, blank=True)
    data_scope = models.CharField(
        _("数据范围"), max_length=16, choices=DataScope.choices, blank=True, help_text=_("留空时按角色默认。")
    )
    is_demo = models.BooleanField(_("演示账号"), default=False, editable=False)

    class Meta:
        verbose_name = _("用户")
        verbose_name_plural = _("用户")

    def __str__(self) -> str:
        return self.full_name or self.username

    @staticmethod
    def name_of(field: str) -> models.Subquery:
        """`str()` of the user that `field` (a user id of the outer row) points to, as a scalar subquery:
        a name read without joining the user table (see `api.projects.DETAIL_NAMES`)."""
        users = User.objects.filter(pk=models.OuterRef(field))
        name = Coalesce(NullIf(models.F("full_name"), models.Value("")), models.F("username"))
        return models.Subquery(users.annotate(_name=name).values("_name")[:1])

    @cached_property
    def role_set(self) -> frozenset[str]:
        return frozenset(self.roles.values_list("role", flat=True))

    def know_roles(self, roles: Iterable[str]) -> None:
        """Give `role_set` roles read along with another query (the API token's), sparing its own."""
        self.__dict__["role_set"] = frozenset(roles)

    def has_role(self, *roles: str) -> bool:
        return bool(self.role_set & set(roles))

    @property
    def role_labels(self) -> list[str]:
        return [Role(r).label for r in sorted(self.role_set)]

    @property
    def effective_scope(self) -> str:
        if self.data_scope:
            return self.data_scope
        scopes = [DEFAULT_SCOPE[r] for r in self.role_set if r in DEFAULT_SCOPE]
        if not scopes:
            return DataScope.NONE
        return max(scopes, key=SCOPE_BREADTH.index)


class UserRole(models.Model):
    """One role held by a user. Admin roles exclude each other and business roles (三员分立)."""

    user = models.ForeignKey(User, models.CASCADE, related_name="roles")
    role = models.CharField(_("角色"), max_length=20, choices=Role.choices)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "role"], name="unique_user_role")]
        verbose_name = _("用户角色")
        verbose_name_plural = _("用户角色")

    def __str__(self) -> str:
        return f"{self.user} · {self.get_role_display()}"

    def clean(self) -> None:
        others = set(self.user.roles.exclude(pk=self.pk).values_list("role", flat=True)) if self.user_id else set()
        validate_role_set({self.role, *others})
