"""The downloads of a bulletin: Word and Excel bytes and their file names (from the snapshot only)."""

from __future__ import annotations

from django.utils import translation

from keyprojects.bulletins import docx, xlsx
from keyprojects.bulletins.models import Bulletin
from keyprojects.bulletins.outline import outline

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOCX_CONTENT_TYPE = docx.DOCX_CONTENT_TYPE


def docx_bytes(bulletin: Bulletin) -> bytes:
    with translation.override("zh-hans"):
        return docx.render(outline(bulletin), stamp=bulletin.issued_at or bulletin.snapshot_at)


def xlsx_bytes(bulletin: Bulletin) -> bytes:
    with translation.override("zh-hans"):
        return xlsx.render(outline(bulletin))


def filename(bulletin: Bulletin, ext: str) -> str:
    state = "" if bulletin.issued else "（草稿）"
    return f"{bulletin.title}{state}.{ext}".replace("/", "-")
