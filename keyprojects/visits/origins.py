"""Where a problem came from, as a link for the problem pages: its site visit, meeting, instruction or
officer visit (from `Problem.origin_type` / `origin_id`, see `keyprojects.visits.models`)."""

from __future__ import annotations

from django.urls import reverse

from keyprojects.visits.models import (
    ORIGIN_INSTRUCTION,
    ORIGIN_MEETING,
    ORIGIN_OFFICER_VISIT,
    ORIGIN_SITE_VISIT,
    OfficerVisit,
)

LABELS = {
    ORIGIN_SITE_VISIT: "现场办公",
    ORIGIN_MEETING: "调度会议",
    ORIGIN_INSTRUCTION: "领导批示",
    ORIGIN_OFFICER_VISIT: "首席服务员走访",
}


def origin_url(origin_type: str, origin_id: int | None) -> str | None:
    """The page of what the problem came from, or None. The page itself checks who may see it."""
    if not origin_id:
        return None
    if origin_type == ORIGIN_SITE_VISIT:
        return reverse("visit-detail", args=[origin_id])
    if origin_type == ORIGIN_MEETING:
        return reverse("meeting-detail", args=[origin_id])
    if origin_type == ORIGIN_INSTRUCTION:
        return reverse("instruction-detail", args=[origin_id])
    if origin_type == ORIGIN_OFFICER_VISIT:
        officer_id = OfficerVisit.objects.filter(pk=origin_id).values_list("officer_id", flat=True).first()
        return reverse("officer-detail", args=[officer_id]) if officer_id else None
    return None
