from apps.clinic.models import Branch, Role, User
from apps.tenants.models import Tenant
from tests.clinic.factories import STAFF_PASSWORD, BranchFactory, UserFactory
from tests.conftest import OWNER_PASSWORD, HostClient


def sign_in(client: HostClient, email: str, password: str = STAFF_PASSWORD) -> HostClient:
    assert client.post("/login/", {"username": email, "password": password}).status_code == 302
    return client


def test_the_console_needs_a_sign_in(api: HostClient) -> None:
    response = api.get("/reception/")

    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_staff_with_one_branch_go_straight_to_it(api: HostClient, main_branch: Branch) -> None:
    desk = UserFactory(role=Role.RECEPTIONIST, branches=[main_branch])

    response = sign_in(api, desk.email).get("/reception/")

    assert response.status_code == 302
    assert response["Location"] == f"/reception/branches/{main_branch.pk}/"


def test_owner_chooses_among_all_branches(
    api: HostClient, owner: User, main_branch: Branch
) -> None:
    BranchFactory(name="Bandra West")

    page = sign_in(api, owner.email, OWNER_PASSWORD).get("/reception/").content.decode()

    assert "Main branch" in page
    assert "Bandra West" in page


def test_a_branch_outside_the_users_reach_is_a_404(
    api: HostClient, tenant: Tenant, main_branch: Branch
) -> None:
    elsewhere = BranchFactory()
    desk = UserFactory(role=Role.RECEPTIONIST, branches=[main_branch])
    sign_in(api, desk.email)

    assert api.get(f"/reception/branches/{main_branch.pk}/").status_code == 200
    assert api.get(f"/reception/branches/{elsewhere.pk}/").status_code == 404
