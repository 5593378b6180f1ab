"""Server-rendered pages of monthly reports (月报), annual plans, month locks and completion rates.

Every report is fetched through `keyprojects.progress.access` (outside the scope: 404) and every change
goes through `keyprojects.progress.domain`, which checks the role (403), validates (shown at the form
fields, 400) and writes the audit trail. A workflow step out of order or a stale version is 409, with
the message at the top of the form; nothing is saved.

Reviewers (责任单位, 服务中心) get return / review / confirm buttons and never a form with the figures:
the company's figures change only through the company's own form, or, after the month is closed,
through an explicit restatement (更正) that every view shows.

The views live in submodules and are re-exported here for `urls.py`: `common` (the `report_page` rule
and what the pages share), `month_list` (/reports/ and the overdue list), `project_year` (a project's
year and its annual plan), `report` (filing, photos, the detail page and its workflow actions),
`locks` (restatements and /reports/locks/) and `rate_table` (/rates/).
"""

# This module only re-exports the names of its submodules.
# ruff: noqa: F401

from __future__ import annotations

from keyprojects.progress.views.common import (
    FIGURE_LABELS,
    MONEY,
    PER_PAGE,
    STATE_CODES,
    STATUS_BADGES,
    ZERO,
    _filters_invalid,  # forecast_views.py imports it
    report_page,
    restated_fields,
    restatement_lines,
)
from keyprojects.progress.views.locks import month_locks, report_restate
from keyprojects.progress.views.month_list import ReportRow, report_list, report_overdue
from keyprojects.progress.views.project_year import annual_plan_save, project_reports
from keyprojects.progress.views.rate_table import GROUP_FILTER, PROJECT_FILTER_FIELDS, RateView, rates_page
from keyprojects.progress.views.report import (
    ACTION_FORMS,
    ACTION_MESSAGES,
    photo_add,
    photo_delete,
    photo_file,
    report_action,
    report_create,
    report_detail,
    report_edit,
)
