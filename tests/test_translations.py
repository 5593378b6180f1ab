"""The English catalogue: complete, placeholder-safe, compiled, and used by the later modules' pages.

Chinese is the source language; `locale/en/LC_MESSAGES/django.po` holds the English for every marked
string and the committed `django.mo` is compiled from it. The page tests sign in as a dispatcher,
pick English with the language switch (the only way: `ChineseFirstMiddleware` ignores the browser's
Accept-Language) and check that the monthly reports, rates, problems and inbox pages speak English.
"""

from __future__ import annotations

import dataclasses
import gettext
import re
from collections import Counter
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation

from keyprojects.notify.delivery import notify
from keyprojects.problems import domain as problems
from keyprojects.problems.models import Category
from keyprojects.progress import domain as progress
from keyprojects.progress.forms import last_month

LOCALE = Path(settings.BASE_DIR) / "locale" / "en" / "LC_MESSAGES"
PO, MO = LOCALE / "django.po", LOCALE / "django.mo"
ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}
CONVERSIONS = set("diouxXeEfFgGcrsa")
# The menu entries of the later modules and of the inbox, Chinese → English.
MENU = {
    "项目库": "Project library",
    "月报": "Monthly reports",
    "投资完成": "Investment",
    "问题督办": "Problems",
    "现场办公": "Site visits",
    "首席服务员": "Service officer",
    "消息": "Messages",
}


# ---------------------------------------------------------------------------------------------
# Reading the catalogue (no polib: a PO file is simple enough to read line by line)


@dataclasses.dataclass
class Entry:
    line: int
    msgid: str = ""
    msgid_plural: str | None = None
    msgctxt: str | None = None
    msgstr: dict[int, str] = dataclasses.field(default_factory=dict)
    flags: set[str] = dataclasses.field(default_factory=set)
    obsolete: bool = False

    @property
    def header(self) -> bool:
        return self.msgid == "" and self.msgctxt is None

    def __str__(self) -> str:
        return f"django.po line {self.line}: {self.msgid!r}"


def unquote(text: str) -> str:
    text = text.strip()
    assert len(text) >= 2 and text[0] == text[-1] == '"', f"not a quoted string: {text}"
    out, chars = [], iter(text[1:-1])
    for char in chars:
        out.append(ESCAPES[next(chars)] if char == "\\" else char)
    return "".join(out)


def read_po(path: Path) -> list[Entry]:
    entries: list[Entry] = []
    entry: Entry | None = None
    target: tuple[str, int | None] | None = None  # the field that continuation lines extend
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line:
            entry, target = None, None
            continue
        if entry is None:
            entry = Entry(line=number)
            entries.append(entry)
        if line.startswith("#~"):  # an obsolete entry (its string left the code): gettext ignores it
            entry.obsolete = True
            continue
        if line.startswith("#,"):
            entry.flags.update(flag.strip() for flag in line[2:].split(",") if flag.strip())
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            assert target is not None, f"django.po line {number}: continuation without a keyword"
            name, index = target
            if index is None:
                setattr(entry, name, getattr(entry, name) + unquote(line))
            else:
                entry.msgstr[index] += unquote(line)
        else:
            keyword, _space, value = line.partition(" ")
            if keyword.startswith("msgstr["):
                index = int(keyword[len("msgstr[") : -1])
                entry.msgstr[index], target = unquote(value), ("msgstr", index)
            elif keyword == "msgstr":
                entry.msgstr[0], target = unquote(value), ("msgstr", 0)
            elif keyword in ("msgid", "msgid_plural", "msgctxt"):
                setattr(entry, keyword, unquote(value))
                target = (keyword, None)
            else:
                raise AssertionError(f"django.po line {number}: unexpected {keyword!r}")
    return [e for e in entries if not e.obsolete]


def placeholders(text: str) -> Counter:
    """The %-conversions of a python-format string: "%(name)s", "%s", "%%"; "%?" for a broken one."""
    found: Counter = Counter()
    i = 0
    while i < len(text):
        if text[i] != "%":
            i += 1
            continue
        j = i + 1
        if j < len(text) and text[j] == "%":
            found["%%"] += 1
            i = j + 1
            continue
        name = ""
        if j < len(text) and text[j] == "(":
            close = text.find(")", j)
            if close == -1:
                found["%?"] += 1
                break
            name, j = text[j : close + 1], close + 1
        while j < len(text) and text[j] in "#0- +.*0123456789":
            j += 1
        if j < len(text) and text[j] in CONVERSIONS:
            found[f"%{name}{text[j]}"] += 1
            i = j + 1
        else:
            found["%?"] += 1
            i = j
    return found


def braces(text: str) -> set[str]:
    """The {fields} of a python-brace-format string ("{{" and "}}" are literal braces)."""
    fields, i = set(), 0
    while i < len(text):
        if text.startswith(("{{", "}}"), i):
            i += 2
        elif text[i] == "{":
            close = text.find("}", i)
            fields.add(text[i : close + 1] if close != -1 else "{?")
            i = close + 1 if close != -1 else len(text)
        else:
            i += 1
    return fields


