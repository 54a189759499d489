"""The project's Celery app with faults injected for named tenants, for workers that fault
tests start (`celery -A tests.faults.faulty worker ...`).

MYMEDIC_FAULT_RAISE and MYMEDIC_FAULT_HANG name schemas (comma-separated) whose nightly
close, warehouse export and message dispatch raise, or hang until the time limit stops them;
MYMEDIC_FAULT_SLOW names schemas whose work takes MYMEDIC_FAULT_SLOW_SECONDS longer.
"""

import os
import time
from collections.abc import Callable
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mymedic.settings")
django.setup()

from apps.core.db import connection  # noqa: E402
from apps.notifications import tasks as notification_tasks  # noqa: E402
from apps.reconciliation import export as export_module  # noqa: E402
from apps.reconciliation import tasks as reconciliation_tasks  # noqa: E402
from mymedic.celery import app  # noqa: E402

RAISE = set(filter(None, os.environ.get("MYMEDIC_FAULT_RAISE", "").split(",")))
HANG = set(filter(None, os.environ.get("MYMEDIC_FAULT_HANG", "").split(",")))
SLOW = set(filter(None, os.environ.get("MYMEDIC_FAULT_SLOW", "").split(",")))
SLOW_SECONDS = float(os.environ.get("MYMEDIC_FAULT_SLOW_SECONDS", "0"))


def faulty(work: Callable[..., Any]) -> Callable[..., Any]:
    def run(*args: Any, **kwargs: Any) -> Any:
        if connection.schema_name in RAISE:
            raise RuntimeError("injected fault")
        if connection.schema_name in HANG:
            time.sleep(3600)
        if connection.schema_name in SLOW:
            print(f"slow work begins schema={connection.schema_name}", flush=True)
            time.sleep(SLOW_SECONDS)
        return work(*args, **kwargs)

    return run


reconciliation_tasks.close_days = faulty(reconciliation_tasks.close_days)  # type: ignore[assignment]
export_module.export = faulty(export_module.export)  # type: ignore[assignment]
notification_tasks.dispatch_due = faulty(notification_tasks.dispatch_due)  # type: ignore[assignment]

__all__ = ["app"]
