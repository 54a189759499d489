"""HL7 v2 text in and out: the header we route by, field access, and ACKs (v2.5)."""

import itertools
from dataclasses import dataclass

import hl7
from django.utils import timezone

ACK_VERSION = "2.5"
_ack_numbers = itertools.count(1)


class Unparseable(Exception):
    """Not an HL7 v2 message we can read (no MSH, no control id, no message type)."""


@dataclass(frozen=True)
class Header:
    sending_application: str
    sending_facility: str
    receiving_application: str
    receiving_facility: str
    control_id: str
    message_code: str
    trigger: str
    # MSH-15: empty in the original acknowledgment mode; AL, NE, ER or SU ask for the
    # enhanced mode (a commit ACK once the message is stored).
    accept_ack_type: str = ""

    @property
    def message_type(self) -> str:
        return f"{self.message_code}^{self.trigger}"

    @property
    def enhanced(self) -> bool:
        """The sender asked for the enhanced acknowledgment mode (MSH-15 is set)."""
        return bool(self.accept_ack_type)


def normalize(raw: str) -> str:
    """Segments end with CR; senders also use LF or CRLF."""
    return raw.replace("\r\n", "\r").replace("\n", "\r").strip("\r")


def parse(raw: str) -> tuple[hl7.Message, Header]:
    text = normalize(raw)
    if not text.startswith("MSH") or len(text) < 8:
        raise Unparseable("The message does not start with an MSH segment.")
    try:
        message = hl7.parse(text)
        header = Header(
            sending_application=field(message, "MSH.F3"),
            sending_facility=field(message, "MSH.F4"),
            receiving_application=field(message, "MSH.F5"),
            receiving_facility=field(message, "MSH.F6"),
            control_id=field(message, "MSH.F10"),
            message_code=field(message, "MSH.F9.R1.C1"),
            trigger=field(message, "MSH.F9.R1.C2"),
            accept_ack_type=field(message, "MSH.F15"),
        )
    except (ValueError, KeyError, IndexError, hl7.ParseException) as exc:
        raise Unparseable("The message cannot be parsed as HL7 v2.") from exc
    if not header.control_id or not header.message_code:
        raise Unparseable("MSH-10 (control id) and MSH-9 (message type) are required.")
    return message, header


def field(message: hl7.Message, path: str) -> str:
    """The value at `path` (`PID.F5.R1.C2`), "" when the message does not have it."""
    try:
        return str(message[path]).strip()
    except (KeyError, IndexError):
        return ""


def repetitions(message: hl7.Message, path: str) -> int:
    """How many repetitions the field at `path` (`PID.F3`) has in the first such segment."""
    segment_id, _, rest = path.partition(".")
    number = int(rest.removeprefix("F"))
    try:
        segment = message.segment(segment_id)
    except KeyError:
        return 0
    if number >= len(segment):
        return 0
    return len(segment(number))


def escape(value: str) -> str:
    """A value made safe for a field: delimiters as HL7 escape sequences, no line breaks."""
    for char, code in (("\\", "\\E\\"), ("|", "\\F\\"), ("^", "\\S\\"), ("&", "\\T\\")):
        value = value.replace(char, code)
    return value.replace("~", "\\R\\").replace("\r", " ").replace("\n", " ")


def ack(header: Header | None, code: str, text: str = "", *, facility: str = "MYMEDIC") -> str:
    """An ACK (MSA-1 `code`: AA, AE or AR; CA or CR in the enhanced mode) for `header`'s
    message; without a header (the message could not be read) the routing fields and MSA-2
    stay empty."""
    now = timezone.now().strftime("%Y%m%d%H%M%S")
    control = f"MM{now}{next(_ack_numbers):06d}"
    h = header or Header("", "", "", "", "", "", "")
    msh = "|".join(
        [
            "MSH",
            "^~\\&",
            "MYMEDIC",
            escape(h.receiving_facility or facility),
            escape(h.sending_application),
            escape(h.sending_facility),
            now,
            "",
            f"ACK^{escape(h.trigger)}^ACK" if h.trigger else "ACK",
            control,
            "P",
            ACK_VERSION,
        ]
    )
    msa = "|".join(["MSA", code, escape(h.control_id), escape(text)[:80]])
    return f"{msh}\r{msa}\r"
