"""Leave and closure endpoints: who may set them, where, and with what input."""

import pytest

from apps.clinic.models import Branch, Role, User
from apps.scheduling.models import BranchClosure, Doctor, DoctorLeave
from apps.tenants.models import Tenant
from tests.clinic.factories import BranchFactory, UserFactory
from tests.conftest import client_for


def test_a_branch_manager_grants_leave_to_a_doctor_of_their_branch(
    tenant: Tenant, doctor: Doctor, main_branch: Branch
) -> None:
    lead = client_for(UserFactory(role=Role.BRANCH_MANAGER, branches=[main_branch]), tenant)

    response = lead.post(
        f"/api/v1/doctors/{doctor.pk}/leave/",
        {"start_date": "2027-01-06", "end_date": "2027-01-08", "reason": "conference"},
        format="json",
    )

    assert response.status_code == 201, response.content
    assert response.json()["position"] > 0
    assert DoctorLeave.objects.get().end_date.isoformat() == "2027-01-08"
    slots = lead.get(f"/api/v1/doctors/{doctor.pk}/slots/?date=2027-01-07").json()
    assert slots == []


@pytest.mark.parametrize(
    "body",
    [
        {"start_date": "2027-01-08", "end_date": "2027-01-06"},
        {"start_date": "someday", "end_date": "2027-01-06"},
        {"end_date": "2027-01-06"},
    ],
)
def test_bad_leave_is_a_400(
    owner: User, tenant: Tenant, doctor: Doctor, body: dict[str, str]
) -> None:
    response = client_for(owner, tenant).post(
        f"/api/v1/doctors/{doctor.pk}/leave/", body, format="json"
    )

    assert response.status_code == 400
    assert not DoctorLeave.objects.exists()


def test_leave_and_closures_stay_inside_branch_and_role(
    tenant: Tenant, doctor: Doctor, main_branch: Branch
) -> None:
    other_lead = client_for(
        UserFactory(role=Role.BRANCH_MANAGER, branches=[BranchFactory()]), tenant
    )
    desk = client_for(UserFactory(role=Role.RECEPTIONIST, branches=[main_branch]), tenant)
    leave = {"start_date": "2027-01-06", "end_date": "2027-01-06"}
    closure = {"date": "2027-01-26", "reason": "Republic Day"}

    assert (
        other_lead.post(f"/api/v1/doctors/{doctor.pk}/leave/", leave, format="json").status_code
        == 404
    )
    assert (
        other_lead.post(
            f"/api/v1/branches/{main_branch.pk}/closures/", closure, format="json"
        ).status_code
        == 404
    )
    assert desk.post(f"/api/v1/doctors/{doctor.pk}/leave/", leave, format="json").status_code == 403
    assert (
        desk.post(
            f"/api/v1/branches/{main_branch.pk}/closures/", closure, format="json"
        ).status_code
        == 403
    )
    assert not DoctorLeave.objects.exists() and not BranchClosure.objects.exists()


def test_a_closure_is_set_once_per_day(owner: User, tenant: Tenant, main_branch: Branch) -> None:
    client = client_for(owner, tenant)
    url = f"/api/v1/branches/{main_branch.pk}/closures/"

    first = client.post(url, {"date": "2027-01-26", "reason": "Republic Day"}, format="json")
    again = client.post(url, {"date": "2027-01-26"}, format="json")
    bad = client.post(url, {"date": "26/01/2027"}, format="json")

    assert first.status_code == 201
    assert again.status_code == 409
    assert bad.status_code == 400
    assert BranchClosure.objects.count() == 1
