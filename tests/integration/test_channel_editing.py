"""Editing a channel and its mapping: the fields an analyst may change (with an event naming
them and an audit entry), the new routing key taking effect at the listener, a draft that
goes live only once tried on samples, and a rollback to a retired version."""

import pytest
from django_tenants.utils import schema_context

from apps.audit.models import AuditEntry
from apps.clinic.models import Role, User
from apps.core.errors import Conflict, InvalidInput, PermissionDenied
from apps.eventstore.models import Event
from apps.integration import events
from apps.integration.commands import (
    channel_add,
    channel_edit,
    mapping_activate,
    mapping_draft,
    mapping_of,
    mapping_test,
)
from apps.integration.mapping import DEFAULT_MAPPING
from apps.integration.models import Channel, MappingVersion
from apps.tenants.models import Tenant
from tests.clinic.factories import UserFactory
from tests.conftest import client_for
from tests.integration.conftest import inbound
from tests.integration.traffic import MllpClient, adt

SAMPLE = (
    "MSH|^~\\&|HIS|CITY|MYMEDIC|acme|20270104||ADT^A04|S-1|P|2.5\r"
    "PID|||M-7^^^CITY^MR||Iyer^Lakshmi^S||19790228||||||+919800000077\r"
)


@pytest.fixture
def owner(tenant: Tenant) -> User:
    return User.objects.get(role=Role.OWNER)


@pytest.fixture
def channel(tenant: Tenant) -> Channel:
    return channel_add(actor=None, name="City", sending_facility="CITY", direction="inbound")


def test_an_edit_changes_what_it_names_with_an_event_and_an_audit_entry(
    owner: User, channel: Channel
) -> None:
    edited = channel_edit(
        actor=owner, channel=channel, name="City (main)", sending_facility="CITYMAIN",
        hold_on_error=True, max_retries=1,
    )  # fmt: skip
    saved = Channel.objects.get(pk=channel.pk)
    assert (saved.name, saved.sending_facility, saved.hold_on_error, saved.max_retries) == (
        "City (main)", "CITYMAIN", True, 1
    )  # fmt: skip
    assert edited.direction == "inbound"
    event = Event.objects.get(type=events.HL7_CHANNEL_EDITED)
    assert event.data["changed"] == ["hold_on_error", "max_retries", "name", "sending_facility"]
    entry = AuditEntry.objects.get(action="hl7.channel.edit")
    assert (entry.actor_id, entry.target) == (owner.pk, f"hl7channel:{channel.pk}")
    # Saving the same values again changes nothing and appends nothing.
    channel_edit(actor=owner, channel=saved, name="City (main)")
    assert Event.objects.filter(type=events.HL7_CHANNEL_EDITED).count() == 1


def test_an_edit_is_refused_a_taken_facility_a_bad_code_and_a_receptionist(
    owner: User, channel: Channel
) -> None:
    channel_add(actor=None, name="Other", sending_facility="OTHER", direction="inbound")
    with pytest.raises(Conflict):
        channel_edit(actor=owner, channel=channel, sending_facility="OTHER")
    with pytest.raises(InvalidInput) as bad:
        channel_edit(actor=owner, channel=channel, sending_facility="CI|TY")
    assert bad.value.field == "sending_facility"
    with pytest.raises(InvalidInput) as retries:
        channel_edit(actor=owner, channel=channel, max_retries=11)
    assert retries.value.field == "max_retries"
    with pytest.raises(InvalidInput):
        channel_edit(actor=owner, channel=channel, direction="outbound")
    with pytest.raises(PermissionDenied):
        channel_edit(actor=UserFactory(role=Role.RECEPTIONIST), channel=channel, name="Mine")
    assert Channel.objects.get(pk=channel.pk).sending_facility == "CITY"


def test_the_listener_routes_by_the_new_facility_code_after_an_edit(
    node: Tenant, listener: int
) -> None:
    channel = inbound(node)
    old = channel.sending_facility
    new = f"{old}X"
    with schema_context(node.schema_name):
        owner = User.objects.get(role=Role.OWNER)
        channel_edit(actor=owner, channel=channel, sending_facility=new)
    with MllpClient(listener) as client:
        refused = client.send(adt("A04", tenant=node.slug, facility=old, identifier="R-1"))
        accepted = client.send(
            adt("A04", tenant=node.slug, facility=new, identifier="R-2", phone="+919811100022")
        )
    assert (refused.code, accepted.code) == ("AR", "AA")


def test_a_draft_goes_live_only_once_tried_and_a_retired_version_can_come_back(
    owner: User, channel: Channel
) -> None:
    first = mapping_draft(actor=owner, channel=channel, document=DEFAULT_MAPPING)
    with pytest.raises(Conflict, match="Try the draft"):
        mapping_activate(actor=owner, version=first)
    [result] = mapping_test(actor=owner, version=first, samples=[SAMPLE])
    assert (result.action, result.values["name"]) == ("register", "Lakshmi S Iyer")
    assert MappingVersion.objects.get(pk=first.pk).tested_at is not None
    mapping_activate(actor=owner, version=first)

    phone_two = {**DEFAULT_MAPPING["fields"], "phone": {"path": "PID.F13.R2.C1"}}
    second = mapping_draft(
        actor=owner, channel=channel, document={**DEFAULT_MAPPING, "fields": phone_two}
    )
    mapping_test(actor=owner, version=second, samples=[SAMPLE])
    mapping_activate(actor=owner, version=second)
    assert mapping_of(channel)["fields"]["phone"] == {"path": "PID.F13.R2.C1"}

    mapping_activate(actor=owner, version=MappingVersion.objects.get(pk=first.pk))
    assert mapping_of(channel) == DEFAULT_MAPPING
    statuses = dict(MappingVersion.objects.values_list("number", "status"))
    assert statuses == {1: "live", 2: "retired"}
    actions = list(
        AuditEntry.objects.filter(target=f"hl7channel:{channel.pk}")
        .order_by("id")
        .values_list("action", "detail")
    )
    assert actions == [
        ("hl7.mapping.test", {"number": 1, "samples": 1, "mapped": 1}),
        ("hl7.mapping.activate", {"number": 1, "previous": None}),
        ("hl7.mapping.test", {"number": 2, "samples": 1, "mapped": 1}),
        ("hl7.mapping.activate", {"number": 2, "previous": 1}),
        ("hl7.mapping.rollback", {"number": 1, "previous": 2}),
    ]
    tested = Event.objects.filter(type=events.HL7_MAPPING_TESTED).values_list("data", flat=True)
    assert [(d["number"], d["samples"], d["mapped"]) for d in tested] == [(1, 1, 1), (2, 1, 1)]
    assert all("Lakshmi" not in str(d) for d in tested)


def test_the_api_activation_of_an_untried_draft_is_409_and_tried_is_200(
    tenant: Tenant, owner: User, channel: Channel
) -> None:
    api = client_for(owner, tenant)
    base = f"/api/v1/integrations/hl7/channels/{channel.pk}/mappings/"
    assert api.post(base, {"document": DEFAULT_MAPPING}, format="json").status_code == 201
    refused = api.post(f"{base}1/activate/", format="json")
    assert refused.status_code == 409
    assert "Try the draft" in refused.json()["detail"]
    tried = api.post(f"{base}1/test/", {"samples": [SAMPLE]}, format="json")
    assert tried.status_code == 200
    listed = api.get(base).json()["results"]
    assert listed[0]["tested_at"] is not None
    live = api.post(f"{base}1/activate/", format="json")
    assert (live.status_code, live.json()["status"]) == (200, "live")
