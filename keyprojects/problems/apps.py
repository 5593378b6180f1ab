from django.apps import AppConfig


class ProblemsConfig(AppConfig):
    name = "keyprojects.problems"
    label = "problems"
