"""The integration API: channels, the error queue without PHI, reprocessing (as-is and
edited), tenancy; and the admin's queue screen with its audited message text."""

import json

import pytest
from django_tenants.utils import schema_context

from apps.audit.models import AuditEntry
from apps.clinic.commands import staff_create
from apps.clinic.models import Branch, Role, User
from apps.integration.commands import channel_add
from apps.integration.mapping import DEFAULT_MAPPING
from apps.integration.models import Channel, MappingVersion, Message, OutboundMessage
from apps.tenants.models import Tenant
from tests.clinic.factories import STAFF_PASSWORD
from tests.conftest import HostClient, client_for
from tests.integration.traffic import adt, receive

CHANNELS = "/api/v1/integrations/hl7/channels/"
MESSAGES = "/api/v1/integrations/hl7/messages/"


@pytest.fixture
def owner_api(tenant: Tenant, owner: User) -> HostClient:
    return client_for(owner, tenant)


@pytest.fixture
def channel(tenant: Tenant) -> Channel:
    return channel_add(actor=None, name="City", sending_facility="CITY", direction="inbound")


def failed(tenant: Tenant, channel: Channel, control_id: str = "E-1") -> Message:
    """A registration without a phone: stored, and in the error queue."""
    text = adt("A04", tenant=tenant.slug, facility=channel.sending_facility,
               identifier="MRN-9", name="Verma^Kiran", phone="", control_id=control_id)  # fmt: skip
    return receive(channel, text)


def test_a_manager_adds_a_channel_and_lists_it(owner_api: HostClient) -> None:
    made = owner_api.post(
        CHANNELS,
        {"name": "City Hospital", "sending_facility": "CITYHOSP", "direction": "inbound",
         "hold_on_error": True},
        format="json",
    )  # fmt: skip
    assert made.status_code == 201
    body = made.json()
    assert {k: body[k] for k in ("name", "sending_facility", "direction", "hold_on_error")} == {
        "name": "City Hospital", "sending_facility": "CITYHOSP", "direction": "inbound",
        "hold_on_error": True,
    }  # fmt: skip
    listed = owner_api.get(CHANNELS).json()
    assert [c["id"] for c in listed["results"]] == [body["id"]]


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"name": "Again", "sending_facility": "CITY", "direction": "inbound"}, 409, "detail"),
        ({"name": "Out", "sending_facility": "HIS", "direction": "outbound"}, 400, "host"),
        ({"name": "X", "sending_facility": "HIS", "direction": "sideways"}, 400, "direction"),
        ({"name": "X", "sending_facility": "A|B", "direction": "inbound"}, 400, "sending_facility"),
        # An inbound channel's return address for application ACKs: both parts, a real host.
        (
            {"name": "X", "sending_facility": "HIS", "direction": "inbound", "host": "his.local"},
            400,
            "port",
        ),
        (
            {"name": "X", "sending_facility": "HIS", "direction": "inbound", "port": 2575},
            400,
            "port",
        ),
        (
            {
                "name": "X",
                "sending_facility": "HIS",
                "direction": "inbound",
                "host": "his local",
                "port": 2575,
            },
            400,
            "host",
        ),
        (
            {
                "name": "X",
                "sending_facility": "HIS",
                "direction": "inbound",
                "host": "10.0.0.5",
                "port": 70000,
            },
            400,
            "port",
        ),
    ],
)
def test_a_channel_that_cannot_be_made_is_refused_with_its_reason(
    owner_api: HostClient, channel: Channel, body: dict[str, str], status: int, field: str
) -> None:
    answer = owner_api.post(CHANNELS, body, format="json")
    assert (answer.status_code, list(answer.json())) == (status, [field])


