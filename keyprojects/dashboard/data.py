"""The cockpit's figures as plain JSON data: for the API, the page's charts and the big screen's refresh.

Money is a decimal string in 万元 ("150000.00"), rates are percentage strings to 0.1 ("112.9", above 100
as they are), None when there is nothing to divide by. Labels follow the active language; links are
the lists behind each figure (None where the lists cannot select the figure's set yet).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.urls import reverse
from django.utils.translation import gettext as _

from keyprojects.dashboard.figures import PIPELINE, Cockpit, Group, project_link, unit_ranking
from keyprojects.funding.models import Step
from keyprojects.lib.choices import choice_label
from keyprojects.lib.money import format_wan
from keyprojects.progress import rates
from keyprojects.projects.models import Batch, Level, Stage, Status

CENT = Decimal("0.01")


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
        "overdue_problems": [{**p, "due": p["due"].isoformat()} for p in fig.overdue_problems],
        "links": {
            "rates": links["rates"],
            "problems": links["problems"],
            "overdue_problems": links["problems_overdue"],
            "reports_late": links["reports_late"],
        },  # fmt: skip
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
