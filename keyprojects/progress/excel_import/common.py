"""What the template, the reader and the importer share: the template's identity and layout (sheets,
rows, columns), the error types (`CellError`, `ImportRefused`) and who may file for which projects.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet
from openpyxl.utils import get_column_letter

from keyprojects.org.models import Role, User
from keyprojects.progress import access, domain
from keyprojects.projects.access import scope_unit_ids, visible_projects
from keyprojects.projects.models import Project

TEMPLATE_KIND = "keyprojects.monthly_report"
TEMPLATE_VERSION = "1"
DATA_SHEET = "月报"
META_SHEET = "_meta"
ERRORS_SHEET = "错误清单"
TITLE_ROW, NOTE_ROW, HEADER_ROW, FIRST_ROW = 1, 2, 3, 4

MAX_TEXT = domain.MAX_TEXT
MAX_EXPLANATION = 2000


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    kind: str  # id, text, money, count, int
    width: int
    editable: bool = False


COLUMNS = [
    Column("seq", "序号", "int", 6),
    Column("project_id", "项目ID", "id", 9),
    Column("code", "项目代码", "text", 26),
    Column("name", "项目名称", "text", 36),
    Column("owner", "建设单位", "text", 26),
    Column("unit", "责任单位", "text", 16),
    Column("plan", "年度计划投资（万元）", "money", 14),
    Column("ytd_before", "截至上月年度累计（万元）", "money", 14),
    Column("investment", "本月完成投资（万元）", "money", 14, True),
    Column("progress_text", "形象进度", "text", 40, True),
    Column("workers_on_site", "在岗工人数", "count", 10, True),
    Column("output_value", "本月产值（万元）", "money", 13, True),
    Column("tax", "本月税收（万元）", "money", 13, True),
    Column("problems_text", "存在问题及建议", "text", 30, True),
    Column("explanation", "情况说明（有异常提示时必填）", "text", 30, True),
    Column("status", "月报状态", "text", 12),
    Column("note", "提示", "text", 32),
]
COL = {c.key: i for i, c in enumerate(COLUMNS)}
LETTER = {c.key: get_column_letter(i + 1) for i, c in enumerate(COLUMNS)}
INPUTS = [c.key for c in COLUMNS if c.editable]
TEXT_INPUTS = {"progress_text": MAX_TEXT, "problems_text": MAX_TEXT, "explanation": MAX_EXPLANATION}
MONEY_INPUTS = ("investment", "output_value", "tax")
LABELS = {"investment": "本月完成投资", "output_value": "本月产值", "tax": "本月税收", "workers_on_site": "在岗工人数",
          "progress_text": "形象进度", "problems_text": "存在问题及建议", "explanation": "情况说明"}  # fmt: skip
# Domain error keys -> the column where the message goes.
FIELD_COLUMN = {"investment": "investment", "ytd_investment": "investment", "explanation": "explanation",
                "month": "investment", "workers_on_site": "workers_on_site", "output_value": "output_value",
                "tax": "tax", "progress_text": "progress_text", "problems_text": "problems_text"}  # fmt: skip


# --- errors ------------------------------------------------------------------------------------------------


@dataclass
class CellError:
    """One problem in the uploaded file: where (sheet, row, column letter) and what, in Chinese."""

    message: str
    sheet: str | None = DATA_SHEET
    row: int | None = None
    column: str | None = None
    header: str = ""

    @property
    def cell(self) -> str | None:
        return f"{self.column}{self.row}" if self.column and self.row else None

    def as_dict(self) -> dict[str, Any]:
        return {"sheet": self.sheet, "row": self.row, "column": self.column, "cell": self.cell,
                "header": self.header, "message": self.message}  # fmt: skip

    def location(self) -> str:
        parts = [self.sheet or "文件"]
        if self.row:
            parts.append(f"第{self.row}行")
        if self.column:
            parts.append(f"{self.column}列" + (f"（{self.header}）" if self.header else ""))
        return " ".join(parts)


class ImportRefused(Exception):
    """The upload was refused: nothing was saved. `errors` lists where and why.

    `markable` is true when the file is a readable template, so that `marked_workbook()` can return it
    with the bad cells marked; false for a file refused as a whole (not xlsx, a bomb, a macro…).
    """

    def __init__(self, errors: list[CellError], *, markable: bool = False):
        self.errors = errors
        self.markable = markable
        super().__init__("; ".join(e.message for e in errors[:5]))


def _refuse(message: str) -> ImportRefused:
    return ImportRefused([CellError(message, sheet=None)])


def _cell_error(row: int, key: str, message: str) -> CellError:
    return CellError(message, row=row, column=LETTER[key], header=COLUMNS[COL[key]].header)


# --- who files for which projects -----------------------------------------------------------------------


def fileable_projects(user: User) -> QuerySet[Project]:
    """The projects the user may file monthly reports for (as `access.filing_refusal` decides)."""
    projects = visible_projects(user)
    if not user.is_authenticated or not user.is_active:
        return projects.none()
    if access.is_dispatcher(user):
        return projects
    allowed = Q(pk__in=[])
    if user.has_role(Role.ENTERPRISE) and user.unit_id:
        allowed |= Q(owner_unit_id=user.unit_id)
    if user.has_role(Role.UNIT_OFFICER) and user.unit_id:
        allowed |= Q(responsible_unit_id__in=scope_unit_ids(user))
    return projects.filter(allowed)


def may_file(user: User) -> bool:
    return user.is_authenticated and (
        access.is_dispatcher(user) or (bool(user.unit_id) and user.has_role(Role.ENTERPRISE, Role.UNIT_OFFICER))
    )


FILING_REFUSAL = "只有项目企业、责任单位或项目服务中心可以填报月报。"
