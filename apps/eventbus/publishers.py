"""The interface the relay publishes through, and its two backends: NATS JetStream (the
default) and Kafka. Both keep a tenant's events in position order and say exactly which
leading part of a batch the bus acknowledged, so the relay advances only past those."""

import asyncio
import logging
import threading
from collections.abc import Callable, Coroutine, Sequence
from functools import partial
from typing import Any, Protocol, TypeVar
from urllib.parse import parse_qsl, urlsplit

import nats
from django.conf import settings
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import StorageType, StreamConfig
from nats.js.errors import NotFoundError

from apps.eventbus.messages import STREAM, SUBJECT_PREFIX, Message

logger = logging.getLogger("mymedic.eventbus")
T = TypeVar("T")


class BusUnavailable(Exception):
    """The bus did not acknowledge the whole batch: the first `acked` messages are stored,
    the rest may or may not be (publishing them again is safe: they carry their ids)."""

    def __init__(self, reason: str, *, acked: int = 0) -> None:
        super().__init__(reason)
        self.acked = acked


def _nothing() -> None:
    """The wait of an empty batch."""


class Publisher(Protocol):
    def publish(self, messages: Sequence[Message]) -> None:
        """Returns once every message is acknowledged, in order; else `BusUnavailable`."""

    def begin(self, messages: Sequence[Message]) -> Callable[[], None]:
        """Starts publishing; the function returned is `publish`'s wait: it returns once
        every message is acknowledged, else raises `BusUnavailable`. Call it before the
        next `begin`."""

    def close(self) -> None: ...


