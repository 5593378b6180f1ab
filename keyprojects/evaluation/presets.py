"""The two preset schemes: the provincial "三个一批" evaluation and "四比四看". Both are editable.

"三个一批" follows 《河南省重大项目建设“三个一批”活动评价办法（试行）》: 项目谋划储备 10, 签约落地 30,
开工投产 30, 投产达效 20, 服务保障 10, plus bonus and penalty items (domain-cn.md §2.2). The
indicators inside each group, their weights and rules are the district's reading of it and are meant
to be edited. "四比四看" (比谋划看储备, 比招引看投资, 比开工看进度, 比服务看实效; §3) has no published
split for the district: the four parts weigh 25 each until someone sets them.

`install()` takes the model classes so the data migration can pass its historical models; it only
creates schemes whose code is missing and never touches an existing (possibly edited) one. Keep it
to the fields of migration 0001.
"""

from __future__ import annotations

from typing import Any

THREE_BATCHES = "sangeyipi"
FOUR_COMPARISONS = "sibisikan"


def _rank(code, name, source, weight, *, first="100", step="4", minimum="40", no_data="zero", note=""):
    return {"code": code, "name": name, "source": source, "weight": weight, "rule": "rank", "rank_first": first,
            "rank_step": step, "rank_min": minimum, "no_data": no_data, "note": note}  # fmt: skip


def _linear(code, name, source, weight, floor, cap, *, no_data="exclude", note=""):
    return {"code": code, "name": name, "source": source, "weight": weight, "rule": "linear", "floor": floor,
            "cap": cap, "no_data": no_data, "note": note}  # fmt: skip


def _steps(code, name, source, weight, steps, *, no_data="exclude", note=""):
    return {"code": code, "name": name, "source": source, "weight": weight, "rule": "thresholds", "steps": steps,
            "no_data": no_data, "note": note}  # fmt: skip


def _adjust(code, name, source, rule, per_item, limit, note=""):
    return {"code": code, "name": name, "source": source, "weight": "0", "rule": rule, "per_item": per_item,
            "limit": limit, "note": note}  # fmt: skip


TIME_GAP_STEPS = [["0", "100"], ["-5", "85"], ["-10", "70"], ["-20", "50"]]
SATISFACTION_STEPS = [["95", "100"], ["90", "90"], ["85", "80"], ["80", "60"]]

