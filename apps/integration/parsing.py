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
    # MSH-16 (enhanced mode only): AL, ER, SU or NE, when an application ACK is wanted once
    # the message is applied or fails to apply; empty is never (as NE).
    application_ack_type: str = ""

    @property
    def message_type(self) -> str:
        return f"{self.message_code}^{self.trigger}"

    @property
    def enhanced(self) -> bool:
        """The sender asked for the enhanced acknowledgment mode (MSH-15 is set)."""
        return bool(self.accept_ack_type)

    def wants_application_ack(self, code: str) -> bool:
        """Whether the sender asked for an application ACK with MSA-1 `code` (AA, AE, AR):
        AL always, SU on success, ER on an error, NE (or nothing) never; only in the
        enhanced mode (the original mode's ACK is already the application's answer)."""
        if not self.enhanced:
            return False
        wanted = self.application_ack_type.upper()
        return (
            wanted == "AL" or (wanted == "SU" and code == "AA") or (wanted == "ER" and code != "AA")
        )


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
            application_ack_type=field(message, "MSH.F16"),
        )
    except (ValueError, KeyError, IndexError, hl7.ParseException, AssertionError) as exc:
        # python-hl7 asserts its parse plan: a repeated encoding character (`MSH|^^\&|`)
        # fails that assertion, which is bad input like the rest.
        raise Unparseable("The message cannot be parsed as HL7 v2.") from exc
    if not header.control_id or not header.message_code:
        raise Unparseable("MSH-10 (control id) and MSH-9 (message type) are required.")
    return message, header


# Later segments that python-hl7 parses as headers of their own (and may refuse).
_HEADER_SEGMENTS = ("\rMSH", "\rBHS", "\rFHS")


def header_of(raw: str) -> Header:
    """The header alone, for routing and storing (what an ACK waits for): `parse(raw)[1]`
    without parsing the rest of the message into python-hl7's tree, about half of the
    store path's CPU. Only the MSH segment is split, by the same rules as python-hl7's
    accessor (first repetition, first subcomponent, absent parts empty). A header that is
    not the plain case (the encoding characters not five distinct ones, an escape sequence
    in a value read, a later MSH/BHS/FHS segment, an empty segment) goes through `parse`, so
    the answer is always the same as `parse`'s, refusals included (the tests compare the two)."""
    text = normalize(raw)
    if not text.startswith("MSH") or len(text) < 8:
        raise Unparseable("The message does not start with an MSH segment.")
    msh = text.partition("\r")[0]
    separators = msh[3:8]
    plain = (
        len(msh) > 8
        and msh[8] == msh[3]
        and len(set(separators)) == 5
        and not any(segment in text for segment in _HEADER_SEGMENTS)
        and "\r\r" not in text  # an empty segment: python-hl7's accessor then reads nothing
    )
    if not plain:
        return parse(raw)[1]
    field_separator, component, repetition, escape_character, subcomponent = list(separators)
    fields = ["MSH", field_separator, separators[1:], *msh[9:].split(field_separator)]

    def value(number: int, component_number: int = 1) -> str:
        if number >= len(fields):
            return ""
        parts = fields[number].split(repetition)[0].split(component)
        if component_number > len(parts):
            return ""
        return parts[component_number - 1].split(subcomponent)[0]

    values = [value(3), value(4), value(5), value(6), value(10), value(9, 1), value(9, 2),
              value(15), value(16)]  # fmt: skip
    if any(escape_character in v for v in values):
        return parse(raw)[1]
    header = Header(*(v.strip() for v in values))
    if not header.control_id or not header.message_code:
        raise Unparseable("MSH-10 (control id) and MSH-9 (message type) are required.")
    return header


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


# HL7 table 0357 (message error condition codes) for the ERR segment of an application ACK.
UNSUPPORTED_MESSAGE_TYPE = "200^Unsupported message type^HL70357"
APPLICATION_ERROR = "207^Application internal error^HL70357"


def application_ack(header: Header, code: str, text: str, *, control_id: str) -> str:
    """An unsolicited application ACK (MSA-1 `code`: AA applied, AE not applied, AR refused)
    for `header`'s message, sent back to its sender on a connection of our own: MSA-2 is the
    message's control id, MSH-10 our own `control_id` (the same on every retry, so the peer
    can tell a resend), and on an error an ERR segment with our wording (never a value from
    the message). It asks for a commit accept (MSH-15 AL) and never an application ACK of
    itself (MSH-16 NE)."""
    now = timezone.now().strftime("%Y%m%d%H%M%S")
    msh = "|".join(
        [
            "MSH", "^~\\&", "MYMEDIC", escape(header.receiving_facility),
            escape(header.sending_application), escape(header.sending_facility), now, "",
            f"ACK^{escape(header.trigger)}^ACK" if header.trigger else "ACK", control_id, "P",
            ACK_VERSION, "", "", "AL", "NE",
        ]
    )  # fmt: skip
    segments = [msh, "|".join(["MSA", code, escape(header.control_id), escape(text)[:80]])]
    if code != "AA":
        condition = UNSUPPORTED_MESSAGE_TYPE if code == "AR" else APPLICATION_ERROR
        segments.append("|".join(["ERR", "", "", condition, "E", "", "", "", escape(text)[:250]]))
    return "\r".join(segments) + "\r"
