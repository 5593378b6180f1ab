from django.apps import AppConfig


class ProjectsConfig(AppConfig):
    name = "keyprojects.projects"
    label = "projects"

    def ready(self) -> None:
        # Cached roll-ups (rates, problem figures, cockpit) read projects, their units and stages.
        from django.contrib.auth import get_user_model

        from keyprojects.org.models import Unit
        from keyprojects.projects import models
        from keyprojects.rollups.cache import watch

        for model in (models.Project, models.StageTransition, models.BatchMembership, models.SizeBand,
                      models.Industry, models.FinancingModel, models.Phase, models.ApprovalItem, Unit):  # fmt: skip
            watch(model, "projects")
        # Leaders' names appear in the figures; a login (last_login) changes none.
        watch(get_user_model(), "projects", ignore_fields=("last_login", "password"))
