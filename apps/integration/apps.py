from django.apps import AppConfig


class IntegrationConfig(AppConfig):
    name = "apps.integration"
    verbose_name = "Hospital integration"

    def ready(self) -> None:
        from apps.integration import projections  # noqa: F401  (registers the projection)
