from django.apps import AppConfig


class IntegrationConfig(AppConfig):
    name = "apps.integration"
    verbose_name = "Hospital integration"

    def ready(self) -> None:
        from apps.integration import receivers  # noqa: F401  (connects the outbox)
        from apps.integration.logs import withhold_hl7_values

        withhold_hl7_values()
