from django.apps import AppConfig


class SecurityConfig(AppConfig):
    name = "keyprojects.security"
    label = "security"

    def ready(self) -> None:
        from keyprojects.security import checks, signals  # noqa: F401  (system checks, lockout and password receivers)
