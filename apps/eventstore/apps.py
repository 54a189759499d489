from django.apps import AppConfig


class EventStoreConfig(AppConfig):
    name = "apps.eventstore"
    verbose_name = "Event store"

    def ready(self) -> None:
        # Registers the after-run hooks: cache generations and live pushes.
        from django_eventstream import views as eventstream_views

        from apps.eventstore import live, readcache  # noqa: F401

        # django-eventstream makes its one listener manager when its views are imported; its
        # Redis listener has not started yet (it starts with the first stream).
        manager = eventstream_views.get_listener_manager()
        if manager.redis_listener is not None:
            manager.redis_listener = live.ResilientRedisListener()