def test_the_error_queue_lists_failed_messages_without_patient_data(
    tenant: Tenant, owner_api: HostClient, channel: Channel
) -> None:
    bad = failed(tenant, channel)
    good = receive(channel, adt("A04", tenant=tenant.slug, facility="CITY", identifier="MRN-1",
                                name="Rao^Meena", phone="+919800000001"))  # fmt: skip
    queue = owner_api.get(MESSAGES, {"status": "error"})
    assert queue.status_code == 200
    assert [row["id"] for row in queue.json()["results"]] == [bad.pk]
    row = queue.json()["results"][0]
    assert (row["status"], row["message_type"], row["control_id"]) == ("error", "ADT^A04", "E-1")
    assert row["error"].startswith("phone:")
    everything = owner_api.get(MESSAGES).content.decode()
    assert str(good.pk) in everything
    for phi in ("Verma", "Kiran", "Meena", "9800000001", "MRN-9", "MRN-1"):
        assert phi not in everything


def test_reprocessing_an_edited_message_applies_it_and_is_audited(
    tenant: Tenant, owner_api: HostClient, owner: User, channel: Channel
) -> None:
    bad = failed(tenant, channel)
    edited = bad.raw.rstrip("\r") + "||||||+919800000002"
    answer = owner_api.post(f"{MESSAGES}{bad.pk}/reprocess/", {"raw": edited}, format="json")
    assert answer.status_code == 200
    assert (answer.json()["status"], answer.json()["attempts"]) == ("applied", 1)
    assert answer.json()["patient"] is not None
    entry = AuditEntry.objects.get(action="hl7.reprocess")
    assert (entry.actor_id, entry.target, entry.detail) == (
        owner.pk,
        f"hl7message:{bad.pk}",
        {"edited": True, "channel_id": channel.pk},
    )
    again = owner_api.post(f"{MESSAGES}{bad.pk}/reprocess/", {}, format="json")
    assert again.status_code == 409


def test_reprocessing_as_is_fails_again_and_an_edit_keeps_the_control_id(
    tenant: Tenant, owner_api: HostClient, channel: Channel
) -> None:
    bad = failed(tenant, channel)
    as_is = owner_api.post(f"{MESSAGES}{bad.pk}/reprocess/", {}, format="json")
    assert (as_is.status_code, as_is.json()["status"]) == (200, "error")
    renamed = bad.raw.replace("|E-1|", "|E-2|")
    answer = owner_api.post(f"{MESSAGES}{bad.pk}/reprocess/", {"raw": renamed}, format="json")
    assert (answer.status_code, list(answer.json())) == (400, ["raw"])
    garbage = owner_api.post(f"{MESSAGES}{bad.pk}/reprocess/", {"raw": "nonsense"}, format="json")
    assert (garbage.status_code, list(garbage.json())) == (400, ["raw"])


def test_another_tenant_sees_no_channel_and_no_message(
    tenant: Tenant, channel: Channel, other_tenant: Tenant
) -> None:
    bad = failed(tenant, channel)
    with schema_context(other_tenant.schema_name):
        foreign = client_for(User.objects.get(role=Role.OWNER), other_tenant)
    assert foreign.get(CHANNELS).json()["results"] == []
    assert foreign.get(MESSAGES).json()["results"] == []
    answer = foreign.post(f"{MESSAGES}{bad.pk}/reprocess/", {}, format="json")
    assert answer.status_code == 404


def test_the_admin_queue_shows_the_text_to_managers_audited_and_reprocesses_an_edit(
    tenant: Tenant, api: HostClient, owner: User, channel: Channel
) -> None:
    bad = failed(tenant, channel)
    api.force_login(owner)
    listing = api.get("/admin/integration/message/?status__exact=error").content.decode()
    assert f"/admin/integration/message/{bad.pk}/change/" in listing
    assert "Verma" not in listing and "phone: " in listing
    page = api.get(f"/admin/integration/message/{bad.pk}/change/").content.decode()
    assert "Sharma" not in page and "Verma^Kiran" in page
    read = AuditEntry.objects.get(action="hl7.message.read")
    assert (read.actor_id, read.target) == (owner.pk, f"hl7message:{bad.pk}")
    edited = bad.raw.replace("\r", "\n").rstrip("\n") + "||||||+919800000003"
    saved = api.post(f"/admin/integration/message/{bad.pk}/change/", {"raw": edited})
    assert saved.status_code == 302
    bad.refresh_from_db()
    assert bad.status == Message.Status.APPLIED


