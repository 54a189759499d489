"""Outbound SIU: bookings, reschedules and cancellations leave as SIU S12/S13/S15 to each
outbound channel's host and port over MLLP, in event order, with retries and backoff.

A channel's messages go one at a time in position order: a message that is not
acknowledged (no connection, no answer in time, an AE or AR) holds the ones after it until
it is acknowledged or, after the channel's retries, dead-lettered (logged and counted on
/metrics, and sent again from the admin by a person).

The same sender delivers the application ACKs owed to inbound channels (enhanced mode,
MSH-16) to the inbound channel's host and port: one at a time in the order they were owed,
with the same backoff, failed after `APP_ACK_ATTEMPTS` attempts.
"""

import logging
import os
import socket
from datetime import datetime, timedelta
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from apps.clinic.models import Branch
from apps.core.db import connection
from apps.core.shortlived import ShortLived, forget_on_change
from apps.core.wakeups import after_commit
from apps.integration.models import ApplicationAck, Channel, OutboundMessage
from apps.integration.parsing import ACK_VERSION, escape
from apps.scheduling import events as scheduling_events
from apps.scheduling.models import Doctor, Patient
from apps.tenants.models import Tenant

log = logging.getLogger("mymedic.integration")

SEND_JOB = "send-hl7-outbound"
SEND_LOCK = 0x484C374F  # "HL7O": one sender per channel (SIU out, application ACKs back)
# Attempts at an application ACK before it is failed: 5 s doubling, at most 600 s apart,
# about 40 minutes of a peer that is down.
APP_ACK_ATTEMPTS = 12
START, END = b"\x0b", b"\x1c\x0d"
SIU_BY_EVENT = {
    scheduling_events.APPOINTMENT_BOOKED: ("S12", "Booked"),
    scheduling_events.APPOINTMENT_RESCHEDULED: ("S13", "Booked"),
    scheduling_events.APPOINTMENT_CANCELLED: ("S15", "Cancelled"),
}


def _retry_seconds() -> float:
    return float(os.environ.get("MYMEDIC_HL7_SEND_RETRY_SECONDS", "5"))


def _timeout() -> float:
    return float(os.environ.get("MYMEDIC_HL7_SEND_TIMEOUT", "10"))


def _ts(instant: datetime, zone: str) -> str:
    return instant.astimezone(ZoneInfo(zone)).strftime("%Y%m%d%H%M%S%z")


def _name(patient: Patient) -> str:
    given, _, family = (patient.name or "").rpartition(" ")
    return f"{escape(family)}^{escape(given)}" if given else escape(family)


