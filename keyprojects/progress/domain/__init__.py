"""Domain functions of monthly reports, annual plans, month locks and restatements.

Every change goes through here: each function checks that the actor sees the project (`Http404`
outside the scope) and may act (`PermissionDenied`), validates with the rules of `rules.py`
(`ValidationError` with Chinese messages, keyed by field where there is one), changes the rows in one
transaction and writes the audit trail. On refusal nothing is saved. Stale `expected_version` →
`ConflictError`.

`now` exists for tests, imports and seed data: it fixes the moment of the action and "today" (its
local date), used for "a month in the future" and for late filing.

Report workflow: `create_report` / `update_report` (draft or returned) → `submit` (hard rules block,
soft rules need an explanation) → `return_report` (with a reason) or `review` → `confirm`. Then
`lock_month` closes the month and every earlier one; a closed report changes only by `restate`.

Derived totals: `ytd_investment` and `since_start_investment` are stored on every counted report
(`models.COUNTED_STATUSES`) and recomputed for the project's later months whenever the counted set
changes (submit, return, restate, baseline); `recompute_totals` does it for bulk loaders.
Since-start = the project's `InvestmentBaseline` (what it completed before its first month in the
system; zero when none) + every counted month up to this one. Year-to-date = the counted months of
the year up to this one (+ the baseline's part of that year, for the year the project joined).

The functions live in submodules and are re-exported here, so callers keep writing `domain.submit(...)`
and `from keyprojects.progress.domain import due_date`: `common` (limits, `ConflictError`, locking and
month helpers, `due_date`), `reports` (filing and review), `photos`, `locks` (month locks and
restatements), `totals` (derived totals and the baseline) and `plans` (annual plans and revisions).
A test that patches a function must patch it in the submodule that calls it.
"""

# This module only re-exports the names of its submodules.
# ruff: noqa: F401

from __future__ import annotations

from keyprojects.progress.domain.common import (
    AMOUNT_LABELS,
    MAX_REASON,
    MAX_TEXT,
    REPORT_INPUT_FIELDS,
    TEXT_FIELDS,
    TRACKED,
    ZERO,
    ConflictError,
    _context,  # tests check the Excel import against it
    due_date,
    is_locked,
    locked_through,
)
from keyprojects.progress.domain.locks import RESTATABLE, lock_month, restate
from keyprojects.progress.domain.photos import JPEG_MAGIC, PNG_MAGIC, add_photo, remove_photo
from keyprojects.progress.domain.plans import PLAN_FIELDS, PLAN_FLAGS, plan_in_force, save_annual_plan
from keyprojects.progress.domain.reports import (
    _submission_hash,  # tests check the Excel import against it
    check_report,
    confirm,
    create_report,
    delete_draft,
    return_report,
    review,
    submit,
    update_report,
)
from keyprojects.progress.domain.totals import recompute_totals, set_baseline