def chinese(text: str) -> bool:
    return any("\u4e00" <= char <= "\u9fff" for char in text)


def named(text: str) -> set[str]:
    return {p for p in placeholders(text) if p.startswith("%(")}


@pytest.fixture(scope="module")
def catalogue() -> list[Entry]:
    return read_po(PO)


# ---------------------------------------------------------------------------------------------
# The catalogue itself


def test_header_declares_english_utf8_and_plural_forms(catalogue):
    header = [e for e in catalogue if e.header]
    assert len(header) == 1
    text = header[0].msgstr[0]
    assert "Language: en\n" in text
    assert "charset=UTF-8" in text
    assert "Plural-Forms: nplurals=2; plural=(n != 1);" in text
    assert "fuzzy" not in header[0].flags


def test_every_entry_is_translated_and_none_is_fuzzy(catalogue):
    entries = [e for e in catalogue if not e.header]
    assert len(entries) > 1000  # the whole platform, not only the first modules
    fuzzy = [str(e) for e in entries if "fuzzy" in e.flags]
    assert not fuzzy, "fuzzy entries:\n" + "\n".join(fuzzy)
    empty = [str(e) for e in entries if not e.msgstr or any(not s for s in e.msgstr.values())]
    assert not empty, "untranslated entries:\n" + "\n".join(empty)
    plural_forms = [str(e) for e in entries if e.msgid_plural is not None and sorted(e.msgstr) != [0, 1]]
    assert not plural_forms, "plural entries need msgstr[0] and msgstr[1]:\n" + "\n".join(plural_forms)


def test_no_chinese_left_in_the_english(catalogue):
    left = [str(e) for e in catalogue if not e.header and any(chinese(s) for s in e.msgstr.values())]
    assert not left, "English entries with Chinese text:\n" + "\n".join(left)


def test_placeholders_match(catalogue):
    problems_found = []
    for e in catalogue:
        if e.header:
            continue
        if "python-format" in e.flags:
            source = placeholders(e.msgid) + (placeholders(e.msgid_plural) if e.msgid_plural else Counter())
            for index, text in e.msgstr.items():
                got = placeholders(text)
                if "%?" in got:
                    problems_found.append(f"{e}: broken %-conversion in msgstr[{index}]")
                if set(got) - set(source):
                    problems_found.append(f"{e}: msgstr[{index}] adds {sorted(set(got) - set(source))}")
                if got["%%"] != placeholders(e.msgid)["%%"]:
                    problems_found.append(f"{e}: msgstr[{index}] changes the number of %%")
            # Singular: every named value is used; plural: the plural form uses them all.
            last = e.msgstr[max(e.msgstr)]
            wanted = named(e.msgid_plural if e.msgid_plural is not None else e.msgid)
            if named(last) != wanted:
                problems_found.append(f"{e}: named placeholders {sorted(named(last))} ≠ {sorted(wanted)}")
        elif "python-brace-format" in e.flags:
            for index, text in e.msgstr.items():
                if braces(text) != braces(e.msgid_plural if e.msgid_plural is not None else e.msgid):
                    problems_found.append(f"{e}: msgstr[{index}] changes the {{fields}}")
        else:
            # Not formatted: a translation must not bring in %(name)s that nobody fills.
            for index, text in e.msgstr.items():
                if named(text) - named(e.msgid):
                    problems_found.append(f"{e}: msgstr[{index}] has placeholders but no python-format")
    assert not problems_found, "\n".join(problems_found)


def test_the_compiled_catalogue_matches_the_po(catalogue):
    """The committed django.mo is compiled from this django.po (compilemessages was run)."""
    with MO.open("rb") as fh:
        compiled = gettext.GNUTranslations(fh)
    stale = []
    for e in catalogue:
        if e.header:
            continue
        if e.msgid_plural is None:
            got = compiled.pgettext(e.msgctxt, e.msgid) if e.msgctxt else compiled.gettext(e.msgid)
            if got != e.msgstr[0]:
                stale.append(str(e))
        else:
            one = compiled.ngettext(e.msgid, e.msgid_plural, 1)
            many = compiled.ngettext(e.msgid, e.msgid_plural, 2)
            if (one, many) != (e.msgstr[0], e.msgstr[1]):
                stale.append(str(e))
    assert not stale, "django.mo is out of date (run compilemessages):\n" + "\n".join(stale[:20])


