"""The set-up screens: who may open them, what they save through the commands, and how
bad input comes back as errors next to its field (never a 500)."""

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django_tenants.utils import schema_context

from apps.billing.models import BillingSettings, TaxRule
from apps.clinic.models import Branch, Role, User
from apps.eventstore.models import Event
from apps.scheduling import commands
from apps.scheduling.models import BranchClosure, Doctor, DoctorLeave
from apps.tenants.models import Tenant
from tests.clinic.factories import BranchFactory, UserFactory
from tests.conftest import HostClient
from tests.scheduling.factories import DoctorFactory

BRANCH = {
    "name": "Andheri West",
    "city": "Mumbai",
    "address": "12 Link Road",
    "phone": "+91 22 2345 6789",
    "timezone": "Asia/Kolkata",
}
SPLIT_MONDAY = {
    "hours_mon_1_start": "09:00",
    "hours_mon_1_end": "13:00",
    "hours_mon_2_start": "17:00",
    "hours_mon_2_end": "20:00",
}
SETUP_PAGES = [
    "/setup/",
    "/setup/branches/",
    "/setup/branches/new/",
    "/setup/doctors/",
    "/setup/doctors/new/",
    "/setup/staff/",
    "/setup/billing/",
]


def _doctor_form(main: Branch, **extra: Any) -> dict[str, Any]:
    return {
        "name": "Dr. Asha Rao",
        "specialty": "General medicine",
        "branch": main.pk,
        "consultation_fee": "500",
        "slot_minutes": "15",
        **SPLIT_MONDAY,
        **extra,
    }


# --- who may open set-up ---------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.RECEPTIONIST, Role.BRANCH_MANAGER, Role.DOCTOR])
def test_front_desk_and_doctors_cannot_open_set_up(
    api: HostClient, main_branch: Branch, role: str
) -> None:
    api.force_login(UserFactory(role=role, branches=[main_branch]))

    for page in SETUP_PAGES:
        assert api.get(page).status_code == 403, page
    assert api.post("/setup/branches/new/", BRANCH).status_code == 403
    assert not Branch.objects.filter(name="Andheri West").exists()


def test_set_up_needs_a_sign_in(api: HostClient) -> None:
    response = api.get("/setup/")

    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_a_manager_opens_every_set_up_page(api: HostClient, manager: User) -> None:
    api.force_login(manager)

    for page in SETUP_PAGES:
        assert api.get(page).status_code == 200, page


def test_the_console_links_to_set_up_for_owners_only(
    owner_web: HostClient, api: HostClient, main_branch: Branch
) -> None:
    board = f"/reception/branches/{main_branch.pk}/"
    assert 'href="/setup/"' in owner_web.get(board).content.decode()

    desk = HostClient(api.defaults["HTTP_HOST"])
    desk.force_login(UserFactory(role=Role.RECEPTIONIST, branches=[main_branch]))
    assert 'href="/setup/"' not in desk.get(board).content.decode()


# --- the checklist on the empty board --------------------------------------------------


def test_an_empty_board_without_doctors_shows_the_checklist_not_book_one(
    owner_web: HostClient, main_branch: Branch
) -> None:
    html = owner_web.get(f"/reception/branches/{main_branch.pk}/").content.decode()

    assert "Book one" not in html
    assert 'data-testid="setup-checklist"' in html
    assert f'href="/setup/branches/{main_branch.pk}/"' in html
    assert f'href="/setup/doctors/new/?branch={main_branch.pk}"' in html
    assert 'href="/setup/staff/"' in html and 'href="/setup/billing/"' in html


def test_a_receptionist_sees_the_checklist_without_set_up_links(
    api: HostClient, main_branch: Branch
) -> None:
    api.force_login(UserFactory(role=Role.RECEPTIONIST, branches=[main_branch]))

    html = api.get(f"/reception/branches/{main_branch.pk}/").content.decode()

    assert 'data-testid="setup-checklist"' in html and "/setup/doctors/new/" not in html
    assert "Ask your clinic's owner or manager" in html


def test_once_a_doctor_has_hours_the_empty_board_offers_to_book(
    owner_web: HostClient, main_branch: Branch
) -> None:
    DoctorFactory(branch=main_branch)

    html = owner_web.get(f"/reception/branches/{main_branch.pk}/").content.decode()

    assert "Book one" in html and 'data-testid="setup-checklist"' not in html


