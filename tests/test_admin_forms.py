"""Every admin form answers bad input with form errors, never a server error.

Walks every model registered in the admin, for each role the policy lets add or change it,
and submits its add and change forms with one bad value at a time (negative and huge
numbers, garbage in choices, bad dates, bad JSON, empty required fields, overlong text),
everything else valid. Each must come back as the same page (200) with the error on it.
"""

import json
from typing import Any

import pytest
from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.test import RequestFactory

from apps.clinic import policy
from apps.clinic.commands import staff_create
from apps.clinic.models import Branch, Role, User
from apps.eventstore.models import Event
from apps.integration.commands import channel_add
from apps.integration.mapping import DEFAULT_MAPPING
from apps.integration.models import Channel
from apps.scheduling.models import Doctor
from tests.clinic.factories import STAFF_PASSWORD, UserFactory
from tests.conftest import HostClient
from tests.integration.traffic import adt, receive

pytestmark = pytest.mark.usefixtures("monday_morning")


ADMIN_ROLES = [Role.OWNER, Role.MANAGER, Role.BRANCH_MANAGER]
WRITABLE = sorted(
    label for label, screen in policy.ADMIN_SCREENS.items() if screen.add or screen.change
)


def valid_add_data(label: str, branch: Branch) -> dict[str, Any]:
    """A form that the add page accepts, per model (a new writable model needs one here)."""
    if label == "integration.mappingversion":
        return {"channel": hl7_channel().pk, "document": json.dumps(DEFAULT_MAPPING)}
    return {
        "clinic.branch": {"name": "Walk branch", "city": "Pune", "timezone": "Asia/Kolkata"},
        "clinic.user": {
            "name": "Walk Staff",
            "email": "walk@acme.example.com",
            "password": "a-long-walk-password-2026",
            "role": "receptionist",
            "branches": [branch.pk],
        },
        "scheduling.doctor": {
            "branch": branch.pk,
            "user": "",
            "name": "Dr. Walk",
            "specialty": "ENT",
            "slot_minutes": "15",
            "consultation_fee": "500.00",
            "weekly_hours": '[{"weekday": 0, "start": "09:00", "end": "12:00"}]',
        },
        "scheduling.noshowpolicy": {"threshold": "2", "window_days": "90"},
        "scheduling.schedulingsettings": {
            "check_in_opens_minutes": "120",
            "no_show_grace_minutes": "15",
            "booking_horizon_days": "365",
            "patient_open_bookings": "5",
        },
        "billing.gstsupplier": {
            "branch": "",
            "legal_name": "Walk Health LLP",
            "gstin": "27AAPFU0939F1ZV",
            "address": "4 FC Road, Pune",
        },
        "billing.gstrate": {
            "category": "pharmacy",
            "rate": "12",
            "taxable_above": "",
            "effective_from": "2027-04-01",
        },
        "billing.billingsettings": {
            "cancellation_policy": "refund",
            "no_show_fee": "0.00",
            "no_show_deposit": "0.00",
        },
        "notifications.notificationsettings": {
            "reminder_offsets": "[1440, 120]",
            "enabled_channels": ["sms"],
            "default_channel": "sms",
        },
        "notifications.messagetemplate": {
            "kind": "confirmation",
            "language": "en",
            "subject": "Hi",
            "body": "Hello {{ patient_name }}",
        },
        "patientapp.patientappsettings": {"change_window_hours": "4"},
        "settlements.settlementsettings": {"unsettled_after_days": "3"},
        "settlements.branchupi": {
            "branch": branch.pk,
            "vpa": "walk@okhdfcbank",
            "payee": "Walk Clinic",
        },
        "integration.channel": {
            "name": "Walk Hospital",
            "sending_facility": "WALK",
            "direction": "inbound",
            "max_retries": "3",
            "host": "",
            "port": "",
        },
    }[label]


def hl7_channel() -> Channel:
    found = Channel.objects.filter(sending_facility="WALKHIS").first()
    return found or channel_add(
        actor=None, name="Walk HIS", sending_facility="WALKHIS", direction="inbound"
    )


