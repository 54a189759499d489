from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import time_machine

from apps.billing.models import Payment
from apps.clinic.models import Branch, User
from apps.scheduling import commands as scheduling
from apps.scheduling.models import Appointment, Doctor
from apps.settlements import commands, upi
from apps.tenants.models import Tenant
from tests.clock import ist
from tests.conftest import HostClient, client_for
from tests.scheduling.factories import DoctorFactory, PatientFactory

SAMPLES = Path(__file__).parent / "samples"
SECRET = "whsec_test_4f9a1c2e"
COLUMNS = (
    "entity_id,type,debit,credit,amount,currency,fee,tax,on_hold,settled,created_at,"
    "settled_at,settlement_id,settlement_utr,order_id,order_receipt,method,payment_id"
)


@pytest.fixture(autouse=True)
def on_monday_morning(monday_morning: time_machine.Coordinates) -> None:
    """Every test here runs on the suite's frozen Monday morning (`tests/conftest.py`)."""


@pytest.fixture
def manager_api(owner: User, tenant: Tenant) -> HostClient:
    return client_for(owner, tenant)


@pytest.fixture
def clinic_doctor(tenant: Tenant, main_branch: Branch) -> Doctor:
    return DoctorFactory(branch=main_branch, consultation_fee=Decimal("1500.00"))


@pytest.fixture
def webhook_secret(tenant: Tenant) -> str:
    commands.webhook_secret_set(actor=None, secret=SECRET)
    return SECRET


def book(doctor: Doctor, hour: int) -> Appointment:
    return scheduling.appointment_book(
        actor=None, doctor=doctor, patient=PatientFactory(), start=ist(4, hour)
    )


def captured(
    visit: Appointment, gateway_id: str, rupees: str, method: str = "upi", event_id: str = ""
) -> commands.WebhookResult:
    """The gateway's `payment.captured` for our UPI request of `visit`, as the webhook
    command gets it once the signature was checked."""
    return commands.payment_webhook_receive(
        event_id=event_id or f"evt_{gateway_id}",
        event_type="payment.captured",
        payload=captured_payload(visit, gateway_id, rupees, method),
    )


def captured_payload(visit: Appointment, gateway_id: str, rupees: str, method: str) -> Any:
    return {
        "payment": {
            "entity": {
                "id": gateway_id,
                "entity": "payment",
                "amount": int(Decimal(rupees) * 100),
                "currency": "INR",
                "status": "captured",
                "order_id": f"order_{gateway_id[4:]}",
                "method": method,
                "notes": {"reference": upi.reference_for(visit.pk, 1)},
            }
        }
    }


@pytest.fixture
def paid_by_gateway(clinic_doctor: Doctor) -> Iterator[dict[str, Payment]]:
    """The two desk payments the sample report settles: ₹500 by UPI and ₹1,200 by card."""
    upi_visit, card_visit = book(clinic_doctor, 10), book(clinic_doctor, 11)
    first = captured(upi_visit, "pay_NB7fUPI000001", "500.00", "upi")
    second = captured(card_visit, "pay_NB7fCARD00002", "1200.00", "card")
    assert first.delivery.payment is not None and second.delivery.payment is not None
    yield {"upi": first.delivery.payment, "card": second.delivery.payment}


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def report(*rows: str) -> bytes:
    """A gateway report with the documented columns and these rows."""
    return "\n".join([COLUMNS, *rows, ""]).encode()


def payment_row(
    entity_id: str,
    amount: str,
    fee: str,
    tax: str,
    credit: str,
    settlement: str = "setl_T1",
    utr: str = "UTR0001",
    receipt: str = "",
) -> str:
    return (
        f"{entity_id},payment,0.00,{credit},{amount},INR,{fee},{tax},0,1,2027-01-04 10:00:00,"
        f"2027-01-05 11:00:00,{settlement},{utr},,{receipt},upi,"
    )
