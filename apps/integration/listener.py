"""The MLLP listener: asyncio framing and connections, with the database work in threads.

Each connection reads frames (`<VT> message <FS><CR>`) and answers them in the order they
came, with at most `queue_size` of them waiting for their answer; past that it stops
reading, so a sender that does not wait for its ACKs is slowed by TCP itself. A connection
that sends nothing for `idle_seconds`, or a frame that grows past `max_bytes`, is closed.

Group commit: messages are routed by (MSH-6, MSH-4), one route per channel, and a route
stores everything that arrived meanwhile, from every connection, in one transaction, then
applies what it stored in one transaction (a savepoint per message), and only then answers
each message with its own ACK code. A route stores the next batch while the previous one is
being applied. Storing and applying run in a thread pool, each thread on its own database
connection, in the tenant's schema that the message names (MSH-6).

A message that asks for the enhanced acknowledgment mode (MSH-15 set) is answered with a
commit ACK (`CA`) as soon as its batch is stored, before it is applied; when an applier
process runs beside the listener (`defer_enhanced`, the default under `mllp_listen`), the
listener leaves such messages to it and only stores and answers them.
"""

import asyncio
import logging
import socket
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeAlias

from django.db import close_old_connections
from django_tenants.utils import schema_context

from apps.integration import applier
from apps.integration.commands import APPLY_BATCH, apply_pending, inbound_channel, messages_store
from apps.integration.models import Channel, Message
from apps.integration.parsing import Header, Unparseable, ack, header_of
from apps.integration.supervisor import BACKLOG
from apps.tenants.models import Tenant

log = logging.getLogger("mymedic.integration")

START, END = b"\x0b", b"\x1c\x0d"

ACK_CODES = {
    Message.Status.APPLIED: "AA",
    Message.Status.ERROR: "AE",
    Message.Status.HELD: "AE",
    Message.Status.DEAD: "AE",
}
UNKNOWN_RECEIVER = "Unknown receiving facility (MSH-6)."
UNKNOWN_SENDER = "Unknown sending facility (MSH-4) for this receiver."


@dataclass(frozen=True)
class ListenerSettings:
    host: str = "127.0.0.1"
    port: int = 2575
    max_bytes: int = 1024 * 1024
    idle_seconds: float = 60.0
    queue_size: int = 8
    workers: int = 8
    # Most messages of a channel stored (and applied) in one transaction.
    batch: int = APPLY_BATCH
    # A listening socket inherited from the supervisor (apps.integration.supervisor), by
    # number; None: bind host and port here.
    listen_fd: int | None = None
    # An applier process runs beside this listener (apps.integration.applier): a message
    # answered with a commit ACK is left to it, named in a notification, not applied here.
    defer_enhanced: bool = False


def frame(text: str) -> bytes:
    return START + text.encode() + END


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


# slug → (schema, when looked up): a tenant's schema is asked of the public schema at most
# once per SCHEMA_SECONDS per process (a removed or moved tenant is seen within that time).
_schemas: dict[str, tuple[str | None, float]] = {}
SCHEMA_SECONDS = 5.0


def _schema_of(slug: str) -> str | None:
    known = _schemas.get(slug)
    if known is not None and time.monotonic() - known[1] < SCHEMA_SECONDS:
        return known[0]
    schema = Tenant.objects.filter(slug=slug).values_list("schema_name", flat=True).first()
    if len(_schemas) > 10_000:
        _schemas.clear()
    _schemas[slug] = (schema, time.monotonic())
    return schema


def _refused(header: Header, text: str) -> str:
    return ack(header, "CR" if header.enhanced else "AR", text)


@dataclass(frozen=True)
class Stored:
    """What storing a batch of one route gave: for each message, the answer already due
    (refused, or a commit ACK) or None, and its row id when it is stored."""

    schema: str | None
    channel: Channel | None
    answers: list[str | None]
    message_ids: list[int | None]


