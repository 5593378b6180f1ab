"""Schemathesis against /api/v1/openapi.json, with every persona's token: no input makes the API
answer 5xx, and every answer is one the document describes (documented status code, content type,
headers and response schema).

The schema is loaded from the WSGI application in-process, so requests run in the test's thread, on
the test's database connection and inside its transaction. Each generated request runs in a
savepoint that is rolled back afterwards, so state-changing operations (POST/PUT/PATCH/DELETE, even
revoking the persona's own token) see the same seeded data every time and leave nothing behind.

The budget is bounded so that CI stays fast and deterministic (hypothesis derandomized, no example
database). Per persona and operation:
- SCHEMATHESIS_EXAMPLES cases the document allows (default 3);
- for operations with path parameters, SCHEMATHESIS_KNOWN_EXAMPLES cases (default 2) whose path
  parameters are ids of seeded objects, so that success answers are checked too, not only 404;
- for the dispatcher only (input checks come before the role's), SCHEMATHESIS_NEGATIVE_EXAMPLES
  cases the document does not allow (default 3): wrong types, missing fields, bodies that are not
  JSON; these must be refused with a documented 4xx.
SCHEMATHESIS_EXAMPLES=50 SCHEMATHESIS_NEGATIVE_EXAMPLES=50 runs a longer fuzz.

tests/test_api_schema.py fuzzes the list filters and project write bodies with hand-written
strategies and checks 401 without a token; this file covers every operation of the document.
"""

from __future__ import annotations

import datetime
import os
import typing
from collections import Counter
from decimal import Decimal

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from keyprojects.api.auth import issue_token
from tests.conftest import PERSONAS, SEES

SCHEMA_PATH = "/api/v1/openapi.json"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "3"))
KNOWN_EXAMPLES = int(os.environ.get("SCHEMATHESIS_KNOWN_EXAMPLES", "2"))
NEGATIVE_EXAMPLES = int(os.environ.get("SCHEMATHESIS_NEGATIVE_EXAMPLES", "3"))
NEGATIVE_PERSONAS = {"dispatcher"}
PUBLIC_OPERATIONS = {"issue_token"}
# Answers below 300 a persona must get at least (so that success answers are checked, not only refusals).
MIN_SUCCESSES, MIN_SUCCESSES_ADMIN = 30, 10

# (persona, operationId) -> the defect, for cases that fail today. They are left out of the main
# test and run by test_known_defects as strict xfails, so a fix shows up as XPASS (remove the entry).
# A persona of "*" means every persona.
KNOWN_DEFECTS: dict[tuple[str, str], str] = {}


def _known_defect(persona: str, operation_id: str) -> str | None:
    return KNOWN_DEFECTS.get((persona, operation_id)) or KNOWN_DEFECTS.get(("*", operation_id))


# ---------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="session")
def api_schema(django_db_setup, django_db_blocker):
    """The OpenAPI document as the running application serves it (loaded once, from the test database)."""
    from django.core.wsgi import get_wsgi_application

    with django_db_blocker.unblock():
        schema = schemathesis.openapi.from_wsgi(SCHEMA_PATH, get_wsgi_application())
    return schema


