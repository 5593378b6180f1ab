"""The two preset schemes ("三个一批" and "四比四看"), created once; edits made afterwards are kept."""

from django.db import migrations


def create_presets(apps, schema_editor):
    from keyprojects.evaluation.presets import install

    install(
        apps.get_model("evaluation", "Scheme"),
        apps.get_model("evaluation", "IndicatorGroup"),
        apps.get_model("evaluation", "Indicator"),
    )


class Migration(migrations.Migration):
    dependencies = [("evaluation", "0001_initial")]

    operations = [migrations.RunPython(create_presets, migrations.RunPython.noop)]
