from django.apps import AppConfig


class NotifyConfig(AppConfig):
    name = "keyprojects.notify"
    label = "notify"
