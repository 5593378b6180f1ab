"""Aggregates Django does not ship for every database we run on."""

from __future__ import annotations

from django.db.models import Aggregate, CharField


class CommaList(Aggregate):
    """The group's values joined with commas, in no particular order (SQLite GROUP_CONCAT, PostgreSQL
    STRING_AGG). Meant for short lists of codes, e.g. a user's roles read along with another row."""

    function = "GROUP_CONCAT"
    template = "%(function)s(%(expressions)s, ',')"
    output_field = CharField()

    def as_postgresql(self, compiler, connection, **extra_context):
        return self.as_sql(compiler, connection, function="STRING_AGG", **extra_context)