@pytest.fixture
def _same_connection():
    """Django closes "old" connections when a request starts and ends; inside the test's transaction
    that would drop the connection (PostgreSQL) and the test's data with it. Django's own test client
    does the same as this fixture."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def _seed(w) -> dict[str, list]:
    """Objects the path parameters can point at: one or two of each kind (some visible to a persona,
    some not), and the parameter values that reach them."""
    from keyprojects.bulletins import domain as bulletins
    from keyprojects.bulletins.models import Kind
    from keyprojects.evaluation import tours
    from keyprojects.evaluation.models import Scheme
    from keyprojects.funding import domain as funding
    from keyprojects.funding.models import ServiceMatter
    from keyprojects.progress import domain as progress
    from keyprojects.progress.forms import last_month
    from keyprojects.projects.models import ApprovalItem, Project, Stage
    from tests.test_evaluation_tours import tour_data
    from tests.test_funding import bond_line
    from tests.test_problem_pages import raise_one
    from tests.test_visits import visit_on

    year, month = last_month()
    Project.objects.filter(pk__in=[w.project_a.pk, w.project_b.pk]).update(
        stage=Stage.CONSTRUCTION, actual_start=datetime.date(2025, 6, 1)
    )
    w.project_a.refresh_from_db()
    w.project_b.refresh_from_db()
    progress.save_annual_plan(w.project_a, by=w.dispatcher, year=year, data={"planned_investment": "12000"})
    report = progress.create_report(w.project_a, by=w.enterprise, year=year, month=month, data={"investment": "1000"})
    problem_a = raise_one(w)
    problem_b = raise_one(w, by=w.dispatcher, project=w.project_b, title="洪门镇用地指标")
    line = bond_line(w)
    chain = funding.save_chain(None, by=w.dispatcher, data={
        "name": "高端装备制造产业链", "leader": w.leader, "lead_company": w.company_a,
        "projects": [w.project_a, w.project_b], "companies": [w.company_a, w.company_b]})  # fmt: skip
    building = funding.save_building(None, by=w.dispatcher, data={
        "name": "红旗区总部经济大厦", "town": w.dongjie, "star_rating": 5, "annual_tax": Decimal("12600"),
        "tenant_count": 118, "companies": [w.company_a]})  # fmt: skip
    matter = ServiceMatter.objects.create(code="M001", name="食品经营许可", category="license",
                                          department_name="区市场监管局", online=True)  # fmt: skip
    visit = visit_on(w, w.project_a)
    tour = tours.create_tour(by=w.dispatcher, data=tour_data())
    tours.add_projects(tour, by=w.dispatcher, project_ids=[w.project_a.pk, w.project_b.pk])
    tours.add_judges(tour, by=w.dispatcher, user_ids=[w.leader.pk, w.dispatcher.pk, w.dept_officer.pk])
    tours.open_tour(tour, by=w.dispatcher)
    bulletin = bulletins.create_draft(kind=Kind.MONTHLY, as_of=datetime.date(2026, 10, 12), by=w.dispatcher)
    items = list(ApprovalItem.objects.filter(project=w.project_a).values_list("pk", flat=True)[:2])
    return {
        "project_id": [w.project_a.pk, w.project_b.pk],
        "year": [year],
        "item_id": items,
        "report_id": [report.pk],
        "problem_id": [problem_a.pk, problem_b.pk],
        "line_id": [line.pk],
        "chain_id": [chain.pk],
        "building_id": [building.pk],
        "matter_id": [matter.pk],
        "visit_id": [visit.pk],
        "officer_id": [w.officer.pk],
        "tour_id": [tour.pk],
        "bulletin_id": [bulletin.pk],
        "scheme": list(Scheme.objects.values_list("code", flat=True)[:2]),
        "period": [str(year), f"{year}H1", f"{year}-{month:02d}"],
    }


# ---------------------------------------------------------------------------------------------
# Running one operation


def _operations(schema):
    for result in schema.get_all_operations():
        operation = result.ok()
        yield operation.definition.raw["operationId"], operation


def _known_path_parameters(operation, known: dict[str, list]):
    """A strategy of path parameters pointing at seeded objects, or None (no path parameters, or a
    parameter with no seeded value)."""
    names = [p.name for p in operation.path_parameters]
    if not names or any(not known.get(name) for name in names):
        return None
    return st.fixed_dictionaries({name: st.sampled_from(known[name]) for name in names})


def _run(operation, headers: dict[str, str], strategy, max_examples: int, statuses: list[int]) -> None:
    """Generate `max_examples` cases from `strategy`, send each (in a savepoint) and check the answer."""
    if max_examples <= 0:
        return

    @settings(
        max_examples=max_examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: a failure reports the case as generated
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.filter_too_much,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
        ],
    )
    @given(case=strategy)
    def check(case):
        savepoint = transaction.savepoint()
        try:
            response = case.call(headers=headers)
            statuses.append(response.status_code)
            case.validate_response(response, checks=CHECKS, headers=headers)
        finally:
            transaction.savepoint_rollback(savepoint)

    check()


def _exercise(operation, headers: dict[str, str], known: dict[str, list], statuses: list[int], *, negative: int = 0):
    """Run the operation's bounded examples, adding the status codes of the valid cases to `statuses`."""
    _run(operation, headers, operation.as_strategy(), EXAMPLES, statuses)
    path_parameters = _known_path_parameters(operation, known)
    if path_parameters is not None:
        strategy = path_parameters.flatmap(lambda values: operation.as_strategy(path_parameters=values))
        _run(operation, headers, strategy, KNOWN_EXAMPLES, statuses)
    # Invalid cases may leave the token out on purpose (a documented 401): not counted in `statuses`.
    invalid = operation.as_strategy(generation_mode=schemathesis.GenerationMode.NEGATIVE)
    _run(operation, headers, invalid, negative, [])