def hl7_message_in_error(branch: Branch) -> None:
    """The HL7 queue's screen has no add form: its rows come from hospitals."""
    receive(hl7_channel(), adt("A08", tenant="acme", facility="WALKHIS", identifier="NOBODY"))


# Change-only screens: how a test makes a row to change.
SEED_ROW = {"integration.message": hl7_message_in_error}


# Rules of particular fields, beyond what their type says.
FIELD_SPECIFIC = {
    "timezone": ["Mars/Olympus", "UTC+5:30"],
    "weekly_hours": ['[{"weekday": 9, "start": "09:00", "end": "12:00"}]',
                     '[{"weekday": 0, "start": "25:00", "end": "08:00"}]', '{"a": 1}'],
    "reminder_offsets": ["[-5]", '["x"]', "{}", "[99999999999999999999]"],
    "body": ["{% if %}", ""],
    "subject": ["{% endif %}"],
    "password": ["1"],
    "email": ["not-an-email"],
    "vpa": ["walk", "walk@", "wa lk@okhdfc"],
    "payee": ["<script>", "x"],
}  # fmt: skip


def bad_values(name: str, field: forms.Field) -> list[Any]:
    values: list[Any] = list(FIELD_SPECIFIC.get(name, []))
    if isinstance(field, forms.BooleanField):
        return values
    if field.required:
        values.append("")
    if isinstance(field, forms.IntegerField | forms.DecimalField | forms.FloatField):
        values += ["-1", "-0.01", "1e30", "99999999999999999999999", "abc", "NaN", "Infinity"]
    elif isinstance(field, forms.ModelMultipleChoiceField):
        values += [["999999"], ["abc"]]
    elif isinstance(field, forms.ModelChoiceField):
        values += ["999999", "abc"]
    elif isinstance(field, forms.MultipleChoiceField):
        values += [["garbage"]]
    elif isinstance(field, forms.ChoiceField):
        values += ["garbage", "0"]
    elif isinstance(field, forms.JSONField):
        values += ["{not json", "[1, 2"]
    elif isinstance(field, forms.DateTimeField):
        values += ["not a date", "2026-02-30 10:00"]
    elif isinstance(field, forms.DateField):
        values += ["2026-13-45", "yesterday"]
    elif isinstance(field, forms.CharField) and field.max_length:
        values.append("x" * (field.max_length + 1))
    return values


def form_data(form: forms.BaseForm) -> dict[str, Any]:
    """What the browser would send back for a change form as it was shown."""
    data: dict[str, Any] = {}
    for bound in form:
        if bound.field.disabled:
            continue
        value = bound.value()
        if isinstance(bound.field, forms.BooleanField):
            if value:
                data[bound.name] = "on"
        elif isinstance(bound.field, forms.JSONField) and not isinstance(value, str):
            data[bound.name] = json.dumps(value)
        elif isinstance(value, list | tuple):
            data[bound.name] = [str(v) for v in value]
        else:
            data[bound.name] = "" if value is None else str(value)
    return data


def staff(role: Role, branch: Branch) -> User:
    if role == Role.OWNER:
        return User.objects.get(role=Role.OWNER)
    return staff_create(
        actor=None,
        name=f"Walk {role}",
        email=f"{role}@walk.example.com",
        password=STAFF_PASSWORD,
        role=role,
        branches=[branch],
    )


def assert_refused_as_form_error(response: Any, what: str) -> None:
    assert response.status_code == 200, f"{what}: {response.status_code}"
    form = response.context_data["adminform"].form
    assert form.errors, f"{what}: accepted"


ADDS = [
    (label, role) for label in WRITABLE for role in ADMIN_ROLES if role in policy.screen(label).add
]
CHANGES = [
    (label, role)
    for label in WRITABLE
    for role in ADMIN_ROLES
    if role in policy.screen(label).change
]


