"""Dates and instants at the ends of Python's range, and amounts past the money columns,
are 400s with a message on every API and console route that takes them, never 500s."""

from typing import Any

import pytest

from apps.clinic.models import Branch, User
from apps.scheduling.models import Doctor, Patient
from apps.tenants.models import Tenant
from tests.conftest import HostClient, client_for
from tests.patientapp.conftest import patient_client

EDGES = ["9999-12-31", "0001-01-01"]

# Every GET route with a date-like query parameter: {d} is the date under test.
QUERIES = [
    "/api/v1/doctors/{doctor}/slots/?date={d}",
    "/api/v1/doctors/{doctor}/day/?date={d}",
    "/api/v1/appointments/?date={d}",
    "/api/v1/branches/{branch}/board/?date={d}",
    "/api/v1/waitlist/?date={d}",
    "/api/v1/reconciliation/daily/?branch={branch}&date={d}",
    "/api/v1/reconciliation/weekly/?branch={branch}&week={y}-W01",
    "/api/v1/reconciliation/weekly/?branch={branch}&week={y}-W52",
    "/api/v1/reconciliation/monthly/?month={y}-01",
    "/api/v1/reconciliation/monthly/?month={y}-12",
    "/api/v1/reconciliation/analytics/?start={d}&end={d}",
]
# Every POST with a date or instant in its body.
BODIES = [
    ("/api/v1/appointments/", lambda ids, d: {
        "doctor": ids["doctor"], "patient": ids["patient"], "start": f"{d}T23:30:00Z"}),
    ("/api/v1/appointments/", lambda ids, d: {
        "doctor": ids["doctor"], "patient": ids["patient"], "start": f"{d}T00:00:00+14:00"}),
    ("/api/v1/doctors/{doctor}/leave/", lambda ids, d: {"start_date": d, "end_date": d}),
    ("/api/v1/branches/{branch}/closures/", lambda ids, d: {"date": d}),
    ("/api/v1/waitlist/", lambda ids, d: {
        "doctor": ids["doctor"], "patient": ids["patient"], "date": d}),
    ("/api/v1/patients/", lambda ids, d: {"name": "Edge", "phone": "9800000123",
                                          "date_of_birth": d}),
    ("/api/v1/reconciliation/declarations/", lambda ids, d: {
        "branch": ids["branch"], "date": d, "method": "cash", "amount": "10.00"}),
    ("/api/v1/reconciliation/run/", lambda ids, d: {"date": d}),
    ("/api/v1/reconciliation/daily/sign-off/", lambda ids, d: {"branch": ids["branch"], "date": d}),
]  # fmt: skip


@pytest.fixture
def ids(main_branch: Branch, doctor: Doctor, patient: Patient) -> dict[str, Any]:
    return {"branch": main_branch.pk, "doctor": doctor.pk, "patient": patient.pk}


@pytest.fixture
def owner_api(owner: User, tenant: Tenant) -> HostClient:
    return client_for(owner, tenant)


@pytest.mark.parametrize("day", EDGES)
def test_every_date_query_parameter_refuses_the_edges_with_a_400(
    owner_api: HostClient, ids: dict[str, Any], day: str
) -> None:
    problems = []
    for query in QUERIES:
        url = query.format(d=day, y=day[:4], **ids)
        response = owner_api.get(url)
        if response.status_code != 400:
            problems.append(f"{url}: {response.status_code}")

    assert problems == []


@pytest.mark.parametrize("day", EDGES)
def test_every_date_in_a_body_refuses_the_edges_with_a_400(
    owner_api: HostClient, ids: dict[str, Any], day: str
) -> None:
    problems = []
    for path, body in BODIES:
        url = path.format(**ids)
        response = owner_api.post(url, body(ids, day), format="json")
        if response.status_code != 400:
            problems.append(f"{url}: {response.status_code} {response.content[:80]!r}")

    assert problems == []


def test_the_refusal_says_which_dates_are_accepted(
    owner_api: HostClient, ids: dict[str, Any]
) -> None:
    response = owner_api.get(f"/api/v1/doctors/{ids['doctor']}/slots/?date=9999-12-31")

    assert response.json() == {"date": ["Give a date between 1900-01-01 and 2200-12-31."]}


@pytest.mark.parametrize("day", EDGES)
def test_the_patient_app_refuses_the_edges_with_a_400(
    patient: Patient, tenant: Tenant, ids: dict[str, Any], day: str
) -> None:
    me = patient_client(patient, tenant)

    slots = me.get(f"/api/v1/patient/doctors/{ids['doctor']}/slots/?date={day}")
    booking = me.post(
        "/api/v1/patient/appointments/",
        {"doctor": ids["doctor"], "start": f"{day}T23:30:00Z"},
        format="json",
    )
    waiting = me.post(
        "/api/v1/patient/waitlist/", {"doctor": ids["doctor"], "date": day}, format="json"
    )

    assert (slots.status_code, booking.status_code, waiting.status_code) == (400, 400, 400)


def test_a_settlement_amount_past_the_money_column_is_a_400_naming_the_line(
    owner_api: HostClient, ids: dict[str, Any]
) -> None:
    csv = (
        "date,branch,method,amount,reference\n"
        f"2026-12-01,{ids['branch']},card,99999999999999.00,BIG\n"
        f"9999-12-31,{ids['branch']},card,10.00,LATE\n"
    )

    response = owner_api.post("/api/v1/reconciliation/settlements/", csv, content_type="text/csv")

    assert response.status_code == 400
    rows = response.json()["rows"]
    assert any(row.startswith("line 2, amount: Give an amount of at most") for row in rows)
    assert any(row.startswith("line 3, date: Give a date between") for row in rows)


@pytest.mark.parametrize("day", EDGES)
def test_console_date_pickers_show_a_form_error_at_the_edges(
    owner: User, tenant: Tenant, ids: dict[str, Any], day: str
) -> None:
    browser = HostClient(f"{tenant.slug}.localhost")
    browser.force_login(owner)
    base = f"/reception/branches/{ids['branch']}"

    book = browser.get(f"{base}/book/?patient={ids['patient']}&doctor={ids['doctor']}&date={day}")

    assert book.status_code == 200
    assert book.context["form"].errors == {
        "date": ["Give a date between 1900-01-01 and 2200-12-31."]
    }


def test_console_booking_at_the_end_of_time_is_refused_with_a_message(
    owner: User, tenant: Tenant, ids: dict[str, Any]
) -> None:
    browser = HostClient(f"{tenant.slug}.localhost")
    browser.force_login(owner)

    response = browser.post(
        f"/reception/branches/{ids['branch']}/book/?patient={ids['patient']}",
        {"doctor": ids["doctor"], "start": "9999-12-31T23:30:00+00:00", "date": "9999-12-31"},
    )

    assert response.status_code == 302
    assert "Give a date between" in str(list(response.wsgi_request._messages))
