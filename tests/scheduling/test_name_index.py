"""The name index: keyed hashes of the folded prefixes of patients' names, kept by the
`patient-names` projection, so a search by name asks PostgreSQL instead of opening every sealed
name; no name in clear in it, another tenant's hashes meaningless here, rebuilt by replay,
re-keyed by a key rotation and useless once the tenant key is destroyed."""

import shutil
from collections.abc import Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidTag
from django.core.management import CommandError, call_command
from django.db import connection
from django_tenants.utils import schema_context

from apps.core import crypto, keys, keystore
from apps.eventstore.models import ProjectionState
from apps.eventstore.projections import catch_up
from apps.eventstore.replay import rebuild
from apps.scheduling import commands, keyrotation
from apps.scheduling.models import Patient, PatientNameToken
from apps.scheduling.names import fold, name_query, named, prefixes, words
from apps.scheduling.projections import patient_names
from apps.tenants.models import Tenant
from tests.scheduling.factories import PatientFactory


def found(text: str) -> list[int]:
    """The patients a search for `text` finds, by the index alone."""
    with keys.remembered():
        return sorted(named(Patient.objects.all(), name_query(text)).values_list("pk", flat=True))


def index_rows() -> set[tuple[int, int, int]]:
    return set(PatientNameToken.objects.values_list("patient_id", "digest", "key_version"))


@pytest.fixture
def people(tenant: Tenant) -> Iterator[dict[str, Patient]]:
    made = {
        "asha": PatientFactory(name="Asha Rao"),
        "ashok": PatientFactory(name="Ashok  Kumar-Rao"),
        "priya": PatientFactory(name="प्रिया शर्मा"),
        "jose": PatientFactory(name="José D'Souza"),
        "ravi": PatientFactory(name="Ravi K. Iyer"),
    }
    catch_up([patient_names.name])
    yield made


def test_a_name_folds_case_diacritics_spaces_and_punctuation_but_keeps_devanagari_signs() -> None:
    assert words("  JOSÉ   D'Souza ") == ["jose", "dsouza"]
    assert words("Ravi K. Iyer-Nair") == ["ravi", "k", "iyer", "nair"]
    assert words("Ｓｕｎｉｌ ÅSE Weiß") == ["sunil", "ase", "weiss"]
    assert words("प्रिया  शर्मा") == ["प्रिया", "शर्मा"]
    assert fold("प्रि\u200dया") == "प्रिया"  # a zero-width joiner typed or not, the same word
    assert prefixes("Asha Rao") == {"as", "ash", "asha", "ra", "rao"}
    assert "प्र" in prefixes("प्रिया") and "प्रिया" in prefixes("प्रिया")


def test_a_patient_is_found_by_given_name_surname_and_prefix_in_any_case(
    people: dict[str, Patient],
) -> None:
    asha, ashok, ravi = people["asha"].pk, people["ashok"].pk, people["ravi"].pk

    assert found("asha") == [asha]
    assert found("ASH") == sorted([asha, ashok])
    assert found("Rao") == sorted([asha, ashok])
    assert found("rao asha") == [asha]
    assert found("kumar") == [ashok]
    assert found("iy") == [ravi]
    assert found("jose dsouza") == found("JOSÉ D'SOUZA") == [people["jose"].pk]
    assert found("asha kumar") == []
    assert found("nobody") == []


def test_a_devanagari_name_is_found_by_its_words_and_their_prefixes(
    people: dict[str, Patient],
) -> None:
    priya = people["priya"].pk

    assert found("प्रिया") == [priya]
    assert found("शर्") == [priya]
    assert found("प्र शर्मा") == [priya]
    assert found("प्रिया राव") == []


def test_a_changed_name_is_found_by_the_new_name_and_an_erased_patient_not_at_all(
    people: dict[str, Patient], owner: object
) -> None:
    commands.patient_update(actor=None, patient=people["asha"], name="Asha Menon")
    commands.patient_erase(actor=owner, patient=people["ravi"])  # type: ignore[arg-type]
    catch_up([patient_names.name])

    assert found("menon") == [people["asha"].pk]
    assert found("rao") == [people["ashok"].pk]
    assert found("ravi") == found("iyer") == []
    assert not PatientNameToken.objects.filter(patient_id=people["ravi"].pk).exists()


def test_the_index_holds_numbers_only_never_a_name_or_a_part_of_one(
    people: dict[str, Patient],
) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = %s",
            [PatientNameToken._meta.db_table],
        )
        columns = dict(cursor.fetchall())
        cursor.execute(f"SELECT t::text FROM {PatientNameToken._meta.db_table} t")  # noqa: S608
        dumped = " ".join(row[0] for row in cursor.fetchall())

    assert set(columns.values()) <= {"bigint", "smallint", "integer"}
    every_prefix = {part for patient in people.values() for part in prefixes(patient.name)}
    assert len(index_rows()) >= len(every_prefix)  # one row per patient and prefix
    assert not [part for part in every_prefix if part in dumped.casefold()]
    assert not [p.name for p in people.values() if p.name.casefold() in dumped.casefold()]


