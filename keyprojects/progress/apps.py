from django.apps import AppConfig
from django.db.models.signals import post_migrate


class ProgressConfig(AppConfig):
    name = "keyprojects.progress"
    label = "progress"

    def ready(self) -> None:
        # Cached roll-ups (rates, cockpit) read plans, reports and their settings.
        from keyprojects.progress import models
        from keyprojects.rollups.cache import watch

        watched = (models.ProgressSettings, models.AnnualPlan, models.AnnualPlanRevision, models.InvestmentBaseline,
                   models.MonthlyReport, models.MonthLock, models.Restatement)  # fmt: skip
        for model in watched:
            watch(model, "progress")

        # The triggers keeping the monthly series equal to the reports (`progress.series`).
        from keyprojects.progress.series import on_post_migrate

        post_migrate.connect(on_post_migrate, sender=self, dispatch_uid="progress-series")
