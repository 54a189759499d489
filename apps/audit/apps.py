from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "apps.audit"
    verbose_name = "Audit trail"

    def ready(self) -> None:
        from apps.audit import receivers  # noqa: F401  (logins, failed logins, appended events)
