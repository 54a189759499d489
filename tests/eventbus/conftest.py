"""nats-server processes the event-bus tests start on free loopback ports (stopped by PID), and
a reader of what reached the stream."""

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from apps.eventbus.messages import STREAM
from apps.eventbus.natsserver import NatsServer, nats_server


@pytest.fixture
def bus(tmp_path: Path) -> Iterator[NatsServer]:
    with nats_server(tmp_path) as server:
        yield server


@dataclass(frozen=True)
class Received:
    subject: str
    message_id: str
    payload: dict[str, Any]
    sequence: int


async def _read(urls: list[str], subjects: str, wait: float) -> list[Received]:
    nc = await nats.connect(servers=urls, connect_timeout=2, allow_reconnect=False)
    try:
        js = nc.jetstream(timeout=5)
        try:
            await js.stream_info(STREAM)
        except nats.js.errors.NotFoundError:
            return []  # nothing published yet
        sub = await js.pull_subscribe(
            subjects,
            stream=STREAM,
            config=ConsumerConfig(
                ack_policy=AckPolicy.NONE, deliver_policy=DeliverPolicy.ALL, inactive_threshold=30
            ),
        )
        received: list[Received] = []
        while True:
            try:
                batch = await sub.fetch(500, timeout=wait)
            except (TimeoutError, nats.errors.TimeoutError):
                break
            for msg in batch:
                received.append(
                    Received(
                        subject=msg.subject,
                        message_id=(msg.headers or {}).get("Nats-Msg-Id", ""),
                        payload=json.loads(msg.data),
                        sequence=msg.metadata.sequence.stream,
                    )
                )
        return received
    finally:
        await nc.close()


def read_stream(urls: list[str] | str, subjects: str, wait: float = 0.5) -> list[Received]:
    """Every message of the stream on `subjects`, in stream order."""
    return asyncio.run(_read([urls] if isinstance(urls, str) else urls, subjects, wait))
