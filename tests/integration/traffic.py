"""HL7 v2 traffic for the tests, built with hl7apy, and a plain MLLP client."""

import socket
import uuid
from dataclasses import dataclass

from hl7apy.core import Message

from apps.integration import models
from apps.integration.commands import apply_pending, message_store
from apps.integration.parsing import parse

START, END = b"\x0b", b"\x1c\x0d"


def _header(message: Message, *, tenant: str, facility: str, event: str, control_id: str) -> None:
    message.msh.msh_3 = "HIS"
    message.msh.msh_4 = facility
    message.msh.msh_5 = "MYMEDIC"
    message.msh.msh_6 = tenant
    message.msh.msh_9 = f"ADT^{event}^{message.name}"
    message.msh.msh_10 = control_id
    message.msh.msh_11 = "P"


def adt(
    event: str,
    *,
    tenant: str,
    facility: str,
    identifier: str,
    name: str = "Sharma^Anita",
    birth: str = "19850312",
    phone: str = "+919876543210",
    control_id: str | None = None,
) -> str:
    """An ADT A01/A03/A04/A08 with a PID segment."""
    message = Message("ADT_A01", version="2.5")
    _header(
        message, tenant=tenant, facility=facility, event=event,
        control_id=control_id or uuid.uuid4().hex[:20],
    )  # fmt: skip
    message.pid.pid_3 = f"{identifier}^^^{facility}^MR"
    message.pid.pid_5 = name
    if birth:
        message.pid.pid_7 = birth
    if phone:
        message.pid.pid_13 = phone
    return str(message.to_er7())


def enhanced(text: str) -> str:
    """The same message asking for the enhanced mode: MSH-15 (accept ACK) = AL."""
    msh, _, rest = text.partition("\r")
    fields = msh.split("|") + [""] * 16
    fields[14] = "AL"
    return "|".join(fields[:16]).rstrip("|") + "\r" + rest


def merge(*, tenant: str, facility: str, survivor: str, duplicate: str) -> str:
    """ADT A40: PID-3 the identifier that stays, MRG-1 the one merged into it."""
    message = Message("ADT_A39", version="2.5")
    _header(
        message, tenant=tenant, facility=facility, event="A40", control_id=uuid.uuid4().hex[:20]
    )
    patient = message.add_group("ADT_A39_PATIENT")
    patient.pid.pid_3 = f"{survivor}^^^{facility}^MR"
    patient.mrg.mrg_1 = f"{duplicate}^^^{facility}^MR"
    return str(message.to_er7())


@dataclass(frozen=True)
class Ack:
    code: str
    control_id: str
    text: str


def parse_ack(data: bytes) -> Ack:
    text = data.removeprefix(START).removesuffix(END).decode()
    msa = next(line for line in text.split("\r") if line.startswith("MSA|"))
    fields = msa.split("|") + ["", ""]
    return Ack(code=fields[1], control_id=fields[2], text=fields[3])


class MllpClient:
    """One connection to the listener; `send` waits for the ACK."""

    def __init__(self, port: int, timeout: float = 10.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buffer = b""

    def write(self, text: str) -> None:
        self.sock.sendall(START + text.encode() + END)

    def read(self) -> Ack:
        while END not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("the listener closed the connection")
            self.buffer += chunk
        data, _, self.buffer = self.buffer.partition(END)
        return parse_ack(data + END)

    def send(self, text: str) -> Ack:
        self.write(text)
        return self.read()

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> "MllpClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def receive(channel: models.Channel, text: str) -> models.Message:
    """What the listener does with one message, without the socket (in the caller's
    transaction and schema)."""
    _, header = parse(text)
    message, _ = message_store(channel=channel, header=header, raw=text)
    apply_pending(channel)
    message.refresh_from_db()
    return message
