from django.apps import AppConfig

# How often a process's connection pool tries PostgreSQL again while it is unreachable.
DB_RECONNECT_SECONDS = 0.25


class CoreConfig(AppConfig):
    name = "apps.core"
    verbose_name = "Core"

    def ready(self) -> None:
        from psycopg_pool.base import AttemptWithBackoff

        from apps.core import sessions  # noqa: F401  (stamps each sign-in's session)

        # psycopg_pool waits 1, 2, 4, 8 … s between attempts to replace a lost connection
        # (no cap), and a request waits for that attempt: after a 30 s restart the first
        # requests would wait up to 30 s more. A refused connect costs nothing, so try at a
        # fixed short interval instead (docs/FAULT-DOMAINS.md).
        AttemptWithBackoff.INITIAL_DELAY = DB_RECONNECT_SECONDS
        AttemptWithBackoff.DELAY_BACKOFF = 1.0
