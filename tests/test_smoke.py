from tests.conftest import PERSONAS, SEES

from keyprojects.projects.access import visible_projects


def test_it_builds_the_world(world):
    for name in PERSONAS:
        user = getattr(world, name)
        seen = {p for p in ("project_a", "project_b") if visible_projects(user).filter(pk=getattr(world, p).pk).exists()}
        assert seen == SEES[name], name
