from django_tenants.utils import schema_context

from apps.clinic.models import Branch, Role, User
from apps.scheduling.models import Doctor
from apps.tenants.demo import DEMO_PASSWORD, seed_demo_chain
from apps.tenants.models import Tenant
from tests.conftest import HostClient


def test_the_demo_chain_is_seeded_once_with_branches_doctors_and_a_login(db: None) -> None:
    first = seed_demo_chain()
    again = seed_demo_chain()

    assert (first.created, again.created) == (True, False)
    assert Tenant.objects.filter(slug="demo").count() == 1
    with schema_context("demo"):
        assert Branch.objects.count() == 2
        assert Doctor.objects.count() == 4
        assert all(doctor.user.role == Role.DOCTOR for doctor in Doctor.objects.all())
        assert User.objects.get(email=first.email).role == Role.OWNER
    token = HostClient(first.domain).post(
        "/api/v1/auth/token/", {"username": first.email, "password": DEMO_PASSWORD}, format="json"
    )
    assert token.status_code == 200
