"""Bulletin pages and API: who may read, make, edit and issue, against the personas of the `world` fixture.

调度员 and 领导 make, edit and issue (and see drafts); 责任单位经办人 read issued documents (a draft is 404
to them); 首席服务员, 企业填报员 and 三员 get 403 everywhere.
"""

from __future__ import annotations

import datetime
import io

import pytest
from django.urls import reverse
from docx import Document

from keyprojects.audit.models import AuditRecord
from keyprojects.bulletins import domain
from keyprojects.bulletins.models import Bulletin, Kind, Status
from tests.conftest import PERSONAS
from tests.test_api import api_as, errors_at

MANAGERS = {"dispatcher", "leader"}
READERS = MANAGERS | {"town_officer", "dept_officer", "other_town_officer"}
AS_OF = datetime.date(2026, 10, 12)


@pytest.fixture
def docs(world):
    """An issued 日通报 and a draft 月点评."""
    issued = domain.create_draft(kind=Kind.DAILY, as_of=AS_OF, by=world.dispatcher)
    domain.issue(issued, by=world.dispatcher)
    draft = domain.create_draft(kind=Kind.MONTHLY, as_of=AS_OF, by=world.dispatcher)
    world.issued, world.draft = issued, draft
    return world


def read_status(persona: str) -> int:
    return 200 if persona in READERS else 403


def draft_status(persona: str) -> int:
    if persona in MANAGERS:
        return 200
    return 404 if persona in READERS else 403


@pytest.mark.parametrize("persona", PERSONAS)
def test_the_archive_and_an_issued_document_follow_the_role_matrix(client, docs, persona):
    client.force_login(getattr(docs, persona))
    r = client.get(reverse("bulletin-list"))
    assert r.status_code == read_status(persona)
    if r.status_code == 200:
        body = r.content.decode()
        assert docs.issued.title in body
        assert (docs.draft.title in body) == (persona in MANAGERS)  # drafts are the managers' only
    for name in ("bulletin-detail", "bulletin-print", "bulletin-docx", "bulletin-xlsx"):
        assert client.get(reverse(name, args=[docs.issued.pk])).status_code == read_status(persona), name
        assert client.get(reverse(name, args=[docs.draft.pk])).status_code == draft_status(persona), name


@pytest.mark.parametrize("persona", PERSONAS)
def test_only_managers_make_edit_and_issue(client, docs, persona):
    client.force_login(getattr(docs, persona))
    allowed = persona in MANAGERS
    r = client.get(reverse("bulletin-create"))
    assert r.status_code == (200 if allowed else 403)
    r = client.post(reverse("bulletin-create"), {"kind": Kind.WEEKLY, "as_of": "2026-10-12"})
    assert r.status_code == (302 if allowed else 403)
    assert Bulletin.objects.filter(kind=Kind.WEEKLY).exists() == allowed
    r = client.post(reverse("bulletin-detail", args=[docs.draft.pk]),
                    {"version": docs.draft.version, "overview": "总体平稳。"})  # fmt: skip
    assert r.status_code == (302 if allowed else draft_status(persona))
    r = client.post(reverse("bulletin-issue", args=[docs.draft.pk]), {"version": docs.draft.version + allowed})
    assert r.status_code == (302 if allowed else draft_status(persona))
    stored = Bulletin.objects.get(pk=docs.draft.pk)
    assert stored.status == (Status.ISSUED if allowed else Status.DRAFT)
    if allowed:
        assert stored.commentary["overview"] == "总体平稳。"
        assert AuditRecord.objects.filter(object_type="bulletin", object_id=str(stored.pk), channel="web").count() == 2


def test_an_issued_document_cannot_be_edited_or_issued_again_from_the_page(client, docs):
    client.force_login(docs.dispatcher)
    before = Bulletin.objects.get(pk=docs.issued.pk)
    r = client.post(reverse("bulletin-detail", args=[docs.issued.pk]), {"version": before.version, "summary": "改"},
                    follow=True)  # fmt: skip
    assert "已印发归档" in r.content.decode()
    r = client.post(reverse("bulletin-issue", args=[docs.issued.pk]), follow=True)
    assert "不能重复印发" in r.content.decode()
    after = Bulletin.objects.get(pk=docs.issued.pk)
    assert (after.commentary, after.version, after.content_hash) == (before.commentary, before.version,
                                                                    before.content_hash)  # fmt: skip


def test_the_create_form_explains_bad_input(client, docs):
    client.force_login(docs.dispatcher)
    r = client.post(reverse("bulletin-create"), {"kind": Kind.DAILY, "as_of": AS_OF.isoformat()})
    assert r.status_code == 400 and "不能重复生成" in r.content.decode()
    r = client.post(reverse("bulletin-create"), {"kind": "weekly", "as_of": "2999-01-01"})
    assert r.status_code == 400 and "不能晚于今天" in r.content.decode()


def test_the_archive_filters_by_kind_and_date(client, docs):
    client.force_login(docs.leader)
    body = client.get(reverse("bulletin-list"), {"kind": Kind.DAILY}).content.decode()
    assert docs.issued.title in body and docs.draft.title not in body
    body = client.get(reverse("bulletin-list"), {"date_from": "2026-10-13"}).content.decode()
    assert docs.issued.title not in body


