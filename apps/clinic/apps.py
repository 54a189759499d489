from django.apps import AppConfig


class ClinicConfig(AppConfig):
    name = "apps.clinic"
    verbose_name = "Clinic: branches and staff"
