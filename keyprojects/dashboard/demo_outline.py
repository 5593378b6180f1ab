"""Make the demo district's outline for the map: `static/dashboard/demo_district.geojson`.

    .venv/bin/python -m keyprojects.dashboard.demo_outline          # write the file
    .venv/bin/python -m keyprojects.dashboard.demo_outline --check  # exit 1 if the file is out of date

The real boundaries of 红旗区 and its towns are not public data we may ship, and the map must work
offline, so the outline is made here from what the demo knows: each town's centre
(`org.demo_data.TOWNS`, the same points the demo projects are scattered around, ±0.01°). The district
is the rounded hull of circles around the centres, given a gentle irregular edge; each town is its
Voronoi cell inside it (every place belongs to the nearest centre), in a local metric projection so
that a degree of longitude counts for cos(latitude) of a degree of latitude. The result is
deterministic: the test suite checks that the committed file is what this script makes.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

from keyprojects.org import demo_data as D

OUTPUT = Path(__file__).resolve().parent / "static" / "dashboard" / "demo_district.geojson"
RADIUS = 0.030  # degrees of latitude around each centre that still belong to the district
CIRCLE_POINTS = 48
EDGE_STEP = 0.0035  # spacing of points along the district edge before the wobble
WOBBLE = 0.0030  # amplitude of the irregular edge
PLACES = 5  # decimals kept (about 1 m)

Point = tuple[float, float]


def _projection(centres: list[Point]):
    lat0 = sum(lat for _lng, lat in centres) / len(centres)
    lng0 = sum(lng for lng, _lat in centres) / len(centres)
    k = math.cos(math.radians(lat0))

    def forward(p: Point) -> Point:
        return ((p[0] - lng0) * k, p[1] - lat0)

    def back(p: Point) -> Point:
        return (p[0] / k + lng0, p[1] + lat0)

    return forward, back


def _cross(o: Point, a: Point, b: Point) -> float:
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def convex_hull(points: list[Point]) -> list[Point]:
    """Counter-clockwise hull (Andrew's monotone chain), without the closing point."""
    pts = sorted(set(points))
    lower: list[Point] = []
    for p in pts:
        while len(lower) >= 2 and _cross(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    upper: list[Point] = []
    for p in reversed(pts):
        while len(upper) >= 2 and _cross(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    return lower[:-1] + upper[:-1]


def _wobbly(hull: list[Point]) -> list[Point]:
    """The hull's edge resampled every EDGE_STEP and pushed in and out a little (not a perfect curve)."""
    out: list[Point] = []
    perimeter = 0.0
    for i, a in enumerate(hull):
        b = hull[(i + 1) % len(hull)]
        length = math.dist(a, b)
        steps = max(1, int(length / EDGE_STEP))
        for s in range(steps):
            t = s / steps
            x, y = a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t
            # outward normal of a counter-clockwise edge
            nx, ny = (b[1] - a[1]) / length, -(b[0] - a[0]) / length
            d = perimeter + length * t
            shift = WOBBLE * (0.6 * math.sin(d * 61) + 0.3 * math.sin(d * 173 + 1.3) + 0.1 * math.sin(d * 389 + 0.4))
            out.append((x + nx * shift, y + ny * shift))
        perimeter += length
    return out


def clip(polygon: list[Point], a: float, b: float, c: float) -> list[Point]:
    """The part of `polygon` where a·x + b·y ≤ c (Sutherland–Hodgman against one half-plane)."""
    out: list[Point] = []
    for i, p in enumerate(polygon):
        q = polygon[(i + 1) % len(polygon)]
        fp, fq = a * p[0] + b * p[1] - c, a * q[0] + b * q[1] - c
        if fp <= 0:
            out.append(p)
        if (fp < 0 < fq) or (fq < 0 < fp):
            t = fp / (fp - fq)
            out.append((p[0] + (q[0] - p[0]) * t, p[1] + (q[1] - p[1]) * t))
    return out


def outline() -> dict:
    """The demo district's towns as a GeoJSON FeatureCollection of polygons."""
    centres = [(float(t.lng), float(t.lat)) for t in D.TOWNS]
    forward, back = _projection(centres)
    local = [forward(p) for p in centres]
    around = [
        (x + RADIUS * math.cos(2 * math.pi * i / CIRCLE_POINTS), y + RADIUS * math.sin(2 * math.pi * i / CIRCLE_POINTS))
        for x, y in local
        for i in range(CIRCLE_POINTS)
    ]
    district = _wobbly(convex_hull(around))
    features = []
    for i, town in enumerate(D.TOWNS):
        cell = district
        pi = local[i]
        for j, pj in enumerate(local):
            if j != i:
                # nearer to pi than to pj: (pj − pi)·p ≤ (|pj|² − |pi|²) / 2
                a, b = pj[0] - pi[0], pj[1] - pi[1]
                cell = clip(cell, a, b, (pj[0] ** 2 + pj[1] ** 2 - pi[0] ** 2 - pi[1] ** 2) / 2)
        ring = [[round(v, PLACES) for v in back(p)] for p in cell]
        ring.append(ring[0])
        features.append({
            "type": "Feature",
            "properties": {"name": town.name, "code": town.code, "kind": "town", "centre": [float(town.lng),
                                                                                            float(town.lat)]},
            "geometry": {"type": "Polygon", "coordinates": [ring]},
        })  # fmt: skip
    region = next(r for r in D.REGIONS if r.code == D.DISTRICT_REGION)
    return {
        "type": "FeatureCollection",
        "name": region.name,
        "note": "演示用简化边界：由各乡镇街道中心点生成（凸包外扩 + Voronoi 划分），不是法定行政区划界线。",
        "features": features,
    }


def render() -> str:
    data = outline()
    lines = ["{", f'"type": "FeatureCollection", "name": {json.dumps(data["name"], ensure_ascii=False)},',
             f'"note": {json.dumps(data["note"], ensure_ascii=False)},', '"features": [']  # fmt: skip
    body = [json.dumps(f, ensure_ascii=False, separators=(",", ":")) for f in data["features"]]
    lines.append(",\n".join(body))
    lines.append("]}")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else ""
        if current != text:
            print(f"{OUTPUT} is out of date: run python -m keyprojects.dashboard.demo_outline", file=sys.stderr)
            return 1
        return 0
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT} ({len(text):,} bytes, {len(json.loads(text)['features'])} towns)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
