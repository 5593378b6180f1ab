"""统一社会信用代码 (GB 32100-2015) validation.

18 characters: registration department, organisation category, 6-digit region, the 9-character
organisation code (GB 11714, with its own check character) and a final check character.
"""

from __future__ import annotations

import re

# Digits and upper-case letters without I, O, Z, S, V; valued 0..30 in this order.
CREDIT_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_WEIGHTS = [pow(3, i, 31) for i in range(17)]
ORG_WEIGHTS = [3, 7, 9, 10, 5, 8, 4, 2]
CREDIT_CODE_SHAPE = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$")


def credit_check_char(first17: str) -> str:
    total = sum(CREDIT_ALPHABET.index(c) * w for c, w in zip(first17, CREDIT_WEIGHTS, strict=True))
    return CREDIT_ALPHABET[(31 - total % 31) % 31]


def org_code_check_char(first8: str) -> str:
    """Check character of a GB 11714 organisation code (values 0-9, A-Z = 10..35)."""
    total = sum(int(c, 36) * w for c, w in zip(first8, ORG_WEIGHTS, strict=True))
    value = 11 - total % 11
    return {10: "X", 11: "0"}.get(value, str(value))


def credit_code_problem(code: str) -> str | None:
    """Return a Chinese message saying what is wrong with the code, or None when it is valid."""
    if len(code) != 18:
        return f"统一社会信用代码应为18位，当前为{len(code)}位。"
    if not CREDIT_CODE_SHAPE.match(code):
        return "统一社会信用代码只能包含数字和大写字母（不含 I、O、Z、S、V），第3-8位应为行政区划代码。"
    if org_code_check_char(code[8:16]) != code[16]:
        return "统一社会信用代码中的组织机构代码（第9-17位）校验位不正确。"
    if credit_check_char(code[:17]) != code[17]:
        return "统一社会信用代码校验位（第18位）不正确，请核对。"
    return None


def is_valid_credit_code(code: str) -> bool:
    return credit_code_problem(code) is None


def make_credit_code(prefix: str, region: str, org_body: str) -> str:
    """Build a valid code from a 2-char prefix, a 6-digit region and an 8-character org body."""
    org = org_body + org_code_check_char(org_body)
    first17 = prefix + region + org
    return first17 + credit_check_char(first17)
