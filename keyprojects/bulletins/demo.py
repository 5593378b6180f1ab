"""Demo archive: a year of issued documents of every kind, so a new user sees the rhythm at work.

日通报 for the last 20 working days; 周调度 for the last 52 weeks; 月点评 for the last 12 months;
季度观摩 for the last 4 quarters; the last 半年考评 and 年底总评. Each is made through the domain
(snapshot, then issued by a dispatcher on its date), so the audit trail and 文号 are real. The
snapshots of past dates are taken from today's data (the demo has no history of its own). Idempotent:
a (kind, date) that exists is skipped. Runs after the evaluation demo (its schemes and tours).
"""

from __future__ import annotations

import datetime
from collections import Counter

from django.core.exceptions import ValidationError
from django.utils import timezone

from keyprojects.bulletins import domain, schedule
from keyprojects.bulletins.models import Bulletin, BulletinSettings, Kind, ReviewEvent
from keyprojects.org.models import Role, User

DAILY_DAYS = 20
COMMENTARY = {
    Kind.DAILY: {"summary": "请各责任单位对照明日到期事项抓紧办理，逾期问题于今日下班前反馈办理进度。"},
    Kind.WEEKLY: {"requirements": "各分包领导对滞后项目逐一过堂，明确责任人和完成时限，下周调度会通报落实情况。"},
    Kind.MONTHLY: {
        "overview": "本月全区重点项目建设总体平稳，投资完成进度与时序进度基本同步。",
        "problems": "部分项目前期手续推进偏慢，个别单位月报报送不及时。",
        "requirements": "各乡镇街道和部门要对标先进、查找差距，确保完成年度目标任务。",
    },
    Kind.QUARTERLY: {
        "overview": "观摩项目建设进度快、形象好，示范带动作用明显。",
        "requirements": "各单位要学习借鉴先进经验，掀起项目建设新高潮。",
    },  # fmt: skip
    Kind.HALF_YEAR: {
        "overview": "上半年各单位项目建设成效明显，考评结果作为年底总评的重要依据。",
        "requirements": "排名靠后的单位要认真分析原因，制定整改措施。",
    },  # fmt: skip
    Kind.ANNUAL: {"overview": "全年重点项目建设任务圆满完成。", "requirements": "总结经验，谋划来年重点项目。"},
}


def _moment(day: datetime.date, hour: int) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime(day.year, day.month, day.day, hour))


def _dates(today: datetime.date) -> list[tuple[str, datetime.date]]:
    events = {e.kind: e for e in ReviewEvent.objects.all()}
    start = today - datetime.timedelta(days=365)
    out: list[tuple[str, datetime.date]] = []
    yesterday = today - datetime.timedelta(days=1)
    daily = schedule.due_dates(events[Kind.DAILY], today - datetime.timedelta(days=40), yesterday)
    out += [(Kind.DAILY, d) for d in daily[-DAILY_DAYS:]]
    for kind in (Kind.WEEKLY, Kind.MONTHLY, Kind.QUARTERLY):
        out += [(kind, d) for d in schedule.due_dates(events[kind], start, yesterday)]
    for kind in (Kind.HALF_YEAR, Kind.ANNUAL):
        dates = schedule.due_dates(events[kind], start - datetime.timedelta(days=365), yesterday)
        out += [(kind, d) for d in dates[-1:]]
    return out


def seed(seeder) -> Counter:
    """Issue the demo archive; returns what was created, by model name."""
    created: Counter = Counter()
    today = seeder.today
    schedule.ensure_schedule()
    dispatcher = User.objects.filter(roles__role=Role.DISPATCHER, is_active=True).order_by("id").first()
    if dispatcher is None:
        return created
    if not BulletinSettings.objects.exists():
        BulletinSettings(issuing_body="红旗区项目推进服务中心").save()  # the demo district
    existing = set(Bulletin.objects.values_list("kind", "as_of"))
    for kind, day in _dates(today):
        if (kind, day) in existing:
            continue
        hour = ReviewEvent.objects.get(kind=kind).hour
        try:
            bulletin = domain.create_draft(kind=kind, as_of=day, by=dispatcher, now=_moment(day, hour))
        except ValidationError:
            continue  # e.g. an evaluation scheme that cannot be computed on this database
        commentary = {k: v for k, v in COMMENTARY.get(kind, {}).items()}
        if commentary:
            domain.update_commentary(bulletin, by=dispatcher, commentary=commentary)
        domain.issue(bulletin, by=dispatcher, now=_moment(day, min(hour + 2, 23)))
        created["bulletin"] += 1
    return created
