"""季度观摩: organising a tour, judges' score sheets, and the aggregation of the scores.

Every change goes through a function here: it checks the actor (dispatchers organise; judges score
only their own sheets), the tour's state, and the input, changes the rows inside one transaction
(the tour row is locked, so closing and scoring never interleave) and writes the audit trail. On
refusal nothing changes: `PermissionDenied` for the wrong person, `ValidationError` with a Chinese
message (keyed by field where there is one; code "invalid_state" for a step out of order and
"duplicate_sheet" for a second sheet) for bad input, `ConflictError` for a stale version.

Aggregation (`tour_results`): a project's score is the mean of its judges' totals after dropping the
`trim_count` highest and lowest, when at least `trim_min_judges` judges scored it (and more than
2 × `trim_count`); otherwise the plain mean (`rules.trimmed_mean`). Projects are ranked by score;
towns by the mean (or sum) of their projects' scores. Equal scores share a rank.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from keyprojects.audit.models import AuditRecord
from keyprojects.audit.trail import record, snapshot
from keyprojects.evaluation import access
from keyprojects.evaluation.models import (
    ObservationTour,
    ScoreItem,
    ScoreSheet,
    TourCriterion,
    TourJudge,
    TourProject,
    TourStatus,
    TownMethod,
)
from keyprojects.evaluation.rules import HUNDRED, ZERO, competition_ranks, mean, number, q2, trimmed_mean
from keyprojects.org.models import ADMIN_ROLES, User
from keyprojects.projects.access import visible_projects
from keyprojects.projects.models import Project

# The district's usual criteria (configurable per tour); they add up to 100.
DEFAULT_CRITERIA = [
    ("规模体量", Decimal("20"), "总投资、占地、建设规模与年度投资完成情况"),
    ("建设进度", Decimal("25"), "形象进度与计划对比，是否超时序进度"),
    ("科技含量", Decimal("20"), "技术装备水平、创新能力、产业层次"),
    ("带动效应", Decimal("20"), "对产业链、税收、就业的带动作用"),
    ("形象展示", Decimal("15"), "现场管理、文明施工、展示效果"),
]
MAX_TEXT = 500
TOUR_FIELDS = ["year", "quarter", "title", "held_on", "trim_count", "trim_min_judges", "town_method", "note"]
NO_TOWN = "未指定乡镇街道"


class ConflictError(Exception):
    """The sheet changed since the judge opened it (optimistic locking on `version`)."""

    message = "该评分表已在别处修改，请刷新后重试（您的修改未保存）。"


def _state_error(message: str) -> ValidationError:
    return ValidationError(message, code="invalid_state")


def _require_manager(by: User) -> None:
    if not access.can_manage_tours(by):
        raise PermissionDenied(_("只有调度员可以组织观摩活动。"))


def _lock(tour: ObservationTour) -> ObservationTour:
    return ObservationTour.objects.select_for_update().get(pk=tour.pk)


def _sync(target: ObservationTour, source: ObservationTour) -> None:
    if target is not source:
        for f in ObservationTour._meta.concrete_fields:
            setattr(target, f.attname, getattr(source, f.attname))


# --- organising -----------------------------------------------------------------------------------------------


def _tour_values(tour: ObservationTour, data: dict[str, Any]) -> None:
    for name in TOUR_FIELDS:
        if name in data:
            value = data[name]
            if name in ("title", "note") and isinstance(value, str):
                value = value.strip()
            setattr(tour, name, value)
    tour.full_clean(exclude=["created_by"])


@transaction.atomic
def create_tour(*, by: User, data: dict[str, Any], criteria: list[tuple[str, Decimal, str]] | None = None,
                ) -> ObservationTour:  # fmt: skip
    """A new tour (筹备中) with the default criteria (or `criteria`: (name, max points, description))."""
    _require_manager(by)
    tour = ObservationTour(created_by=by)
    _tour_values(tour, data)
    tour.save()
    rows = DEFAULT_CRITERIA if criteria is None else criteria
    TourCriterion.objects.bulk_create(
        TourCriterion(tour=tour, position=i, name=name, max_points=Decimal(points), description=desc)
        for i, (name, points, desc) in enumerate(rows, start=1)
    )
    after = snapshot(tour, TOUR_FIELDS)
    after["评分项"] = [f"{n} {number(Decimal(p))}" for n, p, _d in rows]
    record(actor=by, action=AuditRecord.Action.CREATE, obj=tour, after=after)
    return tour


@transaction.atomic
def update_tour(tour: ObservationTour, *, by: User, data: dict[str, Any], expected_version: int | None = None) -> None:
    """Change the tour's title, dates and aggregation settings (not once it is closed)."""
    _require_manager(by)
    current = _lock(tour)
    if expected_version is not None and current.version != expected_version:
        raise ConflictError()
    if current.status == TourStatus.CLOSED:
        raise _state_error(_("观摩已结束，不能再修改。"))
    before = snapshot(current, TOUR_FIELDS)
    _tour_values(current, data)
    current.version += 1
    current.save()
    record(actor=by, action=AuditRecord.Action.UPDATE, obj=current, before=before, after=snapshot(current, TOUR_FIELDS))
    _sync(tour, current)


