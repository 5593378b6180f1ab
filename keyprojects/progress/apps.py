from django.apps import AppConfig


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
