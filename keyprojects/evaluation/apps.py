from django.apps import AppConfig


class EvaluationConfig(AppConfig):
    name = "keyprojects.evaluation"
    label = "evaluation"
