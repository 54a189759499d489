"""Message wording: defaults shipped in code (English and Hindi), per-tenant overrides in
`MessageTemplate`, rendered with Django's template language as plain text.

Templates see only strings (no model objects), so a tenant's template can print what it is
given and nothing else.
"""

from dataclasses import dataclass
from datetime import datetime

from django.template import Context, Engine, TemplateSyntaxError

from apps.core import clinictime
from apps.notifications.models import Kind, MessageTemplate

# Plain text: SMS, WhatsApp and text email are not HTML, so nothing is escaped.
ENGINE = Engine(autoescape=False)

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


def check_syntax(text: str) -> str | None:
    """Why `text` is not a usable template, or None."""
    try:
        ENGINE.from_string(text)
    except TemplateSyntaxError as exc:
        return str(exc)
    return None


def local_date_and_time(instant: datetime, zone: str, language: str) -> tuple[str, str]:
    """The visit's date and time on the branch's clock (`apps.core.clinictime`); a message
    names the weekday too, in the patient's language's usual order."""
    local = clinictime.in_zone(instant, zone)
    date_format = DATE_FORMATS.get(language, DATE_FORMATS["en"])
    return local.strftime(date_format), clinictime.format_time(instant, zone)


def render(kind: str, language: str, context: dict[str, str]) -> Rendered:
    """The tenant's template for (kind, language), else the default, else English."""
    override = MessageTemplate.objects.filter(kind=kind, language=language).first()
    if override is not None:
        subject, body = override.subject, override.body
    else:
        subject, body = DEFAULTS.get((kind, language)) or DEFAULTS[(kind, "en")]
    values = Context(context)
    return Rendered(
        subject=ENGINE.from_string(subject).render(values).strip(),
        body=ENGINE.from_string(body).render(values).strip(),
    )
