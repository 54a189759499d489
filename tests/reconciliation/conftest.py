from tests.scheduling.conftest import doctor, monday_morning, patient

__all__ = ["doctor", "monday_morning", "patient"]