def _headers(user) -> dict[str, str]:
    raw, _ = issue_token(user, name="schemathesis")
    return {"Authorization": f"Bearer {raw}"}


# ---------------------------------------------------------------------------------------------
# Tests


def test_the_document_loads_and_covers_the_api(api_schema):
    ids = [operation_id for operation_id, _ in _operations(api_schema)]
    assert len(ids) == len(set(ids)) >= 70
    assert {"issue_token", "list_projects", "create_project", "import_monthly_reports", "get_evaluation"} <= set(ids)
    for persona, operation_id in KNOWN_DEFECTS:
        assert persona in (*PERSONAS, "*") and operation_id in ids, (persona, operation_id)


def _models(tp, found: set) -> None:
    """The pydantic models `tp` is or contains (fields, list items, unions, Annotated)."""
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        if tp in found:
            return
        found.add(tp)
        for field in tp.model_fields.values():
            _models(field.annotation, found)
    for arg in typing.get_args(tp):
        _models(arg, found)


def test_no_two_models_share_a_schema_name():
    """The document keeps one schema per model name: two models of the same name (say `WarningOut` in
    two modules) would document one operation with the other's fields."""
    from keyprojects.api.api import api as ninja_api

    found: set = set()
    for bound in ninja_api._get_bound_routers():
        for path_view in bound.path_operations.values():
            for op in path_view.operations:
                for model in [*op.models, *op.response_models.values()]:
                    _models(model, found)
    by_name: dict[str, list[str]] = {}
    for model in found:
        if model.__module__.startswith("keyprojects."):  # not ninja's per-operation parameter/response wrappers
            by_name.setdefault(model.__name__, []).append(f"{model.__module__}.{model.__qualname__}")
    assert len(by_name) > 50
    assert {name: where for name, where in by_name.items() if len(where) > 1} == {}


def test_every_operation_with_a_json_body_documents_400(client):
    """A body that is not JSON is answered 400 (keyprojects.api.errors): documented wherever one is read."""
    doc = client.get(SCHEMA_PATH).json()
    missing = [
        op["operationId"]
        for methods in doc["paths"].values()
        for op in methods.values()
        if "application/json" in op.get("requestBody", {}).get("content", {}) and "400" not in op["responses"]
    ]
    assert missing == []


@pytest.mark.parametrize("persona", PERSONAS)
def test_every_operation_conforms_for_every_role(api_schema, world, _same_connection, persona):
    """Every operation with this persona's token: no 5xx, and the answer matches the document."""
    known = _seed(world)
    headers = _headers(getattr(world, persona))
    negative = NEGATIVE_EXAMPLES if persona in NEGATIVE_PERSONAS else 0
    failures, answered = [], {}
    for operation_id, operation in _operations(api_schema):
        if _known_defect(persona, operation_id):
            continue
        statuses = answered[operation_id] = []
        try:
            _exercise(operation, headers, known, statuses, negative=negative)
        except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - collected, reported together below
            failures.append(f"--- {persona} {operation.label} ({operation_id})\n{exc}"[:4000])
    assert not failures, f"{len(failures)} operation(s) failed:\n\n" + "\n\n".join(failures)
    # The token was accepted everywhere (a refused token would make every answer a documented 401).
    refused = [op for op, statuses in answered.items() if 401 in statuses and op not in PUBLIC_OPERATIONS]
    assert not refused, refused
    summary = Counter(status for statuses in answered.values() for status in statuses)
    print(persona, sum(summary.values()), "requests", dict(sorted(summary.items())))
    ok = sum(n for status, n in summary.items() if status < 300)
    assert ok >= (MIN_SUCCESSES if SEES[persona] else MIN_SUCCESSES_ADMIN), summary


@pytest.mark.parametrize(
    ("persona", "operation_id"),
    [pytest.param(p, o, marks=pytest.mark.xfail(strict=True, reason=r)) for (p, o), r in KNOWN_DEFECTS.items()]
    or [pytest.param("dispatcher", "-", marks=pytest.mark.skip(reason="no known defects"))],
)
def test_known_defects(api_schema, world, _same_connection, persona, operation_id):
    known = _seed(world)
    operations = dict(_operations(api_schema))
    personas = PERSONAS if persona == "*" else [persona]
    failed = []
    for who in personas:
        try:
            negative = NEGATIVE_EXAMPLES if who in NEGATIVE_PERSONAS else 0
            _exercise(operations[operation_id], _headers(getattr(world, who)), known, [], negative=negative)
        except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001
            failed.append(f"{who}: {exc}")
    assert not failed, "\n".join(failed)