def _criteria_text(rows: Iterable[TourCriterion]) -> list[str]:
    return [f"{c.name} {number(c.max_points)}" for c in rows]


@transaction.atomic
def set_criteria(tour: ObservationTour, *, by: User, rows: list[tuple[str, Decimal | str, str]]) -> None:
    """Replace the criteria (name, max points, description); only while the tour is 筹备中."""
    _require_manager(by)
    current = _lock(tour)
    if current.status != TourStatus.DRAFT:
        raise _state_error(_("评分已经开始，评分项不能再修改。"))
    errors: list[str] = []
    clean: list[tuple[str, Decimal, str]] = []
    names: set[str] = set()
    for name, points, desc in rows:
        name = (name or "").strip()
        if not name:
            errors.append(_("请填写评分项名称。"))
            continue
        try:
            value = Decimal(str(points))
        except (InvalidOperation, ValueError):
            errors.append(_("“%(n)s”的满分不是数字。") % {"n": name})
            continue
        if not value.is_finite() or not Decimal("0.5") <= value <= HUNDRED:
            errors.append(_("“%(n)s”的满分应在0.5到100之间。") % {"n": name})
        elif value != value.quantize(Decimal("0.01")):
            errors.append(_("“%(n)s”的满分最多两位小数。") % {"n": name})
        if name in names:
            errors.append(_("评分项“%(n)s”重复。") % {"n": name})
        names.add(name)
        clean.append((name[:40], value, (desc or "").strip()[:200]))
    if not clean and not errors:
        errors.append(_("至少需要一个评分项。"))
    if errors:
        raise ValidationError({"criteria": errors})
    before = _criteria_text(current.criteria.all())
    current.criteria.all().delete()
    made = TourCriterion.objects.bulk_create(
        TourCriterion(tour=current, position=i, name=n, max_points=p, description=d)
        for i, (n, p, d) in enumerate(clean, start=1)
    )
    current.version += 1
    current.save(update_fields=["version", "updated_at"])
    record(actor=by, action=AuditRecord.Action.UPDATE, obj=current, before={"评分项": before},
           after={"评分项": _criteria_text(made)})  # fmt: skip
    _sync(tour, current)


@transaction.atomic
def add_projects(tour: ObservationTour, *, by: User, project_ids: Iterable[int | str]) -> list[Project]:
    """Put projects on the tour (in the dispatcher's scope; not once it is closed). Returns those added."""
    _require_manager(by)
    current = _lock(tour)
    if current.status == TourStatus.CLOSED:
        raise _state_error(_("观摩已结束，不能再调整观摩项目。"))
    ids: list[int] = []
    for value in project_ids:
        try:
            ids.append(int(value))
        except (TypeError, ValueError):
            raise ValidationError({"project": [_("项目编号“%(v)s”无效。") % {"v": value}]}) from None
    found = {p.pk: p for p in visible_projects(by).filter(pk__in=ids)}
    missing = [str(i) for i in ids if i not in found]
    if missing:
        raise ValidationError(
            {"project": [_("项目不存在或不在您的数据范围内（编号 %(ids)s）。") % {"ids": "、".join(missing)}]}
        )
    present = set(TourProject.objects.filter(tour=current).values_list("project_id", flat=True))
    new = [found[i] for i in dict.fromkeys(ids) if i not in present]
    if not new:
        return []
    start = (TourProject.objects.filter(tour=current).order_by("-position").values_list("position", flat=True).first()
             or 0)  # fmt: skip
    TourProject.objects.bulk_create(
        TourProject(tour=current, project=p, position=start + i) for i, p in enumerate(new, start=1)
    )
    for p in new:
        record(actor=by, action=AuditRecord.Action.UPDATE, obj=current, project_id=p.pk,
               after={"观摩项目": f"加入：{p.name}"})  # fmt: skip
    return new


