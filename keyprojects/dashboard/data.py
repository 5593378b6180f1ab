"""The cockpit's figures as plain JSON data: for the API, the page's charts and the big screen's refresh.

Money is a decimal string in 万元 ("150000.00"), rates are percentage strings to 0.1 ("112.9", above 100
as they are), None when there is nothing to divide by. Labels follow the active language; links are
the lists behind each figure (None where the lists cannot select the figure's set yet).

`ranking` is the unit ranking the cockpit shows: the latest issued 月点评's (names, ranks and indicator
values exactly as the bulletin's snapshot stores them, with a link to the bulletin), or, before any is
issued (or for a user who may not open it), the completion table's responsible units by 年度投资完成率.
`unit_ranking` stays the completion table's ranking (the big screen's chart).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop, pgettext, pgettext_lazy

from keyprojects.dashboard.figures import PIPELINE, Cockpit, Group, project_link, unit_ranking
from keyprojects.funding.models import Step
from keyprojects.lib.choices import choice_label
from keyprojects.lib.money import format_wan
from keyprojects.progress import rates
from keyprojects.projects.models import Batch, Level, Stage, Status

CENT = Decimal("0.01")
# Texts a 月点评's snapshot stores in Chinese (`bulletins.snapshot`: table titles, indicator names and short
# names), marked here for the catalogue and translated when shown; a text the catalogue lacks is shown as
# stored. The short names have a context: "投资完成率" alone is also the rates page's title.
INDICATOR_SHORT = "ranking indicator"
SNAPSHOT_TEXTS = (
    gettext_noop("乡镇街道"), gettext_noop("区直部门"),
    gettext_noop("年度投资完成率"), gettext_noop("开工率"), gettext_noop("月报按时报送率"),
    gettext_noop("问题按期办结率"), gettext_noop("企业满意率"), gettext_noop("问题办结率"),
    pgettext_lazy("ranking indicator", "投资完成率"), pgettext_lazy("ranking indicator", "开工率"),
    pgettext_lazy("ranking indicator", "按时报送率"), pgettext_lazy("ranking indicator", "按期办结率"),
    pgettext_lazy("ranking indicator", "满意率"), pgettext_lazy("ranking indicator", "办结率"),
)  # fmt: skip


def money(value: Decimal | None) -> str | None:
    return None if value is None else str(Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP))


def percent(ratio: Decimal | None) -> str | None:
    value = rates.as_percent(ratio)
    return None if value is None else str(value)


def points(gap: Decimal | None) -> str | None:
    return None if gap is None else str(gap.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def _label(dimension: str, g: Group) -> str:
    if dimension == "level":
        return choice_label(Level, g.key)
    if dimension == "stage":
        return choice_label(Stage, g.key)
    if dimension == "status":
        return choice_label(Status, g.key)
    if g.key is None:
        return _("未指定乡镇街道") if dimension == "town" else _("未填写")
    return g.label


def group_out(dimension: str, g: Group) -> dict[str, Any]:
    return {
        "key": g.key,
        "label": _label(dimension, g),
        "projects": g.projects,
        "total_investment": money(g.total_investment),
        "link": g.link,
    }


def _rate(done: int, target: int, ratio: Decimal | None, link: str | None) -> dict[str, Any]:
    return {"done": done, "target": target, "rate": percent(ratio), "link": link}


def cockpit_data(fig: Cockpit) -> dict[str, Any]:
    """Every figure the cockpit shows (the answer of `GET /api/v1/dashboard`)."""
    total = fig.table.total
    links = fig.links
    problems = fig.problems
    late = sum(len(g.items) for g in fig.reports_late)
    return {
        "year": fig.year,
        "month": fig.month,
        "today": fig.today.isoformat(),
        "headline": {
            "projects": {"value": fig.projects, "link": links["projects"]},
            "total_investment": {
                "value": money(fig.total_investment),
                "display": format_wan(fig.total_investment),
                "link": links["projects"],
            },  # fmt: skip
            "size_bands": [
                {**group_out("size_band", g), "display": format_wan(g.total_investment)} for g in fig.size_bands
            ],  # fmt: skip
            "investment": {
                "plan_projects": total.plan_projects,
                "planned": money(total.planned),
                "original_planned": money(total.original_planned),
                "ytd": money(total.ytd),
                "ytd_in_plan": money(total.ytd_in_plan),
                "since_start": money(total.since_start),
                "annual_rate": percent(total.annual_rate),
                "time_progress": percent(total.time_progress),
                "gap_points": points(total.gap_points),
                "total_rate": percent(total.total_rate),
                "planned_display": format_wan(total.planned),
                "ytd_in_plan_display": format_wan(total.ytd_in_plan),
                "link": links["rates_district"],
            },
            "start": _rate(total.started, total.start_target, total.start_rate, links["rates"]),
            "complete": _rate(total.completed, total.complete_target, total.complete_rate, links["rates"]),
            "commission": _rate(total.commissioned, total.commission_target, total.commission_rate, links["rates"]),
            "problems": {
                "assigned": {"value": problems.assigned, "link": None},
                "open": {"value": problems.open, "link": links["problems_open"]},
                "overdue": {"value": problems.overdue, "link": links["problems_overdue"]},
                "resolved": {"value": problems.resolved, "link": links["problems_resolved"]},
                "on_time": {"value": problems.on_time, "link": links["problems_on_time"]},
                "closure_rate": _str(problems.closure_rate),
                "on_time_rate": _str(problems.on_time_rate),
                "satisfaction_rate": _str(problems.satisfaction_rate),
            },
            "reports_late": {
                "value": late,
                "due": fig.reports_due.isoformat(),
                "link": links["reports_late"],
                "by_unit": [
                    {"unit_id": g.unit_id, "label": g.unit_name, "value": len(g.items)}
                    for g in sorted(fig.reports_late, key=lambda g: -len(g.items))
                ],  # fmt: skip
            },
        },
        "environment": _environment(fig.environment),
        "curve": {
            "months": list(range(1, 13)),
            "this_year": [money(v) for v in fig.curve.this_year],
            "last_year": [money(v) for v in fig.curve.last_year],
            "plan": [money(v) for v in fig.curve.plan],
            "annual_plan": money(fig.curve.annual_plan),
        },
        "breakdowns": {name: [group_out(name, g) for g in groups] for name, groups in fig.breakdowns.items()},
        "funnel": [
            {**group_out("stage", g), "ratio": percent(_ratio(g.projects, fig.funnel[i - 1].projects)) if i else None}
            for i, g in enumerate(fig.funnel)
        ],
        "phases": [
            {
                "id": p.id,
                "number": p.number,
                "name": p.name,
                "held_on": p.held_on.isoformat() if p.held_on else None,
                "batches": {
                    b: {"label": choice_label(Batch, b), "projects": p.members.get(b, 0), "link": p.links[b]}
                    for b in Batch.values
                },
                "pipeline": {
                    key: {
                        "projects": p.signed_reached[key],
                        "link": p.links[key],
                        "rate": percent(_ratio(p.signed_reached[key], p.members.get(Batch.SIGN, 0))),
                    }
                    for key, _stage in PIPELINE
                },
            }  # fmt: skip
            for p in fig.phases
        ],
        "unit_ranking": [
            {
                "unit_id": r.key,
                "label": r.label,
                "projects": r.projects,
                "plan_projects": r.plan_projects,
                "planned": money(r.planned),
                "ytd_in_plan": money(r.ytd_in_plan),
                "annual_rate": percent(r.annual_rate),
                "gap_points": points(r.gap_points),
                "link": project_link(responsible_unit=r.key),
            }  # fmt: skip
            for r in unit_ranking(fig.table)
        ],
        "ranking": _ranking(fig),
        "overdue_problems": [{**p, "due": p["due"].isoformat()} for p in fig.overdue_problems],
        "links": {
            "rates": links["rates"],
            "problems": links["problems"],
            "overdue_problems": links["problems_overdue"],
            "reports_late": links["reports_late"],
        },  # fmt: skip
    }


def _stored(text: str | None, context: str | None = None) -> str:
    """A Chinese text from a snapshot in the active language (as stored when the catalogue lacks it)."""
    if not text:
        return ""  # gettext("") would be the catalogue's header
    return pgettext(context, text) if context else _(text)


def _rank_row(unit_id: Any, name: str, rank: int | None, values: dict, ranks: dict) -> dict[str, Any]:
    return {"unit_id": unit_id, "name": name, "rank": rank, "values": values, "ranks": ranks}


def _ranking(fig: Cockpit) -> dict[str, Any]:
    """The unit ranking the cockpit shows: the latest issued 月点评's, else the completion table's."""
    review = fig.review
    if review is None:
        rows = [
            _rank_row(r.key, r.label, i, {"annual_rate": percent(r.annual_rate)}, {"annual_rate": i})
            for i, r in enumerate(unit_ranking(fig.table), start=1)
        ]
        return {
            "source": "completion",
            "title": _("责任单位排名（年度投资完成率）"),
            "note": _("尚无已印发的月点评，按年度投资完成率排序"),
            "bulletin": None,
            "indicators": [{"code": "annual_rate", "name": _("年度投资完成率"), "short": _("完成率")}],
            "tables": [{"key": "unit", "title": _("责任单位"), "rows": rows}],
        }
    indicators = [
        {"code": i.get("code"), "name": _stored(i.get("name")), "short": _stored(i.get("short"), INDICATOR_SHORT)}
        for i in review.indicators
    ]
    tables = [
        {
            "key": t["key"],
            "title": _stored(t["title"]),
            "rows": [_rank_row(r["id"], r["name"], r["rank"], r["values"], r["ranks"]) for r in t["rows"]],
        }
        for t in review.tables
    ]
    return {
        "source": "review",
        "title": _("%(year)s年%(month)s月月点评 排名") % {"year": review.year, "month": review.month},
        "note": _("以%(indicator)s定总名次（括号内为单项名次，并列者名次相同）。")
        % {"indicator": indicators[0]["name"] if indicators else ""},
        "bulletin": {
            "id": review.id,
            "title": review.title,
            "document_number": review.document_number,
            "issued_at": timezone.localtime(review.issued_at).isoformat() if review.issued_at else None,
            "year": review.year,
            "month": review.month,
            "link": reverse("bulletin-detail", args=[review.id]),
        },
        "indicators": indicators,
        "tables": tables,
    }


def _ratio(part: int, whole: int) -> Decimal | None:
    return None if not whole else Decimal(part) / Decimal(whole)


def _str(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _environment(env: dict[str, Any]) -> dict[str, Any]:
    """Chains, buildings, the service-matters catalogue and the funding pipeline (issue 7's registries)."""
    funding = env["funding"]
    steps = {step: money(funding.get(step)) for step in (Step.RESERVE, Step.ALLOCATED, Step.DISBURSED, Step.SPENT)}
    return {
        "chains": {"value": env["chains"], "projects": env["chain_projects"],
                   "investment": money(env["chain_investment"]), "display": format_wan(env["chain_investment"]),
                   "link": reverse("chain-list")},
        "buildings": {"value": env["buildings"], "starred": env["starred_buildings"],
                      "tax": money(env["building_tax"]), "display": format_wan(env["building_tax"]),
                      "tenants": env["building_tenants"], "link": reverse("building-list")},
        "matters": {**env["matters"], "link": reverse("matter-list")},
        "funding": {
            **steps,
            "reserve_display": format_wan(funding.get(Step.RESERVE)),
            "disbursed_display": format_wan(funding.get(Step.DISBURSED)),
            "spending_progress": percent(funding.spending_progress),
            "in_place_rate": percent(funding.in_place_rate),
            "link": reverse("funding-district"),
        },
    }  # fmt: skip
