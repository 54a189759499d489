"""The OpenAPI document: served on both hosts, as JSON on request, naming every contract
path and describing what the server really takes and gives. Schemathesis over every
operation as every role, against a real server: tests/contract/test_schema_fuzz.py."""

from apps.clinic.models import User
from apps.tenants.models import Tenant
from tests.conftest import HostClient, client_for


def test_the_schema_and_docs_are_served_on_both_hosts(
    api: HostClient, public_api: HostClient
) -> None:
    for client in (api, public_api):
        document = client.get("/api/v1/schema/", HTTP_ACCEPT="application/json").json()
        assert document["openapi"].startswith("3.")
        assert "/api/v1/onboarding/" in document["paths"]
        assert "/api/v1/appointments/{id}/payments/" in document["paths"]
        docs = client.get("/api/v1/docs/")
        assert docs.status_code == 200 and b"swagger" in docs.content.lower()
        assert b"cdn" not in docs.content.lower()  # assets are served by the app itself


def test_the_schema_is_json_when_asked_with_format_json_and_yaml_by_default(
    api: HostClient,
) -> None:
    as_json = api.get("/api/v1/schema/?format=json")
    assert as_json["Content-Type"].startswith("application/vnd.oai.openapi+json")
    assert as_json.json()["openapi"].startswith("3.")
    as_yaml = api.get("/api/v1/schema/")
    assert as_yaml["Content-Type"].startswith("application/vnd.oai.openapi")
    assert as_yaml.content.startswith(b"openapi: 3.")


def test_a_path_no_api_route_matches_is_a_json_404(api: HostClient) -> None:
    answer = api.get("/api/v1/appointments/not-a-number/")
    assert (answer.status_code, answer["Content-Type"]) == (404, "application/json")
    assert answer.json() == {"detail": "Not found."}
    page = api.get("/no-such-page/")
    assert page.status_code == 404 and page["Content-Type"].startswith("text/html")


def test_a_patient_without_email_has_null_never_an_empty_string(
    owner: User, tenant: Tenant
) -> None:
    desk = client_for(owner, tenant)
    created = desk.post(
        "/api/v1/patients/", {"name": "Asha Rao", "phone": "+919812345678"}, format="json"
    )
    assert created.status_code == 201 and created.json()["email"] is None
    patient = created.json()["id"]
    assert desk.get(f"/api/v1/patients/{patient}/").json()["email"] is None
    listed = desk.get("/api/v1/patients/", {"phone": "+919812345678"}).json()["results"]
    assert [row["email"] for row in listed] == [None]


def test_booking_is_documented_as_doctor_patient_start(api: HostClient) -> None:
    document = api.get("/api/v1/schema/?format=json").json()
    body = document["paths"]["/api/v1/appointments/"]["post"]["requestBody"]
    name = body["content"]["application/json"]["schema"]["$ref"].split("/")[-1]
    request = document["components"]["schemas"][name]
    assert set(request["properties"]) == {"doctor", "patient", "start", "confirm_duplicate"}
    assert set(request["required"]) == {"doctor", "patient", "start"}
    answer = document["paths"]["/api/v1/appointments/"]["post"]["responses"]["201"]
    created = answer["content"]["application/json"]["schema"]["$ref"].split("/")[-1]
    assert "position" in document["components"]["schemas"][created]["required"]


def test_every_contract_path_is_documented(api: HostClient) -> None:
    paths = set(api.get("/api/v1/schema/", HTTP_ACCEPT="application/json").json()["paths"])
    contract = {
        "/api/v1/onboarding/", "/api/v1/auth/token/", "/api/v1/staff/", "/api/v1/branches/",
        "/api/v1/doctors/", "/api/v1/doctors/{id}/slots/", "/api/v1/doctors/{id}/day/",
        "/api/v1/patients/", "/api/v1/patients/{id}/", "/api/v1/appointments/",
        "/api/v1/appointments/{id}/", "/api/v1/appointments/{id}/cancel/",
        "/api/v1/appointments/{id}/reschedule/", "/api/v1/appointments/{id}/check-in/",
        "/api/v1/appointments/{id}/complete/", "/api/v1/appointments/{id}/no-show/",
        "/api/v1/appointments/{id}/follow-up/", "/api/v1/appointments/{id}/payments/",
        "/api/v1/appointments/{id}/invoice/", "/api/v1/payments/{id}/refunds/",
        "/api/v1/branches/{id}/board/", "/api/v1/events/",
        "/api/v1/reconciliation/declarations/", "/api/v1/reconciliation/run/",
        "/api/v1/reconciliation/daily/", "/api/v1/reconciliation/weekly/",
        "/api/v1/reconciliation/monthly/", "/api/v1/audit/verify/",
        "/api/v1/invoices/{id}/discounts/", "/api/v1/invoices/{id}/lines/{line}/withdraw/",
    }  # fmt: skip
    assert contract <= paths, contract - paths
