"""Delivery backends for patient messages (SMS, WhatsApp, email).

A backend takes one `Message` and hands it to a provider, returning the provider's id for it.
Which backend serves a channel is configuration (`MYMEDIC_NOTIFY_BACKENDS`): the file backend
locally and in tests, real providers in production. Message bodies hold PHI (names, times), so
no backend logs them.
"""

from __future__ import annotations

import fcntl
import json
import smtplib
import urllib.error
import urllib.request
import uuid
from dataclasses import asdict, dataclass
from email.utils import make_msgid
from pathlib import Path
from typing import Any, Protocol

from django.conf import settings
from django.core.mail import EmailMessage
from django.utils import timezone
from django.utils.module_loading import import_string

from apps.notifications import limits

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


class HttpJsonBackend:
    """POSTs the message as JSON to an HTTPS provider (SMS or WhatsApp gateway).

    Body `{channel, to, body, subject, key}`, `Authorization: Bearer <token>` and
    `Idempotency-Key: <key>` so the provider can drop a repeat; the answer's `id` is the
    provider's id. A 4xx (except 408 and 429) is the provider refusing this message: permanent.
    Anything else (5xx, timeouts, network) may succeed later.
    """

    TRANSIENT_4XX = frozenset({408, 425, 429})

    def __init__(self, url: str, token: str = "", timeout: float = 10.0) -> None:
        if not url.startswith(("https://", "http://")):
            raise ValueError("The provider URL must be http(s).")
        self.url = url
        self.token = token
        self.timeout = timeout

    def send(self, message: Message) -> str:
        request = urllib.request.Request(  # noqa: S310  (scheme checked in __init__)
            self.url,
            data=json.dumps(asdict(message), ensure_ascii=False).encode(),
            method="POST",
            headers={
                "Content-Type": "application/json",
                "Authorization": f"Bearer {self.token}",
                "Idempotency-Key": message.key,
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                answer = response.read()
        except urllib.error.HTTPError as exc:
            exc.close()  # the error is also the (unread) response
            permanent = 400 <= exc.code < 500 and exc.code not in self.TRANSIENT_4XX
            raise DeliveryError(f"provider answered {exc.code}", permanent=permanent) from exc
        except (OSError, ValueError) as exc:  # URLError, timeouts, refused connections
            raise DeliveryError(f"provider unreachable: {type(exc).__name__}") from exc
        try:
            return str(json.loads(answer or b"{}").get("id", ""))
        except (ValueError, AttributeError):
            return ""


class DjangoEmailBackend:
    """Email through Django's mail framework (SMTP with the EMAIL_* settings in production)."""

    def __init__(self, from_email: str | None = None) -> None:
        self.from_email = from_email or settings.DEFAULT_FROM_EMAIL

    def send(self, message: Message) -> str:
        message_id = make_msgid(domain="mymedic")
        email = EmailMessage(
            subject=message.subject,
            body=message.body,
            from_email=self.from_email,
            to=[message.to],
            headers={"Message-ID": message_id, "X-MyMedic-Key": message.key},
        )
        try:
            email.send(fail_silently=False)
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError("recipient refused", permanent=True) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"mail server: {type(exc).__name__}") from exc
        return message_id


def get_backend(channel: str) -> Backend:
    """The configured backend for `channel`: {"sms": {"class": dotted, "options": {...}}, ...}."""
    if channel not in CHANNELS:
        raise ValueError(f"Unknown channel {channel!r}.")
    config: dict[str, Any] = settings.MYMEDIC_NOTIFY_BACKENDS[channel]
    backend_class = import_string(config["class"])
    backend: Backend = backend_class(**config.get("options", {}))
    return backend


def send(message: Message) -> str:
    """Sends through the channel's backend, within the tenant's region and daily quota."""
    try:
        limits.check_live()
        limits.check_recipient(message.channel, message.to)
        limits.take_quota(message.channel)
    except limits.Refused as exc:
        raise DeliveryError(str(exc), permanent=exc.permanent) from exc
    return get_backend(message.channel).send(message)
