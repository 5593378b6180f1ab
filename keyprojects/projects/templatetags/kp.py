"""Template helpers: money in 万元/亿元 from Decimal, status badges, Bootstrap form widgets."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django import forms, template
from django.forms import BoundField

from keyprojects.lib.money import format_wan, quantize_wan

register = template.Library()

STATUS_BADGES = {
    "normal": "text-bg-success",
    "behind": "text-bg-warning",
    "stopped": "text-bg-danger",
    "paused": "text-bg-secondary",
    "terminated": "text-bg-dark",
}
APPROVAL_BADGES = {
    "pending": "text-bg-light border",
    "in_progress": "text-bg-primary",
    "done": "text-bg-success",
    "overdue": "text-bg-danger",
    "na": "text-bg-secondary",
}
LEVEL_BADGES = {"province": "badge-level-province", "city": "badge-level-city", "district": "badge-level-district"}


def _decimal(value) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, Decimal):
        return value
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


@register.filter
def wan(value) -> str:
    """An amount in 万元 shown the way staff read it: 15.00亿元 or 8,000.00万元."""
    amount = _decimal(value)
    return format_wan(amount) if amount is not None else "—"


@register.filter
def wan_plain(value) -> str:
    """An amount in 万元 as a bare figure with 2 decimals and thousands separators (for 万元 columns)."""
    amount = _decimal(value)
    return f"{quantize_wan(amount):,}" if amount is not None else "—"


@register.filter
def status_badge(value: str) -> str:
    return STATUS_BADGES.get(value, "text-bg-secondary")


@register.filter
def approval_badge(value: str) -> str:
    return APPROVAL_BADGES.get(value, "text-bg-secondary")


@register.filter
def level_badge(value: str) -> str:
    return LEVEL_BADGES.get(value, "text-bg-secondary")


@register.filter
def bs_widget(field: BoundField) -> str:
    """Render a form field's widget with Bootstrap's invalid state when it has errors."""
    widget = field.field.widget
    attrs = dict(widget.attrs)
    if not attrs.get("class"):
        if isinstance(widget, forms.CheckboxInput):
            attrs["class"] = "form-check-input"
        elif isinstance(widget, (forms.Select, forms.SelectMultiple)):
            attrs["class"] = "form-select"
        else:
            attrs["class"] = "form-control"
    if field.errors:
        attrs["class"] = f"{attrs.get('class', '')} is-invalid".strip()
        attrs["aria-invalid"] = "true"
        attrs["aria-describedby"] = f"{field.auto_id}_errors"
    elif field.help_text:
        attrs["aria-describedby"] = f"{field.auto_id}_help"
    return field.as_widget(attrs=attrs)
