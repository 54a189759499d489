"""Every API route × every role × own/other branch, and callers of another tenant.

A route names the roles that may use it, how its object is scoped, and the success code;
the expected status of every combination follows from that, the contract's rules:
401 without valid credentials of this tenant, 403 for a role that may never use the route,
404 for an object outside the caller's reach, else success. Each call runs in a savepoint
that is rolled back, so every call sees the same world.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.db import transaction
from django_tenants.utils import schema_context

from apps.billing import commands as billing
from apps.clinic.models import Branch, Role, User
from apps.core.shortlived import forget_all
from apps.integration.commands import channel_add, mapping_draft, mapping_test
from apps.integration.mapping import DEFAULT_MAPPING
from apps.plans.models import Module, Plan, Subscription
from apps.plans.modules import module_of
from apps.scheduling import commands
from apps.scheduling.waitlist import waitlist_join
from apps.settlements import commands as settlements
from apps.settlements.models import ExceptionItem
from apps.tenants.models import Tenant
from tests.clinic.factories import STAFF_PASSWORD, BranchFactory, UserFactory
from tests.clock import ist
from tests.conftest import HostClient, client_for
from tests.integration.traffic import adt, receive
from tests.scheduling.factories import DoctorFactory, PatientFactory

pytestmark = pytest.mark.usefixtures("monday_morning")


OWNER, MANAGER, LEAD, DESK, DOCTOR = (
    Role.OWNER,
    Role.MANAGER,
    Role.BRANCH_MANAGER,
    Role.RECEPTIONIST,
    Role.DOCTOR,
)
ALL = frozenset({OWNER, MANAGER, LEAD, DESK, DOCTOR})
MANAGERS = frozenset({OWNER, MANAGER})
DOCTOR_ADMINS = MANAGERS | {LEAD}
FRONT_DESK = DOCTOR_ADMINS | {DESK}
BRANCH_BOUND = frozenset({LEAD, DESK, DOCTOR})


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    roles: frozenset[str]
    ok: int
    scope: str = "none"  # "branch": object of a branch; "patient": a doctor sees own only
    body: Callable[[dict[str, Any]], dict[str, Any]] = field(default=lambda ids: {})
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


ROUTES = [
    Route("GET", "/api/v1/staff/", MANAGERS, 200),
    Route("POST", "/api/v1/staff/", MANAGERS, 201, body=lambda ids: {
        "name": "New", "email": "new@acme.example.com", "password": STAFF_PASSWORD,
        "role": "receptionist", "branches": [ids["branch"]]}),
    Route("GET", "/api/v1/branches/", ALL, 200),
    Route("POST", "/api/v1/branches/", MANAGERS, 201, body=lambda ids: {"name": "Juhu"}),
    Route("GET", "/api/v1/branches/{branch}/", ALL, 200, "branch"),
    Route("GET", "/api/v1/doctors/", ALL, 200),
    Route("POST", "/api/v1/doctors/", DOCTOR_ADMINS, 201, "branch", lambda ids: {
        "name": "Dr. New", "branch": ids["branch"], "specialty": "ENT", "slot_minutes": 15,
        "consultation_fee": "400.00",
        "weekly_hours": [{"weekday": 0, "start": "09:00", "end": "12:00"}]}),
    Route("GET", "/api/v1/doctors/{doctor}/", ALL, 200, "branch"),
    Route("GET", "/api/v1/doctors/{doctor}/slots/?date=2027-01-05", ALL, 200, "branch"),
    Route("GET", "/api/v1/doctors/{doctor}/day/", ALL, 200, "branch"),
    Route("POST", "/api/v1/doctors/{doctor}/leave/", DOCTOR_ADMINS, 201, "branch",
          lambda ids: {"start_date": "2027-02-01", "end_date": "2027-02-02"}),
    Route("POST", "/api/v1/branches/{branch}/closures/", DOCTOR_ADMINS, 201, "branch",
          lambda ids: {"date": "2027-01-26"}),
    Route("GET", "/api/v1/branches/{branch}/board/", FRONT_DESK, 200, "branch"),
    Route("GET", "/api/v1/patients/", ALL, 200),
    Route("POST", "/api/v1/patients/", FRONT_DESK, 201,
          body=lambda ids: {"name": "New Patient", "phone": "9800011122"}),
    Route("POST", "/api/v1/patients/search/", ALL, 200,
          body=lambda ids: {"phone": "9800011122"}),
    Route("GET", "/api/v1/patients/{patient}/", ALL, 200, "patient"),
    Route("GET", "/api/v1/patients/{patient}/upcoming/", ALL, 200, "patient"),
    Route("POST", "/api/v1/patients/{patient}/erase/", MANAGERS, 200, "patient"),
    Route("GET", "/api/v1/appointments/", ALL, 200),
    Route("POST", "/api/v1/appointments/", FRONT_DESK, 201, "branch", lambda ids: {
        "doctor": ids["doctor"], "patient": ids["patient"], "start": "2027-01-05T09:00:00+05:30"}),
    Route("GET", "/api/v1/appointments/{booked}/", ALL, 200, "branch"),
    Route("POST", "/api/v1/appointments/{booked}/cancel/", FRONT_DESK, 200, "branch",
          lambda ids: {"reason": "asked"}),
    Route("POST", "/api/v1/appointments/{booked}/reschedule/", FRONT_DESK, 200, "branch",
          lambda ids: {"start": "2027-01-05T11:00:00+05:30"}),
    Route("POST", "/api/v1/appointments/{booked}/check-in/", ALL, 200, "branch"),
    Route("POST", "/api/v1/appointments/{missed}/no-show/", ALL, 200, "branch"),
    Route("POST", "/api/v1/appointments/{checked_in}/complete/", ALL, 200, "branch"),
    Route("POST", "/api/v1/appointments/{completed}/follow-up/", FRONT_DESK, 201, "branch",
          lambda ids: {"start": "2027-01-11T09:00:00+05:30"}),
    Route("POST", "/api/v1/appointments/{booked}/payments/", FRONT_DESK, 201, "branch",
          lambda ids: {"kind": "balance", "amount": "50.00", "method": "upi"}),
    Route("GET", "/api/v1/appointments/{booked}/invoice/", FRONT_DESK, 200, "branch"),
    Route("POST", "/api/v1/payments/{payment}/refunds/", FRONT_DESK, 201, "branch",
          lambda ids: {"amount": "10.00", "reason": "goodwill"}),
    Route("POST", "/api/v1/invoices/{invoice}/discounts/", FRONT_DESK, 201, "branch",
          lambda ids: {"category": "senior_citizen", "amount": "10.00", "reason": "60+"}),
    Route("POST", "/api/v1/invoices/{invoice}/lines/0/withdraw/", FRONT_DESK, 201, "branch",
          lambda ids: {"reason": "Not seen"}),
    Route("POST", "/api/v1/invoices/{invoice}/items/", FRONT_DESK, 201, "branch",
          lambda ids: {"category": "pharmacy", "description": "ORS sachet", "quantity": 2,
                       "unit_price": "21.00"}),
    Route("GET", "/api/v1/invoices/{invoice}/gst-documents/", FRONT_DESK, 200, "branch"),
    Route("POST", "/api/v1/invoices/{invoice}/gst-documents/", FRONT_DESK, 201, "branch"),
    Route("GET", "/api/v1/gst-documents/{gst_document}/", FRONT_DESK, 200, "branch"),
    Route("GET", "/api/v1/billing/settings/", MANAGERS, 200),
    Route("POST", "/api/v1/billing/settings/", MANAGERS, 200,
          body=lambda ids: {"cancellation_policy": "fee"}),
    Route("GET", "/api/v1/billing/tax-rules/", MANAGERS, 200),
    Route("POST", "/api/v1/billing/tax-rules/", MANAGERS, 201,
          body=lambda ids: {"name": "CGST", "rate": "9"}),
    Route("GET", "/api/v1/waitlist/", FRONT_DESK, 200),
    Route("POST", "/api/v1/waitlist/", FRONT_DESK, 201, "branch", lambda ids: {
        "doctor": ids["doctor"], "patient": ids["patient"], "date": "2027-01-06"}),
    Route("POST", "/api/v1/waitlist/{waitlist}/leave/", FRONT_DESK, 200, "branch"),
    Route("GET", "/api/v1/notifications/dead-letter/", MANAGERS, 200),
    Route("GET", "/api/v1/integrations/hl7/channels/", MANAGERS, 200),
    Route("POST", "/api/v1/integrations/hl7/channels/", MANAGERS, 201, body=lambda ids: {
        "name": "Matrix Hospital", "sending_facility": "MATRIX", "direction": "inbound"}),
    Route("GET", "/api/v1/integrations/hl7/messages/?status=error", MANAGERS, 200),
    Route("POST", "/api/v1/integrations/hl7/messages/{hl7message}/reprocess/", MANAGERS, 200),
    Route("GET", "/api/v1/integrations/hl7/channels/{hl7channel}/mappings/", MANAGERS, 200),
    Route("POST", "/api/v1/integrations/hl7/channels/{hl7channel}/mappings/", MANAGERS, 201,
          body=lambda ids: {"document": DEFAULT_MAPPING}),
    Route("POST", "/api/v1/integrations/hl7/channels/{hl7channel}/mappings/1/test/", MANAGERS,
          200, body=lambda ids: {"samples": ["MSH|^~\\&|HIS|CITY|MM|acme|||ADT^A04|T1|P|2.5"]}),
    Route("POST", "/api/v1/integrations/hl7/channels/{hl7channel}/mappings/1/activate/",
          MANAGERS, 200),
    Route("GET", "/api/v1/events/", MANAGERS, 200),
    Route("GET", "/api/v1/audit/verify/", frozenset({OWNER}), 200),
    Route("GET", "/api/v1/exports/", frozenset({OWNER}), 200),
    Route("POST", "/api/v1/exports/", frozenset({OWNER}), 202,
          body=lambda ids: {"passphrase": "a-long-export-passphrase"}),
    Route("GET", "/api/v1/subscription/", frozenset({OWNER}), 200),
    Route("GET", "/api/v1/doctors/me/queue/", frozenset({DOCTOR}), 200),
    Route("POST", "/api/v1/doctors/me/queue/next/", frozenset({DOCTOR}), 200),
    Route("POST", "/api/v1/appointments/{checked_in}/call/", ALL, 200, "branch"),
    Route("POST", "/api/v1/appointments/{checked_in}/start/", ALL, 200, "branch"),
    # Every role that may end a consultation reaches the check that it started (here: 409).
    Route("POST", "/api/v1/appointments/{checked_in}/end/", ALL, 409, "branch"),
    Route("POST", "/api/v1/auth/logout/", ALL, 204),
    # Every role reaches the check of its current password (a wrong one here: 400).
    Route("POST", "/api/v1/auth/password/", ALL, 400, body=lambda ids: {
        "old_password": "not-the-password", "new_password": "a-new-passphrase-77"}),
    Route("GET", "/api/v1/settlements/", MANAGERS, 200),
    Route("GET", "/api/v1/settlements/exceptions/", MANAGERS, 200),
    Route("POST", "/api/v1/settlements/exceptions/{exception}/resolve/", MANAGERS, 200,
          body=lambda ids: {"note": "Checked with the gateway."}),
    # Managers reach the file check (a JSON body is no CSV file: 400).
    Route("POST", "/api/v1/settlements/gateway-files/", MANAGERS, 400),
    Route("POST", "/api/v1/settlements/bank-statements/", MANAGERS, 400),
]  # fmt: skip
ROUTES += [
    Route("GET", "/fhir/R4/metadata", ALL, 200),
    Route("GET", "/fhir/R4/Patient", ALL, 200),
    Route("GET", "/fhir/R4/Patient/{patient}", ALL, 200, "patient"),
    Route("GET", "/fhir/R4/Practitioner", ALL, 200),
    Route("GET", "/fhir/R4/Practitioner/{doctor}", ALL, 200, "branch"),
    Route("GET", "/fhir/R4/Location", ALL, 200),
    Route("GET", "/fhir/R4/Location/{branch}", ALL, 200, "branch"),
    Route("GET", "/fhir/R4/Schedule", ALL, 200),
    Route("GET", "/fhir/R4/Schedule/{doctor}", ALL, 200, "branch"),
    Route("GET", "/fhir/R4/Slot?schedule={doctor}", ALL, 200),
    Route("GET", "/fhir/R4/Appointment", ALL, 200),
    Route("GET", "/fhir/R4/Appointment/{booked}", ALL, 200, "branch"),
    Route("GET", "/fhir/R4/Encounter", ALL, 200),
    Route("GET", "/fhir/R4/Encounter/{checked_in}", ALL, 200, "branch"),
    Route("GET", "/fhir/R4/Encounter/{completed}/$document", ALL, 200, "branch"),
    Route("GET", "/fhir/R4/$export", MANAGERS, 202, headers={"HTTP_PREFER": "respond-async"}),
]  # fmt: skip


def expected(route: Route, role: str, side: str) -> int:
    if role not in route.roles:
        return 403
    if side == "other" and route.scope == "branch" and role in BRANCH_BOUND:
        return 404
    if side == "other" and route.scope == "patient" and role == DOCTOR:
        return 404
    return route.ok


@pytest.fixture
def world(
    tenant: Tenant,
    owner: User,
    main_branch: Branch,
    other_tenant: Tenant,
    monday_morning: time_machine.Coordinates,
) -> dict[str, Any]:
    other_branch = BranchFactory(name="Other branch")
    doctor_login = UserFactory(role=DOCTOR, branches=[main_branch])
    users = {
        OWNER: owner,
        MANAGER: UserFactory(role=MANAGER),
        LEAD: UserFactory(role=LEAD, branches=[main_branch]),
        DESK: UserFactory(role=DESK, branches=[main_branch]),
        DOCTOR: doctor_login,
    }
    ids: dict[str, dict[str, Any]] = {}
    billing.gst_supplier_set(
        actor=None, legal_name="Acme Health", gstin="27AAPFU0939F1ZV", address="Mumbai"
    )
    for side, branch, login in (("own", main_branch, doctor_login), ("other", other_branch, None)):
        doc = DoctorFactory(branch=branch, user=login)
        person = PatientFactory()
        booked = commands.appointment_book(actor=None, doctor=doc, patient=person, start=ist(4, 10))
        checked = commands.appointment_check_in(
            actor=None,
            appointment=commands.appointment_book(
                actor=None, doctor=doc, patient=person, start=ist(4, 11)
            ),
            now=ist(4, 10),  # check-in opens 2 hours before the start
        )
        completed = commands.appointment_complete(
            actor=None,
            appointment=commands.appointment_check_in(
                actor=None,
                appointment=commands.appointment_book(
                    actor=None, doctor=doc, patient=person, start=ist(4, 12)
                ),
                now=ist(4, 11),
            ),
        )
        # Booked for 09:00; the routes run at 09:20, past the no-show grace.
        missed = commands.appointment_book(actor=None, doctor=doc, patient=person, start=ist(4, 9))
        payment = billing.payment_take(
            actor=None, appointment=booked, kind="deposit", amount=Decimal("100"), method="cash"
        )
        waiting = waitlist_join(actor=None, doctor=doc, patient=person, day=ist(5, 9).date())
        checked_bill = billing.payment_take(
            actor=None, appointment=checked, kind="deposit", amount=Decimal("100"), method="cash"
        ).invoice
        (gst_document,) = billing.gst_documents_issue(actor=None, invoice=checked_bill)
        ids[side] = {
            "branch": branch.pk,
            "doctor": doc.pk,
            "patient": person.pk,
            "booked": booked.pk,
            "checked_in": checked.pk,
            "completed": completed.pk,
            "payment": payment.pk,
            "missed": missed.pk,
            "waitlist": waiting.pk,
            "invoice": payment.invoice_id,
            "gst_document": gst_document.pk,
        }
    settlements.gateway_file_import(  # a row matching no payment: one exception to resolve
        actor=None,
        raw=b"entity_id,type,debit,credit,amount,currency,fee,tax,settled,created_at,settled_at,"
        b"settlement_id,settlement_utr\npay_Unknown01,payment,0,99.00,99.00,INR,0,0,1,"
        b"2027-01-04 10:00:00,2027-01-05 10:00:00,setl_1,UTR1\n",
    )
    ids["own"]["exception"] = ExceptionItem.objects.get().pk
    hl7_ids = hl7_message_in_error(tenant)
    for side_ids in ids.values():
        side_ids.update(hl7_ids)
    monday_morning.move_to(ist(4, 9, 20))
    with schema_context(other_tenant.schema_name):
        foreign = client_for(User.objects.get(role=OWNER), other_tenant)
    return {
        "clients": {role: client_for(user, tenant) for role, user in users.items()},
        "ids": ids,
        "anonymous": HostClient(f"{tenant.slug}.localhost"),
        "foreign": HostClient(
            f"{tenant.slug}.localhost",
            HTTP_AUTHORIZATION=foreign._credentials["HTTP_AUTHORIZATION"],
        ),  # noqa: SLF001
    }


def hl7_message_in_error(tenant: Tenant) -> dict[str, int]:
    """An HL7 channel with a drafted mapping (tried, so it may go live), and a message in its
    error queue (an update for a patient the channel never sent)."""
    channel = channel_add(actor=None, name="City", sending_facility="CITY", direction="inbound")
    draft = mapping_draft(actor=None, channel=channel, document=DEFAULT_MAPPING)
    text = adt("A08", tenant=tenant.slug, facility="CITY", identifier="UNKNOWN")
    mapping_test(actor=None, version=draft, samples=[text])
    return {"hl7channel": channel.pk, "hl7message": receive(channel, text).pk}


def call(client: HostClient, route: Route, ids: dict[str, Any]) -> int:
    with transaction.atomic():
        path = route.path.format(**ids)
        if route.method == "GET":
            response = client.get(path, **route.headers)
        else:
            response = client.post(path, route.body(ids), format="json")
        transaction.set_rollback(True)
    return int(response.status_code)


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_access_matrix(world: dict[str, Any], route: Route) -> None:
    mismatches = []
    sides = ("own", "other") if route.scope != "none" else ("own",)
    for role, client in world["clients"].items():
        for side in sides:
            got = call(client, route, world["ids"][side])
            want = expected(route, role, side)
            if got != want:
                mismatches.append(f"{role}/{side}: got {got}, want {want}")
    for who in ("anonymous", "foreign"):
        got = call(world[who], route, world["ids"]["own"])
        if got != 401:
            mismatches.append(f"{who}: got {got}, want 401")
    assert mismatches == []


GATED_ROUTES = [route for route in ROUTES if module_of(route.path) is not None]


@pytest.mark.parametrize("route", GATED_ROUTES, ids=str)
def test_a_route_of_a_module_outside_the_plan_answers_402_to_everyone(
    world: dict[str, Any], route: Route, tenant: Tenant
) -> None:
    bare = Plan.objects.create(slug="bare", name="Bare", pricing="per_doctor", for_kind="bare")
    bare.modules.set(Module.objects.filter(code="scheduling"))
    Subscription.objects.filter(tenant=tenant).update(plan=bare, status="active")
    forget_all()
    callers = {**world["clients"], "anonymous": world["anonymous"], "foreign": world["foreign"]}
    got = {who: call(client, route, world["ids"]["own"]) for who, client in callers.items()}
    assert got == dict.fromkeys(callers, 402)
