from django.apps import AppConfig


class VisitsConfig(AppConfig):
    name = "keyprojects.visits"
    label = "visits"
