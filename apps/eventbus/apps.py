from django.apps import AppConfig


class EventBusConfig(AppConfig):
    name = "apps.eventbus"
    label = "eventbus"
    verbose_name = "Event bus"
