"""Credit codes (GB 32100) and project codes (GB/T 40058)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keyprojects.lib.credit_code import (
    CREDIT_ALPHABET,
    credit_check_char,
    credit_code_problem,
    is_valid_credit_code,
    make_credit_code,
    org_code_check_char,
)
from keyprojects.lib.project_code import project_code_problem

KNOWN_VALID = [
    "91350200776049653A",
    "91350500798359476R",
    "91440101MA5CJQ4N59",
    "9135021359498494XQ",
    "91350213678251743X",
    "12320200466372674G",
    "12320000466011756J",
    "914403001922038216",
    "91330100716105852F",
    "9144030071526726XG",
]


@pytest.mark.parametrize("code", KNOWN_VALID)
def test_it_accepts_known_valid_codes(code):
    assert credit_code_problem(code) is None


@pytest.mark.parametrize(
    ("code", "fragment"),
    [
        ("91350203M0001QAY9B", "第18位"),  # whitelisted in one public validator, but its check fails
        ("91350200776049653B", "第18位"),
        ("9135020077604965", "18位"),
        ("91350200776049653AA", "18位"),
        ("91350200776O49653A", "大写字母"),  # letter O is not in the alphabet
        ("91350200776049653a", "大写字母"),
        ("91ABCDEF776049653A", "行政区划"),
        ("91350200776049643A", "组织机构代码"),
    ],
)
def test_it_explains_invalid_codes(code, fragment):
    problem = credit_code_problem(code)
    assert problem is not None and fragment in problem


def test_worked_example_matches_the_reference():
    assert credit_check_char("91350200776049653") == "A"
    assert org_code_check_char("77604965") == "3"


org_bodies = st.text(alphabet="0123456789ABCDEFGHJKLMNPQRTUWXY", min_size=8, max_size=8)
regions = st.from_regex(r"\A[1-6][0-9]{5}\Z")
prefixes = st.sampled_from(["91", "92", "93", "11", "12", "51", "52", "Y1"])


@given(prefixes, regions, org_bodies)
def test_built_codes_are_valid(prefix, region, body):
    assert is_valid_credit_code(make_credit_code(prefix, region, body))


@given(prefixes, regions, org_bodies, st.integers(min_value=0, max_value=17), st.data())
def test_any_single_character_change_is_caught(prefix, region, body, position, data):
    code = make_credit_code(prefix, region, body)
    replacement = data.draw(st.sampled_from([c for c in CREDIT_ALPHABET if c != code[position]]))
    changed = code[:position] + replacement + code[position + 1 :]
    # The mod-31 check catches every single substitution within the alphabet.
    assert not is_valid_credit_code(changed)


@given(st.text(max_size=30))
def test_it_never_crashes_on_arbitrary_text(text):
    problem = credit_code_problem(text)
    assert problem is None or isinstance(problem, str)
    assert project_code_problem(text) is None or isinstance(project_code_problem(text), str)


@pytest.mark.parametrize("code", ["2111-522323-04-01-342068", "2511-410702-04-01-12345A", "2001-110101-99-05-000000"])
def test_it_accepts_project_codes(code):
    assert project_code_problem(code) is None


@pytest.mark.parametrize(
    ("code", "fragment"),
    [
        ("2111-522323-04-01-34206", "24位"),
        ("2111/522323/04/01/342068", "格式"),
        ("2113-522323-04-01-342068", "月份"),
        ("2111-992323-04-01-342068", "行政区划"),
        ("2111-522323-04-01-34206a", "格式"),
    ],
)
def test_it_explains_bad_project_codes(code, fragment):
    assert fragment in project_code_problem(code)


def test_it_refuses_non_ascii_digits():
    # Arabic-Indic and full-width digits match \d in Python regexes; they are not valid here.
    assert credit_code_problem("9135020077604965٣A") is not None
    assert credit_code_problem("91３50200776049653A") is not None
    assert project_code_problem("2111-52232٣-04-01-342068") is not None
