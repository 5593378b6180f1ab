"""A small district for tests: regions, units, one user per role, and projects in two towns.

Personas (all with password PASSWORD):
- dispatcher (service center, scope 全部), leader (scope 全部)
- town_officer (unit officer of 东街街道, 本单位及下级), dept_officer (unit officer of 自然资源局)
- other_town_officer (unit officer of 洪门镇)
- officer (首席服务员, paired with `project_a`), enterprise (企业填报员 of the owner of `project_a`)
- sysadmin, secadmin, auditor (三员, no business data)

Projects: `project_a` in 东街街道 (responsible unit 东街街道, 自然资源局 handles one approval),
`project_b` in 洪门镇 (responsible unit 洪门镇), nothing of it visible to the 东街 officer.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.utils import translation

from keyprojects.org.models import Region, Role, Unit, User, UserRole
from keyprojects.projects import domain
from keyprojects.projects.models import ApprovalTemplateItem, Industry, ProjectType, Stage

PASSWORD = "Test@2026!x"
VALID_CREDIT_CODES = ["91350200776049653A", "91350500798359476R", "91440101MA5CJQ4N59", "12320200466372674G"]


@pytest.fixture(autouse=True)
def _test_settings(settings, tmp_path, request, monkeypatch):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Tests do not run collectstatic: serve static files without the manifest.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.MEDIA_ROOT = tmp_path / "media"
    # Cached roll-ups are keyed by data-version tokens that a rolled-back test transaction takes
    # back; a fresh cache per test keeps one test's figures out of the next.
    cache.clear()
    from keyprojects.security.models import SecurityPolicy

    SecurityPolicy.forget()  # a test's policy must not outlive its rolled-back row
    # The 三员 personas sign in with force_login, which has no second factor; tests of the two-factor
    # step itself are marked `second_factor`.
    if "second_factor" not in request.keywords:
        monkeypatch.setattr("keyprojects.security.middleware.needs_second_factor", lambda user, policy: False)
    yield
    # A test that switched the UI to English must not leave it active for the next test in this thread.
    translation.activate(django_settings.LANGUAGE_CODE)


def make_user(username: str, unit: Unit | None, *roles: str) -> User:
    user = User.objects.create_user(username=username, password=PASSWORD, unit=unit, full_name=username)
    for role in roles:
        UserRole.objects.create(user=user, role=role)
    return User.objects.get(pk=user.pk)


class World:
    """Handles on the test district's objects."""


@pytest.fixture
def world(db) -> World:
    return build_world()


def build_world() -> World:
    """The test district (also used by scripts that run outside pytest, e.g. tests/race_sqlite.py)."""
    w = World()
    province = Region.objects.create(code="410000", name="河南省", level=Region.Level.PROVINCE)
    city = Region.objects.create(code="410700", name="新乡市", level=Region.Level.CITY, parent=province)
    w.district = Region.objects.create(code="410702", name="红旗区", level=Region.Level.COUNTY, parent=city)
    w.leadership = Unit.objects.create(name="红旗区人民政府", kind=Unit.Kind.LEADERSHIP, region=w.district)
    w.center = Unit.objects.create(name="区重点项目建设服务中心", kind=Unit.Kind.SERVICE_CENTER, parent=w.leadership)
    w.resources = Unit.objects.create(name="自然资源和规划局红旗分局", short_name="自然资源局",
                                      kind=Unit.Kind.DEPARTMENT, parent=w.leadership)  # fmt: skip
    w.housing = Unit.objects.create(name="城乡建设局", kind=Unit.Kind.DEPARTMENT, parent=w.leadership)
    w.dongjie = Unit.objects.create(name="东街街道", kind=Unit.Kind.TOWN, parent=w.leadership)
    w.dongjie_office = Unit.objects.create(name="东街街道经济办", kind=Unit.Kind.DEPARTMENT, parent=w.dongjie)
    w.hongmen = Unit.objects.create(name="洪门镇", kind=Unit.Kind.TOWN, parent=w.leadership)
    w.company_a = Unit.objects.create(name="新乡联东实业有限公司", kind=Unit.Kind.ENTERPRISE,
                                      credit_code=VALID_CREDIT_CODES[0])  # fmt: skip
    w.company_b = Unit.objects.create(name="新乡洪门制造有限公司", kind=Unit.Kind.ENTERPRISE)

    w.dispatcher = make_user("dispatcher", w.center, Role.DISPATCHER)
    w.leader = make_user("leader", w.leadership, Role.LEADER)
    w.town_officer = make_user("town_officer", w.dongjie, Role.UNIT_OFFICER)
    w.dept_officer = make_user("dept_officer", w.resources, Role.UNIT_OFFICER)
    w.other_town_officer = make_user("other_town_officer", w.hongmen, Role.UNIT_OFFICER)
    w.officer = make_user("officer", w.center, Role.SERVICE_OFFICER)
    w.enterprise = make_user("enterprise", w.company_a, Role.ENTERPRISE)
    w.sysadmin = make_user("sysadmin", w.center, Role.SYSADMIN)
    w.secadmin = make_user("secadmin", w.center, Role.SECADMIN)
    w.auditor = make_user("auditor", w.center, Role.AUDITOR)

    w.industry = Industry.objects.get(name="先进制造业")
    ApprovalTemplateItem.objects.filter(project_type=ProjectType.FILING, name="用地预审与选址意见书").update(
        department=w.resources
    )
    w.project_a = domain.create_project(
        by=w.dispatcher,
        data=dict(
            name="联东U谷红旗科创园", owner_name="新乡联东实业有限公司", owner_credit_code=VALID_CREDIT_CODES[0],
            owner_unit=w.company_a, industry=w.industry, project_type=ProjectType.FILING,
            total_investment=Decimal("150000.00"), town=w.dongjie, responsible_unit=w.dongjie,
            service_officer=w.officer, responsible_leader=w.leader, planned_start=datetime.date(2026, 3, 1),
            planned_end=datetime.date(2027, 12, 31),
        ),
    )  # fmt: skip
    w.project_b = domain.create_project(
        by=w.dispatcher,
        data=dict(
            name="洪门镇智能传感器产业园", owner_name="新乡洪门制造有限公司", owner_unit=w.company_b,
            industry=w.industry, project_type=ProjectType.CONFIRMATION, total_investment=Decimal("8000.00"),
            town=w.hongmen, responsible_unit=w.hongmen,
        ),
        stage=Stage.SIGNED,
    )  # fmt: skip
    return w


# Who sees which of the two projects (the data-scope matrix every surface must follow).
SEES = {
    "dispatcher": {"project_a", "project_b"},
    "leader": {"project_a", "project_b"},
    "town_officer": {"project_a"},
    "dept_officer": {"project_a"},
    "other_town_officer": {"project_b"},
    "officer": {"project_a"},
    "enterprise": {"project_a"},
    "sysadmin": set(),
    "secadmin": set(),
    "auditor": set(),
}
# Who may edit which project.
EDITS = {
    "dispatcher": {"project_a", "project_b"},
    "town_officer": {"project_a"},
    "other_town_officer": {"project_b"},
}
PERSONAS = list(SEES)
