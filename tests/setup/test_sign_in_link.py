"""The owner's hand-over from the public sign-up to their clinic's host."""

from typing import Any

import time_machine
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.audit.models import AuditEntry
from apps.clinic.handoff import HANDOFF_SECONDS, sign_in_link_token
from apps.clinic.models import User
from apps.tenants.models import Tenant
from tests.conftest import HostClient

SIGNUP = {
    "clinic_name": "Sunrise Clinic", "slug": "sunrise-web", "kind": "clinic",
    "owner_name": "Asha Rao", "owner_email": "asha@sunrise.example.com",
    "owner_password": "a-long-pass-phrase-1", "timezone": "Asia/Kolkata", "currency": "INR",
}  # fmt: skip


def _token_path(response: Any) -> str:
    assert response.status_code == 302
    url = response["Location"]
    assert url.startswith("http://sunrise-web.localhost/welcome/")
    return url.removeprefix("http://sunrise-web.localhost")


def test_signup_redirects_to_a_sign_in_link_that_opens_set_up_signed_in(
    public_api: HostClient,
) -> None:
    response = public_api.post("/signup/", SIGNUP)
    path = _token_path(response)
    tenant = Tenant.objects.get(slug="sunrise-web")
    clinic = HostClient("sunrise-web.localhost")

    landed = clinic.get(path, follow=True)

    assert landed.redirect_chain[-1][0] == "/setup/"
    html = landed.content.decode()
    assert "Set up Sunrise Clinic" in html and "Asha Rao" in html
    with schema_context(tenant.schema_name):
        owner = User.objects.get(email="asha@sunrise.example.com")
        assert AuditEntry.objects.filter(action="login.link", target=f"user:{owner.pk}").exists()


def test_a_sign_in_link_works_only_once(public_api: HostClient) -> None:
    path = _token_path(public_api.post("/signup/", SIGNUP))
    HostClient("sunrise-web.localhost").get(path)

    second = HostClient("sunrise-web.localhost")
    response = second.get(path)

    assert response.status_code == 400
    assert "cannot be used" in response.content.decode()
    assert second.get("/setup/").status_code == 302  # still signed out: off to the login page


def test_an_expired_sign_in_link_signs_nobody_in(public_api: HostClient) -> None:
    path = _token_path(public_api.post("/signup/", SIGNUP))
    clinic = HostClient("sunrise-web.localhost")

    later = timezone.now().timestamp() + HANDOFF_SECONDS + 5
    with time_machine.travel(later, tick=False):
        response = clinic.get(path)

    assert response.status_code == 400
    assert clinic.get("/setup/").status_code == 302


def test_a_sign_in_link_of_another_clinic_is_refused(
    api: HostClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    with schema_context(other_tenant.schema_name):
        other_owner = User.objects.get(email=f"owner@{other_tenant.slug}.example.com")
    token = sign_in_link_token(schema_name=other_tenant.schema_name, user_id=other_owner.pk)

    response = api.get(f"/welcome/{token}/")

    assert response.status_code == 400
    assert api.get("/setup/").status_code == 302


def test_a_forged_sign_in_link_is_refused(api: HostClient, owner: User, tenant: Tenant) -> None:
    token = sign_in_link_token(schema_name=tenant.schema_name, user_id=owner.pk)
    forged = token[:-3] + ("abc" if not token.endswith("abc") else "xyz")

    assert api.get(f"/welcome/{forged}/").status_code == 400
    assert api.get("/welcome/not-a-token/").status_code == 400