@transaction.atomic
def remove_project(tour: ObservationTour, *, by: User, project_id: int) -> None:
    """Take a project off the tour; refused once a judge has scored it."""
    _require_manager(by)
    current = _lock(tour)
    if current.status == TourStatus.CLOSED:
        raise _state_error(_("观摩已结束，不能再调整观摩项目。"))
    link = TourProject.objects.filter(tour=current, project_id=project_id).select_related("project").first()
    if link is None:
        raise ValidationError({"project": [_("该项目不在本次观摩名单中。")]})
    if ScoreSheet.objects.filter(tour=current, project_id=project_id).exists():
        raise _state_error(_("已有评委为该项目评分，不能移出观摩名单。"))
    link.delete()
    record(actor=by, action=AuditRecord.Action.UPDATE, obj=current, project_id=project_id,
           after={"观摩项目": f"移出：{link.project.name}"})  # fmt: skip


def eligible_judges() -> Any:
    """Active users holding a business role (三员 accounts cannot judge)."""
    from keyprojects.org.models import UserRole

    business = UserRole.objects.exclude(role__in=ADMIN_ROLES).values("user_id")
    admins = UserRole.objects.filter(role__in=ADMIN_ROLES).values("user_id")
    return User.objects.filter(is_active=True, pk__in=business).exclude(pk__in=admins)


@transaction.atomic
def add_judges(tour: ObservationTour, *, by: User, user_ids: Iterable[int | str]) -> list[User]:
    _require_manager(by)
    current = _lock(tour)
    if current.status == TourStatus.CLOSED:
        raise _state_error(_("观摩已结束，不能再调整评委。"))
    ids: list[int] = []
    for value in user_ids:
        try:
            ids.append(int(value))
        except (TypeError, ValueError):
            raise ValidationError({"judge": [_("评委编号“%(v)s”无效。") % {"v": value}]}) from None
    found = {u.pk: u for u in eligible_judges().filter(pk__in=ids)}
    missing = [str(i) for i in ids if i not in found]
    if missing:
        raise ValidationError(
            {"judge": [_("评委须为在职的业务账号（编号 %(ids)s 不符合）。") % {"ids": "、".join(missing)}]}
        )
    present = set(TourJudge.objects.filter(tour=current).values_list("user_id", flat=True))
    new = [found[i] for i in dict.fromkeys(ids) if i not in present]
    TourJudge.objects.bulk_create(TourJudge(tour=current, user=u) for u in new)
    for u in new:
        record(actor=by, action=AuditRecord.Action.UPDATE, obj=current, after={"评委": f"加入：{u}"})
    return new


@transaction.atomic
def remove_judge(tour: ObservationTour, *, by: User, user_id: int) -> None:
    _require_manager(by)
    current = _lock(tour)
    if current.status == TourStatus.CLOSED:
        raise _state_error(_("观摩已结束，不能再调整评委。"))
    link = TourJudge.objects.filter(tour=current, user_id=user_id).select_related("user").first()
    if link is None:
        raise ValidationError({"judge": [_("该用户不是本次观摩的评委。")]})
    if ScoreSheet.objects.filter(tour=current, judge_id=user_id).exists():
        raise _state_error(_("该评委已经评分，不能移除。"))
    link.delete()
    record(actor=by, action=AuditRecord.Action.UPDATE, obj=current, after={"评委": f"移除：{link.user}"})


@transaction.atomic
def open_tour(tour: ObservationTour, *, by: User, now: datetime.datetime | None = None) -> None:
    """筹备中 → 评分中: needs at least one project, one judge and one criterion."""
    _require_manager(by)
    current = _lock(tour)
    if current.status != TourStatus.DRAFT:
        raise _state_error(_("当前状态为“%(s)s”，不能开始评分。") % {"s": current.get_status_display()})
    missing = []
    if not current.tour_projects.exists():
        missing.append(_("观摩项目"))
    if not current.judges.exists():
        missing.append(_("评委"))
    if not current.criteria.exists():
        missing.append(_("评分项"))
    if missing:
        raise _state_error(_("请先添加%(what)s，再开始评分。") % {"what": "、".join(missing)})
    before = snapshot(current, ["status"])
    current.status, current.opened_at = TourStatus.OPEN, now or timezone.now()
    current.version += 1
    current.save()
    record(actor=by, action=AuditRecord.Action.TRANSITION, obj=current, before=before,
           after=snapshot(current, ["status", "opened_at"]))  # fmt: skip
    _sync(tour, current)


