"""The cockpit and the map over the API: `GET /dashboard` and `GET /projects/geo`.

Same scope as the pages (`visible_projects` / `visible_problems`): 三员 accounts, who see no business
data, get 403. The figures are the cockpit's (`dashboard.figures`, cached, one definition of each
number); the points are the project list's projects (same filters) that have coordinates.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.core.exceptions import PermissionDenied
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema

from keyprojects.api.errors import ApiValidationError
from keyprojects.api.schemas import Message, ProjectFilterQuery, ValidationErrors
from keyprojects.dashboard import data as cockpit_data
from keyprojects.dashboard import geo
from keyprojects.dashboard.views import cockpit_for
from keyprojects.progress.forms import last_month
from keyprojects.projects import access
from keyprojects.projects.filters import ProjectFilter

router = Router(tags=["驾驶舱"])


class DashboardQuery(Schema):
    year: int | None = Field(None, ge=2000, le=2100, description="年度（默认：上个月所在年度）")
    month: int | None = Field(None, ge=1, le=12, description="月份 1–12（默认：上个月）")


class GeoQuery(ProjectFilterQuery):
    """The project list's filters (validated by the same form as the list page)."""


def _business_user(request):
    user = request.auth
    if not access.can_see_projects(user):
        raise PermissionDenied(_("您的账号没有查看项目的权限。"))
    return user


@router.get(
    "/dashboard",
    response={200: dict[str, Any], 401: Message, 403: Message, 422: ValidationErrors},
    summary="驾驶舱数据",
    operation_id="dashboard",
)
def dashboard(request, params: Query[DashboardQuery]):
    """驾驶舱的全部数据（本人数据范围内）：项目数与总投资（按规模档次）、年度投资完成率与时序进度、
    开工率/竣工率/投产率、问题在办/逾期/按期办结、月报逾期未报、按月累计完成投资（本年、上年、按时序进度应完成）、
    按行业/乡镇街道/级别/融资模式/阶段/状态的分布、推进漏斗、“三个一批”各期、责任单位排名、逾期问题。
    每个数字带 `link`：打开对应的项目或问题清单（清单暂不能筛选的为 null）。金额为万元字符串，比率为百分数字符串。

    `ranking` 为驾驶舱显示的单位排名：本人可查看的、所选月份（或之前）最近一期已印发月点评的排名，
    名次、单位与各项指标值均取自该文件的数据快照（`source` 为 `review`；`bulletin` 含文件 id、标题、文号、
    印发时间及页面链接；`indicators` 为排名指标；`tables` 为乡镇街道、区直部门两张表，每行 `unit_id`、`name`、
    `rank`、`values`（指标代码 → 百分数字符串）、`ranks`（单项名次））；尚无已印发的月点评或本人无权查看通报文件时，
    按年度投资完成率对责任单位排序（`source` 为 `completion`，`bulletin` 为 null）。
    `unit_ranking` 始终为按完成情况表计算的责任单位排名。"""
    user = _business_user(request)
    today = timezone.localdate()
    default_year, default_month = last_month(today)
    year = params.year or default_year
    month = params.month or (default_month if year == default_year else 12)
    if datetime.date(year, month, 1) > today:
        raise ApiValidationError.from_fields(
            "query", {"month": [_("%(y)s年%(m)s月尚未到来。") % {"y": year, "m": month}]}
        )
    return cockpit_data.cockpit_data(cockpit_for(user, year, month, today))


@router.get(
    "/projects/geo",
    response={200: dict[str, Any], 401: Message, 403: Message, 422: ValidationErrors},
    summary="项目点位（GeoJSON）",
    operation_id="projects_geo",
)
def projects_geo(request, params: Query[GeoQuery]):
    """本人可见、填写了经纬度的项目，GeoJSON FeatureCollection（Point，[经度, 纬度]）；筛选条件与项目库相同
    （无效的筛选值返回 422）。`count` 为点数；properties 含 id、name、stage、status、level、
    total_investment（万元）、town_id 及阶段、状态的标签。"""
    user = _business_user(request)
    form = ProjectFilter(request.GET)
    if not form.is_valid():
        raise ApiValidationError.from_fields("query", {field: list(errs) for field, errs in form.errors.items()})
    return geo.project_points(form.filter(access.visible_projects(user)))
