from django.apps import AppConfig


class FundingConfig(AppConfig):
    name = "keyprojects.funding"
    label = "funding"
