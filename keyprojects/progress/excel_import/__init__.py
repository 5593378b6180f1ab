"""Monthly reports in from Excel: the pre-filled template per unit and month, and its upload.

**Template.** One sheet "月报" with a row per project the user may file for (the company's own projects
for a 企业填报员, the responsible unit's for a 责任单位经办人, every visible one for a 调度员) that owes a
report for the month (it has an annual plan, see `rates.expected_reporters`) or already has one.
Project id, code, name and the reference figures are in locked cells (sheet protection without a
password; the input cells are unlocked); a very hidden sheet "_meta" holds the template kind, its
version and the (year, month, unit) it was made for. Reports already submitted are shown and locked.

**Upload.** The file is screened before openpyxl parses anything (`screen()`): size; zip magic bytes;
`[Content_Types].xml` and `xl/workbook.xml` present with the xlsx main content type; no macros
(`vbaProject.bin`, macro-enabled content types), external links, embedded objects or nested archives;
entry count, total uncompressed size and per-entry compression ratio within limits (a zip bomb is
refused from its directory, before decompressing anything); every XML part scanned for `<!DOCTYPE` and
`<!ENTITY` (entity bombs, XXE) and for UTF-16/32 encodings that would hide them. openpyxl then parses
with defusedxml (`openpyxl.DEFUSEDXML` must be true) in read-only mode with `data_only=False`, so a
formula is seen as a formula: any cell holding one is refused.

Every row and cell is then checked, and either everything is saved or nothing: template kind and
version, the month (not invalid, not in the future, not locked), each project inside the uploader's
filing scope and matching its locked name, amounts (numbers ≥ 0 with at most two decimals, never
text), counts, text lengths, duplicate rows, and for each report the domain's rules: the month before
the project's baseline, a report already submitted (changed figures are refused: it must be returned
first), a company's own draft touched by someone else, the hard plausibility rules, and the soft ones
(they need the 情况说明 column). Errors come back as a list of (sheet, row, column, message) in Chinese;
`marked_workbook()` gives back the uploaded workbook with the bad cells filled red and commented.

**What an upload does.** Each filled row becomes a submitted report, like `domain.create_report` (or
`update_report` for a draft or a returned report) followed by `domain.submit`: same rules (`rules`),
same derived totals, late flag, submission hash, warnings and explanation, and one audit record per
report (plus the override record for explained warnings, as `submit` writes) and one summary record
for the file, under the "import" channel. For speed it does this in bulk (a 10,000-row file must load
in seconds) rather than calling those functions row by row; tests compare the two paths. Rows with an
empty 本月完成投资 and no other input are left alone (not reported by this file); rows of reports
already submitted and unchanged are skipped.

The code lives in submodules, re-exported here: `common` (the template's layout, the error types, who
files), `template` (the download), `reading` (limits, screening, parsing), `importing`
(`import_reports`: the checks and the bulk writes) and `error_workbook` (`marked_workbook()`). A test
that patches a limit or `_scan_xml` must patch `keyprojects.progress.excel_import.reading`.
"""

# This module only re-exports the names of its submodules.
# ruff: noqa: F401

from __future__ import annotations

from keyprojects.progress.excel_import.common import (
    COL,
    COLUMNS,
    DATA_SHEET,
    ERRORS_SHEET,
    FIELD_COLUMN,
    FILING_REFUSAL,
    FIRST_ROW,
    HEADER_ROW,
    INPUTS,
    LABELS,
    LETTER,
    MAX_EXPLANATION,
    MAX_TEXT,
    META_SHEET,
    MONEY_INPUTS,
    NOTE_ROW,
    TEMPLATE_KIND,
    TEMPLATE_VERSION,
    TEXT_INPUTS,
    TITLE_ROW,
    CellError,
    Column,
    ImportRefused,
    fileable_projects,
    may_file,
)
from keyprojects.progress.excel_import.error_workbook import marked_workbook
from keyprojects.progress.excel_import.importing import ImportResult, import_reports, submission_hash
from keyprojects.progress.excel_import.reading import (
    DANGEROUS_XML,
    MAX_ENTRIES,
    MAX_RATIO,
    MAX_ROWS,
    MAX_UNCOMPRESSED,
    MAX_UPLOAD_BYTES,
    MAX_XML_PART,
    NESTED_ARCHIVES,
    OLE_MAGIC,
    RATIO_FLOOR,
    XLSX_MAIN,
    XML_SUFFIXES,
    Row,
    open_workbook,
    read_meta,
    read_rows,
    read_upload,
    screen,
)
from keyprojects.progress.excel_import.template import (
    SAFE_NAME,
    build_template,
    template_filename,
    template_projects,
    template_refusal,
)
