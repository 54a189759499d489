"""The dispatcher: sends due messages, each at most once, whatever crashes or runs twice.

For one tenant, one message at a time:

1. Planned messages that are due get their outbox row (`Delivery`, unique per key).
2. A row is claimed with `SELECT … FOR UPDATE SKIP LOCKED` (so two dispatchers never take the
   same row), re-checked against the live state (still booked at that time? not voided?)
   and marked `sending` — and that is **committed before the provider is called**.
3. The provider is called with the row key as `Message.key` (providers that deduplicate use it).
4. The outcome is recorded: `sent`; or, on a `DeliveryError`, a retry after an exponential
   backoff until the attempts run out, then the dead-letter list (`dead`).

A row found still `sending` after `MYMEDIC_NOTIFY_STUCK_SECONDS` belongs to a sender that
died between 2 and 4: the message may or may not have gone out. It is never re-sent
automatically; it goes to the dead-letter list as "unknown outcome" for a person to decide.

The message text (name, number, time) is rendered in memory at send time and never stored.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Min
from django.utils import timezone

from apps.clinic.models import Branch
from apps.core.db import connection
from apps.notifications import events, wording
from apps.notifications.backends import CHANNELS, DeliveryError, Message, send
from apps.notifications.models import (
    Delivery,
    Kind,
    Notification,
    NotificationSettings,
    SentMessage,
)
from apps.scheduling.models import Appointment, Doctor, Patient, SlotHold

logger = logging.getLogger(__name__)

UNKNOWN_OUTCOME = "unknown outcome: the sender stopped before recording the result"

CREATE_DUE_DELIVERIES = """
INSERT INTO notifications_delivery
    (key, kind, branch_id, patient_id, appointment_id, status, channel, attempts,
     next_attempt_at, provider_id, last_error, created, updated)
SELECT n.key, n.kind, n.branch_id, n.patient_id, n.appointment_id, 'pending', '', 0,
       n.due_at, '', '', %s, %s
FROM notifications_notification n
WHERE NOT n.voided AND n.due_at <= %s
  AND NOT EXISTS (SELECT 1 FROM notifications_delivery d WHERE d.key = n.key)
