"""Labels of choice values, fast enough for every row of a list.

`Model.get_FOO_display()` rebuilds the field's whole choice dictionary on every call (hashing each
lazily translated label, one gettext per choice): about a millisecond per call when a page or an API
list shows five such columns for 25 rows. `choice_label()` looks the value up in the choices class
and translates that one label, remembering the result per language.
"""

from __future__ import annotations

import functools

from django.db.models import Choices
from django.utils.translation import get_language


@functools.lru_cache(maxsize=4096)
def _label(choices: type[Choices], value, language: str | None) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return "" if value is None else str(value)  # as get_FOO_display(): an unknown value shows as itself


def choice_label(choices: type[Choices], value) -> str:
    """The (translated) label of `value` in `choices`, as `get_FOO_display()` would give it."""
    return _label(choices, value, get_language())