def test_a_doctor_without_hours_does_not_make_the_branch_bookable(
    owner_web: HostClient, main_branch: Branch
) -> None:
    DoctorFactory(branch=main_branch, weekly_hours=[])

    html = owner_web.get("/setup/").content.decode()

    assert 'data-step="doctor" ' not in html  # rendered with its state class first
    assert 'class="todo" data-step="doctor"' in html


# --- branches ----------------------------------------------------------------------------


def test_the_owner_edits_the_first_branch(owner_web: HostClient, main_branch: Branch) -> None:
    page = owner_web.get(f"/setup/branches/{main_branch.pk}/").content.decode()
    assert 'value="Main branch"' in page

    response = owner_web.post(f"/setup/branches/{main_branch.pk}/", BRANCH)

    assert response.status_code == 302
    main_branch.refresh_from_db()
    assert (main_branch.name, main_branch.phone) == ("Andheri West", "+91 22 2345 6789")
    overview = owner_web.get("/setup/").content.decode()
    assert 'class="done" data-step="branch"' in overview


def test_a_chain_adds_a_branch(owner_web: HostClient, main_branch: Branch) -> None:
    response = owner_web.post("/setup/branches/new/", {**BRANCH, "name": "Juhu"})

    assert response.status_code == 302
    assert Branch.objects.get(name="Juhu").address == "12 Link Road"


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"name": ""}, "name", "This field is required."),
        ({"phone": "call us"}, "phone", "Give a phone number of digits"),
        ({"timezone": "Mars/Olympus"}, "timezone", "Select a valid choice."),
        ({"name": "x" * 500}, "name", "at most 120 characters"),
        ({"name": "main branch"}, "name", "A branch with this name already exists."),
    ],
)
def test_bad_branch_input_is_shown_next_to_its_field(
    owner_web: HostClient, main_branch: Branch, change: dict[str, str], field: str, message: str
) -> None:
    response = owner_web.post("/setup/branches/new/", {**BRANCH, **change})

    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors[field])
    assert 'class="field has-error"' in response.content.decode()


def test_another_tenants_branch_is_not_found(owner_web: HostClient, other_tenant: Tenant) -> None:
    with schema_context(other_tenant.schema_name):
        theirs = BranchFactory(name="Their branch")

    assert owner_web.get(f"/setup/branches/{theirs.pk + 1000}/").status_code == 404
    assert owner_web.post(f"/setup/branches/{theirs.pk + 1000}/", BRANCH).status_code == 404
    assert owner_web.get(f"/setup/branches/{theirs.pk + 1000}/closures/").status_code == 404


# --- doctors -----------------------------------------------------------------------------


def test_the_owner_adds_a_doctor_with_a_split_day_grid(
    owner_web: HostClient, main_branch: Branch
) -> None:
    response = owner_web.post("/setup/doctors/new/", _doctor_form(main_branch))

    assert response.status_code == 302
    doctor = Doctor.objects.get(name="Dr. Asha Rao")
    assert doctor.branch == main_branch and doctor.consultation_fee == Decimal("500.00")
    assert doctor.weekly_hours == [
        {"weekday": 0, "start": "09:00", "end": "13:00"},
        {"weekday": 0, "start": "17:00", "end": "20:00"},
    ]


def test_the_copy_button_fills_the_week_without_saving(
    owner_web: HostClient, main_branch: Branch
) -> None:
    response = owner_web.post(
        "/setup/doctors/new/", {**_doctor_form(main_branch), "copy": "weekdays"}
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="hours_sat_2_start" value="17:00"' in html
    assert 'name="hours_sun_1_start" value=' not in html
    assert 'value="Dr. Asha Rao"' in html
    assert not Doctor.objects.filter(name="Dr. Asha Rao").exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"consultation_fee": "abc"}, "consultation_fee"),
        ({"consultation_fee": "-1"}, "consultation_fee"),
        ({"consultation_fee": "NaN"}, "consultation_fee"),
        ({"slot_minutes": "3"}, "slot_minutes"),
        ({"slot_minutes": "fifteen"}, "slot_minutes"),
        ({"branch": "999999"}, "branch"),
        ({"branch": "x"}, "branch"),
        ({"name": ""}, "name"),
    ],
)
def test_bad_doctor_input_is_shown_next_to_its_field(
    owner_web: HostClient, main_branch: Branch, change: dict[str, str], field: str
) -> None:
    response = owner_web.post("/setup/doctors/new/", _doctor_form(main_branch, **change))

    assert response.status_code == 400
    assert response.context["form"].errors[field]
    assert not Doctor.objects.exists()


