"""The event log: append-only, ordered, versioned, with metadata and without PHI."""

import pytest
from django.db import DatabaseError, connection, transaction

from apps.clinic.models import Branch, Role, User
from apps.core.errors import Conflict
from apps.eventstore.models import AppendOnlyError, Event
from apps.tenants.models import Tenant
from tests.clinic.factories import BranchFactory, UserFactory
from tests.conftest import client_for


def test_a_save_without_an_event_is_refused(tenant: Tenant) -> None:
    with pytest.raises(AppendOnlyError, match="needs an event"):
        Branch(name="Quiet", timezone="Asia/Kolkata").save()
    assert not Branch.objects.filter(name="Quiet").exists()


def test_each_save_appends_exactly_one_event_in_its_transaction(tenant: Tenant) -> None:
    before = Event.objects.count()

    branch = BranchFactory(name="Andheri")

    event = Event.objects.get(stream=f"branch-{branch.pk}")
    assert Event.objects.count() == before + 1
    assert (event.type, event.version, event.data["id"]) == ("BranchOpened", 1, branch.pk)
    assert branch.position == event.position


def test_a_failed_transaction_leaves_neither_row_nor_event(tenant: Tenant) -> None:
    before = Event.objects.count()

    with pytest.raises(RuntimeError), transaction.atomic():
        BranchFactory(name="Doomed")
        raise RuntimeError("rolled back")

    assert Event.objects.count() == before
    assert not Branch.objects.filter(name="Doomed").exists()


def test_delete_and_bulk_writes_are_refused(main_branch: Branch) -> None:
    with pytest.raises(AppendOnlyError):
        main_branch.delete()
    with pytest.raises(AppendOnlyError):
        Branch.objects.filter(pk=main_branch.pk).update(name="Renamed")
    with pytest.raises(AppendOnlyError):
        Branch.objects.filter(pk=main_branch.pk).delete()
    with pytest.raises(AppendOnlyError):
        Event.objects.first().delete()  # type: ignore[union-attr]
    with pytest.raises(AppendOnlyError):
        event = Event.objects.first()
        assert event is not None
        event.type = "Forged"
        event.save()


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE eventstore_event SET type = 'Forged'",
        "DELETE FROM eventstore_event",
        "TRUNCATE eventstore_event",
    ],
)
def test_the_database_refuses_changes_to_events(main_branch: Branch, statement: str) -> None:
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement)


def test_every_cloned_tenant_has_the_append_only_triggers(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT n.nspname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE t.tgname = 'eventstore_event_append_only'"
        )
        schemas = {name for (name,) in cursor.fetchall()}
    assert {"tenant_template", tenant.schema_name, other_tenant.schema_name} <= schemas


def test_a_stale_copy_cannot_overwrite_a_newer_version(main_branch: Branch) -> None:
    stale = Branch.objects.get(pk=main_branch.pk)
    fresh = Branch.objects.get(pk=main_branch.pk)
    fresh.name = "Renamed first"
    fresh.record("BranchRenamed", {}, actor=None)
    fresh.save()

    stale.name = "Renamed second"
    stale.record("BranchRenamed", {}, actor=None)
    with pytest.raises(Conflict):
        stale.save()

    assert Branch.objects.get(pk=main_branch.pk).name == "Renamed first"
    assert list(
        Event.objects.filter(stream=main_branch.stream).values_list("version", flat=True)
    ) == [1, 2]


def test_metadata_records_actor_role_branch_and_request_ids(owner: User, tenant: Tenant) -> None:
    client = client_for(owner, tenant)

    response = client.post(
        "/api/v1/branches/",
        {"name": "Powai"},
        format="json",
        HTTP_X_REQUEST_ID="req-123",
        HTTP_X_CORRELATION_ID="corr-456",
    )

    assert response["X-Request-ID"] == "req-123"
    event = Event.objects.get(type="BranchOpened", data__id=response.json()["id"])
    assert event.metadata == {
        "actor_id": owner.pk,
        "actor_role": "owner",
        "branch_id": response.json()["id"],
        "request_id": "req-123",
        "correlation_id": "corr-456",
        "causation_id": "req-123",
    }


