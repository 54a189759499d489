"""At most once, for real: dispatchers in their own processes, SIGKILLed mid-batch or run
side by side, against the real database; the file outbox shows what reached the provider."""

import json
import signal
import subprocess
import sys
import textwrap
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.clinic.models import Branch
from apps.eventstore.projections import catch_up
from apps.notifications.dispatch import UNKNOWN_OUTCOME
from apps.notifications.models import Delivery
from apps.scheduling import commands
from apps.tenants.models import Tenant
from tests.conftest import subprocess_env
from tests.scheduling.factories import DoctorFactory, PatientFactory

# Runs the real dispatcher of one tenant with the cueing test backend.
DISPATCHER = textwrap.dedent(
    """
    import sys, django
    django.setup()
    from django.conf import settings
    from django_tenants.utils import schema_context
    from apps.notifications.dispatch import dispatch_due

    schema, directory, hang_before, hang_after, delay = sys.argv[1:6]
    settings.MYMEDIC_NOTIFY_BACKENDS = {
        channel: {
            "class": "tests.notifications.backends.CueingBackend",
            "options": {"directory": directory, "hang_before": int(hang_before),
                        "hang_after": int(hang_after), "delay": float(delay)},
        }
        for channel in ("sms", "whatsapp", "email")
    }
    with schema_context(schema):
        result = dispatch_due()
    print("done", result.sent, flush=True)
    """
)


@pytest.fixture(autouse=True)
def monday_morning() -> None:
    """Real time here (no travel): the dispatchers in other processes live in it too."""


def start_dispatcher(
    tenant: Tenant,
    directory: Path,
    *,
    hang_before: int = 0,
    hang_after: int = 0,
    delay: float = 0,
    **env: str,
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            DISPATCHER,
            tenant.schema_name,
            str(directory),
            str(hang_before),
            str(hang_after),
            str(delay),
        ],
        env=subprocess_env(DJANGO_SETTINGS_MODULE="mymedic.settings", **env),
        stdout=subprocess.PIPE,
        text=True,
    )


def wait_for(worker: subprocess.Popen[str], word: str) -> list[str]:
    lines = []
    assert worker.stdout is not None
    for line in worker.stdout:
        lines.append(line.strip())
        if line.startswith(word):
            return lines
    raise AssertionError(f"the dispatcher ended without {word!r}: {lines}")


def sent_counts(directory: Path) -> Counter[str]:
    path = directory / "sms.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    return Counter(json.loads(line)["key"] for line in lines)


def book_confirmations(tenant: Tenant, count: int, day_offset: int) -> list[str]:
    """Books `count` visits on a future day (real time) and plans their confirmations."""
    branch = Branch.objects.get()
    zone = ZoneInfo(branch.timezone)
    day = (timezone.now().astimezone(zone) + timedelta(days=day_offset)).date()
    doctor = DoctorFactory(
        branch=branch,
        weekly_hours=[{"weekday": d, "start": "08:00", "end": "20:00"} for d in range(7)],
    )
    keys = []
    for n in range(count):
        person = PatientFactory(
            name=f"Outbox Person {day_offset}-{n}", phone=f"+9197{day_offset:02d}{n:06d}"
        )
        start = datetime(day.year, day.month, day.day, 8, tzinfo=zone) + timedelta(minutes=30 * n)
        visit = commands.appointment_book(actor=None, doctor=doctor, patient=person, start=start)
        keys.append(f"appointment-{visit.pk}:confirmation:v1")
    catch_up(["notifications"])
    return keys


@pytest.mark.slow
@pytest.mark.timeout(120)
@pytest.mark.parametrize("cue", ["hang_before", "hang_after"])
def test_a_dispatcher_killed_mid_batch_sends_nothing_twice_and_dead_letters_the_stuck_one(
    committed_tenant: Tenant, django_db_blocker: Any, tmp_path: Path, cue: str
) -> None:
    with django_db_blocker.unblock(), schema_context(committed_tenant.schema_name):
        keys = book_confirmations(committed_tenant, 5, 2 if cue == "hang_before" else 3)

        worker = start_dispatcher(committed_tenant, tmp_path, **{cue: 3})
        try:
            hung_on = wait_for(worker, "hanging")[-1].split()[1]
        finally:
            worker.send_signal(signal.SIGKILL)
            worker.wait(10)
            if worker.stdout:
                worker.stdout.close()

        assert Delivery.objects.get(key=hung_on).status == "sending"
        # Restarted at once: sends the rest, leaves the one in flight alone (maybe still busy).
        restarted = start_dispatcher(committed_tenant, tmp_path)
        out, _ = restarted.communicate(timeout=60)
        assert restarted.returncode == 0, out
        assert Delivery.objects.get(key=hung_on).status == "sending"
        # Restarted once the stuck window has passed: the stuck one goes to a person.
        later = start_dispatcher(committed_tenant, tmp_path, MYMEDIC_NOTIFY_STUCK_SECONDS="0")
        out, _ = later.communicate(timeout=60)
        assert later.returncode == 0, out

        counts = sent_counts(tmp_path)
        statuses = dict(Delivery.objects.filter(key__in=keys).values_list("key", "status"))
        stuck = Delivery.objects.get(key=hung_on)

    assert max(counts.values()) == 1, counts
    assert (stuck.status, stuck.last_error) == ("dead", UNKNOWN_OUTCOME)
    assert counts[hung_on] == (1 if cue == "hang_after" else 0)
    assert {key for key, status in statuses.items() if status == "sent"} == set(keys) - {hung_on}
    assert set(counts) == set(keys) - ({hung_on} if cue == "hang_before" else set())


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_two_dispatchers_at_once_send_each_message_once(
    committed_tenant: Tenant, django_db_blocker: Any, tmp_path: Path
) -> None:
    with django_db_blocker.unblock(), schema_context(committed_tenant.schema_name):
        keys = book_confirmations(committed_tenant, 12, 4)

        workers = [start_dispatcher(committed_tenant, tmp_path, delay=0.05) for _ in range(2)]
        outputs = []
        for worker in workers:
            out, _ = worker.communicate(timeout=90)
            outputs.append(out)
            assert worker.returncode == 0, out

        counts = sent_counts(tmp_path)
        statuses = Counter(Delivery.objects.filter(key__in=keys).values_list("status", flat=True))

    assert set(counts) == set(keys)
    assert max(counts.values()) == 1, counts
    assert statuses == {"sent": len(keys)}
    both_worked = [int(out.split()[-1]) for out in outputs]
    assert sum(both_worked) == len(keys)
