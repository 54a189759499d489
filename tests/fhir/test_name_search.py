"""`Patient?name=` through the keyed name index: each word given starts a word of the name
(case and Latin accents ignored, Devanagari as written), answered by PostgreSQL without
opening the names in reach; current with the event log although the index is a projection
(a patient registered or renamed after its position is checked by opening); another tenant's
patients never found; what the index cannot serve (every word one letter) answered by
opening the names in reach, as before the index; a blank name a 400, never a 500."""

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from apps.clinic.models import Role, User
from apps.eventstore.models import Event, ProjectionState
from apps.eventstore.projections import catch_up
from apps.scheduling import commands
from apps.scheduling.models import Patient
from apps.scheduling.projections import patient_names
from apps.tenants.models import Tenant
from tests.clinic.factories import UserFactory
from tests.conftest import HostClient
from tests.fhir.conftest import Clinic, outcome_of, valid
from tests.scheduling.factories import PatientFactory


def found(client: HostClient, query: str) -> list[str]:
    answer = client.get(f"/fhir/R4/Patient?{query}")
    assert answer.status_code == 200, (query, answer.content)
    bundle = answer.json()
    valid(bundle)
    return sorted(entry["resource"]["name"][0]["text"] for entry in bundle.get("entry", []))


@pytest.fixture
def people(clinic: Clinic) -> dict[str, Patient]:
    """Patients of the main branch (the owner sees them all), indexed."""
    made = {
        "sunita": PatientFactory(name="Sunita Devi", branch=clinic.main),
        "suresh": PatientFactory(name="Suresh Kumar-Nair", branch=clinic.main),
        "jose": PatientFactory(name="José D'Souza", branch=clinic.main),
        "priya": PatientFactory(name="प्रिया शर्मा", branch=clinic.main),
    }
    catch_up([patient_names.name])
    return made


def owner_fhir_of(clinic: Clinic) -> HostClient:
    return clinic.client(User.objects.get(role=Role.OWNER))


def index_is_behind() -> bool:
    state = ProjectionState.objects.get(name=patient_names.name)
    return Event.objects.filter(position__gt=state.position).exists()


def test_a_patient_is_found_by_given_name_surname_prefix_any_case_and_accent(
    people: dict[str, Patient], owner_fhir: HostClient
) -> None:
    assert not index_is_behind()

    assert found(owner_fhir, "name=sunita") == ["Sunita Devi"]
    assert found(owner_fhir, "name=DEVI") == ["Sunita Devi"]
    assert found(owner_fhir, "name=su") == ["Sunita Devi", "Suresh Kumar-Nair"]
    assert found(owner_fhir, "name=nair") == ["Suresh Kumar-Nair"]
    assert found(owner_fhir, "name=devi%20sun") == ["Sunita Devi"]  # any order of words
    assert found(owner_fhir, "name=jose%20dsouza") == ["José D'Souza"]
    assert found(owner_fhir, "name=JOS%C3%89") == ["José D'Souza"]
    assert found(owner_fhir, "name=unita") == []  # the start of a word, not inside one
    assert found(owner_fhir, "name=sunita%20kumar") == []


def test_a_devanagari_name_is_found_by_its_words_and_their_prefixes(
    people: dict[str, Patient], owner_fhir: HostClient
) -> None:
    assert found(owner_fhir, "name=प्रिया") == ["प्रिया शर्मा"]
    assert found(owner_fhir, "name=शर्") == ["प्रिया शर्मा"]
    assert found(owner_fhir, "name=प्र%20शर्मा") == ["प्रिया शर्मा"]
    assert found(owner_fhir, "name=शर्मा%20सुनीता") == []


def test_a_one_letter_word_beside_a_longer_one_is_checked_on_the_few_found(
    people: dict[str, Patient], owner_fhir: HostClient
) -> None:
    assert found(owner_fhir, "name=sunita%20d") == ["Sunita Devi"]
    assert found(owner_fhir, "name=su%20k") == ["Suresh Kumar-Nair"]
    assert found(owner_fhir, "name=sunita%20x") == []