def test_bad_hours_are_shown_in_the_grid(owner_web: HostClient, main_branch: Branch) -> None:
    form = _doctor_form(main_branch, hours_mon_2_start="12:00")

    response = owner_web.post("/setup/doctors/new/", form)

    assert response.status_code == 400
    assert "Monday: this interval overlaps another one." in response.content.decode()
    assert not Doctor.objects.exists()


def test_editing_a_doctor_shows_their_hours_and_saves_changes(
    owner_web: HostClient, main_branch: Branch
) -> None:
    doctor = DoctorFactory(branch=main_branch, name="Dr. Old")
    page = owner_web.get(f"/setup/doctors/{doctor.pk}/").content.decode()
    assert 'name="hours_mon_2_start" value="14:00"' in page

    form = {
        "name": "Dr. New",
        "specialty": "ENT",
        "consultation_fee": "700",
        "slot_minutes": "20",
        "active": "on",
        "hours_tue_1_start": "10:00",
        "hours_tue_1_end": "12:00",
    }
    response = owner_web.post(f"/setup/doctors/{doctor.pk}/", form)

    assert response.status_code == 302
    doctor.refresh_from_db()
    assert (doctor.name, doctor.specialty, doctor.slot_minutes) == ("Dr. New", "ENT", 20)
    assert doctor.weekly_hours == [{"weekday": 1, "start": "10:00", "end": "12:00"}]


def test_saving_a_doctor_unchanged_appends_no_event(
    owner_web: HostClient, main_branch: Branch
) -> None:
    doctor = DoctorFactory(
        branch=main_branch,
        name="Dr. Same",
        weekly_hours=[{"weekday": 0, "start": "09:00", "end": "13:00"}],
    )
    before = Event.objects.count()

    owner_web.post(
        f"/setup/doctors/{doctor.pk}/",
        {
            "name": "Dr. Same",
            "specialty": doctor.specialty,
            "consultation_fee": "500.00",
            "slot_minutes": str(doctor.slot_minutes),
            "active": "on",
            "hours_mon_1_start": "09:00",
            "hours_mon_1_end": "13:00",
        },
    )

    assert Event.objects.count() == before


def test_another_tenants_doctor_is_not_found(owner_web: HostClient) -> None:
    assert owner_web.get("/setup/doctors/987654/").status_code == 404
    assert owner_web.get("/setup/doctors/987654/leave/").status_code == 404


# --- leave and closures ------------------------------------------------------------------


def test_leave_is_listed_added_and_removed(owner_web: HostClient, main_branch: Branch) -> None:
    doctor = DoctorFactory(branch=main_branch, name="Dr. Away")
    response = owner_web.post(
        f"/setup/doctors/{doctor.pk}/leave/",
        {"start_date": "2027-02-01", "end_date": "2027-02-03", "reason": "Conference"},
    )
    assert response.status_code == 302
    leave = DoctorLeave.objects.get(doctor=doctor)
    assert "Conference" in owner_web.get(f"/setup/doctors/{doctor.pk}/leave/").content.decode()

    removed = owner_web.post(
        f"/setup/doctors/{doctor.pk}/leave/{leave.pk}/remove/", HTTP_HX_REQUEST="true"
    )

    html = removed.content.decode()
    assert removed.status_code == 200 and "<html" not in html and "No leave planned." in html
    leave.refresh_from_db()
    assert leave.removed


@pytest.mark.parametrize(
    ("form", "field"),
    [
        ({"start_date": "2027-02-03", "end_date": "2027-02-01"}, "end_date"),
        ({"start_date": "someday", "end_date": "2027-02-01"}, "start_date"),
        ({"start_date": "", "end_date": ""}, "start_date"),
    ],
)
def test_bad_leave_is_shown_next_to_its_field(
    owner_web: HostClient, main_branch: Branch, form: dict[str, str], field: str
) -> None:
    doctor = DoctorFactory(branch=main_branch)

    response = owner_web.post(f"/setup/doctors/{doctor.pk}/leave/", form)

    assert response.status_code == 400 and response.context["form"].errors[field]


def test_leave_of_another_doctor_is_not_found(owner_web: HostClient, main_branch: Branch) -> None:
    mine, other = DoctorFactory(branch=main_branch), DoctorFactory(branch=main_branch)
    leave = commands.doctor_leave_grant(
        actor=None, doctor=other, start_date=date(2027, 2, 1), end_date=date(2027, 2, 1)
    )

    response = owner_web.post(f"/setup/doctors/{mine.pk}/leave/{leave.pk}/remove/")

    assert response.status_code == 404
    leave.refresh_from_db()
    assert not leave.removed


