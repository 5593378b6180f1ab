"""The map's outlines: the demo district's (made by a committed script) and an administrator's upload."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from keyprojects.audit.models import AuditRecord
from keyprojects.dashboard import demo_outline, geo
from keyprojects.dashboard.models import MapOutline
from keyprojects.org import demo_data
from keyprojects.org.models import User

SQUARE = [[113.9, 35.2], [114.0, 35.2], [114.0, 35.3], [113.9, 35.3], [113.9, 35.2]]


def collection(*features) -> bytes:
    return json.dumps({"type": "FeatureCollection", "features": list(features)}, ensure_ascii=False).encode()


def polygon(ring=None, **props) -> dict:
    return {"type": "Feature", "properties": props, "geometry": {"type": "Polygon", "coordinates": [ring or SQUARE]}}


# ---------------------------------------------------------------------------------------------
# The demo outline


def test_the_committed_demo_outline_is_what_the_script_makes():
    assert demo_outline.OUTPUT.read_text(encoding="utf-8") == demo_outline.render()
    assert demo_outline.main(["--check"]) == 0


def test_the_demo_outline_has_one_valid_polygon_per_town_around_its_centre():
    data = geo.parse_outline(demo_outline.OUTPUT.read_bytes())
    assert [f["properties"]["name"] for f in data["features"]] == [t.name for t in demo_data.TOWNS]
    assert [f["properties"]["code"] for f in data["features"]] == [t.code for t in demo_data.TOWNS]
    for feature, town in zip(data["features"], demo_data.TOWNS, strict=True):
        ring = feature["geometry"]["coordinates"][0]
        assert point_in_ring((float(town.lng), float(town.lat)), ring), town.name


def point_in_ring(point, ring) -> bool:
    x, y = point
    inside = False
    for (x1, y1), (x2, y2) in zip(ring, ring[1:], strict=False):
        if (y1 > y) != (y2 > y) and x < (x2 - x1) * (y - y1) / (y2 - y1) + x1:
            inside = not inside
    return inside


def test_demo_projects_points_mostly_fall_in_their_towns_cell():
    """Projects are scattered ±0.01° around their town's centre; the nearest-centre cells hold most of them."""
    import random

    data = geo.parse_outline(demo_outline.OUTPUT.read_bytes())
    rng = random.Random(7)
    inside = total = 0
    for feature, town in zip(data["features"], demo_data.TOWNS, strict=True):
        ring = feature["geometry"]["coordinates"][0]
        for _ in range(50):
            p = (float(town.lng) + rng.uniform(-0.01, 0.01), float(town.lat) + rng.uniform(-0.01, 0.01))
            inside += point_in_ring(p, ring)
            total += 1
    assert inside / total > 0.7


# ---------------------------------------------------------------------------------------------
# Validation of an upload


@pytest.mark.parametrize(
    "raw,message",
    [
        (b"\xff\xfe{", "不是 UTF-8 编码"),
        (b'{"type": "FeatureCollection", "features": [', "不是有效的 JSON（第 1 行"),
        (json.dumps({"type": "Feature"}).encode(), "顶层应为 FeatureCollection"),
        (json.dumps({"type": "FeatureCollection", "features": []}).encode(), "没有任何要素"),
        (collection({"type": "Feature", "geometry": {"type": "Point", "coordinates": [113.9, 35.2]}}),
         "第 1 个要素的几何类型为 Point，只接受 Polygon"),
        (collection(polygon(), {"type": "Feature", "geometry": None}), "第 2 个要素的几何类型为 空"),
        (collection(polygon(SQUARE[:3])), "至少需要4个坐标点"),
        (collection(polygon([*SQUARE[:-1], [113.91, 35.2]])), "没有闭合"),
        (collection(polygon([[213.9, 35.2], [114.0, 35.2], [114.0, 35.3], [213.9, 35.2]])), "超出经纬度范围"),
        (collection(polygon([["a", 35.2], [114.0, 35.2], [114.0, 35.3], ["a", 35.2]])), "[经度, 纬度] 两个数字"),
        (b" " * (geo.OUTLINE_MAX_BYTES + 1), "超过 5 MB 的上限"),
    ],
)  # fmt: skip
def test_bad_outlines_are_refused_with_a_clear_chinese_message(raw, message):
    with pytest.raises(ValidationError) as exc:
        geo.parse_outline(raw)
    assert message in " ".join(exc.value.messages)


