"""Patient sign-in by a one-time code sent by SMS, and the patient token.

The answer to a code request never says whether the phone belongs to a patient. Codes are
stored as keyed hashes, expire after MYMEDIC_PATIENT_CODE_TTL_SECONDS, and die after
MYMEDIC_PATIENT_CODE_MAX_ATTEMPTS wrong tries or when a newer code is sent; every failure
to sign in gives the same answer.
"""

import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from rest_framework.exceptions import AuthenticationFailed

from apps.audit.trail import record
from apps.core.db import connection
from apps.core.keys import phone_index, phone_indexes
from apps.core.tokens import DigestTokenAuthentication, key_hash
from apps.notifications.backends import Message, send
from apps.patientapp.models import OneTimeCode, PatientToken
from apps.scheduling.actors import PatientActor
from apps.scheduling.models import Patient

CODE_DIGITS = 6
TOKEN_PREFIX = "pt_"  # noqa: S105  (a prefix so patient keys never look like staff keys)


def _code_hash(salt: str, code: str) -> str:
    return salted_hmac("apps.patientapp.code", f"{salt}:{code}", algorithm="sha256").hexdigest()


def patient_for_phone(normalized_phone: str) -> Patient | None:
    """The patient a phone signs in as; a phone shared by a family signs in as the first
    patient registered with it."""
    return (
        Patient.objects.filter(phone_index__in=phone_indexes(normalized_phone), erased__isnull=True)
        .order_by("id")
        .first()
    )


def send_code(phone: str, code: str, row_id: int) -> None:
    """Sends a code by SMS (from the sign-in code task, after the code has committed)."""
    minutes = max(1, settings.MYMEDIC_PATIENT_CODE_TTL_SECONDS // 60)
    clinic = str(getattr(getattr(connection, "tenant", None), "name", "") or "MyMedic")
    body = f"{code} is your {clinic} sign-in code. It expires in {minutes} min. Never share it."
    send(Message(channel="sms", to=phone, body=body, key=f"{connection.schema_name}:code:{row_id}"))


def request_code(normalized_phone: str, *, now: datetime | None = None) -> tuple[str, int] | None:
    """A fresh code (and its row id) when the phone is a patient's, else None; the caller
    sends it once this has committed."""
    now = now or timezone.now()
    patient = patient_for_phone(normalized_phone)
    if patient is None:
        return None
    index = phone_index(normalized_phone)
    indexes = phone_indexes(normalized_phone)
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    salt = secrets.token_hex(16)
    with transaction.atomic():
        # A newer code replaces every earlier one: wrong tries never add up across codes.
        for earlier in OneTimeCode.objects.select_for_update().filter(
            phone_index__in=indexes, spent__isnull=True
        ):
            earlier.spent = now
            earlier.save(update_fields=["spent"])
        row = OneTimeCode.objects.create(
            phone_index=index,
            salt=salt,
            code_hash=_code_hash(salt, code),
            created=now,
            expires=now + timedelta(seconds=settings.MYMEDIC_PATIENT_CODE_TTL_SECONDS),
        )
        record("patient.code_sent", actor=PatientActor(patient.pk), target=f"patient:{patient.pk}")
    return code, row.pk


def verify_code(normalized_phone: str, code: str, *, now: datetime | None = None) -> Patient | None:
    """The patient when `code` is the live code of this phone; None for anything else."""
    now = now or timezone.now()
    indexes = phone_indexes(normalized_phone)
    with transaction.atomic():
        row = (
            OneTimeCode.objects.select_for_update()
            .filter(phone_index__in=indexes, spent__isnull=True, expires__gt=now)
            .order_by("-created", "-id")
            .first()
        )
        if row is None:
            return None
        if not constant_time_compare(_code_hash(row.salt, code), row.code_hash):
            row.attempts += 1
            if row.attempts >= settings.MYMEDIC_PATIENT_CODE_MAX_ATTEMPTS:
                row.spent = now
            row.save(update_fields=["attempts", "spent"])
            return None
        row.spent = now
        row.save(update_fields=["spent"])
    return patient_for_phone(normalized_phone)


def issue_token(patient: Patient, *, now: datetime | None = None) -> str:
    now = now or timezone.now()
    key = TOKEN_PREFIX + secrets.token_urlsafe(32)
    PatientToken.objects.create(
        key_hash=key_hash(key),
        patient=patient,
        created=now,
        expires=now + timedelta(days=settings.MYMEDIC_PATIENT_TOKEN_DAYS),
    )
    record("patient.login", actor=PatientActor(patient.pk), target=f"patient:{patient.pk}")
    return key


def revoke_token(token: PatientToken) -> None:
    record(
        "patient.logout", actor=PatientActor(token.patient_id), target=f"patient:{token.patient_id}"
    )
    token.delete()


class PatientTokenAuthentication(DigestTokenAuthentication):
    """`Authorization: Token <key>` with a patient's key; staff keys are unknown here."""

    def authenticate_digest(self, digest: str) -> tuple[PatientActor, PatientToken]:
        token = (
            PatientToken.objects.select_related("patient")
            .filter(key_hash=digest, expires__gt=timezone.now())
            .first()
        )
        if token is None or token.patient.erased is not None:
            raise AuthenticationFailed("Invalid token.")
        return PatientActor(token.patient_id), token