PRESETS: list[dict[str, Any]] = [
    {
        "code": THREE_BATCHES,
        "name": "“三个一批”活动评价",
        "description": "依据《河南省重大项目建设“三个一批”活动评价办法（试行）》：基本分100分"
                       "（项目谋划储备10、签约落地30、开工投产30、投产达效20、服务保障10），另设加分、减分项。"
                       "各组内指标、权重和计分规则为本区细化，可在管理后台调整。",
        "unit_kind": "both",
        "basis": "unit",
        "position": 1,
        "groups": [
            {"name": "项目谋划储备", "weight": "10", "indicators": [
                _rank("reserve_count", "谋划储备项目数", "reserve_count", "50"),
                _rank("reserve_investment", "谋划储备项目总投资", "reserve_investment", "50"),
            ]},
            {"name": "签约落地", "weight": "30", "indicators": [
                _rank("batch_signed", "列入“签约一批”项目数", "batch_signed", "40"),
                _rank("signed_investment", "新签约项目总投资", "signed_investment", "60"),
            ]},
            {"name": "开工投产", "weight": "30", "indicators": [
                _linear("start_rate", "开工率", "start_rate", "40", "50", "100",
                        note="年度计划开工项目的开工情况；无计划开工项目的单位不计该项。"),
                _linear("annual_rate", "年度投资完成率", "annual_rate", "40", "60", "100", no_data="average"),
                _steps("time_gap", "超时序进度", "time_gap", "20", TIME_GAP_STEPS, no_data="average"),
            ]},
            {"name": "投产达效", "weight": "20", "indicators": [
                _linear("commission_rate", "投产率", "commission_rate", "60", "0", "100",
                        note="年度计划投产项目的投产情况；无计划投产项目的单位不计该项，权重计入同组其他指标。"),
                _rank("batch_commissioned", "列入“投产一批”项目数", "batch_commissioned", "40"),
            ]},
            {"name": "服务保障", "weight": "10", "indicators": [
                _linear("problem_on_time", "问题按期办结率", "problem_on_time", "40", "60", "100", no_data="average",
                        note="期间内无主办问题的单位按有数据单位的平均分计。"),
                _steps("problem_satisfaction", "问题办理满意率", "problem_satisfaction", "30", SATISFACTION_STEPS,
                       no_data="average"),
                _linear("report_timeliness", "月报按时报送率", "report_timeliness", "30", "80", "100",
                        no_data="average"),
            ]},
            {"name": "加减分项", "weight": "0", "is_adjustment": True, "indicators": [
                _adjust("bonus_big_signed", "新签约10亿元以上项目", "big_signed_count", "bonus", "1", "3"),
                _adjust("penalty_overdue", "逾期未办结问题", "overdue_problem_count", "penalty", "0.5", "3"),
            ]},
        ],
    },
    {
        "code": FOUR_COMPARISONS,
        "name": "“四比四看”考评",
        "description": "比谋划看储备、比招引看投资、比开工看进度、比服务看实效。本区未公布各部分分值，暂按各25分设置，"
                       "可在管理后台调整。",
        "unit_kind": "both",
        "basis": "unit",
        "position": 2,
        "groups": [
            {"name": "比谋划看储备", "weight": "25", "indicators": [
                _rank("reserve_count", "谋划储备项目数", "reserve_count", "50"),
                _rank("reserve_investment", "谋划储备项目总投资", "reserve_investment", "50"),
            ]},
            {"name": "比招引看投资", "weight": "25", "indicators": [
                _rank("signed_count", "新签约项目数", "signed_count", "40"),
                _rank("signed_investment", "新签约项目总投资", "signed_investment", "60"),
            ]},
            {"name": "比开工看进度", "weight": "25", "indicators": [
                _linear("start_rate", "开工率", "start_rate", "30", "50", "100"),
                _linear("annual_rate", "年度投资完成率", "annual_rate", "40", "60", "100", no_data="average"),
                _linear("tour_score", "季度观摩得分", "tour_score", "30", "60", "100", no_data="average",
                        note="期间内没有项目参加观摩的单位按有数据单位的平均分计。"),
            ]},
            {"name": "比服务看实效", "weight": "25", "indicators": [
                _linear("problem_on_time", "问题按期办结率", "problem_on_time", "40", "60", "100", no_data="average"),
                _steps("problem_satisfaction", "问题办理满意率", "problem_satisfaction", "30", SATISFACTION_STEPS,
                       no_data="average"),
                _linear("report_timeliness", "月报按时报送率", "report_timeliness", "30", "80", "100",
                        no_data="average"),
            ]},
        ],
    },
]  # fmt: skip

INDICATOR_FIELDS = ("floor", "cap", "steps", "rank_first", "rank_step", "rank_min", "per_item", "limit", "no_data",
                    "note")  # fmt: skip


def install(scheme_model, group_model, indicator_model) -> list[Any]:
    """Create the preset schemes that are missing (by code); returns the schemes created."""
    made = []
    for spec in PRESETS:
        if scheme_model.objects.filter(code=spec["code"]).exists():
            continue
        scheme = scheme_model.objects.create(
            code=spec["code"], name=spec["name"], description=spec["description"], unit_kind=spec["unit_kind"],
            basis=spec["basis"], position=spec["position"],
        )  # fmt: skip
        for g_pos, g in enumerate(spec["groups"], start=1):
            group = group_model.objects.create(
                scheme=scheme, position=g_pos, name=g["name"], weight=g["weight"],
                is_adjustment=g.get("is_adjustment", False),
            )  # fmt: skip
            for i_pos, ind in enumerate(g["indicators"], start=1):
                extra = {k: ind[k] for k in INDICATOR_FIELDS if k in ind}
                indicator_model.objects.create(
                    group=group, position=i_pos, code=ind["code"], name=ind["name"], source=ind["source"],
                    weight=ind["weight"], rule=ind["rule"], **extra,
                )  # fmt: skip
        made.append(scheme)
    return made


def ensure_presets() -> list[Any]:
    """Idempotent: create the missing preset schemes (audited); an edited preset is left as it is."""
    from django.db import transaction

    from keyprojects.audit.models import AuditRecord
    from keyprojects.audit.trail import record
    from keyprojects.evaluation.models import Indicator, IndicatorGroup, Scheme

    with transaction.atomic():
        made = install(Scheme, IndicatorGroup, Indicator)
        for scheme in made:
            groups = {f"{g.name}": str(g.weight) for g in scheme.groups.all()}
            after = {"code": scheme.code, "name": scheme.name, "指标组": groups}
            record(actor=None, action=AuditRecord.Action.CREATE, obj=scheme, after=after, reason="预置考评方案")
    return made
