from django.apps import AppConfig


class SettlementsConfig(AppConfig):
    name = "apps.settlements"
    verbose_name = "Settlements"
