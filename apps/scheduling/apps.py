from django.apps import AppConfig


class SchedulingConfig(AppConfig):
    name = "apps.scheduling"
    verbose_name = "Scheduling"

    def ready(self) -> None:
        from apps.scheduling import projections  # noqa: F401  (registers the projections)
