from django.apps import AppConfig


class ProblemsConfig(AppConfig):
    name = "keyprojects.problems"
    label = "problems"

    def ready(self) -> None:
        # Cached roll-ups (unit and leader figures, cockpit) read problems and their settings.
        from keyprojects.problems import models
        from keyprojects.rollups.cache import watch

        for model in (models.ProblemSettings, models.Problem):
            watch(model, "problems")
