"""Pagination that stays fast on deep pages.

A plain OFFSET makes the database build every skipped row with all its joins. Here the page's ids
are fetched first (no joins, usually from an index), then only those rows are loaded with their
related objects: one more query per page, and the same number on page 1 and page 2,000.
"""

from __future__ import annotations

from django.core.paginator import Paginator
from django.db.models import QuerySet


def window(queryset: QuerySet, offset: int, limit: int) -> list:
    """Rows offset..offset+limit of an ordered queryset, loaded by a deferred join."""
    if limit <= 0:
        return []
    ids = list(queryset.values_list("pk", flat=True)[offset : offset + limit])
    if not ids:
        return []
    position = {pk: i for i, pk in enumerate(ids)}
    rows = list(queryset.filter(pk__in=ids))
    rows.sort(key=lambda row: position[row.pk])
    return rows


class DeferredJoinPaginator(Paginator):
    """A Paginator whose pages are loaded with `window()`.

    `count`: the number of rows when the caller already knows it (e.g. a cached count that stays
    exact, see `projects.filters.list_count`); otherwise the queryset is counted as usual.
    """

    def __init__(self, object_list, per_page, orphans=0, allow_empty_first_page=True, *, count: int | None = None):
        super().__init__(object_list, per_page, orphans, allow_empty_first_page)
        if count is not None:
            self.count = count  # replaces the cached_property for this paginator

    def page(self, number):
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if top + self.orphans >= self.count:
            top = self.count
        return self._get_page(window(self.object_list, bottom, top - bottom), number, self)
