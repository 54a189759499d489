"""The exception queue: listed for managers (API, console), resolved with a note that stays
out of the event log; the resolution is an audited event."""

from decimal import Decimal

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django_tenants.utils import schema_context

from apps.audit.models import AuditEntry
from apps.clinic.models import Role, User
from apps.eventstore.models import Event
from apps.settlements import commands, events
from apps.settlements.models import ExceptionItem
from apps.tenants.models import Tenant
from tests.clinic.factories import UserFactory
from tests.conftest import HostClient, client_for
from tests.settlements.conftest import payment_row, report

NOTE = "Asked Razorpay support; the payment belongs to another merchant account."


def unmatched(tenant: Tenant) -> ExceptionItem:
    stranger = payment_row("pay_ZZunknown0001", "250.00", "5.90", "0.90", "244.10")
    commands.gateway_file_import(actor=None, raw=report(stranger))
    return ExceptionItem.objects.get()


def test_managers_list_the_open_items_and_resolve_one_with_a_note(
    manager_api: HostClient, tenant: Tenant, owner: User
) -> None:
    item = unmatched(tenant)

    listed = manager_api.get("/api/v1/settlements/exceptions/?status=open").json()
    resolved = manager_api.post(
        f"/api/v1/settlements/exceptions/{item.pk}/resolve/", {"note": NOTE}, format="json"
    )

    assert listed["count"] == 1
    assert {k: listed["results"][0][k] for k in ("id", "kind", "reference", "amount")} == {
        "id": item.pk, "kind": "unmatched_row", "reference": "pay_ZZunknown0001",
        "amount": "250.00",
    }  # fmt: skip
    assert resolved.status_code == 200
    assert resolved.json()["status"] == "resolved"
    item.refresh_from_db()
    assert (item.status, item.note, item.resolved_by) == ("resolved", NOTE, owner)
    event = Event.objects.get(type=events.SETTLEMENT_EXCEPTION_RESOLVED)
    assert NOTE not in str(event.data)
    assert event.metadata["actor_id"] == owner.pk
    assert AuditEntry.objects.filter(target=f"event:{event.position}").exists()
    left = manager_api.get("/api/v1/settlements/exceptions/?status=open").json()
    assert left["count"] == 0


def test_resolving_needs_a_note_and_happens_once(manager_api: HostClient, tenant: Tenant) -> None:
    item = unmatched(tenant)
    url = f"/api/v1/settlements/exceptions/{item.pk}/resolve/"

    blank = manager_api.post(url, {"note": "   "}, format="json")
    first = manager_api.post(url, {"note": NOTE}, format="json")
    second = manager_api.post(url, {"note": NOTE}, format="json")

    assert (blank.status_code, first.status_code, second.status_code) == (400, 200, 409)


def test_a_receptionist_may_not_see_the_queue_and_another_clinic_finds_nothing(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    item = unmatched(tenant)
    desk = client_for(UserFactory(role=Role.RECEPTIONIST), tenant)
    with schema_context(other_tenant.schema_name):
        foreign_owner = User.objects.get(role=Role.OWNER)
    foreign = client_for(foreign_owner, other_tenant)

    refused = desk.get("/api/v1/settlements/exceptions/")
    elsewhere = foreign.post(
        f"/api/v1/settlements/exceptions/{item.pk}/resolve/", {"note": NOTE}, format="json"
    )

    assert refused.status_code == 403
    assert elsewhere.status_code == 404
    item.refresh_from_db()
    assert item.status == "open"


def test_the_console_page_lists_the_queue_and_resolves_an_item(tenant: Tenant, owner: User) -> None:
    item = unmatched(tenant)
    browser = Client(HTTP_HOST=f"{tenant.slug}.localhost")
    browser.force_login(owner)

    page = browser.get("/reception/settlements/")
    done = browser.post(
        f"/reception/settlements/exceptions/{item.pk}/resolve/", {f"i{item.pk}-note": NOTE}
    )

    assert page.status_code == 200
    assert b"Gateway row matches no payment" in page.content
    assert b"pay_ZZunknown0001" in page.content
    assert done.status_code == 302
    item.refresh_from_db()
    assert (item.status, item.note) == ("resolved", NOTE)


def test_the_console_upload_imports_a_report(tenant: Tenant, owner: User) -> None:
    browser = Client(HTTP_HOST=f"{tenant.slug}.localhost")
    browser.force_login(owner)
    stranger = payment_row("pay_ZZunknown0009", "99.00", "0.00", "0.00", "99.00")
    upload = SimpleUploadedFile("report.csv", report(stranger), content_type="text/csv")
    answer = browser.post("/reception/settlements/", {"kind": "gateway", "file": upload})

    assert answer.status_code == 302
    assert ExceptionItem.objects.get().amount == Decimal("99.00")
