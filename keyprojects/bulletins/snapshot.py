"""The snapshot behind each document: the figures, read once when the draft is made, as plain JSON.

`build(kind, as_of, ...)` returns a dict of JSON values only (money and rates as decimal strings,
dates as ISO strings), so the stored snapshot is exactly what every output shows and re-renders.
Nothing here re-states a formula: rates come from `progress.rates` (completion table, overdue
reports), risk from `progress.forecast`, problem figures from `problems.figures`, evaluations from
`evaluation.scoring`, tours from `evaluation.tours`. The snapshot is district-wide (the documents are
the service center's), whoever asks for it.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import translation

from keyprojects.bulletins.models import Kind
from keyprojects.bulletins.schedule import Period, period_for
from keyprojects.org.models import Unit, User
from keyprojects.problems import figures as problem_figures
from keyprojects.problems.models import OPEN_STATUSES, Problem, ProblemEvent
from keyprojects.progress import forecast, rates
from keyprojects.progress.models import ProgressSettings
from keyprojects.projects.models import Project, Stage, StageTransition
from keyprojects.workcal.calendar import next_workday

LIST_LIMIT = 100  # items kept per list in a daily bulletin (the count is always exact)
ONE_DECIMAL = Decimal("0.1")


# --- plain values ----------------------------------------------------------------------------------------------


def pct(value: Decimal | None) -> str | None:
    """A percentage (already ×100) as a string with one decimal, or None."""
    if value is None:
        return None
    return str(Decimal(value).quantize(ONE_DECIMAL, rounding=ROUND_HALF_UP))


def ratio_pct(ratio: Decimal | None) -> str | None:
    """A raw ratio (1.129) as a percentage string ("112.9")."""
    value = rates.as_percent(ratio)
    return None if value is None else str(value)


def money(value: Decimal | None) -> str | None:
    return None if value is None else str(Decimal(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def day(value: datetime.date | None) -> str | None:
    return value.isoformat() if value else None


def cn_day(value: datetime.date) -> str:
    return f"{value.year}年{value.month}月{value.day}日"


def competition_ranks(values: dict[Any, Decimal], *, lower_is_better: bool = False) -> dict[Any, int]:
    """Ranks where equal values share a rank and the next rank skips (1, 2, 2, 4)."""
    ordered = sorted(values.items(), key=lambda kv: kv[1], reverse=not lower_is_better)
    ranks: dict[Any, int] = {}
    previous: Decimal | None = None
    rank = 0
    for position, (key, value) in enumerate(ordered, start=1):
        if previous is None or value != previous:
            rank, previous = position, value
        ranks[key] = rank
    return ranks


def _period(p: Period) -> dict[str, Any]:
    return {"start": day(p.start), "end": day(p.end), "year": p.year, "month": p.month, "code": p.code}


# --- 日通报 -------------------------------------------------------------------------------------------------------


def _listed(rows: list[dict]) -> dict[str, Any]:
    return {"count": len(rows), "items": rows[:LIST_LIMIT]}


def _project_rows(qs: QuerySet[Project], date_field: str) -> list[dict]:
    return [
        {"id": pk, "name": name, "unit": short or unit, "date": day(when)}
        for pk, name, short, unit, when in qs.order_by(date_field, "pk").values_list(
            "pk", "name", "responsible_unit__short_name", "responsible_unit__name", date_field
        )
    ]


def _transition_rows(stages: list[str], start: datetime.date, end: datetime.date) -> list[dict]:
    qs = (
        StageTransition.objects.filter(to_stage__in=stages, happened_on__gte=start, happened_on__lte=end)
        .order_by("happened_on", "project_id")
        .values_list("project_id", "project__name", "project__responsible_unit__short_name",
                     "project__responsible_unit__name", "happened_on")
    )  # fmt: skip
    seen: dict[int, dict] = {}
    for pk, name, short, unit, when in qs:
        seen.setdefault(pk, {"id": pk, "name": name, "unit": short or unit, "date": day(when)})
    return list(seen.values())


def _problem_rows(qs: QuerySet, *, date_value: Callable[[dict], Any]) -> list[dict]:
    rows = []
    for v in qs.values("pk", "title", "project__name", "lead_unit__short_name", "lead_unit__name", "received_on",
                       "current_due", "current_step", "escalation_level", "resolved_at"):  # fmt: skip
        rows.append({
            "id": v["pk"], "title": v["title"], "project": v["project__name"],
            "unit": v["lead_unit__short_name"] or v["lead_unit__name"] or "待交办", "date": date_value(v),
        })  # fmt: skip
    return rows


def _aware_bounds(start: datetime.date, end: datetime.date) -> tuple[datetime.datetime, datetime.datetime]:
    from django.utils import timezone

    lo = timezone.make_aware(datetime.datetime(start.year, start.month, start.day))
    hi = timezone.make_aware(datetime.datetime(end.year, end.month, end.day)) + datetime.timedelta(days=1)
    return lo, hi


def _event_rows(kind: str, start: datetime.date, end: datetime.date) -> list[dict]:
    from django.utils import timezone

    lo, hi = _aware_bounds(start, end)
    seen: dict[int, dict] = {}
    qs = (
        ProblemEvent.objects.filter(kind=kind, at__gte=lo, at__lt=hi)
        .order_by("at", "id")
        .values_list("problem_id", "problem__title", "problem__project__name", "problem__lead_unit__short_name",
                     "problem__lead_unit__name", "at", "level")
    )  # fmt: skip
    for pk, title, project, short, unit, at, level in qs:
        row = {"id": pk, "title": title, "project": project, "unit": short or unit or "",
               "date": day(timezone.localdate(at))}  # fmt: skip
        if level is not None:
            row["level"] = level
        seen[pk] = row
    return list(seen.values())


def _report_status(as_of: datetime.date) -> dict[str, Any]:
    """月报: the month being reported (the one before `as_of`), its due day, and who is late."""
    first = as_of.replace(day=1) - datetime.timedelta(days=1)
    year, month = first.year, first.month
    cfg = ProgressSettings.load()
    from keyprojects.progress.domain import due_date

    due = due_date(year, month, cfg)
    projects = Project.objects.all()
    expected = rates.expected_reporters(projects, year, month)
    counted = rates.counted_reports().filter(project=OuterRef("pk"), year=year, month=month)
    totals = expected.aggregate(n=Count("pk"), reported=Count("pk", filter=Q(Exists(counted))))
    groups = rates.overdue_reports(projects, year, month, today=as_of, settings=cfg)
    late = [{"unit": g.unit_name, "count": len(g.items)} for g in groups]
    late.sort(key=lambda r: (-r["count"], r["unit"]))
    return {
        "year": year, "month": month, "due": day(due), "state": "late" if as_of > due else "open",
        "expected": totals["n"], "reported": totals["reported"], "missing": totals["n"] - totals["reported"],
        "late_count": sum(r["count"] for r in late), "late_units": late,
    }  # fmt: skip


def daily(as_of: datetime.date, *, previous: datetime.date | None = None) -> dict[str, Any]:
    p = period_for(Kind.DAILY, as_of, previous=previous)
    start, end = p.start, p.end
    projects = Project.objects.all()
    signed = _transition_rows([Stage.SIGNED], start, end)
    started = _project_rows(projects.filter(actual_start__gte=start, actual_start__lte=end), "actual_start")
    completed = _project_rows(projects.filter(actual_end__gte=start, actual_end__lte=end), "actual_end")
    commissioned = _transition_rows([Stage.COMMISSIONED], start, end)
    lo, hi = _aware_bounds(start, end)
    received = _problem_rows(
        Problem.objects.filter(received_on__gte=start, received_on__lte=end).order_by("received_on", "pk"),
        date_value=lambda v: day(v["received_on"]),
    )
    from django.utils import timezone

    resolved = _problem_rows(
        Problem.objects.filter(resolved_at__gte=lo, resolved_at__lt=hi).order_by("resolved_at", "pk"),
        date_value=lambda v: day(timezone.localdate(v["resolved_at"])) if v["resolved_at"] else None,
    )
    overdue = _event_rows(ProblemEvent.Kind.OVERDUE, start, end)
    escalated = _event_rows(ProblemEvent.Kind.ESCALATED, start, end)
    tomorrow = next_workday(as_of + datetime.timedelta(days=1))
    due_rows = []
    for v in (
        Problem.objects.filter(status__in=OPEN_STATUSES, current_due__gt=as_of, current_due__lte=tomorrow)
        .order_by("current_due", "pk")
        .values("pk", "title", "project__name", "lead_unit__short_name", "lead_unit__name", "current_step",
                "current_due")[:LIST_LIMIT]
    ):  # fmt: skip
        due_rows.append({
            "id": v["pk"], "title": v["title"], "project": v["project__name"],
            "unit": v["lead_unit__short_name"] or v["lead_unit__name"] or "", "step": v["current_step"],
            "date": day(v["current_due"]),
        })  # fmt: skip
    reports = _report_status(as_of)
    return {
        "kind": Kind.DAILY.value,
        "as_of": day(as_of),
        "period": _period(p),
        "projects": {
            "signed": _listed(signed), "started": _listed(started), "completed": _listed(completed),
            "commissioned": _listed(commissioned),
        },
        "problems": {
            "received": _listed(received), "resolved": _listed(resolved), "overdue": _listed(overdue),
            "escalated": _listed(escalated),
        },
        "reports": reports,
        "tomorrow": {"date": day(tomorrow), **_listed(due_rows)},
    }  # fmt: skip


# --- 周调度 -------------------------------------------------------------------------------------------------------


def weekly(as_of: datetime.date) -> dict[str, Any]:
    from keyprojects.visits.models import Meeting, OriginLink

    p = period_for(Kind.WEEKLY, as_of)
    projects = Project.objects.all()
    leader_of = dict(projects.exclude(responsible_leader=None).values_list("pk", "responsible_leader_id"))
    counts: dict[int, int] = defaultdict(int)
    for leader_id in leader_of.values():
        counts[leader_id] += 1
    outlook = forecast.forecast(projects, p.year, p.month)
    behind: dict[int | None, list[dict]] = defaultdict(list)
    for w in outlook.warnings:
        behind[leader_of.get(w.project_id)].append({
            "id": w.project_id, "name": w.name, "unit": w.unit_name, "level": w.level, "level_label": w.level_label,
            "score": w.score, "annual_rate": ratio_pct(w.annual_rate), "reasons": list(w.reasons),
        })  # fmt: skip
    open_problems: dict[int | None, int] = defaultdict(int)
    escalated: dict[int | None, list[dict]] = defaultdict(list)
    for v in (
        Problem.objects.filter(status__in=OPEN_STATUSES)
        .order_by("-escalation_level", "current_due", "pk")
        .values("pk", "title", "project_id", "project__name", "lead_unit__short_name", "lead_unit__name",
                "escalation_level", "current_due", "supervised")
    ):  # fmt: skip
        leader = leader_of.get(v["project_id"])
        open_problems[leader] += 1
        if v["escalation_level"] > 0 or v["supervised"]:
            escalated[leader].append({
                "id": v["pk"], "title": v["title"], "project": v["project__name"],
                "unit": v["lead_unit__short_name"] or v["lead_unit__name"] or "", "level": v["escalation_level"],
                "due": day(v["current_due"]), "overdue": bool(v["current_due"] and v["current_due"] < as_of),
                "supervised": v["supervised"],
            })  # fmt: skip
    leader_ids = sorted(set(counts) | {k for k in behind if k} | {k for k in open_problems if k})
    names = {u.pk: str(u) for u in User.objects.filter(pk__in=leader_ids)}
    leaders = []
    for leader_id in sorted(leader_ids, key=lambda k: (-len(behind.get(k, [])), names.get(k, ""), k)):
        leaders.append({
            "id": leader_id, "name": names.get(leader_id, ""), "projects": counts.get(leader_id, 0),
            "behind": behind.get(leader_id, [])[:30], "behind_count": len(behind.get(leader_id, [])),
            "open_problems": open_problems.get(leader_id, 0), "escalated": escalated.get(leader_id, [])[:30],
            "escalated_count": len(escalated.get(leader_id, [])),
        })  # fmt: skip
    last = Meeting.objects.filter(kind=Meeting.Kind.WEEKLY, held_on__lt=as_of).order_by("-held_on", "-id").first()
    meeting = None
    if last is not None:
        decisions = []
        links = OriginLink.objects.filter(meeting=last, kind=OriginLink.Kind.DECISION).select_related(
            "problem", "problem__lead_unit"
        )
        with translation.override("zh-hans"):
            for link in links:
                pr = link.problem
                decisions.append({
                    "id": pr.pk, "title": pr.title, "unit": str(pr.lead_unit) if pr.lead_unit_id else "",
                    "status": pr.status, "status_label": str(pr.get_status_display()), "due": day(pr.resolve_due),
                    "overdue": bool(pr.status in OPEN_STATUSES and pr.current_due and pr.current_due < as_of),
                })  # fmt: skip
        meeting = {"id": last.pk, "title": str(last), "held_on": day(last.held_on), "decisions": decisions}
    agenda = ["通报上周议定事项办理情况。"]
    for row in leaders:
        if row["behind_count"] or row["escalated_count"]:
            agenda.append(
                f"{row['name']}同志分包项目：滞后预警项目{row['behind_count']}个，升级或挂牌督办问题{row['escalated_count']}个，"
                "逐一研究推进措施。"
            )
    agenda.append("研究部署下周重点工作。")
    return {
        "kind": Kind.WEEKLY.value, "as_of": day(as_of), "period": _period(p),
        "totals": {"behind": len(outlook.warnings), "open_problems": sum(open_problems.values()),
                   "escalated": sum(len(v) for v in escalated.values())},
        "leaders": leaders, "last_meeting": meeting, "agenda": agenda,
    }  # fmt: skip


# --- 月点评 -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Indicator:
    code: str
    name: str
    short: str


INDICATORS: dict[str, Indicator] = {
    i.code: i
    for i in [
        Indicator("annual_rate", "年度投资完成率", "投资完成率"),
        Indicator("start_rate", "开工率", "开工率"),
        Indicator("report_timeliness", "月报按时报送率", "按时报送率"),
        Indicator("closure_on_time", "问题按期办结率", "按期办结率"),
        Indicator("satisfaction", "企业满意率", "满意率"),
        Indicator("closure_rate", "问题办结率", "办结率"),
    ]
}
DEFAULT_INDICATORS = ["annual_rate", "start_rate", "report_timeliness", "closure_on_time", "satisfaction"]


def _timeliness(projects: QuerySet[Project], year: int, month: int) -> dict[str, dict[Any, tuple[int, int, int]]]:
    """Per town and per responsible unit: (expected reports, reported, reported on time) for (year, month).

    One query grouped by both keys (the pairs are few), summed per key here.
    """
    counted = rates.counted_reports().filter(project=OuterRef("pk"), year=year, month=month)
    rows = (
        rates.expected_reporters(projects, year, month)
        .order_by()
        .values("town_id", "responsible_unit_id")
        .annotate(
            n=Count("pk"),
            reported=Count("pk", filter=Q(Exists(counted))),
            on_time=Count("pk", filter=Q(Exists(counted.filter(submitted_late=False)))),
        )
    )
    out: dict[str, dict[Any, tuple[int, int, int]]] = {"town_id": {}, "responsible_unit_id": {}}
    for r in rows:
        for field in out:
            n, reported, on_time = out[field].get(r[field], (0, 0, 0))
            out[field][r[field]] = (n + r["n"], reported + r["reported"], on_time + r["on_time"])
    return out


def _rank_rows(rows: list[dict], codes: list[str]) -> None:
    for code in codes:
        values = {i: Decimal(r["values"][code]) for i, r in enumerate(rows) if r["values"].get(code) is not None}
        ranks = competition_ranks(values)
        for i, r in enumerate(rows):
            r["ranks"][code] = ranks.get(i)
    primary = codes[0]
    for r in rows:
        r["rank"] = r["ranks"].get(primary)
    rows.sort(key=lambda r: (r["rank"] is None, r["rank"] or 0, r["name"]))


def _reason(row: dict, codes: list[str], *, good: bool) -> str:
    parts = []
    primary = codes[0]
    value = row["values"].get(primary)
    name = INDICATORS[primary].name
    if value is not None:
        text = f"{name}{value}%"
        if primary == "annual_rate" and row.get("gap") is not None:
            gap = Decimal(row["gap"])
            text += f"，{'超' if gap >= 0 else '低于'}时序进度{abs(gap)}个百分点"
        parts.append(f"{text}，居第{row['rank']}位")
    for code in codes[1:]:
        v, rank = row["values"].get(code), row["ranks"].get(code)
        if v is None or rank is None:
            continue
        if good and rank <= 3:
            parts.append(f"{INDICATORS[code].name}{v}%（第{rank}位）")
        if not good and rank >= row["_count"] - 2:
            parts.append(f"{INDICATORS[code].name}{v}%（第{rank}位）")
    if not good:
        if row.get("late_reports"):
            parts.append(f"月报未按时报送{row['late_reports']}个")
        if row.get("overdue_problems"):
            parts.append(f"逾期未办结问题{row['overdue_problems']}个")
    return "；".join(parts) + "。"


def red_black(rows: list[dict], codes: list[str], top_n: int) -> tuple[list[dict], list[dict]]:
    """红榜 (the top `top_n` by the first indicator) and 黑榜 (the bottom `top_n`); ties at the edge are kept."""
    ranked = [r for r in rows if r["rank"] is not None]
    for r in ranked:
        r["_count"] = len(ranked)
    if not ranked:
        return [], []
    n = min(top_n, len(ranked) // 2 or 1)
    edge = ranked[n - 1]["rank"]
    red = [r for r in ranked if r["rank"] <= edge]
    bottom_edge = ranked[-n]["rank"]
    black = [r for r in reversed(ranked) if r["rank"] >= bottom_edge and r not in red]
    red_rows = [{"name": r["name"], "rank": r["rank"], "reason": _reason(r, codes, good=True)} for r in red]
    black_rows = [{"name": r["name"], "rank": r["rank"], "reason": _reason(r, codes, good=False)} for r in black]
    for r in ranked:
        del r["_count"]
    return red_rows, black_rows


def _group_table(group_by: str, as_of: datetime.date, year: int, month: int, codes: list[str],
                 timeliness: dict[str, dict[Any, tuple[int, int, int]]]) -> list[dict]:  # fmt: skip
    projects = Project.objects.all()
    table = rates.completion_table(projects, year, month, group_by=group_by)
    if group_by == "town":
        units = list(Unit.objects.filter(kind=Unit.Kind.TOWN).order_by("id"))
        field = "town_id"
    else:
        units = list(Unit.objects.filter(kind=Unit.Kind.DEPARTMENT, parent__kind=Unit.Kind.LEADERSHIP).order_by("id"))
        field = "responsible_unit_id"
    by_key = {r.key: r for r in table.rows}
    timely = timeliness[field]
    jan1 = datetime.date(year, 1, 1)
    month_end = period_for(Kind.MONTHLY, next_month_first(year, month)).end
    figs = problem_figures.unit_figures(units, subtree=True, today=as_of, received_from=jan1, received_to=month_end)
    rows = []
    for unit in units:
        r = by_key.get(unit.pk)
        n, reported, on_time = timely.get(unit.pk, (0, 0, 0))
        f = figs.get(unit.pk)
        if r is None and not n and (f is None or not f.assigned):
            continue  # a unit with no projects and no problems is not ranked
        values = {
            "annual_rate": ratio_pct(r.annual_rate) if r else None,
            "start_rate": ratio_pct(r.start_rate) if r else None,
            "report_timeliness": pct(Decimal(on_time) * 100 / n) if n else None,
            "closure_on_time": pct(f.on_time_rate) if f else None,
            "satisfaction": pct(f.satisfaction_rate) if f else None,
            "closure_rate": pct(f.closure_rate) if f else None,
        }
        rows.append({
            "id": unit.pk, "name": str(unit),
            "values": {c: values[c] for c in codes},
            "ranks": {},
            "projects": r.projects if r else 0,
            "planned": money(r.planned) if r else None, "ytd": money(r.ytd_in_plan) if r else None,
            "gap": pct(r.gap_points) if r and r.gap_points is not None else None,
            "started": r.started if r else 0, "start_target": r.start_target if r else 0,
            "late_reports": n - on_time, "overdue_problems": f.overdue if f else 0,
        })  # fmt: skip
    _rank_rows(rows, codes)
    return rows


def next_month_first(year: int, month: int) -> datetime.date:
    return datetime.date(year + month // 12, month % 12 + 1, 1)


def _highlights(p: Period) -> list[str]:
    projects = Project.objects.all()
    out = []
    started = list(
        projects.filter(actual_start__gte=p.start, actual_start__lte=p.end).values_list("name", flat=True)[:6]
    )
    n_started = projects.filter(actual_start__gte=p.start, actual_start__lte=p.end).count()
    if n_started:
        more = "等" if n_started > len(started) else ""
        out.append(f"新开工项目{n_started}个（{'、'.join(started)}{more}）。")
    commissioned = _transition_rows([Stage.COMMISSIONED], p.start, p.end)
    if commissioned:
        names = "、".join(r["name"] for r in commissioned[:6])
        out.append(f"新投产项目{len(commissioned)}个（{names}{'等' if len(commissioned) > 6 else ''}）。")
    n_completed = projects.filter(actual_end__gte=p.start, actual_end__lte=p.end).count()
    if n_completed:
        out.append(f"竣工项目{n_completed}个。")
    lo, hi = _aware_bounds(p.start, p.end)
    resolved = Problem.objects.filter(resolved_at__gte=lo, resolved_at__lt=hi).count()
    if resolved:
        out.append(f"办结企业反映问题{resolved}个。")
    return out


def monthly(as_of: datetime.date, *, indicators: list[str] | None = None, top_n: int = 3) -> dict[str, Any]:
    p = period_for(Kind.MONTHLY, as_of)
    codes = [c for c in (indicators or DEFAULT_INDICATORS) if c in INDICATORS] or DEFAULT_INDICATORS
    tables = {}
    red: dict[str, list] = {}
    black: dict[str, list] = {}
    timeliness = _timeliness(Project.objects.all(), p.year, p.month)
    for key, group_by in (("town", "town"), ("unit", "unit")):
        rows = _group_table(group_by, as_of, p.year, p.month, codes, timeliness)
        if key == "town":  # the towns' table's total row is the district (every project, with or without a town)
            total = rates.completion_table(Project.objects.all(), p.year, p.month, group_by="town").total
        red[key], black[key] = red_black(rows, codes, top_n)
        tables[key] = {"title": "乡镇街道" if key == "town" else "区直部门", "rows": rows}
    town_rows = [r for r in tables["town"]["rows"] if r["values"].get("annual_rate") is not None]
    chart = {
        "type": "bar", "title": f"{p.year}年1—{p.month}月各乡镇街道年度投资完成率（%）",
        "labels": [r["name"] for r in town_rows], "values": [r["values"]["annual_rate"] for r in town_rows],
        "reference": ratio_pct(rates.time_progress(p.month)), "reference_label": "时序进度",
    }  # fmt: skip
    return {
        "kind": Kind.MONTHLY.value, "as_of": day(as_of), "period": _period(p),
        "indicators": [{"code": c, "name": INDICATORS[c].name, "short": INDICATORS[c].short} for c in codes],
        "top_n": top_n,
        "district": {
            "projects": total.projects if total else 0, "planned": money(total.planned) if total else None,
            "ytd": money(total.ytd_in_plan) if total else None,
            "annual_rate": ratio_pct(total.annual_rate) if total else None,
            "time_progress": ratio_pct(rates.time_progress(p.month)),
            "gap": pct(total.gap_points) if total and total.gap_points is not None else None,
            "started": total.started if total else 0, "start_target": total.start_target if total else 0,
            "start_rate": ratio_pct(total.start_rate) if total else None,
        },
        "tables": tables, "red": red, "black": black, "highlights": _highlights(p), "chart": chart,
    }  # fmt: skip


# --- 季度观摩 -----------------------------------------------------------------------------------------------------


def quarterly(as_of: datetime.date) -> dict[str, Any]:
    from keyprojects.evaluation.models import ObservationTour, TourStatus
    from keyprojects.evaluation.tours import tour_results

    p = period_for(Kind.QUARTERLY, as_of)
    tours = []
    for tour in ObservationTour.objects.filter(status=TourStatus.CLOSED, held_on__gte=p.start, held_on__lte=p.end):
        res = tour_results(tour)
        tours.append({
            "id": tour.pk, "title": tour.title, "held_on": day(tour.held_on), "rule": str(res.rule),
            "max_total": money(res.max_total), "criteria": [c.name for c in res.criteria],
            "projects": [{"rank": r.rank, "name": r.name, "town": r.town_name, "unit": r.unit_name,
                          "judges": r.judges, "score": money(r.score)} for r in res.projects],
            "towns": [{"rank": t.rank, "name": t.name, "projects": t.projects, "score": money(t.score)}
                      for t in res.towns],
        })  # fmt: skip
    chart = None
    if tours and tours[0]["towns"]:
        towns = [t for t in tours[0]["towns"] if t["score"] is not None]
        chart = {"type": "bar", "title": f"{tours[0]['title']}各乡镇街道得分", "labels": [t["name"] for t in towns],
                 "values": [t["score"] for t in towns], "reference": None, "reference_label": ""}  # fmt: skip
    return {"kind": Kind.QUARTERLY.value, "as_of": day(as_of), "period": _period(p), "tours": tours, "chart": chart}


# --- 半年考评 / 年底总评 --------------------------------------------------------------------------------------------


def _scored(r: dict) -> dict:
    return {"name": r["unit_name"], "rank": r["rank"], "reason": f"总分{r['total']}分，居第{r['rank']}位。"}


def evaluation(kind: str, as_of: datetime.date, *, scheme: str = "sangeyipi", top_n: int = 3) -> dict[str, Any]:
    from keyprojects.evaluation import scoring

    p = period_for(kind, as_of)
    with translation.override("zh-hans"):
        result = scoring.evaluate(scheme, p.code, today=as_of)
        data = scoring.as_dict(result)
    rows = data["rows"]
    groups: list[str] = []
    for r in rows:
        for ind in r["indicators"]:
            if ind.get("group") and ind["group"] not in groups:
                groups.append(ind["group"])
    for r in rows:
        by_group: dict[str, Decimal] = defaultdict(Decimal)
        for ind in r["indicators"]:
            by_group[ind.get("group") or ""] += Decimal(ind["weighted"])
        r["groups"] = {g: money(by_group.get(g, Decimal(0))) for g in groups}
    n = min(top_n, len(rows) // 2 or 1) if rows else 0
    red: list[dict] = []
    black: list[dict] = []
    if n:
        top, bottom = rows[n - 1]["rank"], rows[-n]["rank"]
        red = [_scored(r) for r in rows if r["rank"] <= top]
        black = [_scored(r) for r in reversed(rows) if r["rank"] >= bottom and r["rank"] > top]
    chart = {"type": "bar", "title": f"{data['scheme_name']}得分", "labels": [r["unit_name"] for r in rows],
             "values": [r["total"] for r in rows], "reference": None, "reference_label": ""}  # fmt: skip
    return {
        "kind": kind, "as_of": day(as_of), "period": _period(p), "scheme": data["scheme_code"],
        "scheme_name": data["scheme_name"], "period_label": data.get("period_label") or p.code, "groups": groups,
        "rows": rows, "notes": data.get("notes", []), "red": red, "black": black, "chart": chart,
    }  # fmt: skip


# --- dispatch -----------------------------------------------------------------------------------------------------


def build(kind: str, as_of: datetime.date, *, options: dict | None = None, previous: datetime.date | None = None
          ) -> dict[str, Any]:  # fmt: skip
    """The snapshot of `kind` as of `as_of` (options: the schedule row's)."""
    options = options or {}
    with translation.override("zh-hans"):
        if kind == Kind.DAILY:
            return daily(as_of, previous=previous)
        if kind == Kind.WEEKLY:
            return weekly(as_of)
        if kind == Kind.MONTHLY:
            return monthly(as_of, indicators=options.get("indicators"), top_n=int(options.get("top_n", 3)))
        if kind == Kind.QUARTERLY:
            return quarterly(as_of)
        if kind in (Kind.HALF_YEAR, Kind.ANNUAL):
            return evaluation(kind, as_of, scheme=options.get("scheme") or "sangeyipi",
                              top_n=int(options.get("top_n", 3)))  # fmt: skip
    raise ValueError(f"unknown kind {kind!r}")
