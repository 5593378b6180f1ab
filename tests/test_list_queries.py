"""The lists and details that the peer benchmark measures (bench/peer_redmine.py): their SQL query counts,
and the pieces that keep them fast (exact cached counts, drop-downs rendered without templates, choice
labels without get_FOO_display, list answers built to the schema).

A query count must not depend on the page (first page and a deep one) nor on the number of rows shown:
helper units, projects and lead units come with the page, never one query per row.
"""

from __future__ import annotations

from django import forms
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from keyprojects.api.problems import ProblemPage
from keyprojects.api.schemas import ProjectPage
from keyprojects.lib.choices import choice_label
from keyprojects.problems.forms import ProblemFilter, ProjectOptions
from keyprojects.problems.models import OPEN_STATUSES, Category, EscalationLevel, Problem, Source, Status
from keyprojects.projects.filters import FastSelect, ProjectFilter, list_count
from keyprojects.projects.models import Level, Project, Stage
from keyprojects.projects.models import Status as ProjectStatus
from tests.test_api import _bulk_projects, api_as
from tests.test_problem_pages import many_problems
from tests.test_problem_pages import pw as pw  # noqa: F401 (fixtures)
from tests.test_problem_pages import states as states  # noqa: F401


def queries(fn) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        response = fn()
    assert response.status_code == 200, response.content[:500]
    return [q["sql"] for q in captured.captured_queries]


def same_queries_on_every_page(fn_first, fn_deep, most: int) -> None:
    first, deep = queries(fn_first), queries(fn_deep)
    assert len(first) == len(deep), (first, deep)
    assert len(first) <= most, first


# ---------------------------------------------------------------------------------------------
# Projects


def test_project_list_api_queries(world, client):
    api = api_as(client, world.dispatcher)
    api.get("/projects")  # the token's first use writes last_used_at
    few = queries(lambda: api.get("/projects", {"limit": 25}))
    _bulk_projects(world, 120)
    same_queries_on_every_page(
        lambda: api.get("/projects", {"limit": 25}), lambda: api.get("/projects", {"limit": 25, "offset": 100}), 6
    )
    assert len(queries(lambda: api.get("/projects", {"limit": 100}))) == len(few)


def test_project_list_page_queries(world, client):
    client.force_login(world.dispatcher)
    client.get("/projects/")  # the session's first request writes its bookkeeping once
    few = queries(lambda: client.get("/projects/"))
    _bulk_projects(world, 120)
    same_queries_on_every_page(lambda: client.get("/projects/"), lambda: client.get("/projects/?page=4"), 15)
    assert len(queries(lambda: client.get("/projects/"))) == len(few)


def test_project_detail_api_queries(world, client):
    api = api_as(client, world.dispatcher)
    api.get("/projects")
    detail = queries(lambda: api.get(f"/projects/{world.project_a.pk}"))
    assert len(detail) <= 4, detail  # token, roles, the project with its related rows, size bands


def test_project_list_answer_matches_its_schema(world, client):
    _bulk_projects(world, 30)
    body = api_as(client, world.dispatcher).get("/projects", {"limit": 25}).json()
    assert ProjectPage.model_validate(body).model_dump(mode="json") == body
    assert body["count"] == Project.objects.count() == 32 and len(body["items"]) == 25


# ---------------------------------------------------------------------------------------------
# Problems


def open_ids(w) -> list[int]:
    return list(
        Problem.objects.filter(status__in=OPEN_STATUSES).order_by("-received_on", "-id").values_list("id", flat=True)
    )


def test_open_problem_list_api_queries(states, client):
    api = api_as(client, states.dispatcher)
    api.get("/problems")
    few = queries(lambda: api.get("/problems", {"status": "open", "limit": 25}))
    many_problems(states, 150)
    same_queries_on_every_page(
        lambda: api.get("/problems", {"status": "open", "limit": 25}),
        lambda: api.get("/problems", {"status": "open", "limit": 25, "offset": 50}),
        8,
    )
    assert len(queries(lambda: api.get("/problems", {"status": "open", "limit": 100}))) == len(few)
    one_project = {"status": "open", "project": str(states.project_a.pk), "limit": 25}
    assert len(queries(lambda: api.get("/problems", one_project))) <= 9


def test_open_filter_and_newest_first(states, client):
    many_problems(states, 40)
    body = api_as(client, states.dispatcher).get("/problems", {"status": "open", "limit": 100}).json()
    assert [i["id"] for i in body["items"]] == open_ids(states)
    assert {i["status"] for i in body["items"]} == {str(s) for s in OPEN_STATUSES}
    assert body["count"] == len(open_ids(states))
    assert ProblemPage.model_validate(body).model_dump(mode="json") == body
    # Helper units come from one narrow query: the same as the detail's.
    assisted = states.problems[Status.IN_PROGRESS]
    item = next(i for i in body["items"] if i["id"] == assisted.pk)
    detail = api_as(client, states.dispatcher).get(f"/problems/{assisted.pk}").json()
    assert item["helper_units"] == detail["helper_units"] == [states.resources.pk]
    assert item["helper_unit_names"] == detail["helper_unit_names"] == ["自然资源局"]


