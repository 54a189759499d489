from django.apps import AppConfig


class IntegrationConfig(AppConfig):
    name = "apps.integration"
    verbose_name = "Hospital integration"