def siu(
    *, channel: Channel, event_type: str, visit: dict[str, Any], control_id: str, sender: str
) -> str:
    """The SIU message for an appointment event (v2.5: MSH, SCH, PID, RGS, AIP, AIL), with
    the times the event recorded (a booking later moved is still sent as booked)."""
    trigger, status = SIU_BY_EVENT[event_type]
    branch = Branch.objects.get(pk=visit["branch_id"])
    zone = visit.get("timezone") or branch.timezone  # events before the zone was recorded
    start, end = datetime.fromisoformat(visit["start"]), datetime.fromisoformat(visit["end"])
    minutes = int((end - start).total_seconds() // 60)
    msh = ["MSH", "^~\\&", "MYMEDIC", escape(sender), "HIS",
           escape(channel.sending_facility), _ts(timezone.now(), zone), "",
           f"SIU^{trigger}^SIU_S12", control_id, "P", ACK_VERSION]  # fmt: skip
    sch = ["SCH", f"{visit['id']}^MYMEDIC", f"{visit['id']}^MYMEDIC", "", "", "", "", "",
           "", str(minutes), "min", f"^^{minutes}^{_ts(start, zone)}^{_ts(end, zone)}"]  # fmt: skip
    sch += [""] * (25 - len(sch)) + [status]
    patient = Patient.objects.get(pk=visit["patient_id"])
    dob = patient.date_of_birth.strftime("%Y%m%d") if patient.date_of_birth else ""
    pid = ["PID", "1", "", f"{patient.pk}^^^MYMEDIC^MR", "", _name(patient), "", dob, "", "",
           "", "", "", escape(patient.phone or "")]  # fmt: skip
    doctor = Doctor.objects.get(pk=visit["doctor_id"])
    segments = [
        "|".join(msh),
        "|".join(sch),
        "|".join(pid),
        "RGS|1",
        f"AIP|1||{doctor.pk}^{escape(doctor.name)}",
        f"AIL|1||^^^{escape(branch.name)}",
    ]
    return "\r".join(segments) + "\r"


# schema → ids of its active outbound channels. Every booking asks, so the answer is kept in
# the process for at most a second (apps.core.shortlived): a booking's write path costs no
# query for it, and a channel added elsewhere is served within that second.
_outbound_channels: ShortLived[tuple[int, ...]] = ShortLived("hl7 outbound channels")
forget_on_change(Channel)


def _outbound_channel_ids() -> tuple[int, ...]:
    def load() -> tuple[int, ...]:
        active = Channel.objects.filter(direction=Channel.Direction.OUTBOUND, active=True)
        return tuple(active.values_list("pk", flat=True))

    return _outbound_channels.get(connection.schema_name, load) or ()


def plan(event_type: str, position: int, visit: dict[str, Any]) -> int:
    """Makes the event's SIU for every outbound channel that was there before it (in the
    appending transaction, apps.integration.receivers); returns how many were made."""
    ids = _outbound_channel_ids()
    if not ids:
        return 0
    channels = Channel.objects.filter(pk__in=ids, start_position__lt=position)
    made = 0
    for channel in channels:
        if OutboundMessage.objects.filter(channel=channel, position=position).exists():
            continue
        control_id = f"MM{position}C{channel.pk}"
        message = OutboundMessage(
            channel=channel,
            position=position,
            appointment_id=visit["id"],
            message_type=f"SIU^{SIU_BY_EVENT[event_type][0]}",
            control_id=control_id,
        )
        message.seal(
            siu(channel=channel, event_type=event_type, visit=visit, control_id=control_id,
                sender=_slug())
        )  # fmt: skip
        message.save()
        made += 1
    return made


def _slug() -> str:
    """This tenant's slug: our MSH-4 (sending facility) towards the hospital."""
    found = Tenant.objects.filter(schema_name=connection.schema_name).values_list("slug", flat=True)
    return found.first() or connection.schema_name


def deliver(host: str, port: int, text: str, timeout: float) -> tuple[str, str]:
    """Sends one message over MLLP and reads its ACK: (MSA-1, MSA-3), or ("", why) when no
    ACK came."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as peer:
            peer.settimeout(timeout)
            peer.sendall(START + text.encode() + END)
            received = b""
            while END not in received:
                chunk = peer.recv(65536)
                if not chunk:
                    return "", "The peer closed the connection without an ACK."
                received += chunk
    except TimeoutError:
        return "", "No ACK within the timeout."
    except OSError as exc:
        return "", f"Connection failed ({type(exc).__name__})."
    body = received.split(END)[0].lstrip(START).decode(errors="replace")
    for segment in body.replace("\n", "\r").split("\r"):
        if segment.startswith("MSA|"):
            fields = segment.split("|") + ["", "", ""]
            return fields[1], fields[3][:120]
    return "", "The answer had no MSA segment."


def wake_sender() -> None:
    """Once the current transaction commits, the tenant's sender runs (a Celery task on the
    integration queue; the beat job is the safety net when the broker is down)."""
    # The commit may come after the schema was switched back: name it here.
    after_commit(partial(_request_send, connection.schema_name), what="hl7 send")


def _request_send(schema: str) -> None:
    from apps.integration.tasks import send_tenant_outbound

    send_tenant_outbound.apply_async(headers={"_schema_name": schema})


def send_pending(*, now: datetime | None = None) -> int:
    """Sends what is due on every outbound channel of this tenant, and the application ACKs
    owed to its inbound channels; returns how many were acknowledged."""
    sent = 0
    for channel in Channel.objects.filter(direction=Channel.Direction.OUTBOUND, active=True):
        sent += _send_channel(channel, now)
    for channel in Channel.objects.filter(pk__in=_app_ack_channel_ids()):
        sent += _send_app_acks(channel, now)
    return sent


def _app_ack_channel_ids() -> list[int]:
    pending = ApplicationAck.objects.filter(status=ApplicationAck.Status.PENDING)
    return list(pending.values_list("channel_id", flat=True).distinct())


def _take_channel(channel: Channel) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", [SEND_LOCK, channel.pk])
        return bool(cursor.fetchone()[0])


def _send_one(channel: Channel, row: OutboundMessage | ApplicationAck, raw: str) -> str | None:
    """Sends `raw` to the channel's peer for an owed `row` (an outbound message or an
    application ACK) and counts the attempt; a `CA`/`AA` answer marks the row sent (saved).
    Returns None when accepted, else what went wrong (the peer's code and text, or ours)."""
    code, text = deliver(channel.host, channel.port or 0, raw, _timeout())
    row.attempts += 1
    if code not in ("AA", "CA"):
        return f"{code}: {text}" if code else text
    row.status = row.Status.SENT
    row.sent_at = timezone.now()
    row.error = ""
    row.next_attempt_at = None
    row.save()
    return None


def _send_app_acks(channel: Channel, now: datetime | None) -> int:
    """The channel's owed application ACKs, oldest first; one that is not accepted waits
    (backoff) and holds the later ones, as the peer is the same."""
    sent = 0
    while True:
        with transaction.atomic():
            if not _take_channel(channel):
                return sent  # another sender has this channel
            owed = (
                ApplicationAck.objects.select_for_update()
                .filter(channel=channel, status=ApplicationAck.Status.PENDING)
                .order_by("id")
                .first()
            )
            at = now or timezone.now()
            if owed is None or (owed.next_attempt_at and owed.next_attempt_at > at):
                return sent
            error = _send_one(channel, owed, owed.text)
            if error is None:
                sent += 1
                continue
            owed.error = error[:200]
            if owed.attempts >= APP_ACK_ATTEMPTS:
                owed.status = ApplicationAck.Status.FAILED
                owed.next_attempt_at = None
                log.error(
                    "hl7 application ack failed schema=%s channel=%s message=%s attempts=%s",
                    connection.schema_name, channel.pk, owed.message_id, owed.attempts,
                )  # fmt: skip
                owed.save()
                continue
            wait = min(_retry_seconds() * 2 ** (owed.attempts - 1), 600.0)
            owed.next_attempt_at = at + timedelta(seconds=wait)
            owed.save()
            _note_send_due(owed.next_attempt_at)
            log.warning(
                "hl7 application ack not accepted schema=%s channel=%s message=%s attempts=%s",
                connection.schema_name, channel.pk, owed.message_id, owed.attempts,
            )  # fmt: skip
            return sent


def _note_send_due(at: datetime) -> None:
    from apps.core.tenancy import note_due

    note_due(SEND_JOB, at)


def _send_channel(channel: Channel, now: datetime | None) -> int:
    sent = 0
    while True:
        with transaction.atomic():
            if not _take_channel(channel):
                return sent  # another sender has this channel
            message = (
                OutboundMessage.objects.filter(
                    channel=channel, status=OutboundMessage.Status.PENDING
                )
                .order_by("position")
                .first()
            )
            at = now or timezone.now()
            if message is None or (message.next_attempt_at and message.next_attempt_at > at):
                return sent
            error = _send_one(channel, message, message.raw)
            if error is None:
                sent += 1
                continue
            _failed(channel, message, error, at)
            if message.status != OutboundMessage.Status.DEAD:
                return sent


def _failed(channel: Channel, message: OutboundMessage, error: str, at: datetime) -> None:
    from apps.core.tenancy import note_due

    message.error = error[:200]
    if message.attempts > channel.max_retries:
        message.status = OutboundMessage.Status.DEAD
        message.next_attempt_at = None
        log.error(
            "hl7 outbound dead-lettered schema=%s channel=%s message=%s attempts=%s",
            connection.schema_name, channel.pk, message.pk, message.attempts,
        )  # fmt: skip
    else:
        wait = min(_retry_seconds() * 2 ** (message.attempts - 1), 600.0)
        message.next_attempt_at = at + timedelta(seconds=wait)
        note_due(SEND_JOB, message.next_attempt_at)
        log.warning(
            "hl7 outbound not acknowledged schema=%s channel=%s message=%s attempts=%s",
            connection.schema_name, channel.pk, message.pk, message.attempts,
        )  # fmt: skip
    message.save()


def next_send() -> datetime | None:
    """When this tenant's outbox has work next (None: nothing waits): each channel's first
    waiting message (or application ACK) decides for its channel (the ones behind it wait
    for it)."""
    times = []
    for channel_id in Channel.objects.filter(direction=Channel.Direction.OUTBOUND).values_list(
        "pk", flat=True
    ):
        head = (
            OutboundMessage.objects.filter(
                channel_id=channel_id, status=OutboundMessage.Status.PENDING
            )
            .order_by("position")
            .first()
        )
        if head is not None:
            times.append(head.next_attempt_at or timezone.now())
    for channel_id in _app_ack_channel_ids():
        owed = (
            ApplicationAck.objects.filter(
                channel_id=channel_id, status=ApplicationAck.Status.PENDING
            )
            .order_by("id")
            .first()
        )
        if owed is not None:
            times.append(owed.next_attempt_at or timezone.now())
    return min(times, default=None)


def send_again(message: OutboundMessage) -> None:
    """A person sends a dead-lettered message again (after the peer was fixed)."""
    message.status = OutboundMessage.Status.PENDING
    message.attempts = 0
    message.next_attempt_at = None
    message.save()


def app_ack_again(owed: ApplicationAck) -> None:
    """A person sends a failed application ACK again (after the peer, or the channel's host
    and port, was fixed)."""
    owed.status = ApplicationAck.Status.PENDING
    owed.attempts = 0
    owed.next_attempt_at = None
    owed.save()
    _note_send_due(timezone.now())
    wake_sender()
