"""The API as its OpenAPI document describes it: every operation is authenticated, and no input,
however odd, makes it answer 5xx (property-based, with hypothesis).

API_FUZZ_EXAMPLES=2000 runs a longer fuzz than the default 60 examples per property.
"""

from __future__ import annotations

import datetime
import json
import os
import re

import pytest
from django.core.cache import cache
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from keyprojects.api.api import api as ninja_api
from keyprojects.audit.models import AuditRecord
from keyprojects.projects.filters import SORTS
from keyprojects.projects.models import (
    Batch,
    FinancingModel,
    Industry,
    Level,
    Phase,
    Project,
    ProjectType,
    SizeBand,
    Stage,
    Status,
)
from tests.conftest import PERSONAS, SEES, VALID_CREDIT_CODES
from tests.test_api import ApiClient, has_chinese, project_body

# Operations anyone may call: issuing a token (the OpenAPI document is not an operation).
PUBLIC_OPERATIONS = {"issue_token"}
FUZZ = settings(
    max_examples=int(os.environ.get("API_FUZZ_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(autouse=True)
def _clean_cache():
    cache.clear()


def operations(doc: dict):
    for path, methods in doc["paths"].items():
        for method, operation in methods.items():
            yield path, method.upper(), operation


def test_the_document_declares_bearer_auth_on_every_private_operation(client):
    doc = client.get("/api/v1/openapi.json").json()
    ops = list(operations(doc))
    assert len(ops) >= 6
    for _path, _method, op in ops:
        if op["operationId"] in PUBLIC_OPERATIONS:
            assert "security" not in op
        else:
            assert op["security"] == [{"TokenAuth": []}], op["operationId"]
            assert "401" in op["responses"]
        if "requestBody" in op or any(p["in"] in ("query", "path") for p in op.get("parameters", [])):
            assert "422" in op["responses"], op["operationId"]


def test_ninja_operations_without_auth_are_only_the_public_ones():
    """Walk the operations ninja actually serves, not only the document: only the public ones lack auth."""
    unauthenticated, seen = set(), set()
    for bound in ninja_api._get_bound_routers():
        for path_view in bound.path_operations.values():
            for op in path_view.operations:
                seen.add(op.operation_id)
                if not op.auth_callbacks:
                    unauthenticated.add(op.operation_id)
    assert len(seen) >= 6
    assert unauthenticated == PUBLIC_OPERATIONS


@pytest.mark.parametrize("credential", [None, "Bearer nonsense", "Bearer ", "Basic YTpi", "Bearer " + "x" * 5000])
def test_every_operation_in_the_document_answers_401_without_a_token(world, client, credential):
    doc = client.get("/api/v1/openapi.json").json()
    before = (Project.objects.count(), AuditRecord.objects.count())
    checked = 0
    for path, method, op in operations(doc):
        if op["operationId"] in PUBLIC_OPERATIONS:
            continue
        url = re.sub(r"\{[^}]+\}", str(world.project_a.pk), path)
        headers = {"HTTP_AUTHORIZATION": credential} if credential else {}
        fn = getattr(client, method.lower())
        if "requestBody" in op:
            r = fn(url, data=json.dumps(project_body(world)), content_type="application/json", **headers)
        else:
            r = fn(url, **headers)
        assert r.status_code == 401, (method, path, r.status_code)
        assert has_chinese(r.json()["detail"])
        checked += 1
    assert checked >= 5
    assert (Project.objects.count(), AuditRecord.objects.count()) == before


# ---------------------------------------------------------------------------------------------
# Fuzzing the list filters.

FILTER_NAMES = ["q", "stage", "reached", "status", "level", "size_band", "industry", "financing_model", "town",
                "responsible_unit", "phase", "batch", "sort", "limit", "offset", "unknown"]  # fmt: skip
odd_text = st.text(alphabet=st.characters(codec="utf-8"), max_size=120)
numbers = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.integers(min_value=0, max_value=30),
    st.sampled_from([0, -1, 100, 101, 2**31, 2**63, 2**64]),
).map(str)
known = st.sampled_from(
    ["", "planning", "signed", "started", "behind", "normal", "province", "district", "sign", "start",
     "commission", "name", "-total_investment", "-id", "1", "2", "5", "7", "1.0", "1e3", " 1", "NaN", "%00"]
)  # fmt: skip
filter_values = st.one_of(odd_text, numbers, known)
filter_params = st.dictionaries(st.sampled_from(FILTER_NAMES), filter_values, max_size=6)


def test_filter_parameters_match_the_document(client):
    doc = client.get("/api/v1/openapi.json").json()
    names = {p["name"] for p in doc["paths"]["/api/v1/projects"]["get"]["parameters"]}
    assert names == set(FILTER_NAMES) - {"unknown"}


def _valid_filter_params(world):
    ids = {
        "size_band": list(SizeBand.objects.values_list("pk", flat=True)),
        "industry": list(Industry.objects.values_list("pk", flat=True)[:3]),
        "town": [world.dongjie.pk, world.hongmen.pk],
        "responsible_unit": [world.dongjie.pk, world.hongmen.pk, world.resources.pk],
        "phase": list(Phase.objects.values_list("pk", flat=True)),
    }
    values = {
        "q": st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), max_size=100),
        "stage": st.sampled_from(["", *Stage.values]),
        "status": st.sampled_from(["", *Status.values]),
        "level": st.sampled_from(["", *Level.values]),
        "batch": st.sampled_from(["", *Batch.values]),
        "sort": st.sampled_from(["", *SORTS]),
        "limit": st.integers(1, 100),
        "offset": st.integers(0, 3),
        **{name: st.sampled_from(["", *choices]) if choices else st.just("") for name, choices in ids.items()},
    }
    return st.fixed_dictionaries({}, optional=values)


