"""Idempotency-Key on every POST: same key and body replay, another body is a 422."""

import hashlib
import json
from typing import Any

from apps.audit.models import AuditEntry
from apps.clinic.models import Branch, User
from apps.core.models import IdempotencyRecord
from apps.eventstore.models import Event
from apps.tenants.models import Tenant
from tests.conftest import OWNER_PASSWORD, HostClient, client_for


def post(client: HostClient, body: dict[str, Any], key: str) -> Any:
    return client.post("/api/v1/branches/", body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def test_a_retry_with_the_same_key_and_body_replays_without_a_second_effect(
    owner: User, tenant: Tenant
) -> None:
    client = client_for(owner, tenant)
    events_before = Event.objects.count()

    first = post(client, {"name": "Juhu"}, "key-1")
    retry = post(client, {"name": "Juhu"}, "key-1")

    assert first.status_code == retry.status_code == 201
    assert first.json() == retry.json()
    assert retry["Idempotent-Replayed"] == "true"
    assert Branch.objects.filter(name="Juhu").count() == 1
    assert Event.objects.count() == events_before + 1


def test_the_same_key_with_another_body_is_a_422(owner: User, tenant: Tenant) -> None:
    client = client_for(owner, tenant)
    post(client, {"name": "Juhu"}, "key-2")

    response = post(client, {"name": "Colaba"}, "key-2")

    assert response.status_code == 422
    assert not Branch.objects.filter(name="Colaba").exists()


def test_different_keys_are_different_requests(owner: User, tenant: Tenant) -> None:
    client = client_for(owner, tenant)

    post(client, {"name": "Versova"}, "key-3")
    second = post(client, {"name": "Versova"}, "key-4")

    assert second.status_code == 400  # the name is taken now


def test_an_error_response_is_replayed_too(owner: User, tenant: Tenant) -> None:
    client = client_for(owner, tenant)

    first = post(client, {"name": ""}, "key-5")
    retry = post(client, {"name": ""}, "key-5")

    assert first.status_code == retry.status_code == 400
    assert retry["Idempotent-Replayed"] == "true"


def test_keys_of_different_callers_never_meet(owner: User, tenant: Tenant) -> None:
    from tests.clinic.factories import UserFactory

    manager = UserFactory(role="manager")
    post(client_for(owner, tenant), {"name": "Owner's"}, "shared-key")

    response = post(client_for(manager, tenant), {"name": "Manager's"}, "shared-key")

    assert response.status_code == 201


def test_an_oversized_key_is_a_400(owner: User, tenant: Tenant) -> None:
    response = post(client_for(owner, tenant), {"name": "Long"}, "k" * 300)

    assert response.status_code == 400
    assert not Branch.objects.filter(name="Long").exists()


def test_onboarding_is_idempotent_on_the_public_host(public_api: HostClient) -> None:
    body = {
        "clinic_name": "Retry Clinic",
        "slug": "retryclinic",
        "kind": "clinic",
        "owner_name": "Ira",
        "owner_email": "ira@example.com",
        "owner_password": "a-long-unusual-passphrase",
    }

    first = public_api.post("/api/v1/onboarding/", body, format="json", HTTP_IDEMPOTENCY_KEY="k")
    retry = public_api.post("/api/v1/onboarding/", body, format="json", HTTP_IDEMPOTENCY_KEY="k")

    assert first.status_code == retry.status_code == 201
    assert retry.json() == {
        "slug": "retryclinic",
        "domain": "retryclinic.localhost",
        "region": "in",
    }
    assert Tenant.objects.filter(slug="retryclinic").count() == 1
    assert IdempotencyRecord.objects.filter(key="k").count() == 1


def test_a_sign_in_token_is_never_kept_in_the_idempotency_store(
    owner: User, tenant: Tenant, api: HostClient
) -> None:
    body = {"username": owner.email, "password": OWNER_PASSWORD}

    first = api.post("/api/v1/auth/token/", body, format="json", HTTP_IDEMPOTENCY_KEY="sign-in")
    retry = api.post("/api/v1/auth/token/", body, format="json", HTTP_IDEMPOTENCY_KEY="sign-in")

    assert first.status_code == 200
    assert first["Cache-Control"] == "no-store"
    token = first.json()["token"]
    stored = IdempotencyRecord.objects.get(key="sign-in")
    assert stored.body is None
    assert token.encode() not in bytes(stored.body or b"")
    assert retry.status_code == 409
    assert token not in retry.content.decode()


def register(client: HostClient, key: str, name: str = "Kavya Menon") -> Any:
    return client.post(
        "/api/v1/patients/",
        {"name": name, "phone": "+91 98200 11223", "date_of_birth": "1984-03-02"},
        format="json",
        HTTP_IDEMPOTENCY_KEY=key,
    )


def test_the_store_keeps_no_patient_data_in_clear(owner: User, tenant: Tenant) -> None:
    client = client_for(owner, tenant)

    response = register(client, "phi-1")

    assert response.status_code == 201
    record = IdempotencyRecord.objects.get(key="phi-1")
    stored = bytes(record.body or b"")
    assert b"Kavya" not in stored and b"98200" not in stored and b"1984" not in stored
    assert stored and stored != response.content
    assert record.subjects == [f"patient:{response.json()['id']}"]


def test_a_replay_returns_the_sealed_response_and_is_audited_as_a_read(
    owner: User, tenant: Tenant
) -> None:
    client = client_for(owner, tenant)
    first = register(client, "phi-2")
    reads_before = AuditEntry.objects.filter(action="patient.read").count()

    retry = register(client, "phi-2")

    assert retry.status_code == 201
    assert retry["Idempotent-Replayed"] == "true"
    assert retry.json() == first.json()
    replay = AuditEntry.objects.filter(action="patient.read").order_by("-id").first()
    assert AuditEntry.objects.filter(action="patient.read").count() == reads_before + 1
    assert replay is not None
    assert replay.target == f"patient:{first.json()['id']}"
    assert replay.detail["via"] == "idempotency-replay"


def test_erasing_a_patient_purges_the_responses_that_held_their_data(
    owner: User, tenant: Tenant
) -> None:
    client = client_for(owner, tenant)
    erased = register(client, "phi-3").json()["id"]
    kept = register(client, "phi-4", name="Ravi Iyer").json()["id"]

    response = client.post(f"/api/v1/patients/{erased}/erase/", format="json")

    assert response.status_code == 200
    assert not IdempotencyRecord.objects.filter(subjects__contains=[f"patient:{erased}"]).exists()
    assert IdempotencyRecord.objects.filter(subjects__contains=[f"patient:{kept}"]).exists()


def test_the_request_digest_is_keyed_so_a_body_cannot_be_guessed_from_it(
    owner: User, tenant: Tenant
) -> None:
    client = client_for(owner, tenant)
    register(client, "phi-5")
    body = json.dumps(
        {"name": "Kavya Menon", "phone": "+91 98200 11223", "date_of_birth": "1984-03-02"}
    ).encode()
    plain = hashlib.sha256(b"POST\0/api/v1/patients/\0" + body).hexdigest()

    assert IdempotencyRecord.objects.get(key="phi-5").request_hash != plain
