"""Request and response shapes of the JSON API.

Money and coordinates travel as decimal strings ("150000.00", 万元 with 2 decimals); input also
accepts JSON numbers, which are parsed as exact decimals (never floats). Foreign keys are ids
(``industry_id``). Choice fields take the stored value (``"planning"``) and answer it together with
a ``*_label`` in the request's language (Chinese by default).
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Annotated, Any

from django.utils.translation import gettext as _
from ninja import Schema
from pydantic import BeforeValidator, ConfigDict, Field, StrictInt, create_model

from keyprojects.projects.filters import SORTS
from keyprojects.projects.models import Batch, Level, ProjectType, Stage, Status

MAX_ID = 2**63 - 1


def _no_nul(value: Any) -> Any:
    if isinstance(value, str) and "\x00" in value:
        raise ValueError(_("不能包含空字符（\\x00）。"))
    return value


def _date_text(value: Any) -> Any:
    if value is None or isinstance(value, (str, datetime.date)):
        return value
    raise ValueError(_("请输入日期，格式为 YYYY-MM-DD。"))


def _decimal_input(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError(_('请输入数字（建议用字符串，如 "150000.00"）。'))
    return value


Text = Annotated[str, BeforeValidator(_no_nul)]
Id = Annotated[StrictInt, Field(ge=1, le=MAX_ID)]
Day = Annotated[datetime.date, BeforeValidator(_date_text)]
Money = Annotated[Decimal, BeforeValidator(_decimal_input)]


def Choice(choices) -> Any:  # noqa: N802 (reads as a type)
    """A stored choice value, one of `choices` (a TextChoices class)."""
    allowed = list(choices.values)

    def check(value: Any) -> Any:
        if isinstance(value, str) and value not in allowed:
            raise ValueError(_("无效的选项，可选值为：%(values)s。") % {"values": "、".join(allowed)})
        return value

    return Annotated[str, BeforeValidator(check), Field(json_schema_extra={"enum": allowed})]


# ---------------------------------------------------------------------------------------------
# Errors (see keyprojects.api.errors for the handlers)


class Message(Schema):
    detail: str = Field(description="中文说明。")


class ErrorItem(Schema):
    loc: list[str | int] = Field(description='出错位置：["body"|"query"|"path", 字段名]；仅 ["body"] 表示整个请求体。')
    msg: str = Field(description="中文错误信息。")
    type: str = Field(description="错误类别（机器可读）。")


class ValidationErrors(Schema):
    detail: list[ErrorItem]


# ---------------------------------------------------------------------------------------------
# Tokens


class TokenIn(Schema):
    model_config = ConfigDict(extra="forbid")

    username: Annotated[Text, Field(max_length=150)]
    password: Annotated[str, Field(max_length=4096)]
    name: Annotated[Text, Field(max_length=60, description="令牌用途，如“年报接口”。")] = ""
    otp_code: Annotated[
        str | None,
        Field(pattern=r"^[0-9]{6}$", description="三员账号（系统、安全、审计管理员）必填：认证器上的6位动态码。"),
    ] = None


class TokenOut(Schema):
    token: str = Field(description="令牌原文，只在签发时返回一次；请求时放在 Authorization: Bearer <token>。")
    token_type: str = "Bearer"
    expires_at: datetime.datetime


# ---------------------------------------------------------------------------------------------
# Projects: output


class ProjectOut(Schema):
    id: int
    code: str | None
    name: str
    owner_name: str
    owner_credit_code: str
    total_investment: str = Field(description='总投资（万元），两位小数的字符串，如 "150000.00"。')
    industry_id: int
    industry: str
    level: str
    level_label: str
    size_band: str = Field(description="规模档次，如“≥10亿”。")
    stage: str
    stage_label: str
    status: str
    status_label: str
    town_id: int | None
    town: str | None
    responsible_unit_id: int
    responsible_unit: str
    planned_start: datetime.date | None
    planned_end: datetime.date | None
    actual_start: datetime.date | None
    actual_end: datetime.date | None
    latitude: str | None
    longitude: str | None
    version: int = Field(description="版本号；修改时回传可防止覆盖他人的修改（409）。")


class ProjectDetail(ProjectOut):
    project_type: str
    project_type_label: str
    owner_credit_override: str
    owner_unit_id: int | None
    construction_content: str
    responsible_leader_id: int | None
    responsible_leader: str | None
    service_officer_id: int | None
    service_officer: str | None
    financing_model_id: int | None
    financing_model: str | None
    stage_changed_on: datetime.date | None
    created_at: datetime.datetime
    updated_at: datetime.datetime


class ProjectPage(Schema):
    count: int = Field(description="符合条件的项目总数。")
    items: list[ProjectOut]


class ProjectFilterQuery(Schema):
    """The project list's filters, validated by the same form as the list page (`ProjectFilter`); shared by
    the list, the map's GeoJSON and the Excel exports."""

    q: str | None = Field(None, description="在名称、项目代码、项目单位中搜索（至多100字）。")
    stage: str | None = Field(None, description="阶段", json_schema_extra={"enum": ["", *Stage.values]})
    reached: str | None = Field(
        None,
        description="阶段及以后：处于该阶段或其后任一阶段（如 started 为开工及以后）",
        json_schema_extra={"enum": ["", *Stage.values]},
    )
    status: str | None = Field(None, description="推进状态", json_schema_extra={"enum": ["", *Status.values]})
    level: str | None = Field(None, description="项目级别", json_schema_extra={"enum": ["", *Level.values]})
    size_band: str | None = Field(None, description="规模档次 id：总投资达到该档次下限")
    industry: str | None = Field(None, description="行业 id")
    financing_model: str | None = Field(None, description="融资模式 id")
    town: str | None = Field(None, description="乡镇街道（单位）id")
    responsible_unit: str | None = Field(None, description="责任单位 id")
    phase: str | None = Field(None, description="三个一批期次 id")
    batch: str | None = Field(None, description="三个一批批次", json_schema_extra={"enum": ["", *Batch.values]})


