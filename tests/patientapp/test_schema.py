"""The OpenAPI document describes the patient app."""

from tests.conftest import HostClient

PATIENT_PATHS = {
    "/api/v1/patient/auth/otp/", "/api/v1/patient/auth/token/", "/api/v1/patient/auth/logout/",
    "/api/v1/patient/me/", "/api/v1/patient/appointments/", "/api/v1/patient/appointments/{id}/",
    "/api/v1/patient/appointments/{id}/cancel/", "/api/v1/patient/appointments/{id}/reschedule/",
    "/api/v1/patient/doctors/", "/api/v1/patient/doctors/{id}/slots/",
    "/api/v1/patient/invoices/", "/api/v1/patient/invoices/{id}/",
}  # fmt: skip


def test_every_patient_endpoint_is_documented(api: HostClient) -> None:
    document = api.get("/api/v1/schema/", HTTP_ACCEPT="application/json").json()

    assert set(document["paths"]) >= PATIENT_PATHS, PATIENT_PATHS - set(document["paths"])
    assert "patientToken" in document["components"]["securitySchemes"]
    me = document["paths"]["/api/v1/patient/me/"]["get"]
    assert me["security"] == [{"patientToken": []}]
    otp = document["paths"]["/api/v1/patient/auth/otp/"]["post"]
    assert {"202", "400", "429"} <= set(otp["responses"])
    booking = document["paths"]["/api/v1/patient/appointments/"]["post"]
    assert {"201", "404", "409"} <= set(booking["responses"])
    board = document["components"]["schemas"]["ReadModelRow"]["properties"]
    assert "repeat_no_show" in board
