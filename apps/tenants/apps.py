from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "apps.tenants"
    verbose_name = "Tenants"

    def ready(self) -> None:
        from apps.core.shortlived import forget_on_change
        from apps.tenants.models import Domain, Tenant

        forget_on_change(Tenant, Domain)
