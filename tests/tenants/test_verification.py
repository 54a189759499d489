"""A self-service clinic goes live when its owner confirms the email; sign-ups are throttled
per address and per email domain; unconfirmed clinics are removed (security issue)."""

import re
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.core import mail, signing
from django.utils import timezone
from django_tenants.utils import schema_context, schema_exists

from apps.clinic.models import Role, User
from apps.notifications.backends import DeliveryError, FileBackend, Message, send
from apps.tenants.models import Tenant
from apps.tenants.verification import SALT, LinkRefused, reap_unverified, verify
from tests.conftest import HostClient
from tests.tenants.factories import TenantFactory

# The confirmation email leaves from a Celery task: run it here.
pytestmark = pytest.mark.usefixtures("celery_in_process")


def body(slug: str, email: str | None = None) -> dict[str, str]:
    return {
        "clinic_name": f"{slug.title()} Clinic",
        "slug": slug,
        "kind": "clinic",
        "owner_name": "Nisha Verma",
        "owner_email": email or f"nisha@{slug}.example.com",
        "owner_password": "a-long-unusual-passphrase",
    }


def link_path(message: Any) -> str:
    found = re.search(r"http://localhost(/verify-email/\S+/)", str(message.body))
    assert found, message.body
    return found.group(1)


def sms_from(tenant: Tenant) -> Any:
    with schema_context(tenant.schema_name):
        from apps.core.db import connection

        connection.set_tenant(Tenant.objects.get(pk=tenant.pk))
        return send(Message(channel="sms", to="+919812345678", body="Hello", key="k-1"))


def test_a_new_clinic_sends_nothing_to_patients_until_its_owner_confirms(
    public_api: HostClient, outbox: FileBackend
) -> None:
    created = public_api.post("/api/v1/onboarding/", body("sunrise"), format="json")
    tenant = Tenant.objects.get(slug="sunrise")

    assert created.status_code == 201
    assert tenant.verified_at is None
    assert mail.outbox[-1].to == ["nisha@sunrise.example.com"]
    with pytest.raises(DeliveryError, match="not confirmed the sign-up email"):
        sms_from(tenant)

    page = public_api.get(link_path(mail.outbox[-1]))

    assert page.status_code == 200
    assert "Sunrise Clinic is open" in page.content.decode()
    tenant.refresh_from_db()
    assert tenant.verified_at is not None
    assert sms_from(tenant)  # a provider id: sent
    assert [m["to"] for m in outbox.sent("sms")] == ["+919812345678"]


@pytest.mark.parametrize("token", ["garbage", "eyJ0ZW5hbnQiOjF9:1abcde:forged"])
def test_a_forged_confirmation_link_is_refused(public_api: HostClient, token: str) -> None:
    page = public_api.get(f"/verify-email/{token}/")

    assert page.status_code == 400
    assert "This link does not work" in page.content.decode()


def test_a_link_for_another_cell_s_tenant_never_confirms_this_cell_s_tenant_of_that_id(
    public_api: HostClient, settings: Any
) -> None:
    # Tenant ids are per cell: the link names its cell, and only that cell may confirm.
    public_api.post("/api/v1/onboarding/", body("samepk"), format="json")
    tenant = Tenant.objects.get(slug="samepk")
    token = signing.dumps({"tenant": tenant.pk, "cell": "gcc"}, salt=SALT)
    settings.MYMEDIC_CELLS = {
        **settings.MYMEDIC_CELLS,
        "gcc": {"region": "gcc", "url": "http://127.0.0.1:9", "capacity": 1},
    }

    with pytest.raises(LinkRefused):
        verify(token)
    page = public_api.get(f"/verify-email/{token}/")

    assert page.status_code == 400  # the gcc cell cannot be reached here
    tenant.refresh_from_db()
    assert tenant.verified_at is None


def test_an_old_confirmation_link_is_refused(public_api: HostClient) -> None:
    public_api.post("/api/v1/onboarding/", body("latecomer"), format="json")
    with time_machine.travel(timezone.now() + timedelta(days=8)):
        page = public_api.get(link_path(mail.outbox[-1]))

    assert page.status_code == 400
    assert Tenant.objects.get(slug="latecomer").verified_at is None


def test_sign_ups_are_throttled_per_address(public_api: HostClient, settings: Any) -> None:
    settings.MYMEDIC_SIGNUPS_PER_ADDRESS_HOUR = 2
    answers = [
        public_api.post("/api/v1/onboarding/", body(f"clinic-{n}"), format="json").status_code
        for n in range(3)
    ]
    form = public_api.post(
        "/signup/", {**body("clinic-9"), "timezone": "Asia/Kolkata", "currency": "INR"}
    )

    assert answers == [201, 201, 429]
    assert form.status_code == 429
    assert "Too many sign-ups" in form.content.decode()
    assert not Tenant.objects.filter(slug__in=["clinic-2", "clinic-9"]).exists()


def test_sign_ups_are_throttled_per_email_domain_whatever_the_address(
    settings: Any, db: None
) -> None:
    settings.MYMEDIC_SIGNUPS_PER_DOMAIN_DAY = 2
    answers = []
    for n in range(3):
        client = HostClient("localhost", REMOTE_ADDR=f"192.0.2.{n + 1}")
        response = client.post(
            "/api/v1/onboarding/", body(f"spam-{n}", f"owner{n}@spam.example"), format="json"
        )
        answers.append(response.status_code)

    assert answers == [201, 201, 429]


def test_unconfirmed_clinics_are_removed_after_a_week_schema_and_all(db: None) -> None:
    old = TenantFactory(slug="forgotten")
    confirmed = TenantFactory(slug="confirmed", verified=True)
    with time_machine.travel(timezone.now() + timedelta(days=8)):
        fresh = TenantFactory(slug="fresh")

        reaped = reap_unverified()

    assert reaped == ["forgotten"]
    assert not Tenant.objects.filter(pk=old.pk).exists()
    assert not schema_exists(old.schema_name)
    assert Tenant.objects.filter(pk__in=[confirmed.pk, fresh.pk]).count() == 2


def test_the_owner_sees_what_is_pending_and_can_have_the_email_sent_again(db: None) -> None:
    tenant = TenantFactory(slug="pending")
    client = HostClient("pending.localhost")
    with schema_context(tenant.schema_name):
        owner = User.objects.get(role=Role.OWNER)
        client.force_login(owner)

    overview = client.get("/setup/").content.decode()
    resent = client.post("/setup/verify-email/")

    assert "Confirm your email address" in overview
    assert "nisha@pending.example.com" in overview
    assert resent.status_code == 302
    assert mail.outbox[-1].to == ["nisha@pending.example.com"]
    assert "/verify-email/" in str(mail.outbox[-1].body)
