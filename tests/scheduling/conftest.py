from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from apps.clinic.models import Branch
from apps.scheduling.models import Doctor, Patient
from apps.tenants.models import Tenant
from tests.scheduling.factories import DoctorFactory, PatientFactory

IST = ZoneInfo("Asia/Kolkata")
# A Monday; the suite runs as if it were 08:00 that morning in Mumbai.
MONDAY = datetime(2027, 1, 4, tzinfo=IST).date()


def ist(day: int, hour: int, minute: int = 0) -> datetime:
    """An instant in January 2027, Mumbai time."""
    return datetime(2027, 1, day, hour, minute, tzinfo=IST)


@pytest.fixture(autouse=True)
def monday_morning() -> Iterator[time_machine.Coordinates]:
    with time_machine.travel(ist(4, 8), tick=False) as traveller:
        yield traveller


@pytest.fixture
def doctor(tenant: Tenant, main_branch: Branch) -> Doctor:
    return DoctorFactory(branch=main_branch, name="Dr. Kavita Menon")


@pytest.fixture
def patient(tenant: Tenant) -> Patient:
    return PatientFactory(name="Ravi Kumar", phone="+919812345678")