class NatsPublisher:
    """JetStream publishes, pipelined: up to `in_flight` acknowledgements outstanding, sent in
    position order on one connection (NATS keeps a connection's order). The asyncio client
    lives on its own thread so the relay stays plain synchronous Django code.

    The client never reconnects by itself: it would send what it buffered while disconnected
    after the relay had already moved on to republishing, out of order. Instead a failure
    drops the connection and its buffer, and the next publish connects afresh (each server of
    the list in turn)."""

    def __init__(
        self,
        servers: Sequence[str],
        *,
        in_flight: int = 1000,
        timeout: float = 5.0,
        replicas: int | None = None,
        max_age_seconds: float | None = None,
        duplicate_window_seconds: float | None = None,
    ) -> None:
        self.servers = list(servers)
        self.in_flight = in_flight
        self.timeout = timeout
        self.replicas = replicas or settings.MYMEDIC_EVENT_BUS_REPLICAS
        self.max_age = max_age_seconds or settings.MYMEDIC_EVENT_BUS_MAX_AGE_DAYS * 86400
        self.duplicate_window = (
            duplicate_window_seconds or settings.MYMEDIC_EVENT_BUS_DUPLICATE_WINDOW
        )
        self._next_server = 0
        self._nc: NatsClient | None = None
        self._inbox = ""
        self._sequence = 0
        self._batch: _Batch | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="nats", daemon=True)
        self._thread.start()

    def _run(self, make: Callable[[], Coroutine[Any, Any, T]], seconds: float) -> T:
        running = asyncio.run_coroutine_threadsafe(make(), self._loop)
        try:
            return running.result(seconds)
        except TimeoutError:
            running.cancel()
            raise

    def publish(self, messages: Sequence[Message]) -> None:
        self.begin(messages)()

    def begin(self, messages: Sequence[Message]) -> Callable[[], None]:
        if not messages:
            return _nothing
        windows = -(-len(messages) // self.in_flight)
        seconds = self.timeout * (windows + 2) + 5
        running = asyncio.run_coroutine_threadsafe(self._publish(messages), self._loop)

        def wait() -> None:
            try:
                running.result(seconds)
            except TimeoutError as error:
                running.cancel()
                raise BusUnavailable("publishing took too long") from error

        return wait

    def close(self) -> None:
        try:
            self._run(self._drop, self.timeout + 1)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
            self._loop.close()

    async def _drop(self) -> None:
        nc, self._nc, self._batch = self._nc, None, None
        if nc is not None and not nc.is_closed:
            try:
                await asyncio.wait_for(nc.close(), 2)
            except Exception:  # noqa: BLE001 - a dead connection may fail to close; it is gone
                logger.debug("event bus: closing a broken connection failed")

    async def _quiet(self, error: Exception) -> None:
        logger.debug("event bus connection error: %s", type(error).__name__)

    async def _connect(self) -> NatsClient:
        if self._nc is not None and self._nc.is_connected:
            return self._nc
        await self._drop()
        failures = []
        for _ in self.servers:
            server = self.servers[self._next_server % len(self.servers)]
            self._next_server += 1
            try:
                nc = await asyncio.wait_for(
                    nats.connect(
                        servers=[server],
                        name="mymedic-relay",
                        allow_reconnect=False,
                        max_reconnect_attempts=1,  # two tries, then the next server
                        reconnect_time_wait=0.1,
                        connect_timeout=2,
                        error_cb=self._quiet,
                    ),
                    3,
                )
            except Exception as error:  # noqa: BLE001 - try the next server
                failures.append(type(error).__name__)
                continue
            self._nc = nc
            try:
                await self._ensure_stream(nc.jetstream(timeout=self.timeout))
                self._inbox = nc.new_inbox()
                await nc.subscribe(f"{self._inbox}.*", cb=self._on_ack)
            except Exception as error:
                await self._drop()
                raise BusUnavailable(f"stream not ready: {type(error).__name__}") from error
            return nc
        raise BusUnavailable(f"no NATS server answered ({', '.join(failures)})")

    async def _ensure_stream(self, js: JetStreamContext) -> None:
        try:
            await js.stream_info(STREAM)
        except NotFoundError:
            await js.add_stream(
                StreamConfig(
                    name=STREAM,
                    subjects=[f"{SUBJECT_PREFIX}.>"],
                    storage=StorageType.FILE,
                    num_replicas=self.replicas,
                    max_age=self.max_age,
                    duplicate_window=self.duplicate_window,
                )
            )

    async def _publish(self, messages: Sequence[Message]) -> None:
        try:
            nc = await self._connect()
        except BusUnavailable:
            await self._drop()
            raise
        batch = _Batch(len(messages), self._sequence)
        self._sequence += len(messages)
        self._batch = batch
        try:
            for offset, m in enumerate(messages):
                if batch.sent - batch.answered >= self.in_flight:
                    await batch.room(self.in_flight, self.timeout)
                # Queued on the connection without yielding: one socket write carries many.
                await nc.publish(
                    m.subject,
                    m.payload,
                    reply=f"{self._inbox}.{batch.first + offset}",
                    headers={"Nats-Msg-Id": m.message_id},
                )
                batch.sent += 1
            await batch.all_answered(self.timeout)
        except Exception as error:  # noqa: BLE001 - stalled or disconnected: see what was acked
            batch.failure = batch.failure or error
        acked = batch.acked_prefix()
        if acked < len(messages):
            await self._drop()
            reason = type(batch.failure).__name__ if batch.failure else "no answer"
            raise BusUnavailable(f"publish not acknowledged: {reason}", acked=acked)

    async def _on_ack(self, msg: Msg) -> None:
        batch = self._batch
        if batch is not None:
            batch.answer(int(msg.subject.rsplit(".", 1)[1]), msg)


class _Batch:
    """The acknowledgements of one batch: JetStream answers each publish on its reply subject
    (`<inbox>.<sequence>`) with `{"stream", "seq"[, "duplicate"]}` or `{"error"}`."""

    def __init__(self, size: int, first: int) -> None:
        self.first = first
        self.ok: list[bool | None] = [None] * size
        self.sent = 0
        self.answered = 0
        self.failure: BaseException | None = None
        self._wanted = 0  # wake the sender once this many are answered
        self._changed = asyncio.Event()

    def answer(self, sequence: int, msg: Msg) -> None:
        index = sequence - self.first
        if not 0 <= index < len(self.ok) or self.ok[index] is not None:
            return  # an answer to an earlier batch
        refused = bool(msg.headers and msg.headers.get("Status") == "503")  # no stream
        if not refused:  # an acknowledgement names no error: no need to parse each
            refused = b'"error"' in msg.data
        self.ok[index] = not refused
        if refused and self.failure is None:
            self.failure = RuntimeError(msg.data.decode(errors="replace")[:200])
        self.answered += 1
        if self.answered >= self._wanted:
            self._changed.set()

    async def room(self, in_flight: int, timeout: float) -> None:
        """Until half the window is free: the sender wakes once per many acknowledgements
        (each wake-up costs more than an acknowledgement), and refills it in one write."""
        await self._until(self.sent - in_flight // 2, timeout)

    async def all_answered(self, timeout: float) -> None:
        await self._until(self.sent, timeout)

    async def _until(self, answered: int, timeout: float) -> None:
        while self.answered < answered:
            self._wanted = answered
            self._changed.clear()
            await asyncio.wait_for(self._changed.wait(), timeout)

    def acked_prefix(self) -> int:
        return next((i for i, ok in enumerate(self.ok) if ok is not True), len(self.ok))


class KafkaPublisher:
    """An idempotent Kafka producer (`enable.idempotence`: no duplicates or reordering from
    its own retries), keyed by the tenant's slug so a tenant's events share a partition and
    keep their order. One topic per region: `mymedic.events.{region}`; each message carries
    its id and subject as headers. Kafka does not de-duplicate by id across producer
    restarts: consumers drop a repeated `message-id` (a tenant's positions only grow)."""

    def __init__(self, config: dict[str, Any], *, timeout: float = 30.0) -> None:
        from confluent_kafka import Producer

        self.timeout = timeout
        self._producer = Producer(
            {
                # librdkafka's own log lines go through logging, not straight to stderr.
                "logger": logging.getLogger("mymedic.eventbus.kafka"),
                **config,
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": 5,
                # Every message is delivered or failed within one flush: nothing from a
                # failed batch is left in the queue to arrive after its republication.
                "message.timeout.ms": int(timeout * 1000),
            }
        )

    @staticmethod
    def topic(message: Message) -> str:
        return message.subject.rsplit(".", 2)[0]  # mymedic.events.{region}

    def publish(self, messages: Sequence[Message]) -> None:
        self.begin(messages)()

    def begin(self, messages: Sequence[Message]) -> Callable[[], None]:
        errors: list[Any] = [None] * len(messages)
        delivered = [False] * len(messages)

        def done(index: int, error: Any, _record: Any) -> None:
            errors[index], delivered[index] = error, error is None

        for index, m in enumerate(messages):
            while True:
                try:
                    self._producer.produce(
                        self.topic(m),
                        m.payload,
                        key=m.key,
                        headers=[("message-id", m.message_id), ("subject", m.subject)],
                        on_delivery=partial(done, index),
                    )
                    break
                except BufferError:  # the local queue is full: let deliveries drain it
                    self._producer.poll(0.05)

        def wait() -> None:
            self._producer.flush(self.timeout + 5)
            acked = next((i for i, ok in enumerate(delivered) if not ok), len(messages))
            if acked < len(messages):
                reason = errors[acked].name() if errors[acked] is not None else "no answer"
                raise BusUnavailable(f"Kafka did not acknowledge: {reason}", acked=acked)

        return wait

    def close(self) -> None:
        self._producer.flush(self.timeout)


def publisher_for(url: str) -> Publisher:
    """`nats://h:p[,nats://h:p…]` or `kafka://h:p[,h:p…][?librdkafka option=value&…]`."""
    scheme = urlsplit(url).scheme
    if scheme == "nats":
        return NatsPublisher([server.strip() for server in url.split(",") if server.strip()])
    if scheme == "kafka":
        parts = urlsplit(url)
        config: dict[str, Any] = {"bootstrap.servers": parts.netloc}
        config.update(parse_qsl(parts.query))
        return KafkaPublisher(config)
    raise ValueError(f"MYMEDIC_EVENT_BUS: unknown bus {scheme!r} (nats:// or kafka://)")
