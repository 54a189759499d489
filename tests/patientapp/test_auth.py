"""Patient sign-in by SMS code: no enumeration, hashed and expiring codes, an attempt limit,
throttles per phone and per address, and tokens kept apart from staff tokens."""

import re
from datetime import timedelta
from typing import Any

import pytest
import time_machine

from apps.audit.models import AuditEntry
from apps.clinic.models import User
from apps.core.models import IdempotencyRecord
from apps.notifications.backends import FileBackend
from apps.patientapp.api import SIGN_IN_FAILED
from apps.patientapp.auth import key_hash
from apps.patientapp.models import OneTimeCode, PatientToken
from apps.patientapp.tasks import queue_code_request, send_sign_in_code
from apps.scheduling.models import Patient
from apps.tenants.models import Tenant
from mymedic.celery import app
from tests.conftest import HostClient, client_for
from tests.notifications.backends import FlakyBackend
from tests.patientapp.conftest import patient_client
from tests.scheduling.factories import PatientFactory

PHONE = "+919812345678"  # the `patient` fixture's
UNKNOWN = "+919700000001"


def ask_code(api: HostClient, phone: str, capture: Any) -> Any:
    with capture(execute=True):  # the SMS leaves when the request's transaction commits
        return api.post("/api/v1/patient/auth/otp/", {"phone": phone}, format="json")


def last_code(outbox: FileBackend) -> str:
    body = outbox.sent("sms")[-1]["body"]
    found = re.match(r"^(\d{6}) ", body)
    assert found, body
    return found.group(1)


def sign_in(api: HostClient, phone: str, code: str) -> Any:
    return api.post("/api/v1/patient/auth/token/", {"phone": phone, "code": code}, format="json")


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def test_the_answer_is_the_same_for_a_patient_and_a_stranger(
    api: HostClient, patient: Patient, outbox: FileBackend, django_capture_on_commit_callbacks: Any
) -> None:
    known = ask_code(api, "98123 45678", django_capture_on_commit_callbacks)
    unknown = ask_code(api, UNKNOWN, django_capture_on_commit_callbacks)

    assert known.status_code == unknown.status_code == 202
    assert known.json() == unknown.json()
    assert known.json()["expires_in"] == 300
    sent = outbox.sent("sms")
    assert [message["to"] for message in sent] == [PHONE]  # nothing went to the stranger
    assert re.fullmatch(r"\d{6} is your .+ sign-in code\..*", sent[0]["body"])
    assert OneTimeCode.objects.count() == 1


def test_codes_are_stored_only_as_keyed_hashes(
    api: HostClient, patient: Patient, outbox: FileBackend, django_capture_on_commit_callbacks: Any
) -> None:
    ask_code(api, PHONE, django_capture_on_commit_callbacks)
    code = last_code(outbox)

    row = OneTimeCode.objects.values().get()
    assert not any(code in str(value) for value in row.values())
    assert PHONE not in str(row) and PHONE.lstrip("+") not in str(row)


def test_the_code_signs_in_once_and_the_answer_names_the_patient(
    api: HostClient, patient: Patient, outbox: FileBackend, django_capture_on_commit_callbacks: Any
) -> None:
    ask_code(api, PHONE, django_capture_on_commit_callbacks)
    code = last_code(outbox)

    first = sign_in(api, PHONE, code)
    again = sign_in(api, PHONE, code)

    assert first.status_code == 200, first.content
    body = first.json()
    assert body["patient"] == {"id": patient.pk, "name": "Ravi Kumar"}
    assert PatientToken.objects.get().key_hash == key_hash(body["token"])
    assert body["token"] not in str(PatientToken.objects.values().get())
    assert again.status_code == 400
    assert AuditEntry.objects.filter(action="patient.login", actor_role="patient").exists()


