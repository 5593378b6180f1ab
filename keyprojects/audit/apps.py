from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AuditConfig(AppConfig):
    name = "keyprojects.audit"
    label = "audit"

    def ready(self) -> None:
        from keyprojects.audit import security  # noqa: F401  (connects the login/logout signal receivers)
        from keyprojects.audit.guards import on_post_migrate

        post_migrate.connect(on_post_migrate, sender=self, dispatch_uid="audit-guards")
