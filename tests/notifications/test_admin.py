"""Notification admin: the dead-letter list with its retry action, settings through the
command, templates checked for syntax."""

import pytest

from apps.eventstore.models import Event
from apps.notifications.dispatch import dispatch_due
from apps.notifications.models import Delivery, MessageTemplate, NotificationSettings
from apps.scheduling.models import Doctor, Patient
from tests.clock import ist
from tests.conftest import HostClient
from tests.notifications.backends import FlakyBackend
from tests.notifications.factories import NotificationFactory


@pytest.fixture
def signed_in(api: HostClient, owner: object) -> HostClient:
    api.force_login(owner)
    return api


def test_the_dead_letter_list_shows_dead_letters_and_retries_them(
    signed_in: HostClient, doctor: Doctor, patient: Patient, flaky: type[FlakyBackend]
) -> None:
    flaky.failures, flaky.permanent = 1, True
    NotificationFactory(doctor=doctor, patient=patient, start=ist(5, 10))
    dispatch_due()
    dead = Delivery.objects.get(status="dead")

    listing = signed_in.get("/admin/notifications/deadletter/?kind__exact=confirmation")
    retried = signed_in.post(
        "/admin/notifications/deadletter/",
        {"action": "retry", "_selected_action": [dead.pk]},
    )

    assert listing.status_code == 200 and dead.key in listing.content.decode()
    assert retried.status_code == 302
    assert Delivery.objects.get(pk=dead.pk).status == "pending"
    assert "Ravi Kumar" not in listing.content.decode()


def test_settings_saved_in_the_admin_go_through_the_command(signed_in: HostClient) -> None:
    response = signed_in.post(
        "/admin/notifications/notificationsettings/add/",
        {
            "reminder_offsets": "[2880, 60]",
            "enabled_channels": ["sms", "whatsapp"],
            "default_channel": "whatsapp",
        },
    )

    assert response.status_code == 302
    saved = NotificationSettings.objects.get()
    assert (saved.reminder_offsets, saved.default_channel) == ([2880, 60], "whatsapp")
    assert Event.objects.filter(type="NotificationSettingsChanged").count() == 1


def test_a_template_with_broken_syntax_is_refused(signed_in: HostClient) -> None:
    response = signed_in.post(
        "/admin/notifications/messagetemplate/add/",
        {"kind": "reminder", "language": "hi", "subject": "", "body": "{% if %}"},
    )

    assert response.status_code == 200  # the form again, with the error
    assert not MessageTemplate.objects.exists()


def test_settings_with_a_disabled_default_channel_are_refused_in_the_form(
    signed_in: HostClient,
) -> None:
    response = signed_in.post(
        "/admin/notifications/notificationsettings/add/",
        {"reminder_offsets": "[60]", "enabled_channels": ["sms"], "default_channel": "email"},
    )

    assert response.status_code == 200
    assert not NotificationSettings.objects.exists()