def test_a_wrong_code_an_unknown_phone_and_a_malformed_code_get_one_answer(
    api: HostClient, patient: Patient, outbox: FileBackend, django_capture_on_commit_callbacks: Any
) -> None:
    ask_code(api, PHONE, django_capture_on_commit_callbacks)
    code = last_code(outbox)

    answers = [
        sign_in(api, PHONE, wrong(code)),
        sign_in(api, UNKNOWN, code),
        sign_in(api, PHONE, "12ab"),
    ]

    assert [a.status_code for a in answers] == [400, 400, 400]
    assert all(a.json() == {"detail": SIGN_IN_FAILED} for a in answers)
    assert sign_in(api, PHONE, code).status_code == 200  # two wrong tries left it alive


def test_a_code_expires_after_five_minutes(
    api: HostClient,
    patient: Patient,
    outbox: FileBackend,
    monday_morning: time_machine.Coordinates,
    django_capture_on_commit_callbacks: Any,
) -> None:
    ask_code(api, PHONE, django_capture_on_commit_callbacks)
    code = last_code(outbox)

    monday_morning.shift(timedelta(minutes=5, seconds=1))

    response = sign_in(api, PHONE, code)
    assert response.status_code == 400
    assert response.json() == {"detail": SIGN_IN_FAILED}


def test_a_code_still_works_just_before_it_expires(
    api: HostClient,
    patient: Patient,
    outbox: FileBackend,
    monday_morning: time_machine.Coordinates,
    django_capture_on_commit_callbacks: Any,
) -> None:
    ask_code(api, PHONE, django_capture_on_commit_callbacks)
    monday_morning.shift(timedelta(minutes=4, seconds=59))

    assert sign_in(api, PHONE, last_code(outbox)).status_code == 200


def test_a_code_dies_after_five_wrong_tries(
    api: HostClient,
    patient: Patient,
    outbox: FileBackend,
    django_capture_on_commit_callbacks: Any,
    settings: Any,
) -> None:
    settings.MYMEDIC_LOGIN_FAILURE_LIMIT = 50  # the code's own limit, not the sign-in lock-out
    ask_code(api, PHONE, django_capture_on_commit_callbacks)
    code = last_code(outbox)

    for _ in range(5):
        assert sign_in(api, PHONE, wrong(code)).status_code == 400

    assert sign_in(api, PHONE, code).status_code == 400  # even the right code, now
    assert OneTimeCode.objects.get().spent is not None


def test_a_new_code_replaces_the_earlier_one(
    api: HostClient, patient: Patient, outbox: FileBackend, django_capture_on_commit_callbacks: Any
) -> None:
    ask_code(api, PHONE, django_capture_on_commit_callbacks)
    ask_code(api, PHONE, django_capture_on_commit_callbacks)
    newer = last_code(outbox)
    earlier_row, newer_row = OneTimeCode.objects.order_by("id")

    # The earlier code is spent (it no longer signs in, even if the two happen to match).
    assert earlier_row.spent is not None and newer_row.spent is None
    assert sign_in(api, PHONE, newer).status_code == 200


def test_code_requests_are_throttled_per_phone(
    api: HostClient, patient: Patient, outbox: FileBackend, django_capture_on_commit_callbacks: Any
) -> None:
    statuses = [
        ask_code(api, PHONE, django_capture_on_commit_callbacks).status_code for _ in range(6)
    ]

    assert statuses == [202] * 5 + [429]
    assert len(outbox.sent("sms")) == 5
    # The same number typed another way is the same phone.
    assert ask_code(api, "09812345678", django_capture_on_commit_callbacks).status_code == 429
    # Another phone from the same address is not held back by this one.
    assert ask_code(api, UNKNOWN, django_capture_on_commit_callbacks).status_code == 202


