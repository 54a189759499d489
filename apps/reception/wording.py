"""What the console tells people about a visit: patient, doctor, date and time, in the
branch's time zone (the formats live in `apps.scheduling.formats`)."""

from django.utils.translation import gettext

from apps.scheduling.formats import human_when
from apps.scheduling.models import Appointment


def visit_words(appointment: Appointment) -> str:
    """ "Asha Rao with Dr. Neha Joshi on Wed 2 Dec 2026 at 10:30"."""
    return gettext("%(patient)s with %(doctor)s on %(when)s") % {
        "patient": appointment.patient.name or gettext("(erased)"),
        "doctor": appointment.doctor.name,
        "when": human_when(appointment.start, appointment.branch.timezone),
    }