@transaction.atomic
def close_tour(tour: ObservationTour, *, by: User, now: datetime.datetime | None = None) -> None:
    """评分中 → 已结束: scores are frozen and the results published."""
    _require_manager(by)
    current = _lock(tour)
    if current.status != TourStatus.OPEN:
        raise _state_error(_("当前状态为“%(s)s”，不能结束评分。") % {"s": current.get_status_display()})
    before = snapshot(current, ["status"])
    current.status, current.closed_at = TourStatus.CLOSED, now or timezone.now()
    current.version += 1
    current.save()
    record(actor=by, action=AuditRecord.Action.TRANSITION, obj=current, before=before,
           after=snapshot(current, ["status", "closed_at"]))  # fmt: skip
    _sync(tour, current)


# --- scoring --------------------------------------------------------------------------------------------------


def _points(value: Any, criterion: TourCriterion) -> tuple[Decimal | None, str | None]:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, _("请为“%(c)s”打分。") % {"c": criterion.name}
    if isinstance(value, bool):
        return None, _("“%(c)s”的得分不是数字。") % {"c": criterion.name}
    try:
        points = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None, _("“%(c)s”的得分不是数字。") % {"c": criterion.name}
    if not points.is_finite():
        return None, _("“%(c)s”的得分不是数字。") % {"c": criterion.name}
    if points < 0:
        return None, _("“%(c)s”的得分不能为负数。") % {"c": criterion.name}
    if points > criterion.max_points:
        return None, _("“%(c)s”的得分不能超过满分%(max)s分。") % {
            "c": criterion.name,
            "max": number(criterion.max_points),
        }
    if points != points.quantize(Decimal("0.01")):
        return None, _("“%(c)s”的得分最多两位小数。") % {"c": criterion.name}
    return points.quantize(Decimal("0.01")), None


def _sheet_snapshot(sheet: ScoreSheet, items: dict[str, Decimal]) -> dict[str, Any]:
    return {"评分": {k: str(v) for k, v in items.items()}, "总分": str(sheet.total), "评语": sheet.comment}


def save_sheet(tour: ObservationTour, *, by: User, project: Project | int, points: dict[Any, Any], comment: str = "",
               expected_version: int | None = None) -> tuple[ScoreSheet, bool]:  # fmt: skip
    """A judge's score sheet for one project: created, or (with `expected_version`) edited.

    `points` maps a criterion (id, or the criterion itself) to its points. Returns (sheet, created).
    Refused, nothing changed: not a judge of the tour (403); the tour not 评分中; a project not on
    the tour; a criterion missing, unknown, negative, above its maximum or with more than 2 decimals;
    a second sheet for a project the judge already scored (code "duplicate_sheet": the first sheet is
    edited by passing its version); a stale version (ConflictError).
    """
    project_id = project.pk if isinstance(project, Project) else project
    try:
        project_id = int(project_id)
    except (TypeError, ValueError):
        raise ValidationError({"project": [_("项目编号无效。")]}) from None
    try:
        with transaction.atomic():
            return _save_sheet(tour, by, project_id, points, comment, expected_version)
    except IntegrityError:
        # The same judge saved a first sheet for the project at the same moment elsewhere.
        raise ValidationError(_("您已为该项目评过分，不能再提交第二张评分表；请打开原评分表修改。"),
                              code="duplicate_sheet") from None  # fmt: skip


