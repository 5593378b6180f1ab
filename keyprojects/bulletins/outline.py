"""A document's outline: numbered sections of paragraphs, tables and charts, from the snapshot alone.

Word (`docx.py`), Excel (`xlsx.py`) and the page all render this outline, so the three show the same
figures, and rendering again from a stored snapshot gives the same document. Nothing here reads the
database except the letterhead settings; every figure comes from `bulletin.figures`.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from keyprojects.bulletins.models import Bulletin, BulletinSettings, Kind

CN_NUMBERS = "一二三四五六七八九十"
LEVEL_NAMES = {0: "主办单位", 1: "分管领导", 2: "主要领导", 3: "上报市/省"}
STEP_NAMES = {"deploy": "部署", "feedback": "首次反馈", "resolve": "办结", "supervision": "督办期限"}

# The commentary parts staff write, per kind: (key, label).
COMMENTARY: dict[str, list[tuple[str, str]]] = {
    Kind.DAILY: [("summary", "工作提示")],
    Kind.WEEKLY: [("agenda", "会议议程及议定事项"), ("requirements", "工作要求")],
    Kind.MONTHLY: [
        ("overview", "总体评价"),
        ("highlights", "亮点点评"),
        ("problems", "存在问题"),
        ("requirements", "下步工作要求"),
    ],  # fmt: skip
    Kind.QUARTERLY: [("overview", "总体评价"), ("requirements", "下步工作要求")],
    Kind.HALF_YEAR: [("overview", "总体评价"), ("requirements", "下步工作要求")],
    Kind.ANNUAL: [("overview", "总体评价"), ("requirements", "下步工作要求")],
}


def cn_date(value: str | datetime.date | None) -> str:
    if not value:
        return ""
    d = datetime.date.fromisoformat(value) if isinstance(value, str) else value
    return f"{d.year}年{d.month}月{d.day}日"


def title_for(kind: str, figures: dict[str, Any]) -> str:
    p = figures.get("period", {})
    as_of = figures.get("as_of")
    if kind == Kind.DAILY:
        return f"重点项目建设日通报（{cn_date(as_of)}）"
    if kind == Kind.WEEKLY:
        d = datetime.date.fromisoformat(as_of)
        return f"重点项目周调度会议材料（{d.isocalendar().year}年第{d.isocalendar().week}周）"
    if kind == Kind.MONTHLY:
        return f"{p['year']}年{p['month']}月份重点项目建设点评"
    if kind == Kind.QUARTERLY:
        q = (int(p["month"]) - 1) // 3 + 1
        return f"{p['year']}年第{CN_NUMBERS[q - 1]}季度重点项目观摩活动情况通报"
    if kind == Kind.HALF_YEAR:
        return f"{p['year']}年上半年重点项目建设考评结果通报"
    return f"{p['year']}年度重点项目建设年底总评结果通报"


@dataclass
class Table:
    """A table: its caption, header, rows of text, and which columns hold numbers (right-aligned)."""

    title: str
    header: list[str]
    rows: list[list[str]]
    numeric: set[int] = field(default_factory=set)


@dataclass
class Section:
    heading: str
    paragraphs: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    chart: dict[str, Any] | None = None
    commentary_key: str = ""


@dataclass
class Outline:
    issuing_body: str
    number: str
    title: str
    date: str
    kind: str
    sections: list[Section]
    draft: bool


def _v(value: Any, suffix: str = "") -> str:
    return "—" if value is None or value == "" else f"{value}{suffix}"


def _names(items: list[dict], limit: int = 10) -> str:
    names = "、".join(i["name"] for i in items[:limit])
    return names + ("等" if len(items) > limit else "")


# --- per kind ---------------------------------------------------------------------------------------------------


def _daily(f: dict) -> list[Section]:
    p, pr, pb, rp = f["period"], f["projects"], f["problems"], f["reports"]
    span = cn_date(p["start"]) if p["start"] == p["end"] else f"{cn_date(p['start'])}至{cn_date(p['end'])}"
    s1 = Section("项目进展")
    s1.paragraphs.append(
        f"{span}，新签约项目{pr['signed']['count']}个，新开工{pr['started']['count']}个，"
        f"竣工{pr['completed']['count']}个，投产{pr['commissioned']['count']}个。"
    )
    rows = []
    for key, label in (("signed", "签约"), ("started", "开工"), ("completed", "竣工"), ("commissioned", "投产")):
        for item in pr[key]["items"]:
            rows.append([label, item["name"], item["unit"] or "", cn_date(item["date"])])
    if rows:
        s1.tables.append(Table("项目进展明细", ["事项", "项目名称", "责任单位", "日期"], rows))
    s2 = Section("问题诉求")
    s2.paragraphs.append(
        f"新受理问题{pb['received']['count']}个，办结{pb['resolved']['count']}个，"
        f"新增逾期{pb['overdue']['count']}个，升级督办{pb['escalated']['count']}个。"
    )
    rows = []
    for key, label in (("received", "受理"), ("resolved", "办结"), ("overdue", "逾期"), ("escalated", "升级督办")):
        for item in pb[key]["items"]:
            extra = (
                f"（升至{LEVEL_NAMES.get(item.get('level'), '')}）" if key == "escalated" and "level" in item else ""
            )
            rows.append([label, item["title"] + extra, item["project"], item["unit"], cn_date(item["date"])])
    if rows:
        s2.tables.append(Table("问题诉求明细", ["事项", "问题", "项目", "主办单位", "日期"], rows))
    s3 = Section("月报报送")
    if rp["state"] == "late":
        s3.paragraphs.append(
            f"{rp['year']}年{rp['month']}月月报已于{cn_date(rp['due'])}截止，应报{rp['expected']}个，"
            f"已报{rp['reported']}个，逾期未报或未重报{rp['late_count']}个。"
        )
        if rp["late_units"]:
            s3.tables.append(Table("逾期未报单位", ["责任单位", "逾期项目数"],
                                   [[u["unit"], str(u["count"])] for u in rp["late_units"]], {1}))  # fmt: skip
    else:
        s3.paragraphs.append(
            f"{rp['year']}年{rp['month']}月月报截止日为{cn_date(rp['due'])}，应报{rp['expected']}个，"
            f"已报{rp['reported']}个，尚未报送{rp['missing']}个，请抓紧报送。"
        )
    t = f["tomorrow"]
    s4 = Section("明日到期事项")
    s4.paragraphs.append(f"{cn_date(t['date'])}到期的问题办理环节{t['count']}个。")
    if t["items"]:
        s4.tables.append(Table("明日到期", ["问题", "项目", "主办单位", "环节", "期限"],
                               [[i["title"], i["project"], i["unit"], STEP_NAMES.get(i["step"], i["step"]),
                                 cn_date(i["date"])] for i in t["items"]]))  # fmt: skip
    return [s1, s2, s3, s4, Section("工作提示", commentary_key="summary")]


def _level(e: dict) -> str:
    return "挂牌督办" if e["supervised"] and not e["level"] else LEVEL_NAMES.get(e["level"], "")


def _weekly(f: dict) -> list[Section]:
    t = f["totals"]
    s1 = Section("总体情况")
    s1.paragraphs.append(
        f"截至{cn_date(f['as_of'])}，滞后预警项目{t['behind']}个，未办结问题{t['open_problems']}个，"
        f"其中升级或挂牌督办{t['escalated']}个。"
    )
    s1.tables.append(Table(
        "分包领导调度汇总", ["分包领导", "分包项目", "滞后预警", "未办结问题", "升级/挂牌督办"],
        [[r["name"], str(r["projects"]), str(r["behind_count"]), str(r["open_problems"]), str(r["escalated_count"])]
         for r in f["leaders"]], {1, 2, 3, 4},
    ))  # fmt: skip
    s2 = Section("分包领导调度事项")
    for r in f["leaders"]:
        if not (r["behind"] or r["escalated"]):
            continue
        s2.paragraphs.append(f"{r['name']}：分包项目{r['projects']}个，滞后预警{r['behind_count']}个，"
                             f"升级或挂牌督办问题{r['escalated_count']}个。")  # fmt: skip
        if r["behind"]:
            s2.tables.append(Table(f"{r['name']} · 滞后项目", ["项目", "责任单位", "风险", "年度完成率", "原因"],
                                   [[b["name"], b["unit"], b["level_label"], _v(b["annual_rate"], "%"),
                                     "；".join(b["reasons"])] for b in r["behind"]], {3}))  # fmt: skip
        if r["escalated"]:
            s2.tables.append(Table(f"{r['name']} · 升级督办问题", ["问题", "项目", "主办单位", "督办层级", "期限"],
                                   [[e["title"], e["project"], e["unit"],
                                     _level(e),
                                     cn_date(e["due"]) + ("（已逾期）" if e["overdue"] else "")]
                                    for e in r["escalated"]]))  # fmt: skip
    if not s2.paragraphs:
        s2.paragraphs.append("本周无滞后预警项目和升级督办问题。")
    s3 = Section("上次会议议定事项落实情况")
    m = f.get("last_meeting")
    if m:
        s3.paragraphs.append(f"{m['title']}（{cn_date(m['held_on'])}）议定事项{len(m['decisions'])}项。")
        if m["decisions"]:
            s3.tables.append(Table("议定事项", ["事项", "承办单位", "状态", "期限"],
                                   [[d["title"], d["unit"], d["status_label"] + ("（逾期）" if d["overdue"] else ""),
                                     cn_date(d["due"])] for d in m["decisions"]]))  # fmt: skip
    else:
        s3.paragraphs.append("此前没有周调度会议记录。")
    s4 = Section("会议议程")
    s4.paragraphs.extend(f"{i}. {item}" for i, item in enumerate(f["agenda"], start=1))
    return [s1, s2, s3, s4, Section("会议议程及议定事项", commentary_key="agenda"),
            Section("工作要求", commentary_key="requirements")]  # fmt: skip


def _ranking_table(title: str, rows: list[dict], indicators: list[dict]) -> Table:
    header = ["名次", "单位", *[f"{i['name']}（%）" for i in indicators], "项目数"]
    body = []
    for r in rows:
        cells = [_v(r["rank"]), r["name"]]
        for i in indicators:
            value = r["values"].get(i["code"])
            rank = r["ranks"].get(i["code"])
            cells.append("—" if value is None else f"{value}（{rank}）")
        cells.append(str(r["projects"]))
        body.append(cells)
    return Table(title, header, body, set(range(2, len(header))))


def _monthly(f: dict) -> list[Section]:
    d, p = f["district"], f["period"]
    s1 = Section("全区总体情况")
    gap = d.get("gap")
    gap_text = ""
    if gap is not None:
        gap_text = f"，{'超' if not gap.startswith('-') else '低于'}时序进度{gap.lstrip('-')}个百分点"
    s1.paragraphs.append(
        f"{p['year']}年1—{p['month']}月，全区纳入年度计划的重点项目完成投资{_v(d['ytd'])}万元，"
        f"占年度计划{_v(d['planned'])}万元的{_v(d['annual_rate'], '%')}（时序进度{d['time_progress']}%）{gap_text}；"
        f"计划开工{d['start_target']}个，已开工{d['started']}个，开工率{_v(d['start_rate'], '%')}。"
    )
    s1.chart = f.get("chart")
    s2 = Section("排名情况")
    names = "、".join(i["name"] for i in f["indicators"])
    s2.paragraphs.append(f"按{names}排名（括号内为单项名次，并列者名次相同），以{f['indicators'][0]['name']}定总名次。")
    for key in ("town", "unit"):
        table = f["tables"][key]
        s2.tables.append(_ranking_table(f"{table['title']}排名", table["rows"], f["indicators"]))
    s3 = Section("红黑榜")
    rows = []
    for key in ("town", "unit"):
        label = f["tables"][key]["title"]
        rows += [["红榜", label, r["name"], str(r["rank"]), r["reason"]] for r in f["red"][key]]
        rows += [["黑榜", label, r["name"], str(r["rank"]), r["reason"]] for r in f["black"][key]]
    s3.paragraphs.append(f"各类单位排名前{f['top_n']}位的列入红榜，后{f['top_n']}位的列入黑榜。")
    if rows:
        s3.tables.append(Table("红黑榜", ["榜单", "类别", "单位", "名次", "理由"], rows, {3}))
    s4 = Section("本月亮点")
    s4.paragraphs.extend(f["highlights"] or ["本月无新开工、投产项目。"])
    return [s1, s2, s3, s4, Section("总体评价", commentary_key="overview"),
            Section("亮点点评", commentary_key="highlights"), Section("存在问题", commentary_key="problems"),
            Section("下步工作要求", commentary_key="requirements")]  # fmt: skip


def _quarterly(f: dict) -> list[Section]:
    sections = []
    if not f["tours"]:
        sections.append(Section("观摩情况", ["本季度没有已结束的观摩活动。"]))
    for tour in f["tours"]:
        s = Section(f"{tour['title']}（{cn_date(tour['held_on'])}）")
        s.paragraphs.append(f"观摩项目{len(tour['projects'])}个，评分项：{'、'.join(tour['criteria'])}，"
                            f"满分{tour['max_total']}分。{tour['rule']}")  # fmt: skip
        s.tables.append(Table("项目得分排名", ["名次", "项目", "乡镇街道", "评委数", "得分"],
                              [[_v(r["rank"]), r["name"], r["town"], str(r["judges"]), _v(r["score"])]
                               for r in tour["projects"]], {0, 3, 4}))  # fmt: skip
        s.tables.append(Table("乡镇街道排名", ["名次", "乡镇街道", "观摩项目", "得分"],
                              [[_v(t["rank"]), t["name"], str(t["projects"]), _v(t["score"])] for t in tour["towns"]],
                              {0, 2, 3}))  # fmt: skip
        if not sections:
            s.chart = f.get("chart")
        sections.append(s)
    return [*sections, Section("总体评价", commentary_key="overview"),
            Section("下步工作要求", commentary_key="requirements")]  # fmt: skip


def _evaluation(f: dict) -> list[Section]:
    s1 = Section("考评结果")
    s1.paragraphs.append(f"按《{f['scheme_name']}》对{len(f['rows'])}个单位进行考评（{f['period_label']}）。")
    s1.paragraphs.extend(f.get("notes") or [])
    header = ["名次", "单位", *f["groups"], "总分"]
    s1.tables.append(Table("考评得分", header,
                           [[str(r["rank"]), r["unit_name"], *[_v(r["groups"].get(g)) for g in f["groups"]],
                             r["total"]] for r in f["rows"]], set(range(2, len(header))) | {0}))  # fmt: skip
    s1.chart = f.get("chart")
    s2 = Section("红黑榜")
    rows = [["红榜", r["name"], str(r["rank"]), r["reason"]] for r in f["red"]]
    rows += [["黑榜", r["name"], str(r["rank"]), r["reason"]] for r in f["black"]]
    if rows:
        s2.tables.append(Table("红黑榜", ["榜单", "单位", "名次", "理由"], rows, {2}))
    else:
        s2.paragraphs.append("无。")
    s3 = Section("指标得分明细")
    rows = []
    for r in f["rows"]:
        for ind in r["indicators"]:
            rows.append([r["unit_name"], ind.get("group") or "", ind["name"], _v(ind["raw"]), ind["points"],
                         ind["weight"], ind["weighted"], ind.get("note") or ""])  # fmt: skip
    s3.tables.append(Table("指标得分明细", ["单位", "指标组", "指标", "原始值", "得分", "权重", "加权得分", "说明"],
                           rows, {3, 4, 5, 6}))  # fmt: skip
    return [s1, s2, s3, Section("总体评价", commentary_key="overview"),
            Section("下步工作要求", commentary_key="requirements")]  # fmt: skip


BUILDERS = {
    Kind.DAILY: _daily, Kind.WEEKLY: _weekly, Kind.MONTHLY: _monthly, Kind.QUARTERLY: _quarterly,
    Kind.HALF_YEAR: _evaluation, Kind.ANNUAL: _evaluation,
}  # fmt: skip


def outline(bulletin: Bulletin, *, settings: BulletinSettings | None = None) -> Outline:
    """The outline of a bulletin, from its snapshot and commentary only."""
    settings = settings or BulletinSettings.load()
    body = bulletin.issuing_body or settings.issuing_body
    issued_on = timezone.localdate(bulletin.issued_at) if bulletin.issued_at else bulletin.as_of
    sections = BUILDERS[bulletin.kind](bulletin.figures)
    sections = [s for s in sections if not s.commentary_key or (bulletin.commentary or {}).get(s.commentary_key)
                or not bulletin.issued]  # fmt: skip
    for s in sections:
        if s.commentary_key:
            text = (bulletin.commentary or {}).get(s.commentary_key, "")
            s.paragraphs = [line for line in text.splitlines() if line.strip()]
    for i, s in enumerate(sections):
        s.heading = f"{CN_NUMBERS[i] if i < 10 else i + 1}、{s.heading}"
    return Outline(
        issuing_body=body, number=bulletin.document_number or "（印发时编号）", title=bulletin.title,
        date=cn_date(issued_on), kind=bulletin.kind,
        sections=sections, draft=not bulletin.issued,
    )  # fmt: skip
