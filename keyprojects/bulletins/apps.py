from django.apps import AppConfig


class BulletinsConfig(AppConfig):
    name = "keyprojects.bulletins"
    label = "bulletins"
