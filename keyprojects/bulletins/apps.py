from django.apps import AppConfig
from django.db.models.signals import post_migrate


class BulletinsConfig(AppConfig):
    name = "keyprojects.bulletins"
    label = "bulletins"

    def ready(self) -> None:
        # Reinstall the issued-bulletin trigger after every migrate: SQLite drops it whenever a migration
        # rebuilds the table (as `keyprojects.audit` does for its guards). post_migrate is sent once per
        # app after the whole plan has run, so this app's signal comes after every rebuild.
        from keyprojects.bulletins.guards import on_post_migrate

        post_migrate.connect(on_post_migrate, sender=self, dispatch_uid="bulletin-guards")
