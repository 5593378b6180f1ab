"""The map (一张图): project points as GeoJSON, and the district outlines they are drawn on.

Points come from `Project.latitude/longitude` of the projects the user sees, filtered like the
project list. The outline is GeoJSON too: an administrator's upload (`models.MapOutline`) or the demo
district's, which `demo_outline.py` computes from the towns' coordinates (no tile server, nothing from
the internet).
"""

from __future__ import annotations

import json
import math
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from keyprojects.lib.choices import choice_label
from keyprojects.projects.models import Project, Stage, Status

OUTLINE_MAX_BYTES = 5 * 1024 * 1024
OUTLINE_MAX_FEATURES = 500
OUTLINE_MAX_POSITIONS = 200_000
POLYGONS = ("Polygon", "MultiPolygon")


def project_points(projects: QuerySet[Project], *, labels: bool = True) -> dict[str, Any]:
    """The projects with coordinates as a GeoJSON FeatureCollection of points (one query).

    Properties: id, name, stage, status, level, total_investment (万元, a decimal string), town_id, and
    with `labels` the stage's and status's labels in the active language.
    """
    rows = (
        projects.exclude(latitude=None)
        .exclude(longitude=None)
        .order_by("pk")
        .values_list("pk", "name", "stage", "status", "level", "total_investment", "town_id", "latitude", "longitude")
    )
    features = []
    for pk, name, stage, status, level, total, town_id, lat, lng in rows:
        props: dict[str, Any] = {
            "id": pk, "name": name, "stage": stage, "status": status, "level": level,
            "total_investment": f"{total:.2f}", "town_id": town_id,
        }  # fmt: skip
        if labels:
            props["stage_label"] = choice_label(Stage, stage)
            props["status_label"] = choice_label(Status, status)
        features.append({
            "type": "Feature", "id": pk,
            "geometry": {"type": "Point", "coordinates": [float(lng), float(lat)]},
            "properties": props,
        })  # fmt: skip
    return {"type": "FeatureCollection", "count": len(features), "features": features}


# --- outlines ------------------------------------------------------------------------------------------------


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_ring(ring: Any, where: str) -> int:
    if not isinstance(ring, list) or len(ring) < 4:
        raise ValidationError(_("%(where)s的边界环至少需要4个坐标点（首尾相同）。") % {"where": where})
    for position in ring:
        if not isinstance(position, list) or len(position) < 2 or not all(_number(v) for v in position[:2]):
            raise ValidationError(_("%(where)s有无效的坐标：每个点应为 [经度, 纬度] 两个数字。") % {"where": where})
        lng, lat = position[0], position[1]
        if not (-180 <= lng <= 180 and -90 <= lat <= 90):
            raise ValidationError(
                _("%(where)s的坐标 [%(lng)s, %(lat)s] 超出经纬度范围（经度 −180～180，纬度 −90～90）。")
                % {"where": where, "lng": lng, "lat": lat}
            )
    if ring[0][:2] != ring[-1][:2]:
        raise ValidationError(_("%(where)s的边界环没有闭合：第一个点和最后一个点应相同。") % {"where": where})
    return len(ring)


def check_outline_size(size: int) -> None:
    if size > OUTLINE_MAX_BYTES:
        raise ValidationError(
            _("文件大小 %(size)s MB，超过 %(limit)s MB 的上限；请先简化边界。")
            % {"size": f"{size / 1024 / 1024:.1f}", "limit": OUTLINE_MAX_BYTES // 1024 // 1024}
        )


def parse_outline(raw: bytes) -> dict[str, Any]:
    """The GeoJSON in `raw`, checked: a FeatureCollection of Polygon/MultiPolygon features with valid
    WGS-84 coordinates, within the size limits. Raises ValidationError with a Chinese message."""
    check_outline_size(len(raw))
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationError(_("文件不是 UTF-8 编码的文本，请另存为 UTF-8 编码的 GeoJSON。")) from None
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        where = (
            {"line": exc.lineno, "col": exc.colno} if isinstance(exc, json.JSONDecodeError) else {"line": 1, "col": 1}
        )
        raise ValidationError(_("文件不是有效的 JSON（第 %(line)s 行第 %(col)s 列附近有错误）。") % where) from None
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
        raise ValidationError(_("GeoJSON 顶层应为 FeatureCollection（要素集合），每个乡镇街道一个要素。"))
    features = data.get("features")
    if not isinstance(features, list) or not features:
        raise ValidationError(_("要素集合中没有任何要素（features 为空）。"))
    if len(features) > OUTLINE_MAX_FEATURES:
        raise ValidationError(
            _("要素过多（%(n)s 个），最多 %(max)s 个。") % {"n": len(features), "max": OUTLINE_MAX_FEATURES}
        )
    positions = 0
    for i, feature in enumerate(features, start=1):
        where = _("第 %(i)s 个要素") % {"i": i}
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            raise ValidationError(_("%(where)s不是 Feature 对象。") % {"where": where})
        geometry = feature.get("geometry")
        kind = geometry.get("type") if isinstance(geometry, dict) else None
        if kind not in POLYGONS:
            raise ValidationError(
                _("%(where)s的几何类型为 %(kind)s，只接受 Polygon（面）或 MultiPolygon（多面）。")
                % {"where": where, "kind": kind or _("空")}
            )
        coordinates = geometry.get("coordinates")
        polygons = [coordinates] if kind == "Polygon" else coordinates
        if not isinstance(polygons, list) or not polygons:
            raise ValidationError(_("%(where)s没有坐标。") % {"where": where})
        for polygon in polygons:
            if not isinstance(polygon, list) or not polygon:
                raise ValidationError(_("%(where)s的面没有边界环。") % {"where": where})
            for ring in polygon:
                positions += _check_ring(ring, where)
        properties = feature.get("properties")
        if properties is not None and not isinstance(properties, dict):
            raise ValidationError(_("%(where)s的 properties 应为对象。") % {"where": where})
        if positions > OUTLINE_MAX_POSITIONS:
            raise ValidationError(
                _("坐标点过多（超过 %(max)s 个），请先简化边界。") % {"max": f"{OUTLINE_MAX_POSITIONS:,}"}
            )
    return data


def town_of_feature(properties: dict[str, Any], towns: dict[str, int], names: dict[str, int]) -> int | None:
    """The town (unit id) a feature stands for: by region code (`code`/`adcode`), else by name."""
    for key in ("code", "adcode"):
        value = properties.get(key)
        if value is not None and str(value) in towns:
            return towns[str(value)]
    name = properties.get("name")
    return names.get(str(name)) if name else None