def test_requests_without_ids_get_a_generated_one(owner: User, tenant: Tenant) -> None:
    response = client_for(owner, tenant).post("/api/v1/branches/", {"name": "Thane"}, format="json")

    event = Event.objects.get(type="BranchOpened", data__id=response.json()["id"])
    assert event.metadata["request_id"] == response["X-Request-ID"]
    assert len(response["X-Request-ID"]) == 32


class TestEventsApi:
    def test_owner_reads_the_log_in_position_order(self, owner: User, tenant: Tenant) -> None:
        first, second = BranchFactory(), BranchFactory()

        events = client_for(owner, tenant).get(f"/api/v1/events/?after={first.position - 1}").json()

        assert [e["position"] for e in events] == [first.position, second.position]
        assert set(events[0]) == {"position", "type", "stream", "version", "occurred_at", "data"}

    def test_limit_caps_the_page(self, owner: User, tenant: Tenant) -> None:
        BranchFactory.create_batch(3)

        events = client_for(owner, tenant).get("/api/v1/events/?after=0&limit=2").json()

        assert len(events) == 2
        assert events[0]["position"] < events[1]["position"]

    @pytest.mark.parametrize("query", ["after=-1", "after=x", "limit=0", "limit=5000", "limit=x"])
    def test_bad_paging_is_a_400(self, owner: User, tenant: Tenant, query: str) -> None:
        assert client_for(owner, tenant).get(f"/api/v1/events/?{query}").status_code == 400

    @pytest.mark.parametrize("role", [Role.BRANCH_MANAGER, Role.RECEPTIONIST, Role.DOCTOR])
    def test_only_owners_and_managers_read_the_log(
        self, tenant: Tenant, main_branch: Branch, role: str
    ) -> None:
        client = client_for(UserFactory(role=role, branches=[main_branch]), tenant)

        assert client.get("/api/v1/events/").status_code == 403

    def test_a_manager_reads_the_log(self, tenant: Tenant) -> None:
        client = client_for(UserFactory(role=Role.MANAGER), tenant)

        assert client.get("/api/v1/events/").status_code == 200


def test_the_log_the_trail_and_the_ledger_carry_their_append_only_triggers(tenant: Tenant) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, t.tgname, p.proname FROM pg_trigger t "
            "JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_proc p ON p.oid = t.tgfoid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            # Each month's partition of the log and the trail carries its own (tests/eventstore/
            # test_partitions.py); here the tables themselves.
            "WHERE n.nspname = %s AND NOT t.tgisinternal AND NOT c.relispartition",
            [tenant.schema_name],
        )
        found = cursor.fetchall()
    triggers = {
        (table, name) for table, name, function in found if function == "mymedic_refuse_change"
    }

    assert triggers == {
        # Partitioned: UPDATE and DELETE are refused by row triggers on every partition.
        ("eventstore_event", "eventstore_event_no_truncate"),
        ("audit_auditentry", "audit_entry_no_truncate"),
        ("eventstore_archivedpartition", "eventstore_archived_append_only"),
        ("eventstore_archivedpartition", "eventstore_archived_no_truncate"),
        ("billing_payment", "billing_payment_append_only"),
        ("billing_payment", "billing_payment_no_truncate"),
        ("billing_refund", "billing_refund_append_only"),
        ("billing_refund", "billing_refund_no_truncate"),
        ("billing_invoiceadjustment", "billing_invoiceadjustment_append_only"),
        # The money the gateway and the bank report (apps/settlements).
        ("settlements_gatewayrow", "settlements_gatewayrow_append_only"),
        ("settlements_gatewayrow", "settlements_gatewayrow_no_truncate"),
        ("settlements_gatewaypayment", "settlements_gatewaypayment_append_only"),
        ("settlements_gatewaypayment", "settlements_gatewaypayment_no_truncate"),
        ("settlements_bankline", "settlements_bankline_append_only"),
        ("settlements_bankline", "settlements_bankline_no_truncate"),
    }
