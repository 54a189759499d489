from django.contrib.admin.sites import site
from django.test import RequestFactory

from apps.clinic.models import Branch, Role, User
from apps.clinic.scoping import can_see_branch, scope_to_branches, visible_branches
from apps.tenants.models import Tenant
from tests.clinic.factories import BranchFactory, UserFactory
from tests.conftest import OWNER_PASSWORD, HostClient


def test_owners_and_managers_see_every_branch(owner: User, main_branch: Branch) -> None:
    other = BranchFactory()
    manager = UserFactory(role=Role.MANAGER)

    for user in (owner, manager):
        assert set(visible_branches(user)) == {main_branch, other}
        assert can_see_branch(user, other.pk)


def test_branch_bound_staff_see_only_their_branches(main_branch: Branch) -> None:
    other = BranchFactory()
    desk = UserFactory(role=Role.RECEPTIONIST, branches=[other])

    assert list(visible_branches(desk)) == [other]
    assert not can_see_branch(desk, main_branch.pk)
    assert list(scope_to_branches(User.objects.filter(pk=desk.pk), desk, "branches")) == [desk]


def test_admin_lists_only_the_branches_a_branch_manager_may_see(main_branch: Branch) -> None:
    other = BranchFactory()
    lead = UserFactory(role=Role.BRANCH_MANAGER, branches=[other])
    request = RequestFactory().get("/admin/clinic/branch/")
    request.user = lead

    queryset = site._registry[Branch].get_queryset(request)

    assert list(queryset) == [other]


def test_owner_opens_the_admin_on_the_tenant_host(
    api: HostClient, owner: User, tenant: Tenant
) -> None:
    assert (
        api.post("/login/", {"username": owner.email, "password": OWNER_PASSWORD}).status_code
        == 302
    )

    index = api.get("/admin/")
    branches = api.get("/admin/clinic/branch/")

    assert index.status_code == 200
    assert branches.status_code == 200
    assert "Main branch" in branches.content.decode()
