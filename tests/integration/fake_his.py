"""A fake hospital system for outbound tests: an asyncio MLLP server on a free loopback port,
in a thread, answering each message with the next ACK code of its script."""

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from tests.servers import free_port

START, END = b"\x0b", b"\x1c\x0d"


@dataclass
class FakeHis:
    port: int
    script: list[str]  # ACK codes to answer with, in turn; the last one repeats
    received: list[str] = field(default_factory=list)

    def answer(self, text: str) -> bytes:
        self.received.append(text)
        code = self.script[min(len(self.received), len(self.script)) - 1]
        control_id = text.split("\r")[0].split("|")[9]
        ack = f"MSH|^~\\&|HIS|CITY|MYMEDIC|acme|20270104||ACK|A{len(self.received)}|P|2.5\r"
        return START + f"{ack}MSA|{code}|{control_id}|scripted {code}\r".encode() + END

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                data = await reader.readuntil(END)
                writer.write(self.answer(data.lstrip(START)[: -len(END)].decode()))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@contextmanager
def fake_his(script: list[str], port: int | None = None) -> Iterator[FakeHis]:
    """The fake system on `port` (a free one when not given)."""
    his = FakeHis(port=port or free_port(), script=script)
    loop = asyncio.new_event_loop()
    started = threading.Event()
    servers: list[asyncio.Server] = []

    async def start() -> None:
        servers.append(await asyncio.start_server(his.serve, "127.0.0.1", his.port))
        started.set()

    def run() -> None:
        loop.run_until_complete(start())
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    started.wait(10)
    try:
        yield his
    finally:

        async def stop() -> None:
            servers[0].close()
            await servers[0].wait_closed()

        asyncio.run_coroutine_threadsafe(stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
