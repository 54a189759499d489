# The projection tests run over scheduling's events, on the same frozen Monday morning.
from tests.scheduling.conftest import doctor, monday_morning, patient

__all__ = ["doctor", "monday_morning", "patient"]
