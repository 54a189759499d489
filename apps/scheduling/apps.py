from django.apps import AppConfig


class SchedulingConfig(AppConfig):
    name = "apps.scheduling"
    verbose_name = "Scheduling"

    def ready(self) -> None:
        from apps.core.shortlived import forget_on_change
        from apps.scheduling import projections  # noqa: F401  (registers the projections)
        from apps.scheduling.models import Doctor, SchedulingSettings

        forget_on_change(Doctor, SchedulingSettings)