ORDER BY n.due_at
ON CONFLICT (key) DO NOTHING
"""


@dataclass
class DispatchResult:
    sent: int = 0
    retried: int = 0
    dead: int = 0
    skipped: int = 0
    deferred: int = 0  # not attempted: their channel's provider failed earlier in the run


class Skip(Exception):  # noqa: N818  (a reason, not an error)
    """The message is no longer wanted (cancelled, moved, erased, no address)."""


def backoff(attempts: int) -> timedelta:
    """1, 2, 4, 8, … times the base after the 1st, 2nd, 3rd, … failed attempt."""
    return timedelta(seconds=settings.MYMEDIC_NOTIFY_RETRY_BASE_SECONDS * 2 ** (attempts - 1))


def dispatch_due(*, now: datetime | None = None, limit: int = 200) -> DispatchResult:
    """Sends up to `limit` due messages of the current tenant.

    A channel whose provider failed transiently (down, hanging until its timeout) is not
    tried again in this run: its other messages wait, untouched, for the next run, so a dead
    provider costs a run one timeout instead of one per message."""
    now = now or timezone.now()
    result = DispatchResult()
    result.dead += dead_letter_stuck(now=now)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(CREATE_DUE_DELIVERIES, [now, now, now])
    failing: set[str] = set()
    for _ in range(limit):
        claimed = _claim_next(now, result)
        if claimed is None:
            break
        if isinstance(claimed, Delivery):
            continue  # skipped or dead already; nothing to send
        delivery, message = claimed
        if message.channel in failing:
            _put_back(delivery, now)
            result.deferred += 1
            continue
        retried_before = result.retried
        _deliver(delivery, message, now, result)
        if result.retried > retried_before:
            failing.add(message.channel)
    return result


def _put_back(delivery: Delivery, now: datetime) -> None:
    """Un-claims a message not attempted in this run: due again at the next one."""
    with transaction.atomic():
        delivery.status = Delivery.Status.PENDING
        delivery.attempts -= 1
        delivery.claimed_at = None
        delivery.next_attempt_at = now + timedelta(
            seconds=settings.MYMEDIC_NOTIFY_RETRY_BASE_SECONDS
        )
        delivery.save(
            update_fields=["status", "attempts", "claimed_at", "next_attempt_at", "updated"]
        )


def next_due() -> datetime | None:
    """When this tenant next has a message due, a retry due, or a row left `sending` to settle."""
    unclaimed = Notification.objects.filter(voided=False).exclude(
        key__in=Delivery.objects.values("key")
    )
    stuck_after = timedelta(seconds=settings.MYMEDIC_NOTIFY_STUCK_SECONDS)
    sending = Delivery.objects.filter(status=Delivery.Status.SENDING)
    claimed = sending.aggregate(at=Min("claimed_at"))
    times = [
        unclaimed.aggregate(at=Min("due_at"))["at"],
        Delivery.objects.filter(status=Delivery.Status.PENDING).aggregate(
            at=Min("next_attempt_at")
        )["at"],
        claimed["at"] + stuck_after if claimed["at"] else None,
    ]
    return min((at for at in times if at is not None), default=None)


def dead_letter_stuck(*, now: datetime) -> int:
    """Rows left `sending` by a sender that died: never re-sent, handed to a person."""
    cutoff = now - timedelta(seconds=settings.MYMEDIC_NOTIFY_STUCK_SECONDS)
    with transaction.atomic():
        stuck = list(
            Delivery.objects.select_for_update(skip_locked=True).filter(
                status=Delivery.Status.SENDING, claimed_at__lt=cutoff
            )
        )
        for delivery in stuck:
            delivery.status = Delivery.Status.DEAD
            delivery.last_error = UNKNOWN_OUTCOME
            delivery.save(update_fields=["status", "last_error", "updated"])
            logger.warning("notification unknown outcome id=%s key=%s", delivery.pk, delivery.key)
    return len(stuck)


def _claim_next(
    now: datetime, result: DispatchResult
) -> tuple[Delivery, Message] | Delivery | None:
    """Claims one due row and commits it as `sending`, with the message to send."""
    with transaction.atomic():
        delivery = (
            Delivery.objects.select_for_update(skip_locked=True)
            .filter(status=Delivery.Status.PENDING, next_attempt_at__lte=now)
            .order_by("next_attempt_at", "id")
            .first()
        )
        if delivery is None:
            return None
        try:
            message = build_message(delivery, now)
        except Skip as reason:
            delivery.status = Delivery.Status.SKIPPED
            delivery.last_error = str(reason)
            delivery.save(update_fields=["status", "last_error", "updated"])
            result.skipped += 1
            return delivery
        except Exception as exc:  # noqa: BLE001  (a broken template must not stop the others)
            _to_dead_letter(delivery, f"could not compose the message: {type(exc).__name__}")
            result.dead += 1
            return delivery
        delivery.status = Delivery.Status.SENDING
        delivery.channel = message.channel
        delivery.claimed_at = timezone.now()
        delivery.attempts += 1
        delivery.save(update_fields=["status", "channel", "claimed_at", "attempts", "updated"])
    return delivery, message


def _deliver(delivery: Delivery, message: Message, now: datetime, result: DispatchResult) -> None:
    try:
        provider_id = send(message)
    except DeliveryError as exc:
        _record_failure(delivery, exc, now, result)
        return
    except Exception as exc:  # noqa: BLE001  (the provider may have taken it: do not retry)
        with transaction.atomic():
            _to_dead_letter(delivery, f"unknown outcome: {type(exc).__name__}")
        result.dead += 1
        return
    with transaction.atomic():
        delivery.status = Delivery.Status.SENT
        delivery.sent_at = timezone.now()
        delivery.provider_id = provider_id[:200]
        delivery.last_error = ""
        delivery.save(update_fields=["status", "sent_at", "provider_id", "last_error", "updated"])
        record_sent(delivery)
    result.sent += 1


def _record_failure(
    delivery: Delivery, exc: DeliveryError, now: datetime, result: DispatchResult
) -> None:
    reason = str(exc)[:400]
    with transaction.atomic():
        if exc.permanent or delivery.attempts >= settings.MYMEDIC_NOTIFY_MAX_ATTEMPTS:
            why = "refused" if exc.permanent else f"gave up after {delivery.attempts} attempts"
            _to_dead_letter(delivery, f"{why}: {reason}")
            result.dead += 1
            return
        delivery.status = Delivery.Status.PENDING
        delivery.next_attempt_at = now + backoff(delivery.attempts)
        delivery.last_error = reason
        delivery.save(update_fields=["status", "next_attempt_at", "last_error", "updated"])
        result.retried += 1


def _to_dead_letter(delivery: Delivery, reason: str) -> None:
    delivery.status = Delivery.Status.DEAD
    delivery.last_error = reason[:500]
    delivery.save(update_fields=["status", "last_error", "updated"])
    logger.warning("notification dead letter id=%s key=%s", delivery.pk, delivery.key)


def build_message(delivery: Delivery, now: datetime) -> Message:
    """Re-checks that the message is still wanted and renders it (raises `Skip` if not)."""
    plan = Notification.objects.filter(key=delivery.key).first()
    if plan is None or plan.voided:
        raise Skip("no longer planned")
    doctor, branch, start = _subject_of(plan, now)
    patient = Patient.objects.filter(pk=plan.patient_id).first()
    if patient is None or patient.erased is not None:
        raise Skip("patient erased")
    channel, to = _channel_and_address(patient)
    language = patient.language
    date, time = wording.local_date_and_time(start, branch.timezone, language)
    context = {
        "patient_name": patient.name or "",
        "doctor_name": doctor.name,
        "branch_name": branch.name,
        "clinic_name": getattr(connection.tenant, "name", ""),
        "date": date,
        "time": time,
    }
    if plan.kind == Kind.SLOT_OFFERED:
        hold = SlotHold.objects.get(pk=int(plan.hold_id or 0))
        context["hold_until"] = wording.local_date_and_time(
            hold.expires_at, branch.timezone, language
        )[1]
    text = wording.render(plan.kind, language, context)
    return Message(channel=channel, to=to, body=text.body, subject=text.subject, key=delivery.key)


def _subject_of(plan: Notification, now: datetime) -> tuple[Doctor, Branch, datetime]:
    """The doctor, branch and start the message speaks of, if it still stands at `now`."""
    if plan.kind == Kind.SLOT_OFFERED:
        hold = SlotHold.objects.select_related("doctor", "branch").filter(pk=plan.hold_id).first()
        if hold is None or hold.status != SlotHold.Status.LIVE or hold.expires_at <= now:
            raise Skip("the offer has ended")
        return hold.doctor, hold.branch, hold.start
    appointment = (
        Appointment.objects.select_related("doctor", "branch")
        .filter(pk=plan.appointment_id)
        .first()
    )
    if appointment is None:
        raise Skip("no such appointment")
    if plan.kind == Kind.CANCELLED:
        if appointment.status != Appointment.Status.CANCELLED or appointment.start <= now:
            raise Skip("the appointment is not cancelled or has passed")
    elif (
        appointment.status != Appointment.Status.BOOKED
        or appointment.start != plan.starts_at
        or appointment.start <= now
    ):
        raise Skip("the appointment is no longer booked at that time")
    return appointment.doctor, appointment.branch, appointment.start


def _channel_and_address(patient: Patient) -> tuple[str, str]:
    """The tenant's default channel if the patient can be reached on it, else the first
    enabled one that can."""
    config = NotificationSettings.current()
    enabled = [c for c in CHANNELS if c in config.enabled_channels]
    order = sorted(enabled, key=lambda c: c != config.default_channel)
    for channel in order:
        address = patient.email if channel == "email" else patient.phone
        if address:
            return channel, address
    raise Skip("no enabled channel reaches the patient")


def record_sent(delivery: Delivery) -> SentMessage:
    """The metered fact that the provider took the message (`MessageSent`)."""
    sent = SentMessage(
        delivery_id=delivery.pk,
        kind=delivery.kind,
        channel=delivery.channel,
        branch_id=delivery.branch_id,
        sent_at=delivery.sent_at or timezone.now(),
    )
    sent.record(
        events.MESSAGE_SENT,
        {"delivery_id": delivery.pk, "kind": delivery.kind, "channel": delivery.channel},
        actor=None,
        branch_id=delivery.branch_id,
    )
    sent.save()
    return sent
