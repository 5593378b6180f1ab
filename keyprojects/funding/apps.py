from django.apps import AppConfig


class FundingConfig(AppConfig):
    name = "keyprojects.funding"
    label = "funding"

    def ready(self) -> None:
        # The cockpit's environment figures (chains, buildings, service matters, funding) are cached.
        from keyprojects.funding import models
        from keyprojects.rollups.cache import watch

        watched = (models.FundingLine, models.FundingStep, models.IndustryChain, models.Building,
                   models.ServiceMatter, models.FundType)  # fmt: skip
        for model in watched:
            watch(model, "funding")
