"""Message wording: defaults shipped in code (English and Hindi), per-tenant overrides in
`MessageTemplate`, filled in as plain text.

A tenant's wording is data, never code: the only syntax is a placeholder such as
`{{ patient_name }}` from a fixed list, checked when it is saved, and filling one in is a
single pass over at most `MAX_BODY` characters. No loops, filters or tags, so no template can
stall the shared worker or read anything it is not given.
"""

import logging
import re
from dataclasses import dataclass
from datetime import datetime

from apps.core import clinictime
from apps.notifications.models import Kind, MessageTemplate

logger = logging.getLogger(__name__)

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
VARIABLES = (
    "patient_name",
    "doctor_name",
    "branch_name",
    "clinic_name",
    "date",
    "time",
    "hold_until",
)
MAX_SUBJECT = 200
MAX_BODY = 1000

DEFAULTS: dict[tuple[str, str], tuple[str, str]] = {
    (Kind.CONFIRMATION, "en"): (
        "Your appointment is booked",
        "Hello {{ patient_name }}, your appointment with {{ doctor_name }} at {{ branch_name }} "
        "is booked for {{ date }} at {{ time }}.",
    ),
    (Kind.RESCHEDULED, "en"): (
        "Your appointment has moved",
        "Hello {{ patient_name }}, your appointment with {{ doctor_name }} at {{ branch_name }} "
        "has moved to {{ date }} at {{ time }}.",
    ),
    (Kind.CANCELLED, "en"): (
        "Your appointment is cancelled",
        "Hello {{ patient_name }}, your appointment with {{ doctor_name }} on {{ date }} at "
        "{{ time }} has been cancelled.",
    ),
    (Kind.REMINDER, "en"): (
        "Appointment reminder",
        "Reminder: {{ patient_name }}, you see {{ doctor_name }} at {{ branch_name }} on "
        "{{ date }} at {{ time }}.",
    ),
    (Kind.SLOT_OFFERED, "en"): (
        "A slot is free for you",
        "Hello {{ patient_name }}, a slot with {{ doctor_name }} on {{ date }} at {{ time }} "
        "is held for you until {{ hold_until }}. Contact {{ branch_name }} to book it.",
    ),
    (Kind.CONFIRMATION, "hi"): (
        "आपकी अपॉइंटमेंट बुक हो गई है",
        "नमस्ते {{ patient_name }}, {{ branch_name }} में {{ doctor_name }} के साथ आपकी "
        "अपॉइंटमेंट {{ date }} को {{ time }} बजे बुक हो गई है।",
    ),
    (Kind.RESCHEDULED, "hi"): (
        "आपकी अपॉइंटमेंट का समय बदल गया है",
        "नमस्ते {{ patient_name }}, {{ doctor_name }} के साथ आपकी अपॉइंटमेंट अब {{ date }} को "
        "{{ time }} बजे है ({{ branch_name }})।",
    ),
    (Kind.CANCELLED, "hi"): (
        "आपकी अपॉइंटमेंट रद्द कर दी गई है",
        "नमस्ते {{ patient_name }}, {{ date }} को {{ time }} बजे {{ doctor_name }} के साथ आपकी "
        "अपॉइंटमेंट रद्द कर दी गई है।",
    ),
    (Kind.REMINDER, "hi"): (
        "अपॉइंटमेंट की याद",
        "याद दिलाना: {{ patient_name }}, {{ date }} को {{ time }} बजे {{ branch_name }} में "
        "{{ doctor_name }} के साथ आपकी अपॉइंटमेंट है।",
    ),
    (Kind.SLOT_OFFERED, "hi"): (
        "आपके लिए एक स्लॉट खाली है",
        "नमस्ते {{ patient_name }}, {{ date }} को {{ time }} बजे {{ doctor_name }} के साथ एक "
        "स्लॉट {{ hold_until }} तक आपके लिए रखा गया है। बुक करने के लिए {{ branch_name }} से "
        "संपर्क करें।",
    ),
}

DATE_FORMATS = {"en": "%a %d %b %Y", "hi": "%d/%m/%Y"}


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str


def check_syntax(text: str, limit: int = MAX_BODY) -> str | None:
    """Why `text` is not usable wording, or None."""
    if len(text) > limit:
        return f"Keep it to {limit} characters (this has {len(text)})."
    for match in PLACEHOLDER.finditer(text):
        if match.group(1) not in VARIABLES:
            return f"Unknown placeholder {{{{ {match.group(1)} }}}}; use {', '.join(VARIABLES)}."
    rest = PLACEHOLDER.sub("", text)
    if any(mark in rest for mark in ("{{", "}}", "{%", "%}", "{#", "#}")):
        return "Only placeholders such as {{ patient_name }} are allowed: no tags or filters."
    return None


def fill(text: str, values: dict[str, str]) -> str:
    return PLACEHOLDER.sub(lambda match: values.get(match.group(1), ""), text)


def local_date_and_time(instant: datetime, zone: str, language: str) -> tuple[str, str]:
    """The visit's date and time on the branch's clock (`apps.core.clinictime`); a message
    names the weekday too, in the patient's language's usual order."""
    local = clinictime.in_zone(instant, zone)
    date_format = DATE_FORMATS.get(language, DATE_FORMATS["en"])
    return local.strftime(date_format), clinictime.format_time(instant, zone)


def render(kind: str, language: str, context: dict[str, str]) -> Rendered:
    """The tenant's template for (kind, language), else the default, else English."""
    override = MessageTemplate.objects.filter(kind=kind, language=language).first()
    subject, body = DEFAULTS.get((kind, language)) or DEFAULTS[(kind, "en")]
    if override is not None:
        if check_syntax(override.subject, MAX_SUBJECT) or check_syntax(override.body):
            # Saved before wording was checked (or written around the check): never run it.
            logger.warning("Unusable %s/%s wording; the default is sent.", kind, language)
        else:
            subject, body = override.subject, override.body
    return Rendered(subject=fill(subject, context).strip(), body=fill(body, context).strip())
