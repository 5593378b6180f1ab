"""Photo uploads: JPEG or PNG, recognised by their content (not by name or declared type), size-limited.

The check reads the file's structure: a PNG must start with the signature and an IHDR chunk, a JPEG
with SOI and reach a frame header (SOFn) through well-formed segments. Both give the picture's size,
which must be plausible. Anything else (a PDF renamed .jpg, a script, a truncated file) is refused
with a Chinese message.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_SIDE = 30000
# Read at most this much to find a JPEG's frame header (EXIF blocks come first and can be 64 KB each).
JPEG_SCAN_BYTES = 1024 * 1024
# SOFn markers that carry the frame size (not DHT C4, JPG C8, DAC CC).
SOF_MARKERS = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def max_photo_bytes() -> int:
    return int(getattr(settings, "VISIT_PHOTO_MAX_BYTES", 10 * 1024 * 1024))


def max_photos() -> int:
    return int(getattr(settings, "VISIT_PHOTO_MAX_COUNT", 12))


@dataclass(frozen=True)
class ImageInfo:
    image_type: str  # "jpg" or "png"
    width: int
    height: int


def _png(head: bytes) -> ImageInfo | None:
    if not head.startswith(PNG_SIGNATURE) or len(head) < 33:
        return None
    length, chunk = struct.unpack(">I4s", head[8:16])
    if chunk != b"IHDR" or length != 13:
        return None
    width, height, depth, color = struct.unpack(">IIBB", head[16:26])
    if depth not in (1, 2, 4, 8, 16) or color not in (0, 2, 3, 4, 6):
        return None
    return ImageInfo("png", width, height)


def _jpeg(data: bytes) -> ImageInfo | None:
    if not data.startswith(b"\xff\xd8\xff"):
        return None
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0x01, *range(0xD0, 0xD8)):  # standalone markers
            i += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image or start of scan before any frame header
            return None
        (length,) = struct.unpack(">H", data[i + 2 : i + 4])
        if length < 2:
            return None
        if marker in SOF_MARKERS:
            if i + 9 > len(data):
                return None
            height, width = struct.unpack(">HH", data[i + 5 : i + 9])
            return ImageInfo("jpg", width, height)
        i += 2 + length
    return None


def inspect(upload) -> ImageInfo:
    """Check an uploaded photo and return its type and size; ValidationError (Chinese) when refused."""
    name = getattr(upload, "name", "") or _("照片")
    size = getattr(upload, "size", None) or 0
    limit = max_photo_bytes()
    if size == 0:
        raise ValidationError(_("“%(name)s”是空文件。") % {"name": name}, code="empty")
    if size > limit:
        raise ValidationError(
            _("“%(name)s”超过 %(limit)s MB（当前 %(size)s MB），请压缩后上传。")
            % {"name": name, "limit": f"{limit / 1024 / 1024:g}", "size": f"{size / 1024 / 1024:.1f}"},
            code="too_big",
        )
    upload.seek(0)
    data = upload.read(JPEG_SCAN_BYTES)
    upload.seek(0)
    info = _png(data) or _jpeg(data)
    if info is None:
        raise ValidationError(
            _("“%(name)s”不是有效的 JPG 或 PNG 图片，只能上传照片。") % {"name": name}, code="not_image"
        )
    if not (0 < info.width <= MAX_SIDE and 0 < info.height <= MAX_SIDE):
        raise ValidationError(_("“%(name)s”的图片尺寸无效。") % {"name": name}, code="bad_size")
    return info


def inspect_all(uploads) -> list[tuple[object, ImageInfo]]:
    """Check every upload; all messages together in one ValidationError."""
    uploads = [u for u in uploads or () if u]
    if len(uploads) > max_photos():
        raise ValidationError(_("一次最多上传 %(n)s 张照片。") % {"n": max_photos()}, code="too_many")
    checked, messages = [], []
    for upload in uploads:
        try:
            checked.append((upload, inspect(upload)))
        except ValidationError as exc:
            messages.extend(exc.messages)
    if messages:
        raise ValidationError(messages)
    return checked
