"""What the console tells people about a visit: patient, doctor, date and time, in the
branch's time zone (the formats live in `apps.scheduling.formats`)."""

from apps.scheduling.formats import human_when
from apps.scheduling.models import Appointment


def visit_words(appointment: Appointment) -> str:
    """ "Asha Rao with Dr. Neha Joshi on Wed 2 Dec 2026 at 10:30"."""
    return (
        f"{appointment.patient.name or '(erased)'} with {appointment.doctor.name} on "
        f"{human_when(appointment.start, appointment.branch.timezone)}"
    )
