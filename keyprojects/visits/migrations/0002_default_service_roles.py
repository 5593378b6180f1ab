"""The four service-officer roles of Hongqi district (configurable afterwards in the admin)."""

from django.db import migrations

ROLES = [
    ("建设情况调研员", "了解项目建设进度和困难，如实反映。"),
    ("惠企政策宣传员", "向企业宣传、推送惠企政策，帮助享受政策。"),
    ("涉政事务协调员", "协调涉及政府部门的审批、要素保障等事务。"),
    ("行政执法监测员", "监测涉企行政执法行为，防止干扰企业正常经营。"),
]


def add_roles(apps, schema_editor):
    ServiceRole = apps.get_model("visits", "ServiceRole")
    for position, (name, description) in enumerate(ROLES, start=1):
        ServiceRole.objects.get_or_create(name=name, defaults={"description": description, "position": position})


class Migration(migrations.Migration):
    dependencies = [("visits", "0001_initial")]

    operations = [migrations.RunPython(add_roles, migrations.RunPython.noop)]
