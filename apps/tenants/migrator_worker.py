"""Sets up a process spawned by the migration runner (`--jobs`) like its parent: Django, the
same database and the same migrations. Imports no model, so the process can load it before
Django is set up."""

import os
from typing import Any


def start(database: dict[str, Any]) -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mymedic.settings")
    django.setup()
    from django.conf import settings
    from django.db import connections

    connections["default"].close()
    connections["default"].settings_dict["NAME"] = database["NAME"]
    settings.MIGRATION_MODULES = database["MIGRATION_MODULES"]
