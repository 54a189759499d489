"""Branches can be corrected after they are made: the one command for their details."""

import pytest

from apps.clinic.commands import branch_create, branch_update
from apps.clinic.models import Branch, Role, User
from apps.core.errors import InvalidInput, PermissionDenied
from apps.eventstore.models import Event
from apps.tenants.models import Tenant
from tests.clinic.factories import UserFactory

DETAILS = {
    "name": "Andheri West",
    "city": "Mumbai",
    "address": "12 Link Road, Andheri West",
    "phone": "+91 22 2345 6789",
    "timezone": "Asia/Kolkata",
}


def test_an_owner_renames_the_first_branch_and_the_event_names_what_changed(
    owner: User, main_branch: Branch
) -> None:
    branch = branch_update(actor=owner, branch=main_branch, **DETAILS)

    branch.refresh_from_db()
    assert (branch.name, branch.address, branch.phone) == (
        "Andheri West",
        "12 Link Road, Andheri West",
        "+91 22 2345 6789",
    )
    event = branch.history().last()
    assert event is not None and event.type == "BranchUpdated"
    assert event.data == {
        "id": branch.pk,
        "changed": ["address", "city", "name", "phone"],
        "timezone": "Asia/Kolkata",
    }


def test_saving_unchanged_details_appends_no_event(owner: User, main_branch: Branch) -> None:
    branch_update(actor=owner, branch=main_branch, **DETAILS)
    before = Event.objects.count()

    branch_update(actor=owner, branch=main_branch, **{**DETAILS, "name": " Andheri West "})

    assert Event.objects.count() == before


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": "  "}, "name"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"phone": "call us"}, "phone"),
    ],
)
def test_bad_branch_details_are_refused_by_field(
    owner: User, main_branch: Branch, change: dict[str, str], field: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        branch_update(actor=owner, branch=main_branch, **{**DETAILS, **change})

    assert refused.value.field == field


def test_two_branches_cannot_share_a_name(owner: User, main_branch: Branch) -> None:
    second = branch_create(actor=owner, name="Juhu", timezone="Asia/Kolkata")

    with pytest.raises(InvalidInput) as refused:
        branch_update(actor=owner, branch=second, **{**DETAILS, "name": "main BRANCH"})

    assert refused.value.field == "name"


def test_only_owners_and_managers_edit_branches(tenant: Tenant, main_branch: Branch) -> None:
    lead = UserFactory(role=Role.BRANCH_MANAGER, branches=[main_branch])

    with pytest.raises(PermissionDenied):
        branch_update(actor=lead, branch=main_branch, **DETAILS)
