"""Deploy checks: no demo accounts on a production database."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, Tags, register


@register(Tags.security, deploy=True)
def demo_accounts_in_production(app_configs, **kwargs):
    if getattr(settings, "DEMO_MODE", False):
        return []
    from django.db import DatabaseError

    from keyprojects.org.models import User

    try:
        count = User.objects.filter(is_demo=True, is_active=True).count()
    except DatabaseError:  # not migrated yet
        return []
    if not count:
        return []
    return [
        Error(
            f"生产环境（DEMO_MODE=0）中存在 {count} 个启用的演示账号（密码公开）。",
            hint="停用或删除演示账号（is_demo=True），或仅在演示环境设置 DEMO_MODE=1。",
            id="security.E001",
        )
    ]