class ProjectListQuery(ProjectFilterQuery):
    """The list filters and the page window."""

    sort: str | None = Field(None, description="排序", json_schema_extra={"enum": ["", *SORTS]})
    limit: int = Field(25, ge=1, le=100, description="每页条数，默认25，最多100。")
    offset: int = Field(0, ge=0, le=1_000_000_000, description="跳过的条数。")


# ---------------------------------------------------------------------------------------------
# Projects: input. One table of fields; create requires some, PATCH makes all optional.

# name -> (type, default on create (... = required), description)
PROJECT_FIELDS: dict[str, tuple[Any, Any, str]] = {
    "code": (Text | None, None, "项目代码（投资项目代码，24位 YYMM-RRRRRR-DD-TT-NNNNNC），未赋码时留空"),
    "name": (Text, ..., "项目名称"),
    "owner_name": (Text, ..., "项目单位名称"),
    "owner_credit_code": (Text, "", "项目单位统一社会信用代码（18位）"),
    "owner_credit_override": (Text, "", "信用代码校验未通过时的保存理由；填写后可保存校验未通过的代码"),
    "owner_unit_id": (Id | None, None, "企业账号单位 id（企业类单位）"),
    "industry_id": (Id, ..., "行业 id"),
    "project_type": (Choice(ProjectType), ..., "立项方式"),
    "level": (Choice(Level), Level.DISTRICT.value, "项目级别"),
    "total_investment": (Money, ..., '总投资（万元，最多两位小数），如 "150000.00"'),
    "construction_content": (Text, "", "建设内容"),
    "town_id": (Id | None, None, "所在乡镇街道 id"),
    "latitude": (Money | None, None, "纬度（与经度同时填写）"),
    "longitude": (Money | None, None, "经度（与纬度同时填写）"),
    "responsible_leader_id": (Id | None, None, "分包领导（用户）id"),
    "responsible_unit_id": (Id, ..., "责任单位 id（须为本人有权指定的单位）"),
    "service_officer_id": (Id | None, None, "首席服务员（用户）id"),
    "financing_model_id": (Id | None, None, "融资模式 id"),
    "planned_start": (Day | None, None, "计划开工日期 YYYY-MM-DD"),
    "planned_end": (Day | None, None, "计划竣工日期 YYYY-MM-DD"),
    "actual_start": (Day | None, None, "实际开工日期 YYYY-MM-DD"),
    "actual_end": (Day | None, None, "实际竣工日期 YYYY-MM-DD"),
    "status": (Choice(Status), Status.NORMAL.value, "推进状态"),
}


class _InputBase(Schema):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


ProjectCreate = create_model(
    "ProjectCreate",
    __base__=_InputBase,
    __doc__="新建项目。未知字段被拒绝（422）。",
    **{name: (tp, Field(default, description=desc)) for name, (tp, default, desc) in PROJECT_FIELDS.items()},
    stage=(Choice(Stage), Field(Stage.PLANNING.value, description="建档时所处阶段；“开工”及以后须有实际开工日期")),
    stage_on=(Day | None, Field(None, description="进入该阶段的日期，默认今天")),
)

ProjectPatch = create_model(
    "ProjectPatch",
    __base__=_InputBase,
    __doc__="修改项目：只传要改的字段。阶段不在此修改。",
    **{name: (tp, Field(None, description=desc)) for name, (tp, _default, desc) in PROJECT_FIELDS.items()},
    version=(Id | None, Field(None, description="读取时的版本号；项目已被他人修改时返回 409")),
)