@FUZZ
@given(data=st.data(), persona=st.sampled_from(PERSONAS))
def test_list_filters_never_fail(world, client, data, persona):
    Phase.objects.get_or_create(number=1, defaults={"name": "第一期"})
    params = data.draw(st.one_of(filter_params, _valid_filter_params(world)), label="params")
    raw, _ = _tokens(world, persona)
    r = ApiClient(client, raw).get("/projects", params)
    event(f"status {r.status_code}")
    assert r.status_code in (200, 422), (params, r.status_code, r.content[:500])
    body = r.json()
    if r.status_code == 200:
        assert 0 <= len(body["items"]) <= 100 and body["count"] >= len(body["items"])
        visible = {getattr(world, p).pk for p in SEES[persona]}
        assert {item["id"] for item in body["items"]} <= visible
    else:
        for item in body["detail"]:
            assert item["loc"][0] == "query" and item["loc"][1] in FILTER_NAMES
            assert has_chinese(item["msg"]), item


def _tokens(world, persona):
    """One token per persona, kept on the world (hypothesis reuses the function-scoped fixture)."""
    from keyprojects.api.auth import issue_token

    cached = world.__dict__.setdefault("api_tokens", {})
    if persona not in cached:
        cached[persona] = issue_token(getattr(world, persona))
    return cached[persona]


# ---------------------------------------------------------------------------------------------
# Fuzzing the write bodies: any JSON value in any field gives 2xx or a Chinese 4xx, never 5xx,
# and a refused write leaves no trace.

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=False, allow_infinity=False),
    odd_text,
    st.decimals(allow_nan=True, allow_infinity=True, places=None).map(str),
    st.sampled_from(["2026-01-01", "2026-02-30", "2025-12-31T00:00:00", "0000-00-00", "1", "1", "3", "5"]),
)
json_values = st.one_of(
    json_scalars, st.lists(json_scalars, max_size=2), st.dictionaries(odd_text, json_scalars, max_size=2)
)


def _field_strategy(world):
    """Per field: a plausible value (so that some writes succeed) or any JSON value at all."""
    dates = st.dates(datetime.date(1990, 1, 1), datetime.date(2040, 12, 31)).map(str)
    money = st.decimals(min_value=-10, max_value=10**9, places=2).map(str)
    plausible = {
        "code": st.sampled_from(["", None, "2103-410702-04-01-123456", "2209-410702-04-01-65432X"]),
        "name": odd_text,
        "owner_name": odd_text,
        "owner_credit_code": st.sampled_from(["", *VALID_CREDIT_CODES, "91350200776049653B"]),
        "owner_credit_override": st.sampled_from(["", "已核实"]),
        "owner_unit_id": st.sampled_from([None, world.company_a.pk, world.dongjie.pk]),
        "industry_id": st.sampled_from([world.industry.pk, 10**6]),
        "project_type": st.sampled_from(ProjectType.values),
        "level": st.sampled_from(Level.values),
        "total_investment": money,
        "construction_content": odd_text,
        "town_id": st.sampled_from([None, world.dongjie.pk, world.hongmen.pk, world.housing.pk]),
        "latitude": st.decimals(min_value=-100, max_value=100, places=6).map(str),
        "longitude": st.decimals(min_value=-200, max_value=200, places=6).map(str),
        "responsible_leader_id": st.sampled_from([None, world.leader.pk]),
        "responsible_unit_id": st.sampled_from([world.dongjie.pk, world.hongmen.pk, world.company_a.pk]),
        "service_officer_id": st.sampled_from([None, world.officer.pk]),
        "financing_model_id": st.sampled_from([None, *FinancingModel.objects.values_list("pk", flat=True)[:2]]),
        "planned_start": dates,
        "planned_end": dates,
        "actual_start": dates,
        "actual_end": dates,
        "status": st.sampled_from(Status.values),
        "stage": st.sampled_from(Stage.values),
        "stage_on": dates,
        "version": st.integers(0, 3),
        "bogus": st.just(1),
    }
    junk = st.one_of(st.just({}), st.dictionaries(st.sampled_from(list(plausible)), json_values, max_size=2))
    return junk.flatmap(lambda junk: st.fixed_dictionaries({}, optional=plausible).map(lambda good: {**good, **junk}))


@FUZZ
@given(data=st.data())
def test_create_and_patch_bodies_never_fail(world, client, data):
    raw, _ = _tokens(world, "dispatcher")
    api = ApiClient(client, raw)
    changes = data.draw(_field_strategy(world), label="changes")
    start_from_valid = data.draw(st.booleans(), label="start_from_valid")
    body = {**project_body(world), **changes} if start_from_valid else changes
    method = data.draw(st.sampled_from(["POST", "PATCH"]), label="method")
    path = "/projects" if method == "POST" else f"/projects/{world.project_a.pk}"
    before_projects = Project.objects.count()
    before_audit = AuditRecord.objects.count()
    before_a = Project.objects.values().get(pk=world.project_a.pk)
    r = api.call(method, path, raw=json.dumps(body, default=str))
    event(f"{method} {r.status_code}")
    assert r.status_code < 500, (body, r.status_code)
    assert r.status_code in (200, 201, 400, 409, 422), (body, r.status_code, r.content[:500])
    detail = r.json().get("detail")
    if r.status_code >= 400:
        msg = detail if isinstance(detail, str) else detail[0]["msg"]
        assert has_chinese(msg), r.content
        assert Project.objects.count() == before_projects and AuditRecord.objects.count() == before_audit
        assert Project.objects.values().get(pk=world.project_a.pk) == before_a
    elif r.status_code == 201:
        created = Project.objects.get(pk=r.json()["id"])
        assert AuditRecord.objects.filter(project_id=created.pk, channel="api").exists()
