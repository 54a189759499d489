"""An outbound webhook channel fed from the event bus: a durable JetStream consumer with
explicit acknowledgements that POSTs each event to one endpoint, in order per tenant.

Delivery is at least once towards the endpoint and applied once on our side: each message's id
(`{slug}:{position}`) is checked against the channel's cursor in the tenant's schema
(`WebhookCursor`), which moves in the same step as the acknowledgement is sent. A message the
bus delivers again is acknowledged without a second POST. The endpoint gets the message id as
`Idempotency-Key`, for the one case it can see twice: a POST it accepted whose answer never
arrived (the consumer died between the two)."""

import asyncio
import logging
import urllib.error
import urllib.request
from dataclasses import dataclass

import nats
from asgiref.sync import sync_to_async
from django.db import transaction
from django_tenants.utils import get_tenant_model, schema_context
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from apps.eventbus.messages import STREAM, SUBJECT_PREFIX
from apps.eventbus.models import WebhookCursor

logger = logging.getLogger("mymedic.eventbus")
RETRY = (0.5, 30.0)  # first and longest wait between attempts at one event


@dataclass(frozen=True)
class Channel:
    name: str  # also the durable consumer's name
    url: str
    subjects: str = f"{SUBJECT_PREFIX}.>"
    token: str = ""
    timeout: float = 10.0


def parse_id(message_id: str) -> tuple[str, int]:
    slug, _, position = message_id.rpartition(":")
    return slug, int(position)


def _schema(slug: str) -> str | None:
    tenant = get_tenant_model().objects.filter(slug=slug).values_list("schema_name", flat=True)
    return tenant.first()


def already_applied(channel: str, slug: str, position: int) -> bool:
    schema = _schema(slug)
    if schema is None:
        return True  # a tenant removed since: nothing to deliver for it
    with schema_context(schema):
        cursor = WebhookCursor.objects.filter(channel=channel).first()
        return cursor is not None and cursor.position >= position


def mark_applied(channel: str, slug: str, position: int) -> None:
    schema = _schema(slug)
    if schema is None:
        return
    with schema_context(schema), transaction.atomic():
        cursor, _ = WebhookCursor.objects.select_for_update().get_or_create(channel=channel)
        if cursor.position < position:
            cursor.position = position
            cursor.save()


def post(channel: Channel, body: bytes, message_id: str) -> int:
    """POSTs one event; returns the endpoint's status (0 when it could not be reached)."""
    request = urllib.request.Request(  # noqa: S310  (the operator's configured https/http URL)
        channel.url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "Idempotency-Key": message_id,
            **({"Authorization": f"Bearer {channel.token}"} if channel.token else {}),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=channel.timeout) as answer:  # noqa: S310
            return int(answer.status)
    except urllib.error.HTTPError as refused:
        return int(refused.code)
    except OSError:
        return 0


class WebhookConsumer:
    def __init__(self, channel: Channel, servers: list[str]) -> None:
        self.channel = channel
        self.servers = servers
        self.delivered = 0

    async def deliver(self, msg: Msg, stop: asyncio.Event) -> None:
        """Applies one message (POST until the endpoint accepts it), then acknowledges it."""
        message_id = (msg.headers or {}).get("Nats-Msg-Id", "")
        slug, position = parse_id(message_id)
        name = self.channel.name
        if not await sync_to_async(already_applied)(name, slug, position):
            wait = RETRY[0]
            while not stop.is_set():
                status = await asyncio.to_thread(post, self.channel, msg.data, message_id)
                if 200 <= status < 300:
                    break
                logger.warning("webhook %s: endpoint answered %s; retrying", name, status)
                await msg.in_progress()  # keep the bus from delivering it again meanwhile
                await asyncio.sleep(wait)
                wait = min(wait * 2, RETRY[1])
            else:
                return  # stopping: not acknowledged, the bus delivers it again later
            await sync_to_async(mark_applied)(name, slug, position)
            self.delivered += 1
        await msg.ack_sync()

    async def run(self, stop: asyncio.Event, batch: int = 100) -> None:
        nc = await nats.connect(
            servers=self.servers, name=f"mymedic-webhook-{self.channel.name}",
            max_reconnect_attempts=-1, reconnect_time_wait=0.5,
        )  # fmt: skip
        try:
            js = nc.jetstream()
            subscription = await js.pull_subscribe(
                self.channel.subjects,
                durable=self.channel.name,
                stream=STREAM,
                config=ConsumerConfig(
                    ack_policy=AckPolicy.EXPLICIT,
                    deliver_policy=DeliverPolicy.ALL,
                    ack_wait=max(self.channel.timeout * 3, 30),
                    max_ack_pending=batch,
                ),
            )
            while not stop.is_set():
                try:
                    messages = await subscription.fetch(batch, timeout=1)
                except (TimeoutError, nats.errors.TimeoutError):
                    continue
                except nats.errors.Error as error:
                    logger.warning("webhook %s: bus error %s", self.channel.name, error)
                    await asyncio.sleep(RETRY[0])
                    continue
                for msg in messages:  # in stream order, one at a time: per-tenant order holds
                    await self.deliver(msg, stop)
                    if stop.is_set():
                        break
        finally:
            await nc.close()
