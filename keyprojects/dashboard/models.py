"""The map's district outline, uploaded by an administrator (GeoJSON)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from keyprojects.dashboard.geo import check_outline_size, parse_outline


def outline_upload_path(instance: MapOutline, filename: str) -> str:
    # Never a name the uploader chose.
    return f"outlines/{uuid.uuid4().hex}.geojson"


def validate_outline_file(file) -> None:
    """The upload must be a valid outline (`geo.parse_outline`): JSON, FeatureCollection of polygons."""
    check_outline_size(file.size or 0)  # before reading a huge file into memory
    file.seek(0)
    raw = file.read()
    file.seek(0)
    parse_outline(raw)


class MapOutline(models.Model):
    """A district's outline for the map (一张图): a GeoJSON FeatureCollection, one polygon per town.

    The map draws the latest active outline, or the demo district's when there is none. A feature is
    matched to a town by its `code`/`adcode` property (the town's region code, 9 or 12 digits) or its
    `name`; a matched polygon opens that town's project list when clicked.
    """

    name = models.CharField(_("名称"), max_length=60, help_text=_("如：红旗区（2026年简化边界）"))
    file = models.FileField(
        _("GeoJSON 文件"), upload_to=outline_upload_path, max_length=200, validators=[validate_outline_file],
        help_text=_("UTF-8 编码的 GeoJSON，顶层为 FeatureCollection，每个乡镇街道一个 Polygon 或 MultiPolygon 要素，"
                    "坐标为 WGS-84 经纬度；不超过 5 MB。要素的 code（区划代码）或 name（名称）用于对应乡镇街道。"),
    )  # fmt: skip
    is_active = models.BooleanField(_("启用"), default=True, help_text=_("地图使用最近上传的已启用边界。"))
    feature_count = models.PositiveIntegerField(_("要素数"), default=0, editable=False)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, editable=False, related_name="+",
        verbose_name=_("上传人"),
    )  # fmt: skip
    uploaded_at = models.DateTimeField(_("上传时间"), auto_now_add=True)

    class Meta:
        ordering = ["-uploaded_at", "-id"]
        verbose_name = _("地图边界")
        verbose_name_plural = _("地图边界")

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if not self.file:
            raise ValidationError({"file": _("请选择 GeoJSON 文件。")})

    def read(self) -> dict:
        with self.file.open("rb") as f:
            return parse_outline(f.read())

    @classmethod
    def current(cls) -> MapOutline | None:
        return cls.objects.filter(is_active=True).order_by("-uploaded_at", "-id").first()
