from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "keyprojects.dashboard"
    label = "dashboard"