def test_a_multipolygon_with_a_bom_is_accepted():
    feature = {"type": "Feature", "properties": {"name": "东街街道"},
               "geometry": {"type": "MultiPolygon", "coordinates": [[SQUARE], [SQUARE]]}}  # fmt: skip
    data = geo.parse_outline("\ufeff".encode() + collection(feature))
    assert data["features"][0]["properties"]["name"] == "东街街道"


def test_town_of_feature_matches_by_code_or_name():
    towns, names = {"410702002000": 7, "410702002": 7}, {"洪门镇": 9}
    assert geo.town_of_feature({"code": "410702002000"}, towns, names) == 7
    assert geo.town_of_feature({"adcode": 410702002}, towns, names) == 7
    assert geo.town_of_feature({"name": "洪门镇"}, towns, names) == 9
    assert geo.town_of_feature({"name": "别处"}, towns, names) is None


# ---------------------------------------------------------------------------------------------
# Upload in the admin, and the map using it


@pytest.fixture
def admin_user(world):
    return User.objects.create_superuser("geo_admin", password="Admin@2026!x", full_name="管理员")


def test_an_administrator_uploads_an_outline_and_the_map_uses_it(world, client, admin_user, tmp_path):
    client.force_login(admin_user)
    upload = SimpleUploadedFile("hongqi.geojson", collection(polygon(name="东街街道", code="410702002000")),
                                content_type="application/geo+json")  # fmt: skip
    r = client.post(reverse("admin:dashboard_mapoutline_add"), {"name": "红旗区2026", "file": upload,
                                                                 "is_active": "on"})  # fmt: skip
    assert r.status_code == 302, r.content.decode()
    outline = MapOutline.objects.get()
    assert (outline.feature_count, outline.uploaded_by) == (1, admin_user)
    assert not outline.file.name.endswith("hongqi.geojson")  # never the uploader's name
    assert AuditRecord.objects.filter(object_type="mapoutline", action="create").exists()

    client.force_login(world.leader)
    config = client.get(reverse("dashboard-map")).context["config"]
    assert config["outline"] == reverse("dashboard-outline", args=[outline.pk])
    r = client.get(config["outline"])
    assert r.status_code == 200 and r["Content-Type"].startswith("application/geo+json")
    assert r.json()["features"][0]["properties"]["name"] == "东街街道"
    client.force_login(world.sysadmin)
    assert client.get(config["outline"]).status_code == 403  # no business data for 三员 on the pages


def test_a_bad_upload_is_refused_in_the_admin(world, client, admin_user):
    client.force_login(admin_user)
    upload = SimpleUploadedFile("bad.geojson", b'{"type": "Topology"}', content_type="application/json")
    r = client.post(reverse("admin:dashboard_mapoutline_add"), {"name": "坏文件", "file": upload, "is_active": "on"})
    assert r.status_code == 200
    assert "顶层应为 FeatureCollection" in r.content.decode()
    assert not MapOutline.objects.exists()


def test_an_inactive_outline_is_not_used(world, client, admin_user):
    MapOutline.objects.create(name="旧边界", is_active=False,
                              file=SimpleUploadedFile("x.geojson", collection(polygon())))  # fmt: skip
    client.force_login(world.leader)
    assert client.get(reverse("dashboard-map")).context["config"]["outline"].endswith("demo_district.geojson")
