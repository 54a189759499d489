"""The audit trail: what it records, that it is append-only, and that tampering shows."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext

from apps.audit import trail
from apps.audit.models import AuditEntry
from apps.audit.trail import GENESIS, verify
from apps.clinic.models import Branch, Role, User
from apps.eventstore.locks import holding_append_lock
from apps.eventstore.models import Event
from apps.scheduling import commands
from apps.scheduling.models import Doctor, Patient
from apps.tenants.models import Tenant
from tests.audit.tampering import disable_triggers
from tests.clinic.factories import STAFF_PASSWORD, UserFactory
from tests.clock import ist
from tests.conftest import OWNER_PASSWORD, HostClient, client_for


def sql(statement: str, params: list[object] | None = None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params or [])


def actions() -> list[str]:
    return list(AuditEntry.objects.order_by("id").values_list("action", flat=True))


def test_every_appended_event_has_an_entry_in_its_transaction(
    doctor: Doctor, patient: Patient
) -> None:
    booked = commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(5, 9))

    entry = AuditEntry.objects.get(target=f"event:{booked.position}")
    assert entry.action == "event.appended"
    assert entry.detail["type"] == "AppointmentBooked"
    assert entry.actor_role == "system"
    assert Event.objects.count() == AuditEntry.objects.filter(action="event.appended").count()


def test_an_entry_names_actor_role_branch_request_and_ip(
    owner: User, tenant: Tenant, main_branch: Branch
) -> None:
    response = client_for(owner, tenant).post(
        "/api/v1/branches/",
        {"name": "Powai"},
        format="json",
        HTTP_X_REQUEST_ID="req-77",
        REMOTE_ADDR="10.1.2.3",
    )

    entry = AuditEntry.objects.filter(action="event.appended").latest("id")
    assert (entry.actor_id, entry.actor_role, entry.branch_id) == (
        owner.pk,
        "owner",
        response.json()["id"],
    )
    assert (entry.request_id, entry.ip) == ("req-77", "10.1.2.3")


def test_sign_ins_failed_sign_ins_and_tokens_are_recorded(
    api: HostClient, owner: User, tenant: Tenant
) -> None:
    api.post("/login/", {"username": owner.email, "password": "wrong-password"})
    api.post("/login/", {"username": owner.email, "password": OWNER_PASSWORD})
    api.post(
        "/api/v1/auth/token/", {"username": owner.email, "password": OWNER_PASSWORD}, format="json"
    )

    assert actions()[-3:] == ["login.failed", "login", "login.token"]
    failed = AuditEntry.objects.get(action="login.failed")
    assert failed.detail == {"username": owner.email}


def test_a_refused_request_is_recorded(tenant: Tenant, main_branch: Branch) -> None:
    desk = UserFactory(role=Role.RECEPTIONIST, branches=[main_branch])

    response = client_for(desk, tenant).get("/api/v1/staff/")

    assert response.status_code == 403
    entry = AuditEntry.objects.get(action="permission.denied")
    assert (entry.actor_id, entry.target) == (desk.pk, "GET /api/v1/staff/")


def test_reading_and_searching_patients_is_recorded(
    owner: User, tenant: Tenant, patient: Patient
) -> None:
    client = client_for(owner, tenant)

    client.get(f"/api/v1/patients/{patient.pk}/")
    client.get("/api/v1/patients/?phone=9812345678")

    read, search = AuditEntry.objects.filter(action__startswith="patient.").order_by("id")
    assert (read.action, read.target, read.actor_id) == (
        "patient.read",
        f"patient:{patient.pk}",
        owner.pk,
    )
    assert (search.action, search.detail) == ("patient.search", {"patients": [patient.pk]})


def test_creating_staff_is_recorded(owner: User, tenant: Tenant, main_branch: Branch) -> None:
    body = {
        "name": "N",
        "email": "n@acme.example.com",
        "password": STAFF_PASSWORD,
        "role": "receptionist",
        "branches": [main_branch.pk],
    }
    created = client_for(owner, tenant).post("/api/v1/staff/", body, format="json")

    entry = AuditEntry.objects.filter(action="staff.created").latest("id")
    assert entry.actor_id == owner.pk
    assert entry.target == f"user:{created.json()['id']}"


def test_the_chain_links_every_entry_to_the_one_before(doctor: Doctor, patient: Patient) -> None:
    commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(5, 9))
    entries = list(AuditEntry.objects.order_by("id"))

    assert entries[0].prev_hash == GENESIS
    assert all(b.prev_hash == a.hash for a, b in zip(entries, entries[1:], strict=False))
    result = verify()
    assert result.ok and result.entries == len(entries) and result.head == entries[-1].hash


def test_entries_in_one_hold_of_the_lock_read_the_head_once_and_take_ids_in_blocks(
    doctor: Doctor,
) -> None:
    with CaptureQueriesContext(connection) as captured, transaction.atomic(), holding_append_lock():
        entries = [trail.record("test.many", target=f"n:{n}") for n in range(14)]
    sent = [q["sql"] for q in captured.captured_queries]

    # Ids 2 + 4 + 8 at a time, each take reading the head with them; no other head read.
    assert sum(1 for s in sent if "nextval" in s) == 3
    assert sum(1 for s in sent if s.startswith('INSERT INTO "audit_auditentry"')) == 14
    assert not [s for s in sent if s.startswith('SELECT hash FROM "audit_auditentry"')]
    assert [e.id for e in entries] == sorted(e.id for e in entries)
    assert all(b.prev_hash == a.hash for a, b in zip(entries, entries[1:], strict=False))
    assert verify().ok


def test_a_head_kept_past_a_rolled_back_savepoint_never_enters_the_chain(doctor: Doctor) -> None:
    """The head kept for a hold of the append lock still names an entry that a savepoint
    inside the hold undid; the next entry must follow the entry that stayed."""
    with transaction.atomic(), holding_append_lock():
        trail.record("test.kept")
        kept = trail.record("test.kept")
        with pytest.raises(RuntimeError, match="undone"), transaction.atomic():
            trail.record("test.undone")
            raise RuntimeError("undone")
        with CaptureQueriesContext(connection) as writing_after:
            after = trail.record("test.after")

    # Its id was taken ahead with the undone entry's (no take, which would read the head):
    # only the kept head, checked by the insert, stood between it and the undone entry.
    assert not [q for q in writing_after.captured_queries if "nextval" in q["sql"]]
    assert after.prev_hash == kept.hash
    assert actions()[-3:] == ["test.kept", "test.kept", "test.after"]
    result = verify()
    assert result.ok and result.head == after.hash


@pytest.mark.parametrize(
    "statement", ["UPDATE audit_auditentry SET action = 'x'", "DELETE FROM audit_auditentry"]
)
def test_the_trail_cannot_be_changed_through_sql(doctor: Doctor, statement: str) -> None:
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        sql(statement)


class TestTamperingIsDetected:
    """A superuser who switches the triggers off can change rows; verify still notices."""

    @pytest.fixture(autouse=True)
    def history(self, doctor: Doctor, patient: Patient) -> None:
        for hour in (9, 10, 11):
            commands.appointment_book(
                actor=None, doctor=doctor, patient=patient, start=ist(5, hour)
            )
        assert verify().ok
        disable_triggers("audit_auditentry")
        disable_triggers("eventstore_event")

    def test_a_changed_entry(self) -> None:
        target = AuditEntry.objects.order_by("id")[3]
        sql("UPDATE audit_auditentry SET actor_role = 'owner' WHERE id = %s", [target.id])

        result = verify()

        assert not result.ok
        assert (result.broken_at, result.problem) == (target.id, "the entry was changed")

    def test_a_deleted_entry(self) -> None:
        target = AuditEntry.objects.order_by("id")[3]
        sql("DELETE FROM audit_auditentry WHERE id = %s", [target.id])

        result = verify()

        assert not result.ok and result.problem == "the link to the previous entry is broken"

    def test_a_rehashed_entry_breaks_the_next_link(self) -> None:
        entries = list(AuditEntry.objects.order_by("id")[:5])
        sql("UPDATE audit_auditentry SET hash = %s WHERE id = %s", ["f" * 64, entries[3].id])

        assert verify().broken_at in {entries[3].id, entries[4].id}

    def test_a_changed_event(self) -> None:
        event = Event.objects.filter(type="AppointmentBooked").first()
        assert event is not None
        sql(
            "UPDATE eventstore_event SET data = jsonb_set(data, '{doctor_id}', '999') "
            "WHERE position = %s",
            [event.position],
        )

        result = verify()

        assert not result.ok and result.problem == f"event {event.position} was changed"

    def test_a_deleted_event(self) -> None:
        event = Event.objects.latest("position")
        sql("DELETE FROM eventstore_event WHERE position = %s", [event.position])

        assert verify().problem == f"event {event.position} is missing from the log"

    def test_a_forged_event(self) -> None:
        sql(
            "INSERT INTO eventstore_event (stream, version, type, schema_version, data, metadata, "
            "occurred_at) VALUES ('appointment-999', 1, 'AppointmentBooked', 1, '{}', '{}', now())"
        )

        assert "has no audit entry" in verify().problem


def test_verify_api_is_for_owners(owner: User, tenant: Tenant, main_branch: Branch) -> None:
    body = client_for(owner, tenant).get("/api/v1/audit/verify/").json()
    manager = client_for(UserFactory(role=Role.MANAGER), tenant)

    assert body["ok"] is True and body["entries"] > 0 and len(body["head"]) == 64
    assert manager.get("/api/v1/audit/verify/").status_code == 403


def test_verify_audit_command(doctor: Doctor, patient: Patient) -> None:
    out = StringIO()
    call_command("verify_audit", "--tenant", "acme", stdout=out)
    assert "acme: ok" in out.getvalue()

    disable_triggers("audit_auditentry")
    sql(
        "UPDATE audit_auditentry SET target = 'x' WHERE id = (SELECT max(id) FROM audit_auditentry)"
    )
    with pytest.raises(CommandError, match="broken audit trail"):
        call_command("verify_audit", "--tenant", "acme", stdout=StringIO())


def test_owners_browse_and_export_the_trail_in_admin(api: HostClient, owner: User) -> None:
    api.force_login(owner)
    listing = api.get("/admin/audit/auditentry/?action=login")
    ids = list(AuditEntry.objects.values_list("id", flat=True)[:3])
    export = api.post(
        "/admin/audit/auditentry/",
        {"action": "export_csv", "_selected_action": ids, "index": 0},
    )

    assert listing.status_code == 200
    assert export.status_code == 200
    assert export["Content-Type"] == "text/csv"
    assert export.content.decode().splitlines()[0].startswith("id,at,actor_id")
    assert len(export.content.decode().splitlines()) == len(ids) + 1


def test_receptionists_do_not_see_the_trail_in_admin(api: HostClient, main_branch: Branch) -> None:
    api.force_login(UserFactory(role=Role.RECEPTIONIST, branches=[main_branch], is_staff=True))

    assert api.get("/admin/audit/auditentry/").status_code == 403
