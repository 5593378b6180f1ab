"""The JSON API under /api/v1/ (django-ninja).

Every operation needs `Authorization: Bearer <token>` (see `POST /api/v1/auth/token`), except
issuing a token and this OpenAPI document (/api/v1/openapi.json). The error shape is documented
in `keyprojects.api.errors` and repeated in the API description below.
"""

from __future__ import annotations

import json
from decimal import Decimal

from ninja import NinjaAPI
from ninja.parser import Parser
from ninja.renderers import JSONRenderer

from keyprojects.api import errors
from keyprojects.api.auth import TokenAuth
from keyprojects.api.auth import router as auth_router
from keyprojects.api.projects import router as projects_router

DESCRIPTION = """
重大项目全生命周期监管平台的数据接口。

**认证**：先用 `POST /api/v1/auth/token`（用户名、密码）换取令牌，之后每个请求带
`Authorization: Bearer <token>`。令牌默认30天有效，可用 `DELETE /api/v1/auth/token` 吊销。
缺少令牌、令牌无效、过期、已吊销或账号停用时返回 401。

**数据范围**：与页面相同。数据范围以外的对象返回 404；可见但无权修改返回 403。

**金额**：万元，以字符串传递的两位小数（如 `"150000.00"`）；也接受 JSON 数字（按精确小数解析）。

**错误格式**（全部接口一致）：
- 422 输入无效：`{"detail": [{"loc": ["body", "total_investment"], "msg": "总投资必须大于0。", "type": "invalid"}]}`，
  每条信息一项；`loc` 第一项为来源（`body`/`query`/`path`），最后一项为本接口的字段名，仅 `["body"]` 表示整个请求体。
- 400（请求体不是 JSON）、401、403、404、409（版本冲突等）、429：`{"detail": "中文说明"}`。
"""


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a number")


class DecimalJSONParser(Parser):
    """JSON bodies with numbers parsed as exact decimals (money is never a float); NaN/Infinity refused."""

    def parse_body(self, request):
        return json.loads(request.body, parse_float=Decimal, parse_constant=_reject_constant)


class ReadableJSONRenderer(JSONRenderer):
    """UTF-8 JSON with Chinese written as itself, not as \\u escapes."""

    json_dumps_params = {"ensure_ascii": False}


api = NinjaAPI(
    title="keyprojects API",
    version="1",
    description=DESCRIPTION,
    urls_namespace="api",
    auth=TokenAuth(),
    parser=DecimalJSONParser(),
    renderer=ReadableJSONRenderer(),
    # The interactive docs page would load Swagger UI from a CDN (ninja is not an installed app);
    # the platform runs offline, so only the OpenAPI document is served.
    docs_url=None,
)
errors.install(api)
api.add_router("", auth_router)
api.add_router("", "keyprojects.api.progress_excel.router")  # before projects: /projects/export.xlsx
api.add_router("", "keyprojects.api.dashboard.router")  # before projects: /projects/geo
api.add_router("", projects_router)
api.add_router("", "keyprojects.api.visits.router")
api.add_router("", "keyprojects.api.problems.router")
api.add_router("", "keyprojects.api.calendar.router")
api.add_router("", "keyprojects.api.notifications.router")
api.add_router("", "keyprojects.api.progress.router")
api.add_router("", "keyprojects.api.funding.router")
api.add_router("", "keyprojects.api.evaluation.router")
api.add_router("", "keyprojects.api.bulletins.router")
