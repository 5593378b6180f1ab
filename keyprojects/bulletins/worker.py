"""The worker's pass for the rhythm: create each review event's draft when it falls due.

`problems.worker.run_pass` calls `run_pass(now)` on every loop. Each enabled `ReviewEvent` whose
indexed `next_due_at` has come is claimed with a conditional UPDATE
(`filter(pk=…, next_due_at=<value read>).update(next_due_at=<the following due moment>)`): only the
worker whose UPDATE changed one row goes on, so two workers never create the same draft (the unique
(kind, as_of) constraint on `Bulletin` backs this up). The draft is dated the day it fell due; a
worker that was stopped catches up one missed event per pass.
"""

from __future__ import annotations

import datetime
import logging

from django.core.exceptions import ValidationError
from django.utils import timezone

from keyprojects.bulletins import domain, schedule
from keyprojects.bulletins.models import Bulletin, ReviewEvent
from keyprojects.lib import context

logger = logging.getLogger(__name__)


def run_pass(now: datetime.datetime | None = None) -> list[Bulletin]:
    """Create the drafts that are due at `now`; returns them."""
    now = now or timezone.now()
    created: list[Bulletin] = []
    due = list(
        ReviewEvent.objects.filter(enabled=True, next_due_at__lte=now)
        .order_by("next_due_at", "id")
        .values_list("pk", "next_due_at")
    )
    if not due:
        if not ReviewEvent.objects.exists():
            schedule.ensure_schedule(now)  # a fresh database: install the district's default rhythm
        return created
    with context.bind(channel="worker"):
        for pk, seen in due:
            event = ReviewEvent.objects.get(pk=pk)
            following = schedule.next_due_at(event, seen)
            if ReviewEvent.objects.filter(pk=pk, next_due_at=seen).update(next_due_at=following) != 1:
                continue  # another worker claimed it
            as_of = timezone.localdate(seen)
            try:
                created.append(domain.create_draft(kind=event.kind, as_of=as_of, options=event.options, now=now))
            except ValidationError as exc:
                # Already made by hand for that day, or the data cannot be computed: logged, not retried.
                logger.warning("bulletins: %s %s not created: %s", event.kind, as_of, "; ".join(exc.messages))
            except Exception:
                logger.exception("bulletins: %s %s failed", event.kind, as_of)
    return created