def test_closures_are_added_refused_twice_and_reopened(
    owner_web: HostClient, main_branch: Branch
) -> None:
    url = f"/setup/branches/{main_branch.pk}/closures/"
    assert owner_web.post(url, {"day": "2027-01-26", "reason": "Republic Day"}).status_code == 302

    twice = owner_web.post(url, {"day": "2027-01-26"})
    assert twice.status_code == 400
    assert "already closed" in " ".join(twice.context["form"].errors["day"])

    closure = BranchClosure.objects.get(branch=main_branch)
    assert owner_web.post(f"{url}{closure.pk}/remove/").status_code == 302
    closure.refresh_from_db()
    assert closure.removed
    assert "No closed days." in owner_web.get(url).content.decode()


def test_a_closure_of_another_branch_is_not_found(
    owner_web: HostClient, main_branch: Branch
) -> None:
    other = BranchFactory(name="Juhu")
    closure = commands.branch_closure_add(actor=None, branch=other, day=date(2027, 1, 26))

    response = owner_web.post(f"/setup/branches/{main_branch.pk}/closures/{closure.pk}/remove/")

    assert response.status_code == 404
    closure.refresh_from_db()
    assert not closure.removed


def test_a_bad_closure_date_is_a_form_error(owner_web: HostClient, main_branch: Branch) -> None:
    response = owner_web.post(f"/setup/branches/{main_branch.pk}/closures/", {"day": "31/02"})

    assert response.status_code == 400 and response.context["form"].errors["day"]


# --- billing -----------------------------------------------------------------------------


def test_billing_settings_are_saved_through_the_commands(owner_web: HostClient) -> None:
    response = owner_web.post(
        "/setup/billing/",
        {
            "form": "settings",
            "cancellation_policy": "credit",
            "no_show_fee": "100",
            "no_show_deposit": "200",
        },
    )

    assert response.status_code == 302
    settings = BillingSettings.objects.get()
    assert settings.cancellation_policy == "credit"
    assert (settings.no_show_fee, settings.no_show_deposit) == (Decimal("100"), Decimal("200"))
    events = Event.objects.filter(stream__startswith="billing-settings")
    types = set(events.values_list("type", flat=True))
    assert types == {"BillingSettingsChanged", "NoShowChargesChanged"}


def test_saving_the_default_billing_settings_ticks_the_checklist(owner_web: HostClient) -> None:
    response = owner_web.post(
        "/setup/billing/",
        {
            "form": "settings",
            "cancellation_policy": "refund",
            "no_show_fee": "0",
            "no_show_deposit": "0",
        },
    )

    assert response.status_code == 302
    assert BillingSettings.objects.get().cancellation_policy == "refund"
    assert 'class="done" data-step="billing"' in owner_web.get("/setup/").content.decode()


def test_a_tax_is_added_for_every_branch(owner_web: HostClient) -> None:
    response = owner_web.post(
        "/setup/billing/", {"form": "tax", "name": "CGST", "rate": "9", "branch": ""}
    )

    assert response.status_code == 302
    rule = TaxRule.objects.get()
    assert (rule.name, rule.rate, rule.branch) == ("CGST", Decimal("9.00"), None)
    assert "CGST 9.00%" in owner_web.get("/setup/billing/").content.decode()


@pytest.mark.parametrize(
    ("form", "field"),
    [
        ({"form": "tax", "name": "GST", "rate": "0"}, "rate"),
        ({"form": "tax", "name": "GST", "rate": "150"}, "rate"),
        ({"form": "tax", "name": "", "rate": "5"}, "name"),
        ({"form": "tax", "name": "GST", "rate": "5", "branch": "999999"}, "branch"),
        (
            {
                "form": "settings",
                "cancellation_policy": "keep-it-all",
                "no_show_fee": "0",
                "no_show_deposit": "0",
            },
            "cancellation_policy",
        ),
        (
            {
                "form": "settings",
                "cancellation_policy": "refund",
                "no_show_fee": "-5",
                "no_show_deposit": "0",
            },
            "no_show_fee",
        ),
    ],
)
def test_bad_billing_input_is_shown_next_to_its_field(
    owner_web: HostClient, form: dict[str, str], field: str
) -> None:
    response = owner_web.post("/setup/billing/", form)

    assert response.status_code == 400
    which = "tax_form" if form["form"] == "tax" else "settings_form"
    assert response.context[which].errors[field]
    assert not TaxRule.objects.exists() and not BillingSettings.objects.exists()
