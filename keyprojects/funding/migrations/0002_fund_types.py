"""The fund types every installation starts with; administrators edit them afterwards."""

from django.db import migrations

# (name, short name, has issuance (bonds), government money)
FUND_TYPES = [
    ("地方政府专项债券", "专项债", True, True),
    ("中央预算内投资", "中央预算内", False, True),
    ("超长期特别国债", "超长期国债", False, True),
    ("政策性开发性金融工具", "政策性金融工具", False, True),
    ("银行贷款", "银行贷款", False, False),
    ("企业自筹", "企业自筹", False, False),
    ("社会资本", "社会资本", False, False),
]


def forwards(apps, schema_editor):
    FundType = apps.get_model("funding", "FundType")
    for i, (name, short, issuance, government) in enumerate(FUND_TYPES):
        FundType.objects.get_or_create(
            name=name, defaults={"short_name": short, "has_issuance": issuance, "government": government, "position": i}
        )


class Migration(migrations.Migration):
    dependencies = [("funding", "0001_initial")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