def _save_sheet(tour, by, project_id, points, comment, expected_version) -> tuple[ScoreSheet, bool]:
    current = _lock(tour)
    if not TourJudge.objects.filter(tour=current, user=by.pk).exists():
        raise PermissionDenied(_("您不是本次观摩的评委，不能评分。"))
    if current.status == TourStatus.DRAFT:
        raise _state_error(_("观摩尚未开始评分。"))
    if current.status == TourStatus.CLOSED:
        raise _state_error(_("观摩评分已结束，不能再评分或修改评分。"))
    link = TourProject.objects.filter(tour=current, project_id=project_id).select_related("project").first()
    if link is None:
        raise ValidationError({"project": [_("该项目不在本次观摩名单中，不能评分。")]})
    criteria = list(current.criteria.all())
    by_id = {c.pk: c for c in criteria}
    given: dict[int, Any] = {}
    errors: list[str] = []
    for key, value in (points or {}).items():
        cid = key.pk if isinstance(key, TourCriterion) else key
        try:
            cid = int(cid)
        except (TypeError, ValueError):
            cid = None
        if cid not in by_id:
            errors.append(_("评分项“%(k)s”不属于本次观摩。") % {"k": key})
            continue
        given[cid] = value
    values: dict[int, Decimal] = {}
    for c in criteria:
        value, error = _points(given.get(c.pk), c)
        if error:
            errors.append(error)
        else:
            values[c.pk] = value
    comment = (comment or "").strip()
    if len(comment) > MAX_TEXT:
        errors.append(_("评语不能超过%(n)s个字。") % {"n": MAX_TEXT})
    if errors:
        raise ValidationError({"points": errors})
    total = sum(values.values(), ZERO)
    sheet = ScoreSheet.objects.filter(tour=current, project_id=project_id, judge=by.pk).first()
    named = {by_id[cid].name: v for cid, v in values.items()}
    if sheet is None:
        sheet = ScoreSheet.objects.create(tour=current, project_id=project_id, judge=by, total=total, comment=comment)
        ScoreItem.objects.bulk_create(ScoreItem(sheet=sheet, criterion_id=cid, points=v) for cid, v in values.items())
        record(actor=by, action=AuditRecord.Action.CREATE, obj=sheet, project_id=project_id,
               after=_sheet_snapshot(sheet, named))  # fmt: skip
        return sheet, True
    if expected_version is None:
        raise ValidationError(
            _("您已为该项目评过分，不能再提交第二张评分表；请打开原评分表修改。"), code="duplicate_sheet"
        )
    if sheet.version != expected_version:
        raise ConflictError()
    old_items = {i.criterion.name: i.points for i in sheet.items.select_related("criterion")}
    before = _sheet_snapshot(sheet, old_items)
    sheet.items.all().delete()
    ScoreItem.objects.bulk_create(ScoreItem(sheet=sheet, criterion_id=cid, points=v) for cid, v in values.items())
    sheet.total, sheet.comment = total, comment
    sheet.version += 1
    sheet.save()
    record(actor=by, action=AuditRecord.Action.UPDATE, obj=sheet, project_id=project_id, before=before,
           after=_sheet_snapshot(sheet, named))  # fmt: skip
    return sheet, False


def own_sheets(tour: ObservationTour, user: User) -> dict[int, ScoreSheet]:
    """The user's sheets of the tour by project id, with their items (two queries)."""
    sheets = ScoreSheet.objects.filter(tour=tour, judge=user.pk).prefetch_related("items")
    return {s.project_id: s for s in sheets}


# --- aggregation ----------------------------------------------------------------------------------------------


def rule_text(tour: ObservationTour) -> str:
    """The aggregation rule in words, as the results page states it."""
    n, m = tour.trim_count, tour.trim_min_judges
    if not n:
        project = _("项目得分为全部评委总分的平均分。")
    else:
        m = max(m, 2 * n + 1)
        project = _("项目得分：评委不少于%(m)s人时，去掉%(n)s个最高分和%(n)s个最低分后取平均分；"
                    "少于%(m)s人时取全部评委总分的平均分。") % {"n": n, "m": m}  # fmt: skip
    if tour.town_method == TownMethod.SUM:
        town = _("乡镇街道得分为其观摩项目得分之和。")
    else:
        town = _("乡镇街道得分为其观摩项目得分的平均分。")
    return f"{project}{town}" + _("得分保留两位小数（四舍五入），得分相同的名次并列。")


@dataclass
class ProjectResult:
    """One project's aggregated score: the judges' totals, what was dropped, the score and the rank."""

    project_id: int
    name: str
    town_id: int | None
    town_name: str
    unit_name: str
    totals: list[Decimal]
    kept: list[Decimal]
    dropped: list[Decimal]
    trimmed: bool
    score: Decimal | None
    criteria_means: list[Decimal | None]
    rank: int | None = None

    @property
    def judges(self) -> int:
        return len(self.totals)

    @property
    def marked_totals(self) -> list[tuple[Decimal, bool]]:
        """The judges' totals, lowest first, each with whether the rule dropped it."""
        k = len(self.dropped) // 2 if self.trimmed else 0
        n = len(self.totals)
        return [(v, i < k or i >= n - k) for i, v in enumerate(self.totals)]