def store_batch(
    receiving: str, sending: str, headers: list[Header], texts: list[str], notify: bool = False
) -> Stored:
    """Routes and stores a batch of messages that share MSH-6 and MSH-4 (in a worker thread):
    one transaction for all of them. With `notify`, a batch that holds a message in the
    enhanced mode names its channel to the applier once stored."""
    close_old_connections()
    schema = _schema_of(receiving)
    if schema is None:
        return Stored(
            None, None, [_refused(h, UNKNOWN_RECEIVER) for h in headers], [None] * len(headers)
        )
    with schema_context(schema):
        channel = inbound_channel(sending)
        if channel is None:
            refused = [_refused(h, UNKNOWN_SENDER) for h in headers]
            return Stored(schema, None, list(refused), [None] * len(headers))
        stored = messages_store(channel=channel, incoming=list(zip(headers, texts, strict=True)))
        if notify and any(header.enhanced for header in headers):
            applier.notify(schema, channel.pk)
    return Stored(
        schema,
        channel,
        [ack(h, "CA") if h.enhanced else None for h in headers],
        [message.pk for message, _ in stored],
    )


def apply_batch(schema: str, channel: Channel, headers: list[Header], ids: list[int]) -> list[str]:
    """Applies what the channel has stored (in a worker thread) and answers each of `ids`
    with its outcome: `AA` applied, `AE` in the error queue (our reason in MSA-3)."""
    close_old_connections()
    with schema_context(schema):
        outcome = {pk: (m.status, m.error) for pk, m in apply_pending(channel).items()}
        others = Message.objects.filter(pk__in=[pk for pk in ids if pk not in outcome])
        outcome.update(
            (pk, (status, error))
            for pk, status, error in others.values_list("pk", "status", "error")
        )
    answers = []
    for header, pk in zip(headers, ids, strict=True):
        status, error = outcome[pk]
        answers.append(ack(header, ACK_CODES.get(Message.Status(status), "AE"), error))
    return answers


@dataclass
class _Waiting:
    header: Header
    text: str
    answer: "asyncio.Future[str]"


@dataclass
class _Applying:
    schema: str
    channel: Channel
    header: Header
    message_id: int
    # None when the message was answered on storing (enhanced mode, or a refusal).
    answer: "asyncio.Future[str] | None"


@dataclass
class _Route:
    """One channel's pipeline in this process: a batch is stored while the one before it
    is applied; both run only while there is work (no task is left for an idle route)."""

    key: tuple[str, str]
    arrivals: list[_Waiting] = field(default_factory=list)
    stored: list[_Applying] = field(default_factory=list)
    storing: "asyncio.Task[None] | None" = None
    applying: "asyncio.Task[None] | None" = None


def _settle(future: "asyncio.Future[str] | None", answer: str | BaseException) -> None:
    if future is None or future.done():
        return
    if isinstance(answer, BaseException):
        future.set_exception(answer)
    else:
        future.set_result(answer)


class _Oversized:
    """Put in a connection's queue in place of a frame that grew past the size limit."""


OVERSIZED = _Oversized()
# What a connection's answer queue holds: a frame's future answer and when it was read, the
# oversized marker, or None for the end of the connection.
Answer: TypeAlias = tuple["asyncio.Future[str]", float] | _Oversized | None


