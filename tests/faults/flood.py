"""Books appointments in one tenant at a steady rate, through the command layer, and prints
each acknowledged (committed) booking: `python -m tests.faults.flood SCHEMA DOCTOR PATIENT
RATE SECONDS`. The fault tests run it as a separate process, like a busy front desk."""

import os
import sys
import time

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mymedic.settings")
django.setup()

from django_tenants.utils import schema_context  # noqa: E402

from apps.scheduling.models import Doctor, Patient  # noqa: E402
from tests.faults.desk import book, slots  # noqa: E402


def main(schema: str, doctor_id: int, patient_id: int, rate: float, seconds: float) -> None:
    with schema_context(schema):
        doctor = Doctor.objects.get(pk=doctor_id)
        patient = Patient.objects.get(pk=patient_id)
        starts = slots(doctor, first_day_offset=3)
        print("flooding", flush=True)
        began = time.monotonic()
        sent = 0
        while time.monotonic() - began < seconds:
            visit = book(doctor, patient, next(starts))
            sent += 1
            print("booked", visit.pk, flush=True)
            ahead = began + sent / rate - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
        elapsed = time.monotonic() - began
        print(f"done {sent} {elapsed:.2f}", flush=True)


if __name__ == "__main__":
    schema, doctor_id, patient_id, rate, seconds = sys.argv[1:6]
    main(schema, int(doctor_id), int(patient_id), float(rate), float(seconds))
