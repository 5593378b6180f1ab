from django.apps import AppConfig


class ProgressConfig(AppConfig):
    name = "keyprojects.progress"
    label = "progress"
