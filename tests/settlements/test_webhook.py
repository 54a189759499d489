"""The gateway's payment webhook: signed with the clinic's secret, idempotent by event id."""

import json
from decimal import Decimal
from typing import Any

from django_tenants.utils import schema_context

from apps.billing.models import Payment
from apps.core.models import TenantKey
from apps.eventstore.models import Event
from apps.scheduling.models import Appointment, Doctor
from apps.settlements import commands, events
from apps.settlements.models import (
    ExceptionItem,
    GatewayPayment,
    SettlementSettings,
    WebhookDelivery,
)
from apps.settlements.signing import signature
from apps.tenants.models import Tenant
from tests.conftest import HostClient
from tests.settlements.conftest import book, captured_payload

URL = "/api/v1/payments/webhooks/razorpay/"


def deliver(api: HostClient, body: bytes, secret: str, event_id: str = "evt_1") -> Any:
    return api.post(
        URL,
        data=body,
        content_type="application/json",
        HTTP_X_RAZORPAY_SIGNATURE=signature(secret.encode(), body),
        HTTP_X_RAZORPAY_EVENT_ID=event_id,
    )


def captured_body(visit: Appointment, rupees: str = "500.00") -> bytes:
    return json.dumps(
        {
            "entity": "event",
            "event": "payment.captured",
            "contains": ["payment"],
            "payload": captured_payload(visit, "pay_WH0000000001", rupees, "upi"),
            "created_at": 1799999999,
        }
    ).encode()


def test_a_webhook_delivered_three_times_records_one_payment(
    api: HostClient, webhook_secret: str, clinic_doctor: Doctor
) -> None:
    visit = book(clinic_doctor, 10)
    body = captured_body(visit)

    answers = [deliver(api, body, webhook_secret) for _ in range(3)]

    assert [a.status_code for a in answers] == [200, 200, 200]
    payment = Payment.objects.get(appointment=visit)
    assert [a.json() for a in answers] == [
        {"status": "recorded", "replayed": False, "payment": payment.pk},
        {"status": "recorded", "replayed": True, "payment": payment.pk},
        {"status": "recorded", "replayed": True, "payment": payment.pk},
    ]
    assert (payment.amount, payment.method, payment.kind) == (Decimal("500.00"), "upi", "deposit")
    assert GatewayPayment.objects.get().gateway_payment_id == "pay_WH0000000001"
    assert WebhookDelivery.objects.count() == 1


def test_the_same_payment_under_a_new_event_id_is_not_recorded_again(
    api: HostClient, webhook_secret: str, clinic_doctor: Doctor
) -> None:
    visit = book(clinic_doctor, 10)
    deliver(api, captured_body(visit), webhook_secret, "evt_1")

    again = deliver(api, captured_body(visit), webhook_secret, "evt_2")

    assert again.json() == {"status": "already", "replayed": False, "payment": None}
    assert Payment.objects.filter(appointment=visit).count() == 1


def test_a_bad_signature_is_refused_with_no_side_effects(
    api: HostClient, webhook_secret: str, clinic_doctor: Doctor
) -> None:
    visit = book(clinic_doctor, 10)
    log = Event.objects.count()

    forged = deliver(api, captured_body(visit), "not-the-clinics-secret")
    unsigned = api.post(URL, data=captured_body(visit), content_type="application/json")

    assert (forged.status_code, unsigned.status_code) == (400, 400)
    assert forged.json() == {"detail": "The signature does not match this clinic's webhook secret."}
    assert Payment.objects.count() == 0
    assert WebhookDelivery.objects.count() == 0
    assert Event.objects.count() == log


def test_a_webhook_signed_with_another_clinics_secret_is_refused(
    api: HostClient, webhook_secret: str, clinic_doctor: Doctor, other_tenant: Tenant
) -> None:
    with schema_context(other_tenant.schema_name):
        commands.webhook_secret_set(actor=None, secret="whsec_globex_998877")
    visit = book(clinic_doctor, 10)

    answer = deliver(api, captured_body(visit), "whsec_globex_998877")

    assert answer.status_code == 400
    assert Payment.objects.count() == 0


def test_a_payment_over_the_balance_is_not_recorded_and_is_queued(
    api: HostClient, webhook_secret: str, clinic_doctor: Doctor
) -> None:
    visit = book(clinic_doctor, 10)

    answer = deliver(api, captured_body(visit, "2000.00"), webhook_secret)

    assert answer.json() == {"status": "refused", "replayed": False, "payment": None}
    assert Payment.objects.count() == 0
    item = ExceptionItem.objects.get()
    assert (item.kind, item.reference, item.amount, item.branch_id) == (
        "webhook_refused", "pay_WH0000000001", Decimal("2000.00"), visit.branch_id,
    )  # fmt: skip


def test_the_webhook_secret_is_kept_sealed_under_the_clinics_key(
    webhook_secret: str, tenant: Tenant
) -> None:
    stored = bytes(SettlementSettings.current().webhook_secret or b"")

    assert webhook_secret.encode() not in stored
    assert len(stored) > len(webhook_secret)
    assert SettlementSettings.current().webhook_key_version == TenantKey.objects.latest("id").pk
    (secret_event,) = Event.objects.filter(type=events.WEBHOOK_SECRET_SET)
    assert webhook_secret not in json.dumps(secret_event.data)
