from django.apps import AppConfig


class EventStoreConfig(AppConfig):
    name = "apps.eventstore"
    verbose_name = "Event store"
