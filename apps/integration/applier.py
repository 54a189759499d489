"""The applier: the process that applies what the listeners stored and answered already.

A message in the enhanced acknowledgment mode (MSH-15 set) is answered with a commit ACK
(`CA`) once stored; applying it is work the sender does not wait for. Done in the listener,
it shares the listener's interpreter (one core, the GIL) with the framing and storing that
every ACK waits for. So, when `mllp_listen` runs with its applier (the default), the
listeners store such messages, answer them and say which channel has work
(`NOTIFY mymedic_hl7_apply, '<schema>:<channel id>'`); this process listens for that and
runs `apply_pending` for each channel named, in the channel's tenant.

Order and exactly-once do not depend on who applies: `apply_pending` takes the channel's
apply lock and applies its stored messages by id, whichever process calls it (a listener
applying an original-mode message of the same channel waits for the lock, or the other way
round). A notification sent while no applier listens is lost, not the message: the retry
job applies what was stored and left unapplied (`retry_due`, after `LEFT_BEHIND`), and a
starting applier goes once through the channels that hold unapplied messages.
"""

import logging
import signal
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from types import FrameType

import psycopg
from django.db import close_old_connections
from django.db.utils import DatabaseError
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.core.db import connection
from apps.core.tenancy import tenants_with_work
from apps.integration.commands import LEFT_BEHIND, RETRY_JOB, apply_pending
from apps.integration.models import Channel, Message

log = logging.getLogger("mymedic.integration")

NOTIFY_CHANNEL = "mymedic_hl7_apply"
# How long one wait for notifications lasts (SIGTERM ends a wait at once).
WAIT_SECONDS = 1.0
# After the database went away, the wait before connecting again.
RECONNECT_SECONDS = 1.0


def work_for(schema: str, channel_id: int) -> str:
    """The payload that names a channel with stored messages to apply."""
    return f"{schema}:{channel_id}"


def notify(schema: str, channel_id: int) -> None:
    """Tells the applier that `channel_id` of `schema` has messages to apply (delivered when
    the current transaction commits, at once outside one)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_notify(%s, %s)", [NOTIFY_CHANNEL, work_for(schema, channel_id)])


def _parsed(payload: str) -> tuple[str, int] | None:
    schema, _, channel_id = payload.rpartition(":")
    if not schema or not channel_id.isdigit():
        log.warning("hl7 applier: a notification it cannot read: %r", payload[:100])
        return None
    return schema, int(channel_id)


@dataclass
class Applied:
    messages: int = 0
    # The channels that failed (the database away): tried again by the applier's next round.
    failed: list[tuple[str, int]] = field(default_factory=list)


def apply_channels(work: Iterable[tuple[str, int]]) -> Applied:
    """Applies what each named channel has stored, once per channel however often named; a
    channel the database failed is logged and handed back (its messages stay stored) on a
    fresh connection for the next try. A message that cannot be applied is not a failure
    here: it goes to the error queue inside `apply_pending`."""
    done = Applied()
    for schema, channel_id in sorted(set(work)):
        close_old_connections()
        try:
            with schema_context(schema):
                channel = Channel.objects.filter(pk=channel_id).first()
                if channel is not None:
                    done.messages += len(apply_pending(channel))
        except DatabaseError as exc:
            log.warning(
                "hl7 applier: channel %s of %s not applied (%s); tried again",
                channel_id, schema, type(exc).__name__,
            )  # fmt: skip
            # A connection that broke under a query is not known to be broken until used.
            connection.close()
            done.failed.append((schema, channel_id))
    return done


def left_unapplied() -> list[tuple[str, int]]:
    """The channels that hold stored, unapplied messages, in the tenants where the retry job
    has work noted (storing notes it, see `messages_store`): what a starting applier goes
    through once."""
    found: list[tuple[str, int]] = []
    for schema in tenants_with_work(RETRY_JOB, timezone.now() + LEFT_BEHIND):
        with schema_context(schema):
            received = Message.objects.filter(status=Message.Status.RECEIVED)
            channel_ids = received.values_list("channel_id", flat=True).distinct()
            found += [(schema, channel_id) for channel_id in channel_ids]
    return found


class Applier:
    @staticmethod
    def _stop(signum: int, frame: FrameType | None) -> None:
        # At once, even inside a batch: its transaction rolls back and its messages stay
        # stored, for the next applier (or the retry job).
        raise SystemExit(0)

    def _listen(self) -> psycopg.Connection:
        params = connection.get_connection_params()
        params.pop("cursor_factory", None)
        params.pop("context", None)
        listening = psycopg.connect(**params, autocommit=True)
        listening.execute(f"LISTEN {NOTIFY_CHANNEL}")
        return listening

    def run(self) -> None:
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        listening: psycopg.Connection | None = None
        # Channels whose last try the database failed.
        again: list[tuple[str, int]] = []
        try:
            while True:
                try:
                    if listening is None:
                        listening = self._listen()
                        # Listening first, then the look: nothing stored meanwhile is missed.
                        again += left_unapplied()
                    # The first notification (or none within the wait), then any already
                    # waiting, so a burst is applied once per channel.
                    wait = RECONNECT_SECONDS if again else WAIT_SECONDS
                    notes = list(listening.notifies(timeout=wait, stop_after=1))
                    if notes:
                        notes += listening.notifies(timeout=0.0)
                    work = [named for note in notes if (named := _parsed(note.payload))]
                    work, again = work + again, []
                    if work:
                        again = apply_channels(work).failed
                except (psycopg.OperationalError, DatabaseError) as exc:
                    log.warning("hl7 applier: database unavailable (%s); again", type(exc).__name__)
                    if listening is not None:
                        listening.close()
                    listening = None
                    connection.close()
                    time.sleep(RECONNECT_SECONDS)
        finally:
            if listening is not None:
                listening.close()
