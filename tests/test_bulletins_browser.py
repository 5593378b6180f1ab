"""The monthly review in a real browser (headless Chromium through Playwright, pytest-django's live server).

A dispatcher makes the 月点评 draft on demand, writes the commentary, issues it through the confirmation
dialog and downloads the Word file, which opens with python-docx and carries the 文号. Screenshots of
the archive and the document go to test-artifacts/.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from docx import Document

from keyprojects.bulletins.models import Bulletin, Kind, Status
from keyprojects.progress import domain as progress_domain
from tests.conftest import PASSWORD

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]  # fmt: skip

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def browser_settings(settings, monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    return settings


@pytest.fixture
def browser():
    if not os.path.exists(CHROMIUM):
        message = f"{CHROMIUM} is not installed"
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


def watch_errors(page) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(f"console: {msg.text}") if msg.type == "error" else None)
    page.on(
        "response",
        lambda response: errors.append(f"{response.status}: {response.url}") if response.status >= 400 else None,
    )
    return errors


def sign_in(browser, live_server, username: str, width: int = 1366):
    context = browser.new_context(locale="zh-CN", viewport={"width": width, "height": 900}, accept_downloads=True)
    page = context.new_page()
    errors = watch_errors(page)
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(lambda url: "/accounts/login/" not in url)  # the landing page depends on the role
    return context, page, errors


def test_a_dispatcher_issues_a_monthly_review_and_downloads_it(browser_settings, browser, live_server, world):
    for project, amount in ((world.project_a, "6000"), (world.project_b, "2000")):
        progress_domain.save_annual_plan(project, by=world.dispatcher, year=2026, data={"planned_investment": amount})
    ARTIFACTS.mkdir(exist_ok=True)
    context, page, errors = sign_in(browser, live_server, "dispatcher")
    assert page.locator('nav a[href="/bulletins/"]').count() == 1  # the menu entry (its grouping may change)
    page.goto(f"{live_server.url}/bulletins/")
    page.get_by_role("link", name="生成草稿").click()
    page.get_by_label("类型").select_option(Kind.MONTHLY)
    page.get_by_label("截至日期").fill("2026-10-12")
    page.get_by_role("button", name="生成草稿").click()
    page.wait_for_url("**/bulletins/*/")
    assert "2026年9月份重点项目建设点评" in page.inner_text("h1")
    page.get_by_label("总体评价").fill("九月全区重点项目建设总体平稳。")
    page.get_by_role("button", name="保存点评").click()
    page.wait_for_selector("text=点评内容已保存")
    page.screenshot(path=str(ARTIFACTS / "bulletin_draft.png"), full_page=True)

    page.get_by_role("button", name="印发", exact=True).click()
    page.get_by_test_id("confirm-issue").click()
    page.wait_for_selector("text=已印发：")
    bulletin = Bulletin.objects.get(kind=Kind.MONTHLY)
    assert bulletin.status == Status.ISSUED and bulletin.hash_matches()
    assert bulletin.commentary["overview"] == "九月全区重点项目建设总体平稳。"
    assert page.get_by_role("button", name="保存点评").count() == 0  # no more editing
    page.screenshot(path=str(ARTIFACTS / "bulletin_issued.png"), full_page=True)

    with page.expect_download() as download:
        page.get_by_test_id("download-docx").click()
    path = download.value.path()
    assert download.value.suggested_filename == f"{bulletin.title}.docx"
    doc = Document(io.BytesIO(Path(path).read_bytes()))
    texts = [p.text for p in doc.paragraphs]
    assert bulletin.document_number in texts and "九月全区重点项目建设总体平稳。" in texts

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/bulletins/")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    assert errors == [], errors
    context.close()
