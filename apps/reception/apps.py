from django.apps import AppConfig


class ReceptionConfig(AppConfig):
    name = "apps.reception"
    verbose_name = "Reception console"
