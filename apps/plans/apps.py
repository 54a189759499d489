from django.apps import AppConfig


class PlansConfig(AppConfig):
    name = "apps.plans"
    verbose_name = "Plans and subscriptions"

    def ready(self) -> None:
        from apps.core.shortlived import forget_on_change
        from apps.plans import gate
        from apps.plans.models import Module, Plan, Subscription

        forget_on_change(Module, Plan, Subscription)
        gate.connect()
