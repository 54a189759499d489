from django.apps import AppConfig


class MeteringConfig(AppConfig):
    name = "apps.metering"
    verbose_name = "Usage metering"

    def ready(self) -> None:
        from apps.metering import projections  # noqa: F401  (registers the projection)
