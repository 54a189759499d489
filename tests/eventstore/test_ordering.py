"""A reader going by position never skips an event, however appends interleave."""

import random
import threading
import time
from typing import Any

import pytest
from django.db import connection, transaction
from django_tenants.utils import schema_context

from apps.clinic.commands import branch_create
from apps.eventstore.models import Event
from apps.eventstore.store import head_position
from apps.tenants.models import Tenant

WRITERS = 8
APPENDS_EACH = 10


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_a_position_reader_sees_every_event_under_concurrent_appends(
    committed_tenant: Tenant, django_db_blocker: Any
) -> None:
    schema = committed_tenant.schema_name
    with django_db_blocker.unblock():
        with schema_context(schema):
            start = head_position()
        done = threading.Event()
        seen: list[int] = []
        errors: list[BaseException] = []

        def write(writer: int) -> None:
            try:
                connection.set_schema(schema)
                for n in range(APPENDS_EACH):
                    with transaction.atomic():
                        branch_create(actor=None, name=f"W{writer}-{n}", timezone="Asia/Kolkata")
                        # Hold the transaction open a little after the append, so a commit
                        # can lag behind later appends if positions were not serialized.
                        time.sleep(random.uniform(0, 0.01))  # noqa: S311
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)
            finally:
                connection.close()

        def read() -> None:
            try:
                connection.set_schema(schema)
                last = start
                while True:
                    finished = done.is_set()
                    batch = list(
                        Event.objects.filter(position__gt=last)
                        .order_by("position")
                        .values_list("position", flat=True)
                    )
                    seen.extend(batch)
                    last = batch[-1] if batch else last
                    if finished:
                        return
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)
            finally:
                connection.close()

        reader = threading.Thread(target=read)
        writers = [threading.Thread(target=write, args=(i,)) for i in range(WRITERS)]
        reader.start()
        for thread in writers:
            thread.start()
        for thread in writers:
            thread.join()
        done.set()
        reader.join()

        assert not errors, errors
        with schema_context(schema):
            committed = list(
                Event.objects.filter(position__gt=start).values_list("position", flat=True)
            )
        assert len(committed) == WRITERS * APPENDS_EACH
        assert seen == sorted(committed), "the reader skipped an event that committed late"
