from django.apps import AppConfig


class ClinicConfig(AppConfig):
    name = "apps.clinic"
    verbose_name = "Clinic: branches and staff"

    def ready(self) -> None:
        from apps.clinic import openapi  # noqa: F401  (registers the token scheme)
        from apps.clinic.models import Branch, StaffToken, User
        from apps.core.shortlived import forget_on_change

        forget_on_change(User, StaffToken, Branch)
