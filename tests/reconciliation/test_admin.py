"""The chain manager's reconciliation screens in the admin."""

from decimal import Decimal

from apps.clinic.models import Branch, Role, User
from apps.reconciliation.compute import close_days
from apps.reconciliation.models import DailyClose, SignOff
from tests.clinic.factories import BranchFactory, UserFactory
from tests.clock import ist
from tests.conftest import HostClient
from tests.reconciliation.factories import DeclarationFactory


def closes_with_a_variance(main_branch: Branch) -> DailyClose:
    day = ist(4, 0).date()
    DeclarationFactory(branch=main_branch, day=day, amount=Decimal("50"))
    (close,) = close_days(day, day, {main_branch.pk})
    return close


def test_variance_days_are_highlighted(api: HostClient, owner: User, main_branch: Branch) -> None:
    closes_with_a_variance(main_branch)
    api.force_login(owner)

    page = api.get("/admin/reconciliation/dailyclose/").content.decode()

    assert '<span class="variance-over">Cash: over by ₹50.00</span>' in page
    assert "#b00020" in page and "Variance" in page


def test_signing_off_from_the_admin_needs_a_note_for_a_variance(
    api: HostClient, owner: User, main_branch: Branch
) -> None:
    close = closes_with_a_variance(main_branch)
    api.force_login(owner)
    url = "/admin/reconciliation/dailyclose/"

    asked = api.post(url, {"action": "sign_off", "_selected_action": [close.pk]})
    refused = api.post(
        url, {"action": "sign_off", "_selected_action": [close.pk], "apply": "1", "note": ""}
    )
    signed = api.post(
        url,
        {"action": "sign_off", "_selected_action": [close.pk], "apply": "1", "note": "float short"},
    )

    assert asked.status_code == 200 and 'name="note"' in asked.content.decode()
    assert refused.status_code == 302 and signed.status_code == 302
    assert SignOff.objects.get().note == "float short"


def test_the_month_view_shows_branches_and_charts(
    api: HostClient, owner: User, main_branch: Branch
) -> None:
    closes_with_a_variance(main_branch)
    api.force_login(owner)

    page = api.get("/admin/reconciliation/dailyclose/month/?month=2027-01").content.decode()

    assert "Main branch" in page and "Chain" in page
    assert page.count('<svg role="img"') == 2
    assert "Takings (net)" in page and "No-shows" in page


def test_a_branch_manager_sees_only_their_branch(api: HostClient, main_branch: Branch) -> None:
    other = BranchFactory(name="Thane")
    for branch in (main_branch, other):
        close_days(ist(4, 0).date(), ist(4, 0).date(), {branch.pk})
    api.force_login(
        UserFactory(role=Role.BRANCH_MANAGER, branches=[other], is_staff=True, is_superuser=True)
    )

    page = api.get("/admin/reconciliation/dailyclose/").content.decode()

    assert "Thane" in page and "Main branch" not in page
