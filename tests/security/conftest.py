"""Fixtures of the security tests: the patient-app ones, and an SMS outbox."""

from tests.patientapp.conftest import outbox
from tests.scheduling.conftest import doctor, monday_morning, patient

__all__ = ["doctor", "monday_morning", "outbox", "patient"]
