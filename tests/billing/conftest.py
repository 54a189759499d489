from decimal import Decimal
from typing import Any

import pytest
import time_machine

from apps.clinic.models import User
from apps.tenants.models import Tenant
from tests.conftest import HostClient, client_for


@pytest.fixture
def desk(owner: User, tenant: Tenant) -> HostClient:
    return client_for(owner, tenant)


def pay(client: HostClient, appointment_id: int, amount: str, **extra: Any) -> Any:
    body = {"kind": "deposit", "amount": amount, "method": "cash", **extra}
    return client.post(f"/api/v1/appointments/{appointment_id}/payments/", body, format="json")


FEE = Decimal("500.00")


@pytest.fixture(autouse=True)
def on_monday_morning(monday_morning: time_machine.Coordinates) -> None:
    """Every test here runs on the suite's frozen Monday morning (`tests/conftest.py`)."""
