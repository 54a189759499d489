"""Rotating a tenant's key without downtime.

1. A new tenant key version becomes active: everything sealed from now on uses it.
2. Patients are re-wrapped in small batches, each its own transaction: the patient's data
   key is unwrapped with the old version and wrapped with the new one, and the phone index
   and the patient's name-index rows (`apps.scheduling.names`) re-keyed. The sealed fields
   themselves are not touched. Reads and searches work throughout, since a patient row (and
   a name-index row) says which version keys it and searches look under every live version.
3. `retire` drops old versions once nothing uses them any more (kept idempotency responses
   expire within a day).

Key material is not a domain fact, so re-wrapping appends no event per patient; the
rotation is recorded once in the audit trail.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.db import connection as db
from django.db import transaction

from apps.audit.trail import record
from apps.core import crypto, keys
from apps.core.models import IdempotencyRecord, TenantKey
from apps.scheduling import names
from apps.scheduling.models import Patient, PatientNameToken

BATCH = 500


@dataclass(frozen=True)
class Rotation:
    version: int
    patients: int


def rotate_tenant_key(
    *, batch: int = BATCH, limit: int | None = None, progress: Callable[[int], None] | None = None
) -> Rotation:
    """Makes a new active key and re-wraps patients under it (`limit`: stop after that many,
    leaving the rest for a later run of `rewrap_patients`)."""
    with transaction.atomic():
        version = keys.add_tenant_key_version()
    done = rewrap_patients(version, batch=batch, limit=limit, progress=progress)
    return Rotation(version, done)


def rewrap_patients(
    version: int,
    *,
    batch: int = BATCH,
    limit: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> int:
    new_key = keys.tenant_key(version)
    name_key = crypto.name_index_key(new_key)
    done = 0
    while limit is None or done < limit:
        size = batch if limit is None else min(batch, limit - done)
        with transaction.atomic():
            patients = list(
                Patient.objects.select_for_update()
                .filter(key_version__lt=version, wrapped_key__isnull=False)
                .order_by("id")[:size]
            )
            if not patients:
                break
            rows = []
            for patient in patients:
                patient.rewrap(version, new_key)
                rows.append(
                    (bytes(patient.wrapped_key or b""), version, patient.phone_index, patient.pk)
                )
            with db.cursor() as cursor:
                cursor.executemany(
                    "UPDATE scheduling_patient SET wrapped_key = %s, key_version = %s, "
                    "phone_index = %s WHERE id = %s",
                    rows,
                )
            names.rekey(patients, name_key)
        done += len(patients)
        if progress:
            progress(len(patients))
    with transaction.atomic():
        names.reindex(names.behind(version))  # rows a concurrent projection run left behind
    with transaction.atomic():
        record("keys.rotated", detail={"version": version, "patients": done})
    return done


def rebind_patients(old_schema: str, *, batch: int = BATCH) -> int:
    """Re-seals every patient for the schema the tenant now lives in, after a restore moved it
    from `old_schema`; like a rotation, key material appends no event. Returns how many."""
    done, last_id = 0, 0
    while True:
        with transaction.atomic():
            patients = list(
                Patient.objects.select_for_update()
                .filter(id__gt=last_id, wrapped_key__isnull=False)
                .order_by("id")[:batch]
            )
            if not patients:
                break
            rows = []
            for patient in patients:
                patient.rebind(old_schema)
                rows.append((bytes(patient.wrapped_key or b""), patient.sealed, patient.pk))
            with db.cursor() as cursor:
                cursor.executemany(
                    "UPDATE scheduling_patient SET wrapped_key = %s, sealed = %s WHERE id = %s",
                    rows,
                )
        done, last_id = done + len(patients), patients[-1].pk
    return done


def retire() -> tuple[list[int], list[int]]:
    """(versions dropped, versions still in use) among those older than the active one."""
    active = TenantKey.objects.order_by("-id").values_list("id", flat=True).first()
    dropped, in_use = [], []
    with transaction.atomic():
        for version in TenantKey.objects.filter(id__lt=active or 0).values_list("id", flat=True):
            used = (
                Patient.objects.filter(key_version=version, wrapped_key__isnull=False).exists()
                or IdempotencyRecord.objects.filter(key_version=version).exists()
                or PatientNameToken.objects.filter(key_version=version).exists()
            )
            if used:
                in_use.append(version)
                continue
            TenantKey.objects.filter(id=version).delete()
            dropped.append(version)
        if dropped:
            record("keys.retired", detail={"versions": dropped})
    return dropped, in_use
