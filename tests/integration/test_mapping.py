"""The interface engine: a channel's declarative mapping, validated as data, versioned,
tried on sample messages before it goes live, and used by the next message applied."""

import copy
from datetime import date
from typing import Any

import pytest

from apps.clinic.models import User
from apps.eventstore.models import Event
from apps.integration import events
from apps.integration.commands import channel_add
from apps.integration.mapping import (
    DEFAULT_MAPPING,
    MappingError,
    MappingInvalid,
    extract,
    validate,
)
from apps.integration.models import Channel, MappingVersion, Message
from apps.integration.parsing import parse
from apps.tenants.models import Tenant
from tests.conftest import HostClient, client_for
from tests.integration.traffic import adt, receive

SAMPLE = (
    "MSH|^~\\&|HIS|CITY|MYMEDIC|acme|20270104||ADT^A04|S-1|P|2.5\r"
    "PID|||M-7^^^CITY^MR~OLD-7^^^CITY^PI||Iyer^Lakshmi^S||19790229||||||^PRN~+919800000077\r"
)


def mapping(**fields: Any) -> dict[str, Any]:
    document = copy.deepcopy(DEFAULT_MAPPING)
    document["fields"].update(fields)
    return document


def test_the_default_mapping_reads_names_dates_and_the_first_phone_that_has_a_number() -> None:
    message, _ = parse(SAMPLE.replace("19790229", "19790228"))
    got = extract(message, "A04", DEFAULT_MAPPING)
    assert (got.action, got.values) == (
        "register",
        {"identifier": "M-7", "name": "Lakshmi S Iyer", "phone": "+919800000077",
         "date_of_birth": date(1979, 2, 28)},
    )  # fmt: skip


def test_code_tables_defaults_and_required_fields() -> None:
    message, _ = parse(SAMPLE)
    table = mapping(identifier={"path": "PID.F3.R2.C1", "table": {"OLD-7": "NEW-7"}},
                    phone={"path": "PID.F14.R1.C1", "default": "+919811111111"},
                    date_of_birth={"path": "PID.F8.R1.C1", "format": "date"})  # fmt: skip
    assert extract(message, "A04", table).values == {
        "identifier": "NEW-7", "name": "Lakshmi S Iyer", "phone": "+919811111111",
    }  # fmt: skip
    strict = mapping(identifier={"path": "PID.F3.R1.C1", "table": {"X": "Y"}, "strict": True})
    with pytest.raises(MappingError, match="identifier: the code is not in the code table"):
        extract(message, "A04", strict)
    required = mapping(phone={"path": "PID.F14.R1.C1", "required": True})
    with pytest.raises(MappingError, match="phone is empty"):
        extract(message, "A04", required)
    with pytest.raises(MappingError, match="not a date"):
        extract(message, "A04", DEFAULT_MAPPING)  # 29 February 1979 never was
    with pytest.raises(MappingError, match="A05 is not handled"):
        extract(message, "A05", DEFAULT_MAPPING)


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ([], "A mapping is an object"),
        ({"triggers": {}, "fields": {}}, "`triggers` maps event codes"),
        ({**DEFAULT_MAPPING, "code": "import os"}, "A mapping is an object"),
        (mapping(name={"path": "__import__('os')"}), "is not a path like PID.F5.R1.C1"),
        (mapping(name={"path": "PID.F5", "paths": ["PID.F5"]}), "give one `path`"),
        (mapping(nickname={"path": "PID.F5"}), "the targets are"),
        (mapping(name={"path": "PID.F5", "eval": "1"}), "a field has only"),
        (mapping(name={"path": "PID.F5", "repeat": "last"}), "`repeat` is first"),
        (
            mapping(name={"path": "PID.F5", "table": {str(n): "x" for n in range(501)}}),
            "at most 500",
        ),
        (
            {"triggers": {"A04": "delete"}, "fields": DEFAULT_MAPPING["fields"]},
            "the action is one of",
        ),
        (mapping(name={"path": "PID.F5", "default": "x" * 70_000}), "at most 65536 characters"),
    ],
)
def test_a_mapping_of_another_shape_is_refused_naming_the_problem(
    document: Any, problem: str
) -> None:
    with pytest.raises(MappingInvalid) as refused:
        validate(document)
    assert any(problem in error for error in refused.value.errors), refused.value.errors