@dataclass
class TownResult:
    town_id: int | None
    name: str
    projects: int
    score: Decimal | None
    rank: int | None = None


@dataclass
class TourResults:
    tour: ObservationTour
    criteria: list[TourCriterion]
    max_total: Decimal
    rule: str
    projects: list[ProjectResult] = field(default_factory=list)
    towns: list[TownResult] = field(default_factory=list)


def _aggregate(tour: ObservationTour, totals: list[Decimal]):
    return trimmed_mean(totals, trim=tour.trim_count, min_count=tour.trim_min_judges)


def tour_results(tour: ObservationTour) -> TourResults:
    """Per-project and per-town results of the tour (four queries), ranked."""
    criteria = list(tour.criteria.all())
    links = list(
        TourProject.objects.filter(tour=tour)
        .select_related("project__town", "project__responsible_unit")
        .order_by("position", "id")
    )
    per_project: dict[int, list[Decimal]] = defaultdict(list)
    for project_id, total in ScoreSheet.objects.filter(tour=tour).values_list("project_id", "total"):
        per_project[project_id].append(total)
    item_points: dict[tuple[int, int], list[Decimal]] = defaultdict(list)
    for project_id, criterion_id, points in ScoreItem.objects.filter(sheet__tour=tour).values_list(
        "sheet__project_id", "criterion_id", "points"
    ):
        item_points[(project_id, criterion_id)].append(points)
    results = TourResults(
        tour=tour, criteria=criteria, max_total=sum((c.max_points for c in criteria), ZERO), rule=rule_text(tour)
    )
    for link in links:
        p = link.project
        agg = _aggregate(tour, per_project.get(p.pk, []))
        results.projects.append(ProjectResult(
            project_id=p.pk, name=p.name, town_id=p.town_id, town_name=str(p.town) if p.town_id else NO_TOWN,
            unit_name=str(p.responsible_unit), totals=sorted(per_project.get(p.pk, [])), kept=agg.kept,
            dropped=agg.dropped, trimmed=agg.trimmed, score=agg.mean,
            criteria_means=[mean(item_points.get((p.pk, c.pk), [])) for c in criteria],
        ))  # fmt: skip
    ranks = competition_ranks({r.project_id: r.score for r in results.projects if r.score is not None})
    for r in results.projects:
        r.rank = ranks.get(r.project_id)
    results.projects.sort(key=lambda r: (r.rank is None, r.rank or 0, r.name))
    by_town: dict[int | None, list[ProjectResult]] = defaultdict(list)
    for r in results.projects:
        by_town[r.town_id].append(r)
    for town_id, rows in by_town.items():
        scores = [r.score for r in rows if r.score is not None]
        if not scores:
            score = None
        elif tour.town_method == TownMethod.SUM:
            score = q2(sum(scores, ZERO))
        else:
            score = mean(scores)
        results.towns.append(TownResult(town_id=town_id, name=rows[0].town_name, projects=len(rows), score=score))
    town_ranks = competition_ranks({t.town_id: t.score for t in results.towns if t.score is not None})
    for t in results.towns:
        t.rank = town_ranks.get(t.town_id)
    results.towns.sort(key=lambda t: (t.rank is None, t.rank or 0, t.name))
    return results


def project_scores_between(start: datetime.date, end: datetime.date) -> dict[int, list[Decimal]]:
    """Final scores (as a percentage of the tour's full marks) of the projects of the tours closed
    and held between `start` and `end`, by project id (a project toured twice has two). Three queries."""
    tours = {t.pk: t for t in ObservationTour.objects.filter(status=TourStatus.CLOSED, held_on__gte=start,
                                                                 held_on__lte=end)}  # fmt: skip
    if not tours:
        return {}
    full: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for tour_id, points in TourCriterion.objects.filter(tour_id__in=list(tours)).values_list("tour_id", "max_points"):
        full[tour_id] += points
    totals: dict[tuple[int, int], list[Decimal]] = defaultdict(list)
    for tour_id, project_id, total in ScoreSheet.objects.filter(tour_id__in=list(tours)).values_list(
        "tour_id", "project_id", "total"
    ):
        totals[(tour_id, project_id)].append(total)
    out: dict[int, list[Decimal]] = defaultdict(list)
    for (tour_id, project_id), values in totals.items():
        score = _aggregate(tours[tour_id], values).mean
        if score is not None and full[tour_id]:
            out[project_id].append(q2(score * HUNDRED / full[tour_id]))
    return dict(out)
