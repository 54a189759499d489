"""The FHIR part of `make bench`: what the facade's reads of sealed patient data cost.

An ABHA search opens every patient in the caller's reach (the field is sealed and has no
index); a name search asks the keyed name index (`apps.scheduling.names`), caught up first as
the worker keeps it; a bulk export opens each patient once and seals its file in frames. This
part times them against a tenant of `patients` patients, in process (no HTTP).
"""

import time
from collections.abc import Callable
from typing import Any

from django_tenants.utils import schema_context
from tqdm import tqdm

from apps.clinic.models import Role, User
from apps.core import keys
from apps.eventstore.projections import catch_up
from apps.fhir import export
from apps.fhir.models import BulkExport
from apps.fhir.resources import current_tenant
from apps.fhir.search import search
from apps.scheduling import commands
from apps.scheduling.projections import patient_names
from apps.tenants.models import Tenant


def _best_of(runs: int, work: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - started)
    return best


def bench_fhir(
    make_tenant: Callable[[str], Tenant],
    drop_tenant: Callable[[Tenant], None],
    patients: int,
    progress: Any,
) -> dict[str, Any]:
    tenant = make_tenant("chain")
    try:
        # Tenant keys read once per search or export, as the facade's views and task do.
        with schema_context(tenant.schema_name), keys.remembered():
            owner = User.objects.get(role=Role.OWNER)
            for n in tqdm(range(patients), desc="patients", file=progress):
                commands.patient_register(
                    actor=None,
                    name=f"Bench Person {n}",
                    phone=f"+9197{n:08d}",
                    abha_number=f"{n:014d}",
                )
            catch_up([patient_names.name])
            here = current_tenant()

            def by(parameter: str, value: str) -> Callable[[], object]:
                return lambda: search("Patient", owner, {parameter: [value]}, here).total()

            name_s = _best_of(3, by("name", "nobody"))
            name_all_s = _best_of(3, by("name", "bench"))  # every patient matches: counted
            abha_s = _best_of(3, by("identifier", "99-9999-9999-9999"))
            phone_s = _best_of(3, by("phone", "+919700000007"))
            job = BulkExport(requested_by=owner, types=["Patient"], request_url="bench")
            export.new_key(job)
            started = time.perf_counter()
            count = export.write(job, "Patient", export.everything("Patient", owner, here, None))
            write_s = time.perf_counter() - started
            size = export.file_of(job, "Patient").stat().st_size
            started = time.perf_counter()
            read_bytes = sum(len(chunk) for chunk in export.read(job, "Patient"))
            read_s = time.perf_counter() - started
            export.remove(job, tenant.schema_name)
    finally:
        drop_tenant(tenant)
    return {
        "patients": patients,
        "name_search_ms": round(name_s * 1000, 1),
        "name_search_all_match_ms": round(name_all_s * 1000, 1),
        "abha_search_ms": round(abha_s * 1000, 1),
        "phone_search_ms": round(phone_s * 1000, 1),
        "per_patient_opened_us": round(abha_s / patients * 1e6, 1),
        "export_patients_per_s": round(count / write_s),
        "export_file_kib": round(size / 1024),
        "download_mib_per_s": round(read_bytes / read_s / 2**20, 1),
    }


def fhir_rows(result: dict[str, Any] | None) -> list[tuple[str, str]]:
    if not result:
        return []
    n = result["patients"]
    return [
        (
            f"FHIR patient search over {n} sealed patients",
            f"name {result['name_search_ms']} ms (name index; every patient matching: "
            f"{result['name_search_all_match_ms']} ms), ABHA {result['abha_search_ms']} ms "
            f"({result['per_patient_opened_us']} µs a patient), phone "
            f"{result['phone_search_ms']} ms (blind index)",
        ),
        (
            "FHIR bulk export of patients",
            f"{result['export_patients_per_s']}/s written sealed "
            f"({result['export_file_kib']} KiB), read back {result['download_mib_per_s']} MiB/s",
        ),
    ]
