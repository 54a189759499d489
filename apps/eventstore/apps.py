from django.apps import AppConfig


class EventStoreConfig(AppConfig):
    name = "apps.eventstore"
    verbose_name = "Event store"

    def ready(self) -> None:
        # Registers the after-run hooks: cache generations and live pushes.
        from apps.eventstore import live, readcache  # noqa: F401
