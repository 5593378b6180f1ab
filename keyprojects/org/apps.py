from django.apps import AppConfig


class OrgConfig(AppConfig):
    name = "keyprojects.org"
    label = "org"
