"""Static reference data for the demo district 红旗区 (新乡市, 河南省, 410702).

Sources and confidence marks are in /work/shared/data/hongqi-district.md: region codes are the NBS
2023 tables; township coordinates are GCJ-02 estimates (±1.5–2 km); the department list is the
recommended demo list (names seen in district news where confirmed, the usual Henan form otherwise).
Everything here is demo data: seed_demo reads it, nothing else should.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

DISTRICT_REGION = "410702"


def _words(text: str) -> list[str]:
    """Short word lists are kept as one space-separated string each."""
    return text.split()


# used in generated credit codes and project codes


@dataclass(frozen=True)
class RegionSpec:
    code: str
    name: str
    level: str
    parent: str | None
    lat: str | None = None
    lng: str | None = None
    note: str = ""


REGIONS = [
    RegionSpec("410000", "河南省", "province", None),
    RegionSpec("410700", "新乡市", "city", "410000"),
    RegionSpec(
        "410702", "红旗区", "county", "410700", "35.275500", "113.965100", "区政府驻地约 35.3027, 113.8782（GCJ-02）"
    ),
]


@dataclass(frozen=True)
class TownSpec:
    key: str  # ASCII key for usernames
    name: str  # township name (region name)
    unit_name: str  # the government of the township
    code: str
    lat: str
    lng: str
    note: str = ""
    urban: bool = True  # a 街道 of the old town (urban projects) or a 镇/乡 (industry, agriculture)


TOWNS = [
    TownSpec("xijie", "西街街道", "红旗区西街街道办事处", "410702001000", "35.301", "113.882", "区政府驻地"),
    TownSpec("dongjie", "东街街道", "红旗区东街街道办事处", "410702002000", "35.302", "113.910"),
    TownSpec("qudong", "渠东街道", "红旗区渠东街道办事处", "410702003000", "35.289", "113.912"),
    TownSpec(
        "wenhuajie", "文化街街道", "红旗区文化街街道办事处", "410702007000", "35.289", "113.885", "2009年前称南干道街道"
    ),
    TownSpec("xiangyang", "向阳小区街道", "红旗区向阳小区街道办事处", "410702009000", "35.274", "113.898"),
    TownSpec(
        "hongmen", "洪门镇", "红旗区洪门镇人民政府", "410702100000", "35.283", "113.962", "河南科技学院所在地", False
    ),
    TownSpec("xiaodian", "小店镇", "红旗区小店镇人民政府", "410702101000", "35.300", "114.022", "", False),
    TownSpec(
        "guandi",
        "关堤乡",
        "红旗区关堤乡人民政府",
        "410771360000",
        "35.234",
        "113.947",
        "国家统计局代码 410771360000（开发区关堤乡），民政口径 410702200；法定属红旗区，由新乡高新区代管。",
        False,
    ),
]


@dataclass(frozen=True)
class UnitSpec:
    key: str
    name: str
    short_name: str
    parent: str | None = None  # key of the parent unit


# Leadership: two roots. The service center, departments and towns sit under the district government.
PARTY_COMMITTEE = UnitSpec("qw", "中共新乡市红旗区委员会", "区委")
GOVERNMENT = UnitSpec("qzf", "新乡市红旗区人民政府", "区政府")
SERVICE_CENTER = UnitSpec("xmb", "红旗区重点项目建设服务中心", "项目服务中心", "qzf")

# 红开区管委会 is modelled as a department: it is the responsible unit of projects in its zone, while
# the projects themselves are located in a township (the zone has no township code of its own).
DEPARTMENTS = [
    UnitSpec("qwb", "中共新乡市红旗区委办公室", "区委办", "qw"),
    UnitSpec("zfb", "新乡市红旗区人民政府办公室", "区政府办", "qzf"),
    UnitSpec("fgw", "新乡市红旗区发展和改革委员会", "区发改委", "qzf"),
    UnitSpec("czj", "新乡市红旗区财政局", "区财政局", "qzf"),
    UnitSpec("kjj", "新乡市红旗区科学技术局", "区科技局", "qzf"),
    UnitSpec("swj", "新乡市红旗区商务局", "区商务局", "qzf"),
    UnitSpec("tjj", "新乡市红旗区统计局", "区统计局", "qzf"),
    UnitSpec("sjj", "新乡市红旗区审计局", "区审计局", "qzf"),
    UnitSpec("yshj", "新乡市红旗区优化营商环境服务中心", "区营商环境服务中心", "qzf"),
    UnitSpec("cjj", "新乡市红旗区城乡建设局", "区城建局", "qzf"),
    UnitSpec("cgj", "新乡市红旗区城市管理局", "区城管局", "qzf"),
    UnitSpec("zrzy", "新乡市自然资源和规划局红旗分局", "自然资源和规划分局", "qzf"),
    UnitSpec("sthj", "新乡市生态环境局红旗分局", "生态环境分局", "qzf"),
    UnitSpec("nync", "新乡市红旗区农业农村局（水利）", "区农业农村局", "qzf"),
    UnitSpec("yjj", "新乡市红旗区应急管理局", "区应急局", "qzf"),
    UnitSpec("scjg", "新乡市红旗区市场监督管理局", "区市场监管局", "qzf"),
    UnitSpec("rfb", "新乡市红旗区人民防空办公室", "区人防办", "qzf"),
    UnitSpec("gaj", "新乡市公安局红旗分局", "公安红旗分局", "qzf"),
    UnitSpec("jtwl", "新乡市红旗区教育体育文化旅游局", "区教体文旅局", "qzf"),
    UnitSpec("wjw", "新乡市红旗区卫生健康委员会", "区卫健委", "qzf"),
    UnitSpec("rsj", "新乡市红旗区人力资源和社会保障局", "区人社局", "qzf"),
    UnitSpec("mzj", "新乡市红旗区民政局", "区民政局", "qzf"),
    UnitSpec("sw", "国家税务总局新乡市红旗区税务局", "区税务局", "qzf"),
    UnitSpec("hkq", "新乡红旗区先进制造业开发区管理委员会", "红开区管委会", "qzf"),
]

# Which department handles which approval item of the checklist (template names from migration 0002).
APPROVAL_DEPARTMENTS = {
    "项目建议书批复": "fgw",
    "可行性研究报告批复": "fgw",
    "初步设计批复": "fgw",
    "项目核准": "fgw",
    "项目备案": "fgw",
    "节能审查": "fgw",
    "用地预审与选址意见书": "zrzy",
    "建设用地规划许可证": "zrzy",
    "建设工程规划许可证": "zrzy",
    "环评批复": "sthj",
    "水土保持方案": "nync",
    "施工图审查": "cjj",
    "消防设计审查": "cjj",
    "施工许可证": "cjj",
    "联合验收": "cjj",
}

# Document numbers by approval item: a format with {y} (year) and {n} (sequence in that year).
DOCUMENT_FORMATS = {
    "项目建议书批复": "红发改审〔{y}〕{n}号",
    "可行性研究报告批复": "红发改审〔{y}〕{n}号",
    "初步设计批复": "红发改设〔{y}〕{n}号",
    "项目核准": "红发改核〔{y}〕{n}号",
    "项目备案": "红发改备〔{y}〕{n}号",
    "节能审查": "红发改能审〔{y}〕{n}号",
    "用地预审与选址意见书": "用字第410702{y}{n:05d}号",
    "建设用地规划许可证": "地字第410702{y}{n:05d}号",
    "建设工程规划许可证": "建字第410702{y}{n:05d}号",
    "环评批复": "新环红审〔{y}〕{n}号",
    "水土保持方案": "红农水保〔{y}〕{n}号",
    "施工图审查": "新施审字〔{y}〕第{n}号",
    "消防设计审查": "红建消审字〔{y}〕第{n}号",
    "施工许可证": "410702{y}{n:04d}0101",
    "联合验收": "红建联验〔{y}〕{n}号",
}
# Items a project may legitimately not need (不涉及).
OPTIONAL_APPROVALS = {"节能审查", "水土保持方案", "消防设计审查", "初步设计批复"}


@dataclass(frozen=True)
class Person:
    key: str  # username outside demo mode
    name: str
    title: str
    unit: str  # unit key, or a town key
    demo_username: str = ""  # in demo mode this person signs in as the demo account


LEADERS = [
    Person("ld01", "高建华", "区委书记", "qw"),
    Person("ld02", "李文博", "区委副书记、区长", "qzf", "demo_leader"),
    Person("ld03", "王振国", "区委常委、常务副区长", "qzf"),
    Person("ld04", "赵海燕", "副区长（分管工业和科技）", "qzf"),
    Person("ld05", "孙立新", "副区长（分管城建和城管）", "qzf"),
    Person("ld06", "周丽娟", "副区长（分管社会事业）", "qzf"),
    Person("ld07", "郑永刚", "副区长（分管农业农村）", "qzf"),
]
DISPATCHERS = [
    Person("ddy01", "陈晓东", "项目服务中心调度科科长", "xmb", "demo_dispatcher"),
    Person("ddy02", "刘静", "项目服务中心调度员", "xmb"),
    Person("ddy03", "杨磊", "项目服务中心主任", "xmb"),
]
# One 经办人 per department and township; these two are the demo unit accounts.
DEMO_UNIT_OFFICERS = {"dongjie": "demo_unit", "zrzy": "demo_dept"}
# Accounts that exist only in demo mode: (username, full name, title, unit key, role).
DEMO_ONLY = [
    ("demo_enterprise", "吴春生", "企业填报员", "@owner", "enterprise"),
    ("demo_sysadmin", "系统管理员", "系统管理员", "xmb", "sysadmin"),
    ("demo_secadmin", "安全管理员", "安全管理员", "xmb", "secadmin"),
    ("demo_auditor", "审计管理员", "审计管理员", "xmb", "auditor"),
]
DEMO_PASSWORD = "Demo@2026!"
SERVICE_OFFICER_COUNT = 89  # 2022 plan: 89 service officers paired 1:1 with provincial/municipal key projects
SERVICE_OFFICER_ROLES = _words("建设情况调研员 惠企政策宣传员 涉政事务协调员 行政执法监测员")
# Units service officers come from (the service center and the economic departments).
SERVICE_OFFICER_UNITS = ["xmb", "fgw", "czj", "kjj", "swj", "cjj", "cgj", "zrzy", "sthj", "yshj", "scjg", "zfb", "hkq"]

SURNAMES = (
    "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟"
    "汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段雷钱汤尹常武乔贺赖龚文牛申"
)
GIVEN_NAMES = _words(
    "建国 建华 国强 志强 海涛 伟 军 磊 勇 静 丽 敏 艳 娟 霞 红梅 晓东 晓燕 "
    "鹏 涛 超 明 杰 芳 玲 丹 斌 浩 宇 博 亮 刚 辉 楠 雪 婷 慧 颖 俊峰 "
    "红军 卫东 新华 玉兰 秀英 春生 振华 永刚 保国 志刚 文静 海军 晓明 丽华 建军 "
    "雪梅 国庆 俊杰 金龙 洪涛 立伟 爱民 学军 鹏飞 瑞 凯 帆 琳 倩 璐 欣 佳 "
    "梦瑶 思远 子涵 一鸣"
)

# Company name parts for generated owners (invented brands; no real company is meant).
BRANDS = _words(
    "宏远 瑞丰 恒通 鑫达 博远 华晟 卓越 润泽 德兴 天诚 嘉禾 盛元 利源 汇鑫 昊天 "
    "锦程 永泰 恒昌 泰和 凯瑞 晟达 优创 智远 同创 众诚 安泰 和信 广源 致远 启航 "
    "新元 华宇 中研 睿达 祥瑞 宏达 万通 兴业 鼎盛 聚力 豫兴 牧新 卫源 太行 平原 "
    "金堤 红晟 旗胜 新博 亿达"
)
# District state-owned platforms that own government-funded projects.
STATE_OWNERS = [
    "新乡市红旗区城市建设投资有限公司",
    "新乡市红旗区发展投资集团有限公司",
    "新乡市红旗区文化旅游投资有限公司",
    "新乡红旗区先进制造业开发区建设发展有限公司",
]


@dataclass(frozen=True)
class NamedProject:
    """A project named in public news (or in the brief); figures are synthetic unless `amount_source`."""

    name: str
    industry: str
    owner: str
    amount_wan: Decimal
    stage: str
    town: str
    level: str = ""  # empty: decided by size
    responsible: str = ""  # unit key; empty: decided by industry/town
    project_type: str = ""
    start_on: str = ""  # ISO date of the real start, kept as is
    start_phase: int = 0  # "三个一批" phase of the start list, when known
    amount_source: str = ""  # where a real figure comes from


def _w(yi: str) -> Decimal:
    return Decimal(yi) * 10000


NAMED_PROJECTS = [
    NamedProject(
        "联东U谷红旗国际企业港",
        "先进制造业",
        "新乡联东投资发展有限公司",
        _w("18.6"),
        "commissioned",
        "hongmen",
        level="city",
        responsible="hkq",
    ),
    NamedProject(
        "石墨烯研究院及产业化项目", "新材料", "新乡中科石墨烯科技有限公司", _w("12.5"), "commissioned", "xiaodian"
    ),
    NamedProject(
        "军民融合产业园",
        "先进制造业",
        "新乡红旗军民融合产业发展有限公司",
        _w("22"),
        "completed",
        "xiaodian",
        responsible="hkq",
    ),
    NamedProject(
        "智能传感器产业园",
        "电子信息",
        "新乡智感科技产业园有限公司",
        _w("25"),
        "construction",
        "hongmen",
        responsible="hkq",
    ),
    NamedProject(
        "红旗区职教中心", "社会事业", STATE_OWNERS[0], _w("3.8"), "commissioned", "hongmen", responsible="jtwl"
    ),
    NamedProject("红旗医院建设项目", "社会事业", STATE_OWNERS[1], _w("6.2"), "completed", "qudong", responsible="wjw"),
    NamedProject("美居置业综合开发项目", "房地产", "新乡美居置业有限公司", _w("15"), "completed", "xiangyang"),
    NamedProject("文庙市场改造提升项目", "城市更新", STATE_OWNERS[0], _w("0.85"), "commissioned", "xijie"),
    NamedProject(
        "中德光电产业园",
        "电子信息",
        "新乡中德光电产业园发展有限公司",
        _w("52"),
        "effective",
        "xiaodian",
        level="province",
        responsible="hkq",
    ),
    NamedProject("芯睿电子元器件项目", "电子信息", "新乡芯睿电子科技有限公司", _w("3.5"), "effective", "hongmen"),
    NamedProject("北方仪表智能化改造项目", "先进制造业", "新乡北方仪表有限公司", _w("2.3"), "effective", "hongmen"),
    NamedProject("新东光电产业园", "电子信息", "新乡新东光电科技有限公司", _w("11"), "commissioned", "xiaodian"),
    NamedProject(
        "国家863科技产业园（二期）", "数字经济", "新乡863科技园发展有限公司", _w("8.5"), "effective", "wenhuajie"
    ),
    NamedProject(
        "5G检验检测产业园",
        "电子信息",
        "新乡数联检验检测技术有限公司",
        _w("10.5"),
        "construction",
        "hongmen",
        responsible="hkq",
    ),
    NamedProject("数字经济产业园", "数字经济", "新乡红旗数字经济产业园有限公司", _w("16"), "construction", "dongjie"),
    NamedProject(
        "电子新材料产业园",
        "新材料",
        "新乡电子新材料产业园有限公司",
        _w("20"),
        "construction",
        "xiaodian",
        responsible="hkq",
    ),
    NamedProject(
        "泡泡玛特潮玩产业项目", "商贸服务", "新乡泡泡潮玩文化发展有限公司", _w("5.5"), "construction", "hongmen"
    ),
    NamedProject(
        "大运河（红旗段）文化生态项目",
        "文化旅游",
        STATE_OWNERS[2],
        _w("58"),
        "construction",
        "hongmen",
        level="province",
        responsible="jtwl",
    ),
    NamedProject(
        "市智慧岛数字经济产业园",
        "数字经济",
        "新乡智慧岛科技发展有限公司",
        _w("6.5"),
        "construction",
        "hongmen",
        level="city",
        responsible="hkq",
        start_on="2024-04-10",
        start_phase=12,
        amount_source="新乡日报 2024-04-10：总投资6.5亿元，占地70亩，建筑面积14万平方米，位于红开区",
    ),
    NamedProject(
        "运通（新乡）智慧电商产业园",
        "现代物流",
        "运通（新乡）电子商务产业园有限公司",
        _w("4.2"),
        "construction",
        "xiaodian",
        start_on="2024-09-26",
        amount_source="大河报：2024-09-26开工，总投资4.2亿元，占地64亩",
    ),
    NamedProject(
        "向阳新村棚户区改造项目",
        "城市更新",
        STATE_OWNERS[0],
        _w("62"),
        "construction",
        "xiangyang",
        level="province",
        responsible="cjj",
    ),
    NamedProject(
        "四中区域棚户区改造项目", "城市更新", STATE_OWNERS[0], _w("38"), "completed", "xijie", responsible="cjj"
    ),
    NamedProject(
        "骆驼湾棚户区改造项目",
        "城市更新",
        STATE_OWNERS[1],
        _w("51.8"),
        "construction",
        "qudong",
        level="province",
        responsible="cjj",
    ),
    NamedProject(
        "臧营西马小营棚户区改造项目",
        "城市更新",
        STATE_OWNERS[1],
        _w("33"),
        "commissioned",
        "wenhuajie",
        responsible="cjj",
    ),
    NamedProject(
        "牌坊地块棚户区改造项目", "城市更新", STATE_OWNERS[0], _w("27"), "construction", "dongjie", responsible="cjj"
    ),
    NamedProject("新乡智能教育装备产业园", "先进制造业", "新乡智教装备科技有限公司", _w("12"), "preparation", "guandi"),
    NamedProject("中科嘉荣产业园", "新材料", "新乡中科嘉荣新材料有限公司", _w("10.8"), "started", "xiaodian"),
    NamedProject("国际商务中心", "商贸服务", "新乡红旗国际商务中心置业有限公司", _w("18"), "construction", "dongjie"),
    NamedProject(
        "万新电气智能配电设备项目", "先进制造业", "新乡万新电气有限公司", _w("3.2"), "commissioned", "hongmen"
    ),
    NamedProject(
        "MEMS中试基地（区级）",
        "电子信息",
        "新乡微纳传感技术有限公司",
        _w("0.95"),
        "preparation",
        "hongmen",
        responsible="kjj",
    ),
    NamedProject("百合光电显示模组项目", "电子信息", "新乡百合光电有限公司", _w("6.8"), "signed", "xiaodian"),
    NamedProject(
        "新材料检测服务平台",
        "新材料",
        "新乡新材料检测技术服务有限公司",
        _w("0.6"),
        "started",
        "wenhuajie",
        responsible="scjg",
    ),
    NamedProject("嘟嘟网游动漫产业园", "文化旅游", "新乡嘟嘟动漫文化有限公司", _w("2.8"), "signed", "dongjie"),
    NamedProject(
        "国电投红旗区综合智慧能源项目",
        "新能源",
        "国电投（新乡红旗）综合智慧能源有限公司",
        _w("53"),
        "preparation",
        "xiaodian",
        level="province",
        project_type="confirmation",
    ),
    NamedProject(
        "金风科技风电装备制造项目",
        "新能源",
        "新乡金风新能源装备有限公司",
        _w("15"),
        "signed",
        "guandi",
        level="province",
    ),
    NamedProject("氮化硅陶瓷材料项目", "新材料", "新乡氮化硅新材料科技有限公司", _w("4.5"), "planning", "xiaodian"),
    NamedProject(
        "中科睿芯集成电路封测项目",
        "电子信息",
        "新乡中科睿芯微电子有限公司",
        _w("28"),
        "planning",
        "hongmen",
        level="city",
    ),
    NamedProject(
        "百度智能云（新乡）人工智能基地",
        "数字经济",
        "新乡智云数据科技有限公司",
        _w("20"),
        "signed",
        "hongmen",
        level="city",
    ),
    NamedProject(
        "千亩田园综合体",
        "现代农业",
        "新乡红旗田园文旅发展有限公司",
        _w("9.5"),
        "preparation",
        "guandi",
        responsible="nync",
    ),
]

# Products by industry for generated project names, each with the output sizes a "年产…" name may use
# (an empty list: the product is never named by yearly output).
PRODUCTS = {
    "先进制造业": {
        "高端数控机床": ["2000台", "5000台"],
        "智能振动筛分装备": ["3000台（套）", "1万台（套）"],
        "起重机械": ["5000台", "1万台"],
        "精密液压件": ["50万件", "100万件"],
        "新能源汽车电机": ["20万台", "50万台"],
        "智能电网设备": ["2万台（套）", "5万台（套）"],
        "工业机器人": ["2000台（套）", "5000台（套）"],
        "环保除尘装备": ["3000台（套）"],
        "特种过滤设备": ["1万台（套）"],
        "智能仓储装备": [],
        "汽车热管理系统": ["100万套", "300万套"],
        "精密轴承": ["500万套", "1000万套"],
    },
    "电子信息": {
        "智能传感器": ["1亿只", "5000万只"],
        "5G通信模组": ["500万片", "1000万片"],
        "光电显示模组": ["300万片"],
        "印制电路板": ["60万平方米", "120万平方米"],
        "半导体封装测试": [],
        "电子元器件": ["10亿只", "20亿只"],
        "智能终端": ["200万台"],
        "光纤通信器件": ["500万只"],
    },
    "新材料": {
        "锂电池负极材料": ["5万吨", "10万吨"],
        "锂电池隔膜": ["5亿平方米", "10亿平方米"],
        "碳纤维复合材料": ["5000吨"],
        "高性能膜材料": ["2000万平方米"],
        "电子级化学品": ["3万吨", "5万吨"],
        "特种陶瓷": ["2000吨"],
        "新型绿色建材": ["100万吨", "50万立方米"],
        "石墨烯导热膜": ["500万平方米"],
    },
    "生物医药": {
        "生物疫苗": ["5000万剂"],
        "体外诊断试剂": ["1亿人份"],
        "医用耗材": ["10亿件"],
        "中药饮片": ["1万吨"],
        "高端医疗器械": ["5万台（套）"],
        "原料药绿色制造": [],
    },
    "新能源": {
        "储能电池": ["3GWh", "5GWh"],
        "分布式光伏": [],
        "氢燃料电池": ["1万套"],
        "充换电设施": [],
        "动力电池回收": ["5万吨"],
        "储能电站": [],
    },
    "数字经济": {
        "大数据中心": [],
        "软件和信息服务": [],
        "人工智能应用": [],
        "工业互联网平台": [],
        "数字孪生城市": [],
        "直播电商": [],
    },
    "现代物流": {"冷链物流": [], "智慧物流": [], "电商仓储": [], "城市配送": [], "供应链服务": []},
    "商贸服务": {"商业综合体": [], "城市商业中心": [], "汽车商贸城": [], "星级酒店": [], "特色商业街区": []},
    "文化旅游": {"文旅街区": [], "体育公园": [], "动漫文创": [], "研学基地": [], "夜间文旅消费街区": []},
    "现代农业": {"都市农业": [], "农产品冷链": [], "高标准农田": [], "智慧农业": [], "休闲农业": []},
}
INDUSTRY_COMPANY_WORD = {
    "先进制造业": "智能装备",
    "电子信息": "电子科技",
    "新材料": "新材料科技",
    "生物医药": "生物科技",
    "新能源": "新能源科技",
    "数字经济": "数字科技",
    "现代物流": "供应链管理",
    "商贸服务": "商业管理",
    "文化旅游": "文化旅游发展",
    "现代农业": "农业开发",
    "房地产": "置业",
    "城市更新": "城市更新",
    "基础设施": "建设",
    "社会事业": "建设",
}
# Name patterns by industry. Placeholders: {brand}, {product}, {qty}, {road}, {town}, {ordinal}, {year},
# {village}, {estate}.
INDUSTRY_PATTERNS = {
    "先进制造业": [
        "年产{qty}{product}项目",
        "{product}智能制造基地",
        "{brand}{product}产业园",
        "{product}生产线技改项目",
    ],
    "电子信息": ["{product}产业园", "年产{qty}{product}项目", "{brand}{product}生产基地"],
    "新材料": ["年产{qty}{product}项目", "{product}产业化项目", "{brand}{product}产业园"],
    "生物医药": ["{product}产业化项目", "{brand}生物医药产业园", "{product}生产基地"],
    "新能源": ["{brand}{product}项目", "年产{qty}{product}项目", "{brand}{product}基地"],
    "数字经济": ["{product}产业园", "{brand}{product}基地", "{product}项目"],
    "现代物流": ["{product}园区", "{brand}{product}中心", "{product}产业园"],
    "商贸服务": ["{brand}{product}", "{town}{product}项目"],
    "文化旅游": ["{town}{product}", "{brand}{product}项目"],
    "现代农业": ["{town}{product}示范园", "{product}产业园"],
    "房地产": ["{brand}{estate}项目", "{town}保障性租赁住房项目", "{brand}人才公寓项目"],
    "城市更新": [
        "{town}老旧小区改造提升项目（{year}年）",
        "{village}城中村改造项目",
        "{town}片区城市更新项目",
        "{town}背街小巷整治提升工程",
    ],
    "基础设施": [
        "{road}改造提升工程",
        "{road}新建工程",
        "{town}雨污分流改造工程",
        "{town}海绵城市建设项目",
        "{town}供热管网改造工程",
        "{town}智慧停车场建设项目",
    ],
    "社会事业": [
        "红旗区第{ordinal}实验小学新建工程",
        "{town}中学扩建项目",
        "{town}社区卫生服务中心建设项目",
        "{town}养老服务中心项目",
        "红旗区实验幼儿园（{town}园区）",
        "{town}全民健身中心项目",
        "{town}教育园区建设项目",
        "红旗区中心医院{town}院区建设项目",
        "红旗区体育中心建设项目",
        "红旗区公共卫生服务中心建设项目",
    ],
}
# Words of project kinds that stay below 10亿 (not used for the larger bands).
SMALL_PROJECT_WORDS = _words(
    "停车场 社区卫生 幼儿园 背街小巷 养老 全民健身 技改 中学 实验小学 人才公寓 供热管网 雨污分流 星级酒店 研学基地"
)
ESTATES = _words("·锦绣府 ·悦澜湾 ·御景园 ·翰林苑 ·和园 ·云著 ·星河湾 ·学府里")
ROADS = _words(
    "平原路 人民路 胜利路 新中大道 劳动路 和平大道 金穗大道 新二街 东环路 洪门路 "
    "荣校路 开元大道 华兰大道 化工路 新辉路 牧野大道 新飞大道 卫河路 自由路 建设路"
)
# Villages by township for 城中村 names (洪门镇 villages from the data file; the others generic).
VILLAGES = {
    "洪门镇": ["原堤村", "保安堤村", "张堤村", "申店村"],
    "关堤乡": ["关堤村", "东孟营村", "西孟营村"],
    "小店镇": ["小店村", "后辛庄村", "前辛庄村"],
}
ORDINALS = _words("二 三 四 五 六 七 八 九 十 十一 十二")