class Listener:
    def __init__(self, settings: ListenerSettings):
        self.settings = settings
        self.pool = ThreadPoolExecutor(settings.workers, thread_name_prefix="mllp")
        self.server: asyncio.Server | None = None
        self.routes: dict[tuple[str, str], _Route] = {}
        # Seconds from a whole frame read to its ACK being written, for the bench.
        self.ack_seconds: deque[float] = deque(maxlen=100_000)

    async def start(self) -> None:
        limit = self.settings.max_bytes + len(END)
        if self.settings.listen_fd is not None:
            shared = socket.socket(fileno=self.settings.listen_fd)
            # Listening starts here (the supervisor only bound it), or goes on.
            self.server = await asyncio.start_server(
                self._serve, sock=shared, limit=limit, backlog=BACKLOG
            )
            return
        self.server = await asyncio.start_server(
            self._serve, self.settings.host, self.settings.port, limit=limit
        )

    async def serve_forever(self) -> None:
        await self.start()
        if self.server is not None:
            async with self.server:
                await self.server.serve_forever()

    def submit(self, data: bytes) -> "asyncio.Future[str]":
        """The future answer to one frame: refused at once when it is not HL7, else queued
        on its route."""
        answer: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        text = _decode(data)
        try:
            header = header_of(text)
        except Unparseable as exc:
            answer.set_result(ack(None, "AR", str(exc)))
            return answer
        key = (header.receiving_facility, header.sending_facility)
        route = self.routes.setdefault(key, _Route(key))
        route.arrivals.append(_Waiting(header, text, answer))
        if route.storing is None:
            route.storing = asyncio.create_task(self._store(route))
        return answer

    async def _store(self, route: _Route) -> None:
        loop = asyncio.get_running_loop()
        try:
            while route.arrivals:
                batch = route.arrivals[: self.settings.batch]
                del route.arrivals[: self.settings.batch]
                headers = [waiting.header for waiting in batch]
                try:
                    stored = await loop.run_in_executor(
                        self.pool,
                        store_batch,
                        *route.key,
                        headers,
                        [w.text for w in batch],
                        self.settings.defer_enhanced,
                    )
                except Exception as exc:  # noqa: BLE001  (not stored: no ACK, the sender resends)
                    log.exception("hl7 messages not stored; their connections are closed")
                    for waiting in batch:
                        _settle(waiting.answer, exc)
                    continue
                for waiting, answer, pk in zip(
                    batch, stored.answers, stored.message_ids, strict=True
                ):
                    if answer is not None:
                        _settle(waiting.answer, answer)
                    deferred = self.settings.defer_enhanced and waiting.header.enhanced
                    if pk is not None and stored.schema and stored.channel and not deferred:
                        route.stored.append(
                            _Applying(
                                stored.schema,
                                stored.channel,
                                waiting.header,
                                pk,
                                None if answer is not None else waiting.answer,
                            )
                        )
                if route.stored and route.applying is None:
                    route.applying = asyncio.create_task(self._apply(route))
        finally:
            route.storing = None
            self._forget_if_idle(route)

    async def _apply(self, route: _Route) -> None:
        loop = asyncio.get_running_loop()
        try:
            while route.stored:
                batch, route.stored = route.stored, []
                first = batch[0]
                try:
                    answers = await loop.run_in_executor(
                        self.pool,
                        apply_batch,
                        first.schema,
                        first.channel,
                        [applying.header for applying in batch],
                        [applying.message_id for applying in batch],
                    )
                except Exception as exc:  # noqa: BLE001  (stored, not applied: no ACK yet)
                    log.exception("hl7 messages stored and not applied; retried later")
                    for applying in batch:
                        _settle(applying.answer, exc)
                    continue
                for applying, answer in zip(batch, answers, strict=True):
                    _settle(applying.answer, answer)
        finally:
            route.applying = None
            self._forget_if_idle(route)

    def _forget_if_idle(self, route: _Route) -> None:
        idle = route.storing is None and route.applying is None and not route.arrivals
        if idle and self.routes.get(route.key) is route:
            del self.routes[route.key]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        answers: asyncio.Queue[Answer] = asyncio.Queue(self.settings.queue_size)
        broken = asyncio.Event()
        answering = asyncio.create_task(self._answer(answers, writer, broken))
        try:
            while not broken.is_set():
                data = await asyncio.wait_for(reader.readuntil(END), self.settings.idle_seconds)
                start = data.find(START)
                frame_data = data[start + 1 if start >= 0 else 0 : -len(END)]
                if broken.is_set():
                    break
                await answers.put((self.submit(frame_data), time.perf_counter()))
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
            pass
        except asyncio.LimitOverrunError:
            await answers.put(OVERSIZED)
        finally:
            await answers.put(None)
            await answering
            writer.close()

    async def _answer(
        self, answers: "asyncio.Queue[Answer]", writer: asyncio.StreamWriter, broken: asyncio.Event
    ) -> None:
        """Writes the answers in the order the frames came; after a failure it only empties
        the queue (the reader must never wait on a full one) until the connection ends."""
        while (item := await answers.get()) is not None:
            if isinstance(item, _Oversized):
                answer = ack(None, "AR", f"The message is over {self.settings.max_bytes} bytes.")
                broken.set()
            else:
                future, started = item
                try:
                    answer = await future
                except Exception:  # noqa: BLE001  (logged where it failed)
                    # Not stored, or stored and not applied: no ACK, so the sender sends it
                    # again (a stored one is then answered by the duplicate check).
                    broken.set()
                    writer.close()
                    continue
                if broken.is_set():
                    continue
                self.ack_seconds.append(time.perf_counter() - started)
            try:
                writer.write(frame(answer))
                await writer.drain()
            except ConnectionError:
                broken.set()
            if broken.is_set():
                writer.close()

    def close(self) -> None:
        if self.server is not None:
            self.server.close()
        self.pool.shutdown(wait=True)
