from django.apps import AppConfig


class ProjectsConfig(AppConfig):
    name = "keyprojects.projects"
    label = "projects"
