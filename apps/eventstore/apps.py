from django.apps import AppConfig


class EventStoreConfig(AppConfig):
    name = "apps.eventstore"
    verbose_name = "Event store"

    def ready(self) -> None:
        # Registers the after-run hooks: cache generations and live pushes.
        from django_eventstream import views as eventstream_views

        from apps.eventstore import live, readcache  # noqa: F401

        # django-eventstream's manager builds its listener by this module-level name.
        eventstream_views.RedisListener = live.ResilientRedisListener
