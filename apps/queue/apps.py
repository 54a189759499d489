from django.apps import AppConfig


class QueueConfig(AppConfig):
    name = "apps.queue"
    verbose_name = "Queue"

    def ready(self) -> None:
        from apps.queue import live, projections, read  # noqa: F401  (registrations)
