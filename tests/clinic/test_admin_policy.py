"""The admin for managers: access from the one role policy, no superuser roles, a branded
index with only each role's screens, and screens a clinic owner can read."""

import importlib
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.apps import apps as django_apps

from apps.clinic import policy
from apps.clinic.commands import staff_create
from apps.clinic.models import Branch, Role, User
from apps.reconciliation import commands as recon
from apps.reconciliation.compute import close_days
from apps.tenants.models import Tenant
from tests.audit.factories import AuditEntryFactory
from tests.clinic.factories import STAFF_PASSWORD
from tests.clock import ist
from tests.conftest import HostClient

pytestmark = pytest.mark.usefixtures("monday_morning")


PLATFORM_ONLY = [
    "/admin/eventstore/event/",
    "/admin/eventstore/projectionstate/",
    "/admin/auth/group/",
    "/admin/authtoken/tokenproxy/",
]


def make(role: Role, branch: Branch) -> User:
    return staff_create(
        actor=None,
        name=f"{role.label} One",
        email=f"{role}@policy.example.com",
        password=STAFF_PASSWORD,
        role=role,
        branches=[branch],
    )


def results(page: str) -> str:
    """The result table of an admin list (not its filters)."""
    found = re.search(r'<table id="result_list">.*?</table>', page, re.S)
    assert found is not None
    return found.group(0)


def index_models(page: str) -> set[str]:
    """The admin index's model links, as `app_label.model_name`."""
    return {f"{a}.{m}" for a, m in re.findall(r'href="/admin/(\w+)/(\w+)/"', page)}


@pytest.mark.parametrize("role", list(Role))
def test_no_role_is_a_superuser_and_admin_access_follows_the_policy(
    main_branch: Branch, role: Role
) -> None:
    user = make(role, main_branch)

    assert user.is_superuser is False
    assert user.is_staff is policy.may_use_admin(role)


def test_the_onboarded_owner_is_no_superuser(owner: User) -> None:
    assert (owner.is_superuser, owner.is_staff) == (False, True)


@pytest.mark.parametrize("role", [Role.OWNER, Role.MANAGER, Role.BRANCH_MANAGER])
def test_each_role_sees_exactly_its_screens_on_a_branded_index(
    api: HostClient, tenant: Tenant, owner: User, main_branch: Branch, role: Role
) -> None:
    user = owner if role == Role.OWNER else make(role, main_branch)
    api.force_login(user)

    page = api.get("/admin/").content.decode()

    expected = {label for label, screen in policy.ADMIN_SCREENS.items() if role in screen.view}
    assert index_models(page) == expected
    assert f"MyMedic · {tenant.name}" in page
    assert "Django administration" not in page and "Django site admin" not in page
    for url in PLATFORM_ONLY:
        assert api.get(url).status_code == 403, url


def test_a_receptionist_or_doctor_never_enters_the_admin(
    api: HostClient, main_branch: Branch
) -> None:
    for role in (Role.RECEPTIONIST, Role.DOCTOR):
        api.force_login(make(role, main_branch))
        assert api.get("/admin/").status_code == 302  # to the admin's sign-in


def test_an_operators_superuser_still_sees_everything(api: HostClient, tenant: Tenant) -> None:
    operator = User.objects.create_superuser("ops@platform.example.com", "x-operator-2026")
    api.force_login(operator)

    page = api.get("/admin/").content.decode()

    assert {"eventstore.event", "auth.group", "audit.auditentry"} <= index_models(page)
    assert all(api.get(url).status_code == 200 for url in PLATFORM_ONLY)


def test_the_migration_takes_superuser_away_from_existing_staff(main_branch: Branch) -> None:
    old_manager = make(Role.MANAGER, main_branch)
    User.objects.filter(pk=old_manager.pk).update(is_superuser=True)
    migration = importlib.import_module("apps.clinic.migrations.0004_no_superuser_roles")

    migration.drop_superuser(django_apps, None)

    old_manager.refresh_from_db()
    assert (old_manager.is_superuser, old_manager.is_staff) == (False, True)


def test_daily_closes_are_listed_up_to_today_with_a_readable_variance(
    api: HostClient, owner: User, main_branch: Branch
) -> None:
    today = ist(4, 0).date()
    recon.declaration_make(
        actor=None, branch=main_branch, day=today, method="upi", amount=Decimal("1234567")
    )
    close_days(today - timedelta(days=1), today + timedelta(days=29), {main_branch.pk})
    api.force_login(owner)

    listing = api.get("/admin/reconciliation/dailyclose/").content.decode()
    close = main_branch.daily_closes.get(date=today)
    detail = api.get(f"/admin/reconciliation/dailyclose/{close.pk}/change/").content.decode()

    assert "4 Jan 2027" in listing and "3 Jan 2027" in listing
    assert "5 Jan 2027" not in listing and "2 Feb 2027" not in listing
    assert "UPI: over by ₹12,34,567.00" in listing
    assert 'class="variance-over"' in detail and "₹12,34,567.00" in detail
    assert "position" not in detail.lower()
    assert '{"' not in detail  # no raw JSON


def test_the_audit_trail_is_newest_first_with_names_and_reads_apart(
    api: HostClient, owner: User, main_branch: Branch
) -> None:
    desk = make(Role.RECEPTIONIST, main_branch)
    api.force_login(owner)
    for _ in range(3):
        AuditEntryFactory(
            action="patient.list", actor=desk, branch_id=main_branch.pk, detail={"patients": [1]}
        )
    AuditEntryFactory(
        action="staff.changed", actor=owner, target=f"user:{desk.pk}", detail={"fields": ["name"]}
    )

    changes = results(api.get("/admin/audit/auditentry/").content.decode())
    reads = results(api.get("/admin/audit/auditentry/?kind=reads").content.decode())
    summary = api.get("/admin/audit/auditentry/reads/").content.decode()
    assert "Staff changed" in changes and owner.name in changes
    assert f"Staff: {desk.name}" in changes
    assert "Listed patients" not in changes
    rows = re.findall(r"<tr>.*?</tr>", changes, re.S)
    assert "Staff changed" in rows[1]  # the first data row (row 0 is the header)
    assert reads.count("Listed patients (1)") == 3 and desk.name in reads
    assert re.search(r"4 Jan 2027.*?Receptionist One.*?Listed patients.*?>3<", summary, re.S)
