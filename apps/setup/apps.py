from django.apps import AppConfig


class SetupConfig(AppConfig):
    name = "apps.setup"
    label = "setup"
    verbose_name = "Set-up"