def test_code_requests_are_throttled_per_address(
    api: HostClient,
    patient: Patient,
    outbox: FileBackend,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.MYMEDIC_PATIENT_CODE_IP_RATE = "3/hour"
    phones = [f"+91970000000{n}" for n in range(3)]
    for phone in phones:
        assert ask_code(api, phone, django_capture_on_commit_callbacks).status_code == 202

    refused = ask_code(api, PHONE, django_capture_on_commit_callbacks)

    assert refused.status_code == 429
    assert "Retry-After" in refused.headers
    assert outbox.sent("sms") == []  # the patient's code was never sent
    other_address = HostClient(api.defaults["HTTP_HOST"], REMOTE_ADDR="10.0.0.9")
    assert ask_code(other_address, PHONE, django_capture_on_commit_callbacks).status_code == 202


def test_sign_in_attempts_are_throttled_per_phone_and_per_address(
    api: HostClient,
    patient: Patient,
    outbox: FileBackend,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.MYMEDIC_PATIENT_SIGNIN_PHONE_RATE = "3/hour"
    settings.MYMEDIC_PATIENT_SIGNIN_IP_RATE = "5/hour"
    ask_code(api, PHONE, django_capture_on_commit_callbacks)
    code = last_code(outbox)

    tries = [sign_in(api, PHONE, wrong(code)).status_code for _ in range(3)]
    assert tries == [400, 400, 400]
    assert sign_in(api, PHONE, code).status_code == 429  # the phone is held back
    assert sign_in(api, UNKNOWN, code).status_code == 400  # the 5th try from this address
    assert sign_in(api, UNKNOWN, code).status_code == 429  # the address is held back too


def test_a_patient_token_never_opens_staff_endpoints(me: HostClient, patient: Patient) -> None:
    for path in (
        "/api/v1/appointments/",
        "/api/v1/patients/",
        f"/api/v1/patients/{patient.pk}/",
        "/api/v1/doctors/",
        "/api/v1/branches/",
    ):
        assert me.get(path).status_code == 401, path


def test_a_staff_token_never_opens_patient_endpoints(
    owner: User, tenant: Tenant, patient: Patient
) -> None:
    staff = client_for(owner, tenant)

    for path in (
        "/api/v1/patient/me/",
        "/api/v1/patient/appointments/",
        "/api/v1/patient/doctors/",
        "/api/v1/patient/invoices/",
    ):
        assert staff.get(path).status_code == 401, path
    assert staff.post("/api/v1/patient/auth/logout/").status_code == 401


def test_endpoints_need_a_token(api: HostClient) -> None:
    assert api.get("/api/v1/patient/me/").status_code == 401
    assert api.get("/api/v1/patient/appointments/").status_code == 401


def test_sign_out_revokes_the_token(me: HostClient) -> None:
    assert me.get("/api/v1/patient/me/").status_code == 200

    assert me.post("/api/v1/patient/auth/logout/").status_code == 204

    assert me.get("/api/v1/patient/me/").status_code == 401
    assert not PatientToken.objects.exists()


def test_me_is_the_patient_and_reading_it_is_audited(me: HostClient, patient: Patient) -> None:
    response = me.get("/api/v1/patient/me/")

    assert response.status_code == 200
    assert response.json() == {
        "id": patient.pk,
        "name": "Ravi Kumar",
        "phone": PHONE,
        "date_of_birth": None,
    }
    entry = AuditEntry.objects.filter(action="patient.read").latest("id")
    assert (entry.actor_id, entry.actor_role, entry.target) == (
        patient.pk,
        "patient",
        f"patient:{patient.pk}",
    )


def test_a_token_of_one_clinic_is_unknown_at_another(
    patient: Patient, tenant: Tenant, other_tenant: Tenant
) -> None:
    mine = patient_client(patient, tenant)
    elsewhere = HostClient(f"{other_tenant.slug}.localhost")
    elsewhere.credentials(HTTP_AUTHORIZATION=mine._credentials["HTTP_AUTHORIZATION"])

    assert mine.get("/api/v1/patient/me/").status_code == 200
    assert elsewhere.get("/api/v1/patient/me/").status_code == 401
    assert elsewhere.get("/api/v1/patient/appointments/").status_code == 401


def test_a_code_asked_at_one_clinic_does_not_sign_in_at_another(
    api: HostClient,
    patient: Patient,
    other_tenant: Tenant,
    outbox: FileBackend,
    django_capture_on_commit_callbacks: Any,
) -> None:
    ask_code(api, PHONE, django_capture_on_commit_callbacks)
    elsewhere = HostClient(f"{other_tenant.slug}.localhost")

    assert sign_in(elsewhere, PHONE, last_code(outbox)).status_code == 400
    assert sign_in(api, PHONE, last_code(outbox)).status_code == 200


@pytest.mark.parametrize("body", [{}, {"phone": "not a phone"}, {"phone": 12}])
def test_bad_phones_are_refused_as_input(api: HostClient, body: dict[str, Any]) -> None:
    assert api.post("/api/v1/patient/auth/otp/", body, format="json").status_code == 400


def test_a_code_asked_at_another_clinic_is_not_sent_for_this_clinics_patient(
    patient: Patient,
    other_tenant: Tenant,
    outbox: FileBackend,
    django_capture_on_commit_callbacks: Any,
) -> None:
    elsewhere = HostClient(f"{other_tenant.slug}.localhost")

    response = ask_code(elsewhere, PHONE, django_capture_on_commit_callbacks)

    assert response.status_code == 202
    assert outbox.sent("sms") == []


def test_signing_out_at_another_clinic_revokes_nothing(
    me: HostClient, other_tenant: Tenant
) -> None:
    elsewhere = HostClient(f"{other_tenant.slug}.localhost")
    elsewhere.credentials(HTTP_AUTHORIZATION=me._credentials["HTTP_AUTHORIZATION"])

    assert elsewhere.post("/api/v1/patient/auth/logout/").status_code == 401
    assert me.get("/api/v1/patient/me/").status_code == 200


def test_a_patient_token_is_never_kept_in_the_idempotency_store(
    api: HostClient, patient: Patient, outbox: FileBackend, django_capture_on_commit_callbacks: Any
) -> None:
    ask_code(api, PHONE, django_capture_on_commit_callbacks)
    body = {"phone": PHONE, "code": last_code(outbox)}

    first = api.post(
        "/api/v1/patient/auth/token/", body, format="json", HTTP_IDEMPOTENCY_KEY="pt-sign-in"
    )
    retry = api.post(
        "/api/v1/patient/auth/token/", body, format="json", HTTP_IDEMPOTENCY_KEY="pt-sign-in"
    )

    assert first.status_code == 200
    assert first["Cache-Control"] == "no-store"
    assert IdempotencyRecord.objects.get(key="pt-sign-in").body is None
    assert retry.status_code == 409
    assert PatientToken.objects.count() == 1  # the retry issued no second token


def test_a_failing_sms_provider_gives_the_same_answer_and_retries_with_a_new_code(
    api: HostClient,
    patient: Patient,
    settings: Any,
    tmp_path: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.MYMEDIC_NOTIFY_BACKENDS = {
        "sms": {
            "class": "tests.notifications.backends.FlakyBackend",
            "options": {"directory": str(tmp_path)},
        },
    }
    FlakyBackend.failures, FlakyBackend.permanent, FlakyBackend.calls = 1, False, 0
    app.conf.task_eager_propagates = False  # as with a worker: the failure stays in the task

    known = ask_code(api, PHONE, django_capture_on_commit_callbacks)
    stranger = ask_code(api, UNKNOWN, django_capture_on_commit_callbacks)

    assert known.status_code == stranger.status_code == 202
    assert known.json() == stranger.json()
    assert FlakyBackend.calls == 2  # failed once, sent on the retry
    assert len(FileBackend(tmp_path).sent("sms")) == 1
    assert OneTimeCode.objects.filter(spent__isnull=True).count() == 1  # the retry's code


def test_the_phone_travels_to_the_task_sealed(patient: Patient, outbox: FileBackend) -> None:
    token = queue_code_request(PHONE)
    send_sign_in_code.apply(args=(token,))

    assert "9812345678" not in token and "98123" not in token
    assert [message["to"] for message in outbox.sent("sms")] == [PHONE]


def test_a_code_for_a_number_outside_the_clinics_region_is_not_sent_nor_retried(
    api: HostClient, outbox: FileBackend, django_capture_on_commit_callbacks: Any
) -> None:
    PatientFactory(name="Visitor From Abroad", phone="+447700900456")

    response = ask_code(api, "+44 7700 900456", django_capture_on_commit_callbacks)

    assert response.status_code == 202
    assert outbox.sent("sms") == []
