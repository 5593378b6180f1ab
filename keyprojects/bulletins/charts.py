"""Bar charts as PNG, drawn offline with Pillow (no matplotlib, no network).

The labels need a CJK font: the first of `FONT_CANDIDATES` found on the machine (fonts-noto-cjk,
WenQuanYi, Droid…). Without one the chart is still drawn, with numbered labels (1, 2, 3…) instead of
the Chinese names, and the caller lists the names under it; drawing never raises for want of a font.
"""

from __future__ import annotations

import io
import os
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any

from PIL import Image, ImageDraw, ImageFont

FONT_CANDIDATES = [
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/System/Library/Fonts/PingFang.ttc",
    "C:/Windows/Fonts/msyh.ttc",
    "C:/Windows/Fonts/simhei.ttf",
]
WIDTH, HEIGHT = 1600, 800
BAR = (192, 0, 0)
BAR_LOW = (120, 120, 120)
LINE = (31, 78, 121)
GRID = (220, 220, 220)
TEXT = (40, 40, 40)


@cache
def cjk_font_path() -> str | None:
    """The first CJK font file present, or None."""
    for path in FONT_CANDIDATES:
        if os.path.exists(path):
            return path
    return None


def _font(size: int, path: str | None):
    if path:
        try:
            return ImageFont.truetype(path, size)
        except OSError:
            pass
    try:
        return ImageFont.load_default(size)
    except TypeError:  # pragma: no cover - very old Pillow
        return ImageFont.load_default()


def _number(value: Any) -> float | None:
    if value is None:
        return None
    try:
        return float(Decimal(str(value)))
    except (InvalidOperation, ValueError):
        return None


def bar_chart(spec: dict[str, Any], *, font_path: str | None | bool = True) -> tuple[bytes, bool]:
    """A PNG of `spec` ({"title", "labels", "values", "reference", "reference_label"}) and whether the
    labels are the real names (False: numbered, no CJK font). `font_path=None` forces the fallback."""
    path = cjk_font_path() if font_path is True else (font_path or None)
    cjk = path is not None
    labels = [str(x) for x in spec.get("labels", [])]
    values = [_number(v) for v in spec.get("values", [])]
    reference = _number(spec.get("reference"))
    img = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(img)
    title_font, label_font, small = _font(40, path), _font(26, path), _font(24, path)
    title = spec.get("title", "") if cjk else ""
    if title:
        draw.text((WIDTH // 2, 20), title, fill=TEXT, font=title_font, anchor="ma")
    vertical = cjk and len(values) > 10
    left, right, top, bottom = 110, WIDTH - 40, 100, HEIGHT - (210 if vertical else 150)
    top_value = max([v for v in values if v is not None] + [reference or 0, 1.0])
    top_value *= 1.15
    for i in range(6):  # the grid and the axis values
        y = bottom - (bottom - top) * i / 5
        draw.line([(left, y), (right, y)], fill=GRID, width=2)
        draw.text((left - 12, y), f"{top_value * i / 5:.0f}", fill=TEXT, font=small, anchor="rm")
    draw.line([(left, top), (left, bottom)], fill=TEXT, width=2)
    n = max(len(values), 1)
    slot = (right - left) / n
    width = max(6, slot * 0.6)
    for i, value in enumerate(values):
        x = left + slot * i + slot / 2
        if value is not None:
            y = bottom - (bottom - top) * max(value, 0) / top_value
            colour = BAR if reference is None or value >= reference else BAR_LOW
            draw.rectangle([x - width / 2, y, x + width / 2, bottom], fill=colour)
            if n <= 30:
                draw.text((x, y - 6), f"{value:.1f}", fill=TEXT, font=small, anchor="md")
        label = labels[i] if cjk and i < len(labels) else str(i + 1)
        if n <= 30:
            if n > 10 and cjk:  # many bars: the names read top to bottom, one character a line
                for k, char in enumerate(label[:7]):
                    draw.text((x, bottom + 8 + k * 27), char, fill=TEXT, font=small, anchor="ma")
            else:
                draw.text((x, bottom + 12), label, fill=TEXT, font=label_font, anchor="ma")
    if reference is not None:
        y = bottom - (bottom - top) * reference / top_value
        draw.line([(left, y), (right, y)], fill=LINE, width=4)
        tag = f"{spec.get('reference_label') or ''} {reference:.1f}" if cjk else f"{reference:.1f}"
        draw.text((right, y - 8), tag.strip(), fill=LINE, font=small, anchor="rd")
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue(), cjk
