"""X-Forwarded-For is believed only from our own proxies (MYMEDIC_TRUSTED_PROXIES): rotating
it resets no limit, and every throttle, lock-out and audit entry names the same address."""

from typing import Any

import pytest
from django.test import RequestFactory

from apps.audit.models import AuditEntry
from apps.clinic.models import User
from apps.core.clientip import client_address
from tests.conftest import OWNER_PASSWORD, HostClient


@pytest.mark.parametrize(
    ("trusted", "peer", "forwarded", "client"),
    [
        ([], "203.0.113.5", "1.2.3.4", "203.0.113.5"),  # nobody trusted: the header is ignored
        (["10.0.0.0/8"], "203.0.113.5", "1.2.3.4", "203.0.113.5"),  # not from our proxy
        (["10.0.0.1"], "10.0.0.1", "1.2.3.4", "1.2.3.4"),
        (["10.0.0.1"], "10.0.0.1", "6.6.6.6, 1.2.3.4", "1.2.3.4"),  # the client's own claim
        (["10.0.0.0/8"], "10.0.0.1", "1.2.3.4, 10.0.0.2", "1.2.3.4"),  # two proxies of ours
        (["10.0.0.1"], "10.0.0.1", "not-an-address", "10.0.0.1"),
        (["10.0.0.1"], "10.0.0.1", "", "10.0.0.1"),
        (["::1"], "::1", "2001:db8::7", "2001:db8::7"),
    ],
)
def test_the_client_address_believes_only_our_proxies(
    settings: Any, trusted: list[str], peer: str, forwarded: str, client: str
) -> None:
    settings.MYMEDIC_TRUSTED_PROXIES = trusted
    request = RequestFactory().get("/", REMOTE_ADDR=peer, HTTP_X_FORWARDED_FOR=forwarded)

    assert client_address(request) == client


def otp(api: HostClient, forwarded: str, peer: str = "203.0.113.9") -> int:
    response = api.post(
        "/api/v1/patient/auth/otp/",
        {"phone": "9800000001"},
        format="json",
        REMOTE_ADDR=peer,
        HTTP_X_FORWARDED_FOR=forwarded,
    )
    return int(response.status_code)


def test_rotating_x_forwarded_for_does_not_reset_a_per_address_limit(
    api: HostClient, settings: Any
) -> None:
    settings.MYMEDIC_PATIENT_CODE_IP_RATE = "3/hour"

    codes = [otp(api, f"198.51.100.{n}") for n in range(4)]

    assert codes == [202, 202, 202, 429]


def test_rotating_x_forwarded_for_does_not_reset_the_anonymous_api_limit(
    public_api: HostClient, settings: Any
) -> None:
    settings.MYMEDIC_API_ANON_RATE = "2/min"

    codes = [
        public_api.post(
            "/api/v1/onboarding/", {}, format="json", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}"
        ).status_code
        for n in range(3)
    ]

    assert codes == [400, 400, 429]


def test_behind_a_trusted_proxy_each_client_has_its_own_limit(
    api: HostClient, settings: Any
) -> None:
    settings.MYMEDIC_TRUSTED_PROXIES = ["10.0.0.1"]
    settings.MYMEDIC_PATIENT_CODE_IP_RATE = "2/hour"

    first = [otp(api, "198.51.100.1", peer="10.0.0.1") for _ in range(3)]
    other = otp(api, "198.51.100.2", peer="10.0.0.1")

    assert first == [202, 202, 429]
    assert other == 202


def test_rotating_x_forwarded_for_does_not_escape_the_sign_in_throttle(
    api: HostClient, owner: User, settings: Any
) -> None:
    settings.MYMEDIC_LOGIN_ADDRESS_LIMIT = 3
    for n in range(3):
        api.post(
            "/api/v1/auth/token/",
            {"username": f"guess{n}@acme.example.com", "password": "x"},
            format="json",
            REMOTE_ADDR="203.0.113.20",
            HTTP_X_FORWARDED_FOR=f"192.0.2.{n}",
        )

    response = api.post(
        "/api/v1/auth/token/",
        {"username": owner.email, "password": OWNER_PASSWORD},
        format="json",
        REMOTE_ADDR="203.0.113.20",
        HTTP_X_FORWARDED_FOR="192.0.2.99",
    )

    assert response.status_code == 429


def test_audit_entries_record_the_client_address(
    api: HostClient, owner: User, settings: Any
) -> None:
    settings.MYMEDIC_TRUSTED_PROXIES = ["10.0.0.0/8"]
    api.post(
        "/api/v1/auth/token/",
        {"username": owner.email, "password": OWNER_PASSWORD},
        format="json",
        REMOTE_ADDR="10.0.0.1",
        HTTP_X_FORWARDED_FOR="6.6.6.6, 198.51.100.77",
    )
    api.post(
        "/api/v1/auth/token/",
        {"username": owner.email, "password": OWNER_PASSWORD},
        format="json",
        REMOTE_ADDR="203.0.113.30",
        HTTP_X_FORWARDED_FOR="198.51.100.78",
    )

    ips = list(
        AuditEntry.objects.filter(action="login.token").order_by("id").values_list("ip", flat=True)
    )

    assert [str(ip) for ip in ips] == ["198.51.100.77", "203.0.113.30"]
