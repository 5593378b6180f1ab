"""Site photos of a draft or returned report (`add_photo`, `remove_photo`): checked by magic bytes and by
decoding, re-encoded without metadata, their files deleted after the commit.
"""

from __future__ import annotations

import hashlib
import io
import os
import warnings

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction

from keyprojects.audit.models import AuditRecord
from keyprojects.audit.trail import record
from keyprojects.org.models import User
from keyprojects.progress import access
from keyprojects.progress.domain.common import _lock_report, _refuse, _state_error, _text
from keyprojects.progress.models import EDITABLE_STATUSES, MonthlyReport, ProgressSettings, ReportPhoto

# --- photos --------------------------------------------------------------------------------------------------

JPEG_MAGIC = b"\xff\xd8\xff"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _clean_name(name: str) -> str:
    base = os.path.basename((name or "").replace("\\", "/"))
    return "".join(ch for ch in base if ch.isprintable())[:200]


def _reencode(data: bytes, settings: ProgressSettings) -> tuple[bytes, str, int, int]:
    """Validate by magic bytes and by decoding, then re-encode (drops metadata and any payload)."""
    if data.startswith(JPEG_MAGIC):
        expected, content_type = "JPEG", "image/jpeg"
    elif data.startswith(PNG_MAGIC):
        expected, content_type = "PNG", "image/png"
    else:
        raise ValidationError({"photo": ["只能上传JPEG或PNG格式的照片。"]})
    from PIL import Image, ImageOps

    bad = ValidationError({"photo": ["照片文件已损坏或格式不正确，无法识别。"]})
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                if probe.format != expected:
                    raise bad
                width, height = probe.size
                if width * height > settings.photo_max_pixels:
                    raise ValidationError({"photo": [f"照片像素过大（{width}×{height}），请缩小后上传。"]})
                probe.verify()
            with Image.open(io.BytesIO(data)) as image:
                image.load()
                image = ImageOps.exif_transpose(image)
                out = io.BytesIO()
                if expected == "JPEG":
                    image.convert("RGB").save(out, "JPEG", quality=88, optimize=True)
                else:
                    if image.mode not in ("RGB", "RGBA", "L", "LA"):
                        image = image.convert("RGBA")
                    image.save(out, "PNG", optimize=True)
                width, height = image.size
    except ValidationError:
        raise
    except Exception:  # Pillow raises many kinds (OSError, SyntaxError, DecompressionBombError…)
        raise bad from None
    return out.getvalue(), content_type, width, height


@transaction.atomic
def add_photo(report: MonthlyReport, *, by: User, upload, caption: str = "") -> ReportPhoto:
    """Attach a site photo to a draft or returned report: jpeg/png only, size-limited, re-encoded."""
    access.ensure_project_visible(by, report.project)
    current = _lock_report(report, None)
    _refuse(access.filing_refusal(by, current.project, current))
    if current.status not in EDITABLE_STATUSES:
        raise _state_error(current, "添加照片")
    settings = ProgressSettings.load()
    if current.photos.count() >= settings.photos_per_report:
        raise ValidationError({"photo": [f"每份月报最多{settings.photos_per_report}张照片。"]})
    limit = settings.photo_max_bytes
    too_big = ValidationError({"photo": [f"照片不能超过{limit / 1024 / 1024:.1f}MB。"]})
    if getattr(upload, "size", None) is not None and upload.size > limit:
        raise too_big
    if hasattr(upload, "seek"):
        upload.seek(0)
    data = upload.read(limit + 1)
    if len(data) > limit:
        raise too_big
    if not data:
        raise ValidationError({"photo": ["照片文件为空。"]})
    encoded, content_type, width, height = _reencode(data, settings)
    photo = ReportPhoto(
        report=current, content_type=content_type, size=len(encoded), width=width, height=height,
        sha256=hashlib.sha256(encoded).hexdigest(), original_name=_clean_name(getattr(upload, "name", "")),
        caption=_text(caption, "照片说明", limit=200), uploaded_by=by,
    )  # fmt: skip
    photo.file.save("photo", ContentFile(encoded), save=False)
    name = photo.file.name
    try:
        photo.save()
    except Exception:
        _delete_files([name])
        raise
    record(actor=by, action=AuditRecord.Action.CREATE, obj=photo, project_id=current.project_id,
           after={"report": str(current), "file": name, "sha256": photo.sha256, "size": photo.size})  # fmt: skip
    return photo


@transaction.atomic
def remove_photo(photo: ReportPhoto, *, by: User) -> None:
    report = photo.report
    access.ensure_project_visible(by, report.project)
    current = _lock_report(report, None)
    _refuse(access.filing_refusal(by, current.project, current))
    if current.status not in EDITABLE_STATUSES:
        raise _state_error(current, "删除照片")
    record(actor=by, action=AuditRecord.Action.DELETE, obj=photo, project_id=current.project_id,
           before={"report": str(current), "file": photo.file.name, "sha256": photo.sha256})  # fmt: skip
    name = photo.file.name
    photo.delete()
    transaction.on_commit(lambda: _delete_files([name]))


def _delete_files(names: list[str]) -> None:
    from django.core.files.storage import default_storage

    for name in names:
        if name:
            default_storage.delete(name)
