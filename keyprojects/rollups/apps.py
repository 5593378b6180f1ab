from django.apps import AppConfig


class RollupsConfig(AppConfig):
    name = "keyprojects.rollups"
    label = "rollups"
