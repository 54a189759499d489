"""Delivery backends for patient messages (SMS, WhatsApp, email).

A backend takes one `Message` and hands it to a provider, returning the provider's id for it.
Which backend serves a channel is configuration (`MYMEDIC_NOTIFY_BACKENDS`): the file backend
locally and in tests, real providers in production. Message bodies hold PHI (names, times), so
no backend logs them.
"""

from __future__ import annotations

import fcntl
import json
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string

CHANNELS = ("sms", "whatsapp", "email")


@dataclass(frozen=True)
class Message:
    channel: str
    to: str
    body: str
    subject: str = ""
    # Stable per logical message; providers that deduplicate use it, the file backend records it.
    key: str = ""


class DeliveryError(Exception):
    """The provider refused or could not be reached; `permanent` ones are not retried."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class Backend(Protocol):
    def send(self, message: Message) -> str: ...


class FileBackend:
    """Appends each message as a JSON line to `<directory>/<channel>.jsonl`."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)

    def send(self, message: Message) -> str:
        self.directory.mkdir(parents=True, exist_ok=True)
        provider_id = uuid.uuid4().hex
        record = {**asdict(message), "id": provider_id, "sent_at": timezone.now().isoformat()}
        with open(self.directory / f"{message.channel}.jsonl", "a", encoding="utf-8") as out:
            fcntl.flock(out, fcntl.LOCK_EX)
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
        return provider_id

    def sent(self, channel: str) -> list[dict[str, str]]:
        path = self.directory / f"{channel}.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def get_backend(channel: str) -> Backend:
    """The configured backend for `channel`: {"sms": {"class": dotted, "options": {...}}, ...}."""
    if channel not in CHANNELS:
        raise ValueError(f"Unknown channel {channel!r}.")
    config: dict[str, Any] = settings.MYMEDIC_NOTIFY_BACKENDS[channel]
    backend_class = import_string(config["class"])
    backend: Backend = backend_class(**config.get("options", {}))
    return backend


def send(message: Message) -> str:
    return get_backend(message.channel).send(message)