def test_another_tenants_patients_are_never_found_and_its_hashes_differ(
    people: dict[str, Patient], other_tenant: Tenant
) -> None:
    with schema_context(other_tenant.schema_name):
        theirs = PatientFactory(name="Zubin Rao")
        catch_up([patient_names.name])
        their_rows = set(PatientNameToken.objects.values_list("digest", flat=True))
        assert found("zubin") == [theirs.pk]

    assert found("zubin") == []
    assert found("rao") == sorted([people["asha"].pk, people["ashok"].pk])
    with keys.remembered():
        ours = {crypto.name_digest(key, "rao") for _, key in keys.name_index_keys()}
    assert ours.isdisjoint(their_rows)  # the same word, another tenant's key: other numbers


def test_a_replay_rebuilds_the_index_row_for_row(people: dict[str, Patient]) -> None:
    before = index_rows()

    patient_names.reset()
    assert found("asha") == []  # the index is all a search asks
    position = rebuild(patient_names)

    assert index_rows() == before
    assert found("asha") == [people["asha"].pk]
    state = ProjectionState.objects.get(name=patient_names.name)
    assert state.position == position


def test_the_replay_command_backfills_the_index_with_a_progress_bar_and_checks_it(
    people: dict[str, Patient], tenant: Tenant
) -> None:
    built = index_rows()
    patient_names.reset()  # patients registered before the index existed
    ProjectionState.objects.filter(name=patient_names.name).update(position=0)
    out, bar = StringIO(), StringIO()

    call_command(
        "replay",
        "--tenant",
        tenant.slug,
        "--projection",
        patient_names.name,
        stdout=out,
        stderr=bar,
    )

    assert f"{tenant.slug}/patient-names: rebuilt to position" in out.getvalue()
    assert f"{tenant.slug}/patient-names" in bar.getvalue() and "ev/s" in bar.getvalue()
    assert index_rows() == built
    checked = StringIO()
    call_command("replay", "--tenant", tenant.slug, "--check", stdout=checked, stderr=StringIO())
    assert "Every read model matches" in checked.getvalue()
    PatientNameToken.objects.filter(patient_id=people["asha"].pk).delete()
    with pytest.raises(CommandError, match="differ"):
        call_command(
            "replay", "--tenant", tenant.slug, "--projection", patient_names.name, "--check",
            stdout=StringIO(), stderr=StringIO(),
        )  # fmt: skip


def test_a_key_rotation_rekeys_the_index_and_searches_go_on_throughout(
    people: dict[str, Patient],
) -> None:
    rotation = keyrotation.rotate_tenant_key(batch=2, limit=2)  # under way: 2 of 5 moved

    assert set(PatientNameToken.objects.values_list("key_version", flat=True)) == {1, 2}
    assert found("asha") == [people["asha"].pk] and found("iyer") == [people["ravi"].pk]
    assert keyrotation.retire() == ([], [1])

    keyrotation.rewrap_patients(rotation.version)

    assert set(PatientNameToken.objects.values_list("key_version", flat=True)) == {2}
    assert keyrotation.retire() == ([1], [])
    assert found("asha") == [people["asha"].pk]
    assert found("प्रिया") == [people["priya"].pk]


def test_rows_a_projection_run_left_under_the_old_key_keep_it_until_a_rewrap_rekeys_them(
    people: dict[str, Patient],
) -> None:
    asha = people["asha"].pk
    old_rows = list(PatientNameToken.objects.filter(patient_id=asha))
    rotation = keyrotation.rotate_tenant_key()
    # A projection run that read Asha before her re-wrap and wrote after it.
    PatientNameToken.objects.filter(patient_id=asha).delete()
    PatientNameToken.objects.bulk_create(old_rows)

    assert found("asha") == [asha]  # old-version rows are still searched
    assert keyrotation.retire() == ([], [1])

    keyrotation.rewrap_patients(rotation.version)

    assert set(PatientNameToken.objects.values_list("key_version", flat=True)) == {2}
    assert keyrotation.retire() == ([1], [])
    assert found("asha rao") == [asha]


def test_a_destroyed_tenant_key_leaves_the_index_without_meaning(
    people: dict[str, Patient], tenant: Tenant, tmp_path: Path, settings: Any
) -> None:
    schema = connection.schema_name
    # The suite's key store is shared by every xdist worker, whose copies of this tenant are
    # all wrapped with its secret: destroy a copy of the store, never the store itself.
    shared = settings.MYMEDIC_KEYSTORE_DIR
    shutil.copytree(keystore.folder(), tmp_path / "keystore")
    settings.MYMEDIC_KEYSTORE_DIR = str(tmp_path / "keystore")
    rows = index_rows()
    try:
        keystore.destroy(schema)
        crypto.unwrap_tenant_key.cache_clear()

        with pytest.raises(InvalidTag):
            found("asha")  # no key, no number to look for
        assert index_rows() == rows  # what is left is numbers nobody can compute again
    finally:
        settings.MYMEDIC_KEYSTORE_DIR = shared
        crypto.unwrap_tenant_key.cache_clear()
    assert found("asha") == [people["asha"].pk]  # the shared store was never touched