@pytest.mark.parametrize("persona", ["dispatcher", "town_officer", "officer"])
def test_the_menu_shows_the_archive_to_readers(client, docs, persona):
    client.force_login(getattr(docs, persona))
    body = client.get(reverse("project-list")).content.decode()
    assert (reverse("bulletin-list") in body) == (persona in READERS)


def test_the_pages_take_a_bounded_number_of_queries(client, docs, django_assert_max_num_queries):
    for i in range(5):
        b = domain.create_draft(kind=Kind.DAILY, as_of=AS_OF - datetime.timedelta(days=i + 1), by=docs.dispatcher)
        domain.issue(b, by=docs.dispatcher)
    client.force_login(docs.town_officer)
    with django_assert_max_num_queries(16):
        assert client.get(reverse("bulletin-list")).status_code == 200
    with django_assert_max_num_queries(16):
        assert client.get(reverse("bulletin-detail", args=[docs.issued.pk])).status_code == 200
    with django_assert_max_num_queries(20):  # the same whatever the number of documents (PostgreSQL: savepoints)
        assert client.get(reverse("bulletin-docx", args=[docs.issued.pk])).status_code == 200


def test_the_downloaded_docx_is_the_issued_document(client, docs):
    client.force_login(docs.town_officer)
    r = client.get(reverse("bulletin-docx", args=[docs.issued.pk]))
    assert r["Content-Type"].startswith("application/vnd.openxmlformats-officedocument.wordprocessingml")
    doc = Document(io.BytesIO(b"".join(r.streaming_content)))
    assert doc.paragraphs[1].text == docs.issued.document_number


# --- the API ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", PERSONAS)
def test_the_api_follows_the_role_matrix(client, docs, persona):
    api = api_as(client, getattr(docs, persona))
    r = api.get("/bulletins")
    assert r.status_code == read_status(persona)
    if r.status_code == 200:
        ids = {item["id"] for item in r.json()["items"]}
        assert docs.issued.pk in ids and (docs.draft.pk in ids) == (persona in MANAGERS)
    assert api.get(f"/bulletins/{docs.issued.pk}").status_code == read_status(persona)
    assert api.get(f"/bulletins/{docs.draft.pk}").status_code == draft_status(persona)
    assert api.get(f"/bulletins/{docs.issued.pk}/document.docx").status_code == read_status(persona)
    assert api.get(f"/bulletins/{docs.issued.pk}/document.xlsx").status_code == read_status(persona)
    r = api.post("/bulletins", {"kind": "weekly", "as_of": "2026-10-12"})
    assert r.status_code == (201 if persona in MANAGERS else 403)
    r = api.post(f"/bulletins/{docs.draft.pk}/issue", {})
    assert r.status_code == (200 if persona in MANAGERS else draft_status(persona))


def test_the_api_makes_reads_edits_and_issues(client, docs):
    api = api_as(client, docs.leader)
    r = api.post("/bulletins", {"kind": "monthly", "as_of": "2026-09-10"})
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["status"] == "draft" and body["figures"]["period"]["code"] == "2026-08"
    pk = body["id"]
    r = api.patch(f"/bulletins/{pk}", {"commentary": {"overview": "八月总体平稳。"}, "version": body["version"]})
    assert r.status_code == 200 and r.json()["commentary"]["overview"] == "八月总体平稳。"
    r = api.post(f"/bulletins/{pk}/issue", {})
    assert r.status_code == 200 and r.json()["document_number"].startswith("区项推月")
    issued = r.json()
    assert len(issued["content_hash"]) == 64
    r = api.post(f"/bulletins/{pk}/issue", {})
    assert r.status_code == 409 and "不能重复印发" in r.json()["detail"]
    r = api.patch(f"/bulletins/{pk}", {"commentary": {"overview": "改"}})
    assert r.status_code == 409 and "已印发归档" in r.json()["detail"]
    assert api.get(f"/bulletins/{pk}").json() == issued
    r = api.get("/bulletins", {"kind": "monthly", "date": "2026-09-10"})
    assert [i["id"] for i in r.json()["items"]] == [pk]


def test_the_api_answers_bad_input_with_the_one_error_shape(client, docs):
    api = api_as(client, docs.dispatcher)
    assert "as_of" in errors_at(api.post("/bulletins", {"kind": "daily", "as_of": AS_OF.isoformat()}))
    assert "kind" in errors_at(api.post("/bulletins", {"kind": "hourly", "as_of": "2026-10-01"}))
    assert "as_of" in errors_at(api.post("/bulletins", {"kind": "daily", "as_of": "2999-01-01"}))
    bad = {"commentary": {"nonsense": "x", "overview": "y" * 10001}}
    assert {"nonsense", "overview"} <= set(errors_at(api.patch(f"/bulletins/{docs.draft.pk}", bad)))
    r = api.patch(f"/bulletins/{docs.draft.pk}", {"commentary": {"overview": "x"}, "version": 999})
    assert r.status_code == 409