@pytest.fixture
def owner_api(tenant: Tenant, owner: User) -> HostClient:
    return client_for(owner, tenant)


@pytest.fixture
def channel(tenant: Tenant) -> Channel:
    return channel_add(actor=None, name="City", sending_facility="CITY", direction="inbound")


def test_a_version_is_drafted_tried_on_samples_and_made_live(
    owner_api: HostClient, channel: Channel
) -> None:
    base = f"/api/v1/integrations/hl7/channels/{channel.pk}/mappings/"
    refused = owner_api.post(base, {"document": {"triggers": {"A04": "nuke"}}}, format="json")
    assert refused.status_code == 400 and list(refused.json()) == ["document"]
    first = owner_api.post(base, {"document": DEFAULT_MAPPING}, format="json")
    second = owner_api.post(
        base, {"document": mapping(phone={"path": "PID.F13.R2.C1"})}, format="json"
    )
    assert [(r.status_code, r.json()["number"], r.json()["status"]) for r in (first, second)] == [
        (201, 1, "draft"), (201, 2, "draft")
    ]  # fmt: skip
    tried = owner_api.post(
        f"{base}2/test/",
        {"samples": [SAMPLE.replace("19790229", "19790228"), SAMPLE.replace("ADT^A04", "ADT^A05"),
                     "garbage"]},
        format="json",
    )  # fmt: skip
    assert tried.status_code == 200
    assert tried.json() == [
        {"control_id": "S-1", "message_type": "ADT^A04", "action": "register", "error": "",
         "values": {"identifier": "M-7", "name": "Lakshmi S Iyer", "phone": "+919800000077",
                    "date_of_birth": "1979-02-28"}},
        {"control_id": "S-1", "message_type": "ADT^A05", "action": None, "values": {},
         "error": "Event A05 is not handled by this channel's mapping."},
        {"control_id": "", "message_type": "", "action": None, "values": {},
         "error": "The message does not start with an MSH segment."},
    ]  # fmt: skip
    assert Message.objects.count() == 0  # trying applies nothing
    owner_api.post(f"{base}1/test/", {"samples": [SAMPLE]}, format="json")
    owner_api.post(f"{base}1/activate/", format="json")
    live = owner_api.post(f"{base}2/activate/", format="json")
    assert (live.status_code, live.json()["status"]) == (200, "live")
    assert list(MappingVersion.objects.order_by("number").values_list("status", flat=True)) == [
        "retired", "live"
    ]  # fmt: skip
    kinds = Event.objects.filter(type__startswith="Hl7Mapping").values_list("type", flat=True)
    assert (
        list(kinds)
        == [events.HL7_MAPPING_DRAFTED] * 2
        + [events.HL7_MAPPING_TESTED] * 2
        + [events.HL7_MAPPING_ACTIVATED] * 3
    )
    assert owner_api.post(f"{base}9/activate/", format="json").status_code == 404
    assert [v["number"] for v in owner_api.get(base).json()["results"]] == [2, 1]


def test_a_mapping_error_waits_in_the_queue_and_leaves_by_reprocess_under_a_fixed_version(
    tenant: Tenant, owner_api: HostClient, channel: Channel
) -> None:
    base = f"/api/v1/integrations/hl7/channels/{channel.pk}/mappings/"
    wrong = mapping(phone={"path": "PID.F14.R1.C1", "required": True})  # business phone
    owner_api.post(base, {"document": wrong}, format="json")
    owner_api.post(f"{base}1/test/", {"samples": [SAMPLE]}, format="json")
    owner_api.post(f"{base}1/activate/", format="json")
    text = adt("A04", tenant=tenant.slug, facility="CITY", identifier="M-1", phone="+919800000055")
    failed = receive(channel, text)
    assert (failed.status, failed.error) == (Message.Status.ERROR, "phone is empty.")

    owner_api.post(base, {"document": DEFAULT_MAPPING}, format="json")
    owner_api.post(f"{base}2/test/", {"samples": [SAMPLE]}, format="json")
    owner_api.post(f"{base}2/activate/", format="json")
    again = owner_api.post(
        f"/api/v1/integrations/hl7/messages/{failed.pk}/reprocess/", format="json"
    )
    assert (again.status_code, again.json()["status"]) == (200, "applied")