def test_the_reader_understands_po_syntax(tmp_path):
    sample = tmp_path / "sample.po"
    sample.write_text(
        'msgid ""\nmsgstr ""\n"Language: en\\n"\n\n'
        '#: a.py:1\n#, python-format\nmsgid "共 %(n)s 个"\nmsgid_plural "共 %(n)s 个"\n'
        'msgstr[0] "%(n)s item"\nmsgstr[1] ""\n"%(n)s items"\n\n'
        'msgid "说\\"明\\""\nmsgstr "Say \\"it\\"\\n"\n\n'
        '#, python-format\n#~ msgid "旧的 %(n)s"\n#~ msgstr "Old %(n)s"\n',
        encoding="utf-8",
    )
    header, plural, quoted = read_po(sample)
    assert header.header and header.msgstr[0] == "Language: en\n"
    assert plural.flags == {"python-format"} and plural.msgstr == {0: "%(n)s item", 1: "%(n)s items"}
    assert quoted.msgid == '说"明"' and quoted.msgstr[0] == 'Say "it"\n'
    assert placeholders("%(a)s %d 100%% %(b).2f") == Counter({"%(a)s": 1, "%d": 1, "%%": 1, "%(b)f": 1})
    assert placeholders("50% 完成")["%?"] == 1
    assert braces("逾期 {n} 天 {{x}}") == {"{n}"}


# ---------------------------------------------------------------------------------------------
# The pages of the later modules in English


@pytest.fixture(autouse=True)
def _back_to_chinese():
    """A request in English leaves English active in this thread; later tests expect Chinese."""
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture
def busy(world):
    """The test district with an annual plan, a submitted report, a raised problem and a message."""
    year, month = last_month()
    progress.save_annual_plan(world.project_a, by=world.dispatcher, year=year, data={"planned_investment": "12000"})
    report = progress.create_report(world.project_a, by=world.enterprise, year=year, month=month,
                                    data={"investment": "1000"})  # fmt: skip
    progress.submit(report, by=world.enterprise, explanation="按合同进度付款")
    world.problem = problems.raise_problem(by=world.enterprise, project=world.project_a,
                                           title="施工用电增容迟迟未批", category=Category.UTILITIES)  # fmt: skip
    notify([world.dispatcher], title="新问题待交办", body="联东U谷红旗科创园：施工用电增容迟迟未批")
    return world


def menu(body: str) -> str:
    """The main menu's entries (the part of the page that is never demo data)."""
    start = body.index('<ul class="navbar-nav me-auto">')
    depth, position = 0, start
    for tag in re.finditer(r"<ul\b|</ul>", body[start:]):
        depth += 1 if tag.group(0) == "<ul" else -1
        if depth == 0:
            position = start + tag.end()
            break
    return body[start:position]  # the whole menu, its dropdown lists included


def in_english(client, world):
    client.force_login(world.dispatcher)
    r = client.post(reverse("set_language"), {"language": "en", "next": reverse("problem-list")})
    assert r.status_code == 302 and client.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"
    return client


def test_chinese_first_until_the_switch_is_used(client, busy):
    client.force_login(busy.dispatcher)
    body = client.get(reverse("problem-list"), HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").content.decode()
    assert 'lang="zh-CN"' in body
    assert all(f">{label}" in menu(body) for label in MENU)
    body = in_english(client, busy).get(reverse("problem-list")).content.decode()
    assert '<html lang="en">' in body
    nav = menu(body)
    assert all(f">{label}" in nav for label in MENU.values())
    assert not any(f">{label}" in nav for label in MENU)


PAGES = {
    "problem-list": ["Deadline light", "Named supervision only", "1 problem", "Raise a problem",
                     "Supervision figures"],
    "problem-figures": ["By lead unit", "By leader in charge", "Resolution rate", "On-time rate", "Satisfaction rate"],
    "report-list": ["Project monthly reports", "Report status", "Overdue reports", "Excel import/export",
                    "By status", "Year-to-date (10k CNY)"],
    "rates": ["Time-elapsed progress", "Annual investment completion", "Total investment completion",
              "Start rate", "Group by"],
    "notification-list": ["Mark all as read", "Unread", "Save settings", "In-app messages are always on."],
    "visit-list": ["No site visits recorded yet.", "Record site visit"],
    "officer-list": ["Pair officer", "Active pairings this month"],
}  # fmt: skip


@pytest.mark.parametrize("page", PAGES)
def test_later_modules_speak_english(client, busy, page):
    r = in_english(client, busy).get(reverse(page))
    assert r.status_code == 200
    body = r.content.decode()
    missing = [text for text in PAGES[page] if text not in body]
    assert not missing, f"{page}: English text not found: {missing}"
    nav = menu(body)
    assert not [label for label in MENU if f">{label}" in nav]
    assert not chinese(nav), "a menu entry has no English translation"
    assert [label for label in MENU.values() if f">{label}" in nav] == list(MENU.values())


def test_problem_and_report_details_speak_english(client, busy):
    client = in_english(client, busy)
    body = client.get(reverse("problem-detail", args=[busy.problem.pk])).content.decode()
    assert "13710 time limits" in body and "The clock starts on assignment" in body and "Basics" in body
    assert "13710 办理时限" not in body
    report = busy.project_a.monthly_reports.get()
    body = client.get(reverse("report-detail", args=[report.pk])).content.decode()
    assert "Investment this month" in body and "Physical progress and problems" in body
    assert "投资完成情况" not in body and "本月完成投资" not in body
