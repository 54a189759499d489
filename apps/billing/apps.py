from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "apps.billing"
    verbose_name = "Billing"

    def ready(self) -> None:
        # Registers the takings projection, its board section and the cancellation policy.
        from apps.billing import cancellation, projections  # noqa: F401