@pytest.mark.parametrize("query", ["name=", "name=%20%20"])
def test_a_blank_name_is_an_operation_outcome_never_a_500(
    people: dict[str, Patient], owner_fhir: HostClient, query: str
) -> None:
    answer = owner_fhir.get(f"/fhir/R4/Patient?{query}")

    assert answer.status_code == 400
    issue = outcome_of(answer)["issue"][0]
    assert issue["code"] == "invalid" and issue["expression"] == ["name"]
    assert "name" in issue["diagnostics"]


def test_one_letter_words_open_the_names_in_reach_as_before_the_index(
    people: dict[str, Patient], owner_fhir: HostClient
) -> None:
    assert found(owner_fhir, "name=s%20d") == ["Sunita Devi"]
    assert found(owner_fhir, "name=x") == []
    assert found(owner_fhir, "name=%20.%20") == found(owner_fhir, "name=-") == []


def test_a_search_is_current_with_the_log_although_the_index_lags(
    people: dict[str, Patient], owner_fhir: HostClient, clinic: Clinic
) -> None:
    """The index has not applied these events (no worker runs in the test): the new patient
    and the renamed one are checked by opening their names."""
    PatientFactory(name="Sunil Shetty", branch=clinic.main)
    commands.patient_update(actor=None, patient=people["sunita"], name="Anita Devi")
    commands.patient_erase(actor=None, patient=people["suresh"])
    assert index_is_behind()

    assert found(owner_fhir, "name=sun") == ["Sunil Shetty"]
    assert found(owner_fhir, "name=anita") == ["Anita Devi"]
    assert found(owner_fhir, "name=sunita") == []  # the old name no longer finds her
    assert found(owner_fhir, "name=nair") == []  # erased: no name to find

    catch_up([patient_names.name])
    assert not index_is_behind()
    assert found(owner_fhir, "name=sun") == ["Sunil Shetty"]
    assert found(owner_fhir, "name=anita") == ["Anita Devi"]
    assert found(owner_fhir, "name=sunita") == found(owner_fhir, "name=nair") == []


def test_another_tenants_patients_are_never_found(
    people: dict[str, Patient], owner_fhir: HostClient, other_tenant: Tenant
) -> None:
    with schema_context(other_tenant.schema_name):
        PatientFactory(name="Sunita Rao")
        catch_up([patient_names.name])

    assert found(owner_fhir, "name=sunita") == ["Sunita Devi"]
    assert found(owner_fhir, "name=rao") == []


def test_a_receptionist_finds_by_name_only_patients_of_their_branches(
    people: dict[str, Patient], clinic: Clinic
) -> None:
    PatientFactory(name="Sunita Iyer", branch=clinic.other)
    catch_up([patient_names.name])
    desk = clinic.client(UserFactory(role=Role.RECEPTIONIST, branches=[clinic.main]))

    assert found(owner_fhir_of(clinic), "name=sunita") == ["Sunita Devi", "Sunita Iyer"]
    assert found(desk, "name=sunita") == ["Sunita Devi"]


def test_the_search_costs_the_same_whatever_the_number_of_patients_in_reach(
    people: dict[str, Patient], owner_fhir: HostClient, clinic: Clinic
) -> None:
    def searched() -> tuple[list[str], list[dict[str, Any]]]:
        with CaptureQueriesContext(connection) as queries:
            names = found(owner_fhir, "name=sunita")
        return names, queries.captured_queries

    searched()  # the client's first request signs in and warms the caches
    few, few_queries = searched()
    for n in range(40):
        PatientFactory(name=f"Other Person {n}", branch=clinic.main)
    catch_up([patient_names.name])
    many, many_queries = searched()

    assert few == many == ["Sunita Devi"]
    assert len(few_queries) == len(many_queries)
    opened = [q["sql"] for q in many_queries if '"sealed"' in q["sql"]]
    assert len(opened) == 1  # the one page's patients, for the Bundle; no name opened to search
