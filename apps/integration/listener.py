"""The MLLP listener: asyncio framing and connections, with the database work in threads.

Each connection reads frames (`<VT> message <FS><CR>`) into a bounded queue and answers
them in order; a full queue stops reading, so a sender that does not wait for its ACKs is
slowed by TCP itself. A connection that sends nothing for `idle_seconds`, or a frame that
grows past `max_bytes`, is closed. Storing and applying run in a thread pool, each thread
on its own database connection, in the tenant's schema that the message names (MSH-6).
"""

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from django.db import DatabaseError, close_old_connections
from django_tenants.utils import schema_context

from apps.integration.commands import apply_pending, inbound_channel, message_store
from apps.integration.models import Message
from apps.integration.parsing import Header, Unparseable, ack, parse
from apps.tenants.models import Tenant

log = logging.getLogger("mymedic.integration")

START, END = b"\x0b", b"\x1c\x0d"


class _Oversized:
    """Put in a connection's queue in place of a frame that grew past the size limit."""


OVERSIZED = _Oversized()
Frame = bytes | _Oversized | None
ACK_CODES = {
    Message.Status.APPLIED: "AA",
    Message.Status.ERROR: "AE",
    Message.Status.HELD: "AE",
    Message.Status.DEAD: "AE",
}


@dataclass(frozen=True)
class ListenerSettings:
    host: str = "127.0.0.1"
    port: int = 2575
    max_bytes: int = 1024 * 1024
    idle_seconds: float = 60.0
    queue_size: int = 8
    workers: int = 8


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


def handle(data: bytes) -> str:
    """Stores, applies and answers one message (in a worker thread): the ACK's text."""
    text = _decode(data)
    try:
        _, header = parse(text)
    except Unparseable as exc:
        return ack(None, "AR", str(exc))
    close_old_connections()
    schema = _schema_of(header.receiving_facility)
    if schema is None:
        return ack(header, "AR", "Unknown receiving facility (MSH-6).")
    with schema_context(schema):
        return _handle_in_tenant(header, text)


def _handle_in_tenant(header: Header, text: str) -> str:
    channel = inbound_channel(header.sending_facility)
    if channel is None:
        return ack(header, "AR", "Unknown sending facility (MSH-4) for this receiver.")
    message, _ = message_store(channel=channel, header=header, raw=text)
    # What this message waits for (and anything a crash left stored but not applied).
    apply_pending(channel)
    message.refresh_from_db(fields=["status", "error"])
    code = ACK_CODES.get(Message.Status(message.status))
    if code is None:
        # Another connection is applying the channel right now; it finishes ours in order.
        apply_pending(channel)
        message.refresh_from_db(fields=["status", "error"])
        code = ACK_CODES.get(Message.Status(message.status), "AE")
    return ack(header, code, message.error)


class Listener:
    def __init__(self, settings: ListenerSettings, handler: Callable[[bytes], str] = handle):
        self.settings = settings
        self.handler = handler
        self.pool = ThreadPoolExecutor(settings.workers, thread_name_prefix="mllp")
        self.server: asyncio.Server | None = None
        # Seconds from a whole frame read to its ACK being written, for the bench.
        self.ack_seconds: deque[float] = deque(maxlen=100_000)

    async def start(self) -> None:
        self.server = await asyncio.start_server(
            self._serve,
            self.settings.host,
            self.settings.port,
            limit=self.settings.max_bytes + len(END),
        )

    async def serve_forever(self) -> None:
        await self.start()
        if self.server is not None:
            async with self.server:
                await self.server.serve_forever()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        frames: asyncio.Queue[Frame] = asyncio.Queue(self.settings.queue_size)
        answering = asyncio.create_task(self._answer(frames, writer))
        try:
            while True:
                data = await asyncio.wait_for(reader.readuntil(END), self.settings.idle_seconds)
                start = data.find(START)
                await frames.put(data[start + 1 if start >= 0 else 0 : -len(END)])
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
            pass
        except asyncio.LimitOverrunError:
            await frames.put(OVERSIZED)
        finally:
            await frames.put(None)
            await answering
            writer.close()

    async def _answer(self, frames: "asyncio.Queue[Frame]", writer: asyncio.StreamWriter) -> None:
        """Answers frames in the order they came; after a failure it only empties the queue
        (the reader must never wait on a full one) until the connection ends."""
        loop = asyncio.get_running_loop()
        broken = False
        while (data := await frames.get()) is not None:
            if broken:
                continue
            if isinstance(data, _Oversized):
                answer = ack(None, "AR", f"The message is over {self.settings.max_bytes} bytes.")
                broken = True
            else:
                started = time.perf_counter()
                try:
                    answer = await loop.run_in_executor(self.pool, self.handler, data)
                except DatabaseError:
                    # Not stored: no ACK, so the sender sends it again.
                    log.exception("hl7 message not stored (database error); connection closed")
                    broken = True
                    writer.close()
                    continue
                self.ack_seconds.append(time.perf_counter() - started)
            try:
                writer.write(frame(answer))
                await writer.drain()
            except ConnectionError:
                broken = True
            if broken:
                writer.close()

    def close(self) -> None:
        if self.server is not None:
            self.server.close()
        self.pool.shutdown(wait=True)
