"""National investment project code (投资项目代码, GB/T 40058-2021).

24 characters `YYMM-RRRRRR-DD-TT-NNNNNC`: time code, GB/T 2260 region, department, type, a
five-digit random code and a check character. The check algorithm of the standard is not
public to us, so the last character is only required to be a digit or an upper-case letter.
"""

from __future__ import annotations

import re

PROJECT_CODE_RE = re.compile(r"^([0-9]{2})([0-9]{2})-([0-9]{6})-([0-9]{2})-([0-9]{2})-([0-9]{5})([0-9A-Z])$", re.ASCII)


def project_code_problem(code: str) -> str | None:
    """Return a Chinese message saying what is wrong with the project code, or None."""
    if len(code) != 24:
        return f"项目代码应为24位（格式 YYMM-RRRRRR-DD-TT-NNNNNC），当前为{len(code)}位。"
    match = PROJECT_CODE_RE.match(code)
    if not match:
        return "项目代码格式应为 YYMM-RRRRRR-DD-TT-NNNNNC（数字，最后一位可为大写字母）。"
    month = int(match.group(2))
    if not 1 <= month <= 12:
        return "项目代码前4位应为赋码年月（YYMM），月份不正确。"
    region = match.group(3)
    if region[:2] not in PROVINCE_PREFIXES:
        return "项目代码第6-11位应为有效的行政区划代码。"
    return None


# GB/T 2260 province-level prefixes.
PROVINCE_PREFIXES = {
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37",
    "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64",
    "65", "71", "81", "82",
}  # fmt: skip