def test_the_admin_bulk_action_reprocesses_the_selected_messages(
    tenant: Tenant, api: HostClient, owner: User, channel: Channel
) -> None:
    first, second = failed(tenant, channel, "E-1"), failed(tenant, channel, "E-2")
    api.force_login(owner)
    answer = api.post(
        "/admin/integration/message/",
        {"action": "reprocess", "_selected_action": [first.pk, second.pk]},
    )
    assert answer.status_code == 302
    assert [(m.attempts, m.status) for m in Message.objects.order_by("id")] == [
        (1, "error"), (1, "error")
    ]  # fmt: skip
    assert AuditEntry.objects.filter(action="hl7.reprocess").count() == 2


def test_a_branch_manager_has_no_queue_screen(api: HostClient, main_branch: Branch) -> None:
    lead = staff_create(
        actor=None, name="Lead", email="lead@acme.example.com", password=STAFF_PASSWORD,
        role=Role.BRANCH_MANAGER, branches=[main_branch],
    )  # fmt: skip
    api.force_login(lead)
    assert api.get("/admin/").status_code == 200
    assert api.get("/admin/integration/message/").status_code == 403


def test_a_manager_drafts_a_mapping_in_the_admin_and_makes_it_live(
    api: HostClient, owner: User, channel: Channel
) -> None:
    api.force_login(owner)
    refused = api.post(
        "/admin/integration/mappingversion/add/",
        {"channel": channel.pk, "document": '{"triggers": {"A04": "drop"}, "fields": {}}'},
    )
    assert refused.status_code == 200
    assert "the action is one of" in refused.content.decode()
    assert not MappingVersion.objects.exists()
    added = api.post(
        "/admin/integration/mappingversion/add/",
        {"channel": channel.pk, "document": json.dumps(DEFAULT_MAPPING)},
    )
    version = MappingVersion.objects.get()
    try_page = f"/admin/integration/mappingversion/{version.pk}/try/"
    assert (added.status_code, added["Location"]) == (302, try_page)
    make_live = {"action": "make_live", "_selected_action": [version.pk]}
    api.post("/admin/integration/mappingversion/", make_live)
    version.refresh_from_db()
    assert version.status == "draft"  # not tried yet
    sample = adt("A04", tenant="acme", facility=channel.sending_facility, identifier="T-1")
    tried = api.post(try_page, {"try": "Try", "samples": sample.replace("\r", "\n")})
    assert tried.status_code == 200 and "register" in tried.content.decode()
    api.post("/admin/integration/mappingversion/", make_live)
    version.refresh_from_db()
    assert (version.number, version.status) == (1, "live")


def test_a_dead_outbound_message_is_sent_again_from_the_admin(api: HostClient, owner: User) -> None:
    his = channel_add(actor=None, name="HIS", sending_facility="HIS", direction="outbound",
                      host="127.0.0.1", port=9)  # fmt: skip
    dead = OutboundMessage(channel=his, position=1, appointment_id=1, message_type="SIU^S12",
                           control_id="MM1C1", status="dead", attempts=4)  # fmt: skip
    dead.seal("MSH|^~\\&|MYMEDIC|acme|HIS|HIS|||SIU^S12|MM1C1|P|2.5\r")
    dead.save()
    api.force_login(owner)
    api.post(
        "/admin/integration/outboundmessage/",
        {"action": "send_again", "_selected_action": [dead.pk]},
    )
    dead.refresh_from_db()
    assert (dead.status, dead.attempts) == ("pending", 0)
    assert AuditEntry.objects.filter(action="hl7.outbound.resend").count() == 1
