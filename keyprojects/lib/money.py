"""Money is Decimal 万元 with 2 decimals at project level; never float."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
WAN_PER_YI = Decimal(10000)


def quantize_wan(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def format_wan(value: Decimal | None) -> str:
    """Show an amount in 万元 the way staff read it: 亿元 above 1亿, 万元 below."""
    if value is None:
        return "—"
    if abs(value) >= WAN_PER_YI:
        return f"{(value / WAN_PER_YI).quantize(CENT, rounding=ROUND_HALF_UP):,}亿元"
    return f"{quantize_wan(value):,}万元"