def admin_of(label: str, user: User) -> tuple[Any, HttpRequest, str]:
    """The model admin of `label`, a request of `user` to ask it, and its base URL."""
    model_admin = next(a for m, a in admin.site._registry.items() if m._meta.label_lower == label)
    request = RequestFactory().get("/admin/")
    request.user = user
    return model_admin, request, f"/admin/{label.replace('.', '/')}/"


@pytest.mark.parametrize(("label", "role"), ADDS)
def test_every_admin_add_form_answers_bad_input_with_form_errors(
    api: HostClient, main_branch: Branch, label: str, role: Role
) -> None:
    user = staff(role, main_branch)
    model_admin, request, base = admin_of(label, user)
    api.force_login(user)
    valid = valid_add_data(label, main_branch)
    fields = model_admin.get_form(request, None)().fields

    tried = 0
    for name, field in fields.items():
        for value in bad_values(name, field):
            response = api.post(f"{base}add/", {**valid, name: value})
            assert_refused_as_form_error(response, f"add {label} {name}={value!r} as {role}")
            tried += 1

    assert tried > 0
    assert api.post(f"{base}add/", valid).status_code == 302, f"add {label} as {role}"


@pytest.mark.parametrize(("label", "role"), CHANGES)
def test_every_admin_change_form_answers_bad_input_with_form_errors(
    api: HostClient, main_branch: Branch, doctor: Doctor, label: str, role: Role
) -> None:
    user = staff(role, main_branch)
    UserFactory(role=Role.RECEPTIONIST, branches=[main_branch])  # someone to change
    model_admin, request, base = admin_of(label, user)
    api.force_login(user)
    if not model_admin.get_queryset(request).exists():  # a settings row nobody has saved yet
        if label in SEED_ROW:
            SEED_ROW[label](main_branch)
        else:
            api.post(f"{base}add/", valid_add_data(label, main_branch))
    obj = model_admin.get_queryset(request).order_by("-pk").first()
    url = f"{base}{obj.pk}/change/"
    shown = api.get(url)
    valid = form_data(shown.context_data["adminform"].form)

    tried = 0
    for name, field in shown.context_data["adminform"].form.fields.items():
        for value in bad_values(name, field):
            response = api.post(url, {**valid, name: value})
            assert_refused_as_form_error(response, f"change {label} {name}={value!r} as {role}")
            tried += 1

    assert model_admin.has_change_permission(request, obj)
    assert tried > 0
    assert api.post(url, valid).status_code == 302, f"change {label} as {role}"


def test_a_doctor_saved_unchanged_appends_no_event(
    api: HostClient, owner: User, doctor: Doctor
) -> None:
    api.force_login(owner)
    url = f"/admin/scheduling/doctor/{doctor.pk}/change/"
    before = Event.objects.filter(stream=doctor.stream).count()

    shown = api.get(url)
    saved = api.post(url, form_data(shown.context_data["adminform"].form))
    changed = api.post(
        url, {**form_data(shown.context_data["adminform"].form), "consultation_fee": "650.00"}
    )

    assert saved.status_code == 302 and changed.status_code == 302
    events = Event.objects.filter(stream=doctor.stream).order_by("position")
    assert events.count() == before + 1
    last = events.last()
    assert last is not None and last.type == "DoctorUpdated"
    assert {k: v for k, v in last.data.items() if k != "id"} == {"consultation_fee": "650.00"}


def test_a_negative_fee_is_a_form_error_next_to_the_fee(
    api: HostClient, owner: User, doctor: Doctor
) -> None:
    api.force_login(owner)
    url = f"/admin/scheduling/doctor/{doctor.pk}/change/"
    valid = form_data(api.get(url).context_data["adminform"].form)

    response = api.post(url, {**valid, "consultation_fee": "-100"})

    assert response.status_code == 200
    errors = response.context_data["adminform"].form.errors
    assert list(errors) == ["consultation_fee"]
    assert "Give a fee from 0 to 999999.99." in errors["consultation_fee"]