def test_open_problem_page_queries(states, client):
    client.force_login(states.dispatcher)
    client.get("/problems/")  # the session's first request writes its bookkeeping once
    few = queries(lambda: client.get("/problems/?status=open"))
    many_problems(states, 150)
    same_queries_on_every_page(
        lambda: client.get("/problems/?status=open"), lambda: client.get("/problems/?status=open&page=3"), 13
    )
    assert len(queries(lambda: client.get("/problems/?status=open"))) == len(few)
    assert len(queries(lambda: client.get(f"/problems/?status=open&project={states.project_a.pk}"))) <= 14


def test_problem_detail_api_queries(states, client):
    api = api_as(client, states.dispatcher)
    api.get("/problems")
    detail = queries(lambda: api.get(f"/problems/{states.problems[Status.IN_PROGRESS].pk}"))
    assert len(detail) <= 6, detail  # token, roles, the problem, its helper units, its events, the clock


def test_problem_page_shows_the_same_labels_as_before(states, client):
    client.force_login(states.dispatcher)
    body = client.get("/problems/").content.decode()
    for problem in Problem.objects.all():
        assert problem.get_status_display() in body and problem.get_category_display() in body
        assert problem.get_source_display() in body
    assert "kp-light-dot" in body  # the lamp, written inline


# ---------------------------------------------------------------------------------------------
# The pieces


def test_project_drop_down_lists_every_project_only_when_there_are_few(states, monkeypatch):
    rendered = str(ProblemFilter({}, user=states.dispatcher)["project"])
    assert states.project_a.name in rendered and states.project_b.name in rendered
    monkeypatch.setattr(ProjectOptions, "LIMIT", 1)
    rendered = str(ProblemFilter({}, user=states.dispatcher)["project"])
    assert states.project_a.name not in rendered and states.project_b.name not in rendered
    chosen = ProblemFilter({"project": str(states.project_b.pk)}, user=states.dispatcher)
    assert chosen.is_valid()
    rendered = str(chosen["project"])
    assert f'value="{states.project_b.pk}" selected' in rendered and states.project_a.name not in rendered
    # Validation still knows every visible project, and only those.
    assert ProblemFilter({"project": str(states.project_a.pk)}, user=states.dispatcher).is_valid()
    assert not ProblemFilter({"project": str(states.project_b.pk)}, user=states.enterprise).is_valid()


def test_fast_select_renders_what_django_renders(world):
    form = ProjectFilter({"stage": "construction", "industry": str(world.industry.pk), "q": "<b>"})
    for name in ("stage", "industry", "town", "responsible_unit", "sort", "size_band"):
        field = form[name]
        assert isinstance(field.field.widget, FastSelect)
        plain = forms.Select(attrs=field.field.widget.attrs, choices=field.field.widget.choices)
        expected = plain.render(field.html_name, field.value(), {"id": field.auto_id})
        got = str(field)
        assert got.replace("\n", "").replace(" ", "") == expected.replace("\n", "").replace(" ", ""), name


def test_choice_labels_match_get_display(world):
    project = world.project_a
    for language in ("zh-hans", "en"):
        with translation.override(language):
            for value in Stage.values:
                project.stage = value
                assert choice_label(Stage, value) == project.get_stage_display()
            for value in Level.values:
                project.level = value
                assert choice_label(Level, value) == project.get_level_display()
            for value in ProjectStatus.values:
                project.status = value
                assert choice_label(ProjectStatus, value) == project.get_status_display()
            problem = Problem()
            for choices, field in ((Status, "status"), (Category, "category"), (Source, "source"),
                                   (EscalationLevel, "escalation_level")):  # fmt: skip
                for value in choices.values:
                    setattr(problem, field, value)
                    assert choice_label(choices, value) == getattr(problem, f"get_{field}_display")()
    assert choice_label(Stage, "unknown") == "unknown"


def test_list_count_is_exact(world):
    projects = Project.objects.all()
    assert list_count(projects) == 2
    _bulk_projects(world, 3)  # inside the test's transaction: this connection sees its own change
    assert list_count(projects) == 5
    assert list_count(projects.filter(town=world.hongmen)) == projects.filter(town=world.hongmen).count()


def play_commit() -> None:
    """Run this connection's on-commit callbacks and forget them, as a real commit would."""
    pending, connection.run_on_commit = connection.run_on_commit, []
    for _savepoints, callback, _robust in pending:
        callback()


def test_list_count_is_cached_until_the_data_changes(world):
    play_commit()
    projects = Project.objects.all()
    with CaptureQueriesContext(connection) as first:
        assert list_count(projects) == 2
    with CaptureQueriesContext(connection) as second:
        assert list_count(projects) == 2
    assert any("COUNT(" in q["sql"] for q in first.captured_queries)
    assert not any("COUNT(" in q["sql"] for q in second.captured_queries)  # the cached count, one token query
    _bulk_projects(world, 1)
    world.project_b.name = "洪门镇智能传感器产业园二期"
    world.project_b.save()  # any saved project replaces the "projects" token when it commits
    assert list_count(projects) == 3  # before the commit: this connection sees its own change
    play_commit()
    assert list_count(projects) == 3


def test_project_detail_answer_is_what_the_schema_gives(world, client):
    from keyprojects.api.api import api
    from keyprojects.api.projects import _detail_of
    from keyprojects.api.schemas import ProjectDetail

    project = Project.objects.get(pk=world.project_a.pk)
    response = api_as(client, world.dispatcher).get(f"/projects/{project.pk}")
    validated = ProjectDetail.model_validate(_detail_of(project)).model_dump()
    expected = api.create_response(None, validated, status=200)
    assert response.content == expected.content
    assert response["Content-Type"] == expected["Content-Type"]
