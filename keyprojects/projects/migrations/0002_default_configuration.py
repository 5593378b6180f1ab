"""Default configuration every installation starts with; administrators edit it afterwards."""

from decimal import Decimal

from django.db import migrations

SIZE_BANDS = [("≥1亿", Decimal("10000")), ("≥10亿", Decimal("100000")), ("≥50亿", Decimal("500000"))]
INDUSTRIES = [
    "先进制造业", "电子信息", "新材料", "生物医药", "新能源", "数字经济", "现代物流", "商贸服务",
    "文化旅游", "城市更新", "基础设施", "社会事业", "现代农业", "房地产",
]  # fmt: skip
FINANCING_MODELS = ["企业自筹", "政府投资", "EPC", "EPC+F", "BOT", "PPP", "融建联合体", "专项债+市场化融资"]
# The approval checklist by project type (立项方式); departments are linked per installation.
APPROVALS = {
    "approval": [
        "项目建议书批复", "可行性研究报告批复", "用地预审与选址意见书", "建设用地规划许可证",
        "初步设计批复", "环评批复", "节能审查", "水土保持方案", "建设工程规划许可证",
        "施工图审查", "消防设计审查", "施工许可证", "联合验收",
    ],
    "confirmation": [
        "项目核准", "用地预审与选址意见书", "建设用地规划许可证", "环评批复", "节能审查",
        "水土保持方案", "建设工程规划许可证", "施工图审查", "消防设计审查", "施工许可证", "联合验收",
    ],
    "filing": [
        "项目备案", "用地预审与选址意见书", "建设用地规划许可证", "环评批复", "节能审查",
        "建设工程规划许可证", "施工图审查", "消防设计审查", "施工许可证", "联合验收",
    ],
}  # fmt: skip


def forwards(apps, schema_editor):
    SizeBand = apps.get_model("projects", "SizeBand")
    Industry = apps.get_model("projects", "Industry")
    FinancingModel = apps.get_model("projects", "FinancingModel")
    ApprovalTemplateItem = apps.get_model("projects", "ApprovalTemplateItem")
    for name, minimum in SIZE_BANDS:
        SizeBand.objects.get_or_create(name=name, defaults={"min_investment": minimum})
    for i, name in enumerate(INDUSTRIES):
        Industry.objects.get_or_create(name=name, defaults={"position": i})
    for i, name in enumerate(FINANCING_MODELS):
        FinancingModel.objects.get_or_create(name=name, defaults={"position": i})
    for project_type, names in APPROVALS.items():
        for i, name in enumerate(names):
            ApprovalTemplateItem.objects.get_or_create(project_type=project_type, name=name, defaults={"position": i})


class Migration(migrations.Migration):
    dependencies = [("projects", "0001_initial")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
