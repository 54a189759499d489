"""What travels on a branch's display channel, read off a real server's stream: tokens,
doctors, rooms and steps; never a patient's name or phone."""

import http.client
import json
import time
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.clinic.models import Branch
from apps.eventstore.projections import catch_up
from apps.queue import commands as queue
from apps.scheduling import commands
from apps.scheduling.slots import free_slots
from apps.tenants.models import Tenant
from tests import servers

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

NAME, PHONE = "Kamala Devi", "+919876501234"


def sse_events(response: http.client.HTTPResponse, wanted: str, seconds: float) -> Iterator[Any]:
    """The data of each `wanted` event on the stream, until `seconds` have passed."""
    deadline = time.monotonic() + seconds
    kind = ""
    while time.monotonic() < deadline:
        line = response.fp.readline().decode().rstrip("\n")
        if line.startswith("event: "):
            kind = line[len("event: ") :]
        elif line.startswith("data: ") and kind == wanted:
            yield json.loads(line[len("data: ") :])


def test_the_display_channel_carries_tokens_doctor_room_and_step_only(
    committed_tenant: Tenant, django_db_blocker: Any
) -> None:
    with django_db_blocker.unblock(), schema_context(committed_tenant.schema_name):
        branch = Branch.objects.get()
        doctor = commands.doctor_add(
            actor=None,
            branch=branch,
            name="Dr. Neha Joshi",
            specialty="General medicine",
            slot_minutes=5,
            consultation_fee=Decimal("500.00"),
            weekly_hours=[{"weekday": d, "start": "00:00", "end": "23:55"} for d in range(7)],
        )
        queue.doctor_room_set(actor=None, doctor=doctor, room="4")
        today = timezone.now().astimezone(ZoneInfo(branch.timezone)).date()
        start = next(
            s.start
            for s in free_slots(doctor, today)
            if s.start > timezone.now() + timedelta(minutes=10)
        )
        patient = commands.patient_register(actor=None, name=NAME, phone=PHONE, branch=branch)
        visit = commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=start)
        _, key = queue.display_link_create(actor=None, branch=branch, name="Hall", language="en")

    with django_db_blocker.unblock(), servers.asgi_server() as port:
        stream = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
        stream.request(
            "GET",
            f"/queue/branches/{branch.pk}/events/?key={key}",
            headers={"Host": f"{committed_tenant.slug}.localhost"},
        )
        response = stream.getresponse()
        try:
            assert response.status == 200
            # The stream is listening once it has said so.
            while response.fp.readline().decode().strip() != "event: stream-open":
                pass
            with schema_context(committed_tenant.schema_name):
                commands.appointment_check_in(actor=None, appointment=visit, now=start)
                queue.patient_call(actor=None, appointment=visit)
                catch_up()
            pushed = next(
                state
                for state in sse_events(response, "queue", 15)
                if state["doctors"] and state["doctors"][0]["serving"] == 1
            )
        finally:
            stream.close()

    assert pushed["doctors"] == [
        {
            "doctor": doctor.pk,
            "name": "Dr. Neha Joshi",
            "room": "4",
            "serving": 1,
            "status": "called",
            "calls": 1,
            "waiting": [],
        }
    ]
    assert set(pushed) == {"branch", "date", "as_of_position", "doctors"}
    assert "Kamala" not in json.dumps(pushed, ensure_ascii=False)
    assert "9876501234" not in json.dumps(pushed)
