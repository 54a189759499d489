"""Database routing for the directory: its models live only in the directory database.

With `MYMEDIC_DIRECTORY_DATABASE_URL` unset the directory shares the default database, and the
router hands its models the default connection itself (so a sign-up's tenant and location
commit in one transaction, and `make run` stays one cell on one database); the public schema
is migrated with the rest. With a URL set, they use the `directory` alias, which holds nothing
else (`manage.py migrate --database directory`).
"""

from typing import Any

from django.conf import settings
from django.db.models import Model

APP = "directory"


def directory_alias() -> str:
    """The connection alias the directory's models use in this process."""
    return "default" if settings.MYMEDIC_DIRECTORY_SHARED else "directory"


class DirectoryRouter:
    def db_for_read(self, model: type[Model], **hints: Any) -> str | None:
        return directory_alias() if model._meta.app_label == APP else None

    def db_for_write(self, model: type[Model], **hints: Any) -> str | None:
        return directory_alias() if model._meta.app_label == APP else None

    def allow_relation(self, obj1: Model, obj2: Model, **hints: Any) -> bool | None:
        return None

    def allow_migrate(
        self, db: str, app_label: str, model_name: str | None = None, **hints: Any
    ) -> bool | None:
        if db == "directory":
            # The alias holds the directory only (shared: the default database migrates it).
            return app_label == APP and not settings.MYMEDIC_DIRECTORY_SHARED
        if app_label == APP and not settings.MYMEDIC_DIRECTORY_SHARED:
            return False
        return None  # django-tenants decides: the public schema only (a shared app)
