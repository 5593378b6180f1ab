"""Demo observation tours and evaluation schemes for the demo district. Called by `seed_demo`.

- The two preset schemes ("三个一批", "四比四看"), when missing (`presets.ensure_presets`).
- The two quarterly observation tours before the current quarter (2026 Q2 and Q3 when today is in
  Q4 2026), each visiting 10 projects under construction or beyond, spread over the towns, scored by
  5 judges (three district leaders, the service center's director and the demo dispatcher) and closed.
- The current quarter's tour, open for scoring, with demo_dispatcher and demo_leader among its judges
  and part of the sheets filled, so a demo user can try the phone form and see the progress.

Scores are deterministic: each project has a quality, each judge a bias, each criterion some noise,
rounded to half points. Everything goes through `tours` (validated and audited like the pages).
Idempotent: a tour is created only when no tour with its title exists.
"""

from __future__ import annotations

import datetime
import random
from collections import Counter
from decimal import Decimal

from django.utils import timezone

from keyprojects.evaluation import tours
from keyprojects.evaluation.models import ObservationTour, TourCriterion
from keyprojects.evaluation.presets import ensure_presets
from keyprojects.projects.models import Project, Stage

QUARTER_NAMES = "一二三四"
BUILT = [Stage.CONSTRUCTION, Stage.COMPLETED, Stage.COMMISSIONED, Stage.EFFECTIVE, Stage.STARTED]
PROJECTS_PER_TOUR = 10
# Judges by demo person key (org.demo_data): 区长, 常务副区长, 分管工业的副区长, 服务中心主任, 调度科科长.
PAST_JUDGES = ["ld02", "ld03", "ld04", "ddy03", "ddy01"]
OPEN_JUDGES = ["ld02", "ld04", "ddy03", "ddy01"]


def _quarters_before(today: datetime.date, n: int) -> list[tuple[int, int]]:
    year, quarter = today.year, (today.month - 1) // 3 + 1
    out = []
    for _ in range(n):
        quarter -= 1
        if quarter == 0:
            year, quarter = year - 1, 4
        out.append((year, quarter))
    return list(reversed(out))


def _held_on(year: int, quarter: int, rng: random.Random) -> datetime.date:
    # Tours are held in the last month of the quarter, on a weekday.
    day = datetime.date(year, quarter * 3, rng.randint(10, 24))
    while day.weekday() >= 5:
        day += datetime.timedelta(days=1)
    return day


def _pick_projects(rng: random.Random, exclude: set[int]) -> list[Project]:
    """Up to 10 projects under construction or beyond, at most two per town, biggest first."""
    candidates = list(
        Project.objects.filter(stage__in=BUILT, town__isnull=False)
        .exclude(pk__in=exclude)
        .order_by("-total_investment", "pk")[:80]
    )
    rng.shuffle(candidates)
    per_town: Counter = Counter()
    chosen = []
    for p in candidates:
        if per_town[p.town_id] < 2:
            chosen.append(p)
            per_town[p.town_id] += 1
        if len(chosen) == PROJECTS_PER_TOUR:
            break
    return chosen


def _points(rng: random.Random, quality: float, bias: float, criterion: TourCriterion) -> Decimal:
    share = min(max(quality + bias + rng.uniform(-0.06, 0.06), 0.3), 1.0)
    value = Decimal(str(round(float(criterion.max_points) * share * 2) / 2))
    return min(value, criterion.max_points)


def _score(tour, judges, projects, rng: random.Random, *, fill: float = 1.0) -> int:
    criteria = list(tour.criteria.all())
    quality = {p.pk: rng.uniform(0.68, 0.93) for p in projects}
    made = 0
    for judge in judges:
        bias = rng.uniform(-0.05, 0.05)
        for p in projects:
            if rng.random() > fill:
                continue
            points = {c.pk: _points(rng, quality[p.pk], bias, c) for c in criteria}
            tours.save_sheet(tour, by=judge, project=p, points=points)
            made += 1
    return made


def _tour(seeder, year: int, quarter: int, rng: random.Random, used: set[int], *, open_only: bool) -> Counter:
    created: Counter = Counter()
    title = f"{year}年第{QUARTER_NAMES[quarter - 1]}季度重点项目观摩评比"
    if ObservationTour.objects.filter(title=title).exists():
        return created
    organiser = seeder.users["ddy01"]
    # Each tour visits other projects while there are enough; a small library shares them.
    projects = _pick_projects(rng, used) or _pick_projects(rng, set())
    if not projects:
        return created  # nothing under construction yet: no tour to show
    used.update(p.pk for p in projects)
    held_on = _held_on(year, quarter, rng) if not open_only else seeder.today
    tour = tours.create_tour(by=organiser, data={
        "year": year, "quarter": quarter, "title": title, "held_on": held_on, "trim_count": 1,
        "trim_min_judges": 3, "town_method": "mean",
        "note": "观摩组分乘两辆车，上午观摩东片、下午观摩西片项目，现场听取项目单位汇报后由评委逐项打分。",
    })  # fmt: skip
    tours.add_projects(tour, by=organiser, project_ids=[p.pk for p in projects])
    keys = OPEN_JUDGES if open_only else PAST_JUDGES
    judges = [seeder.users[k] for k in keys if k in seeder.users]
    tours.add_judges(tour, by=organiser, user_ids=[j.pk for j in judges])
    moment = timezone.make_aware(datetime.datetime.combine(held_on, datetime.time(8, 30)))
    tours.open_tour(tour, by=organiser, now=moment)
    if open_only:
        # The demo dispatcher has scored the first few projects; the others are still to do.
        created["scoresheet"] += _score(tour, [j for j in judges if j.username != "demo_dispatcher"], projects, rng,
                                        fill=0.6)  # fmt: skip
        dispatcher = next((j for j in judges if j.username == "demo_dispatcher"), None)
        if dispatcher is not None:
            created["scoresheet"] += _score(tour, [dispatcher], projects[:3], rng)
    else:
        created["scoresheet"] += _score(tour, judges, projects, rng)
        tours.close_tour(tour, by=organiser, now=moment + datetime.timedelta(hours=9))
    created["observationtour"] += 1
    return created


def seed(seeder) -> Counter:
    """Presets and demo tours; returns what was created, by model name."""
    created: Counter = Counter()
    created["scheme"] += len(ensure_presets())
    rng = random.Random("keyprojects-demo-observation")
    used: set[int] = set()
    for year, quarter in _quarters_before(seeder.today, 2):
        created.update(_tour(seeder, year, quarter, rng, used, open_only=False))
    today = seeder.today
    created.update(_tour(seeder, today.year, (today.month - 1) // 3 + 1, rng, used, open_only=True))
    return +created
