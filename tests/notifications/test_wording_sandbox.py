"""A tenant's wording is data: placeholders only, a length cap, checked at save and at send."""

import pytest

from apps.notifications import wording
from apps.notifications.models import MessageTemplate
from tests.conftest import HostClient
from tests.notifications.factories import MessageTemplateFactory

VALUES = {
    "patient_name": "Asha",
    "doctor_name": "Dr. Rao",
    "branch_name": "Juhu",
    "clinic_name": "Acme",
    "date": "Wed 02 Dec 2026",
    "time": "09:00",
    "hold_until": "",
}

HOSTILE = [
    "{% for a in 'xxxxxxxxxx' %}{% for b in 'xxxxxxxxxx' %}{{ patient_name }}"
    "{% endfor %}{% endfor %}",
    "{{ patient_name|ljust:2000000000 }}",
    "{{ settings.SECRET_KEY }}",
    "{% load static %}{% static 'x' %}",
    "{# hidden #}{{ patient_name }}",
    "Hello {{ password }}",
]


@pytest.fixture
def signed_in(api: HostClient, owner: object) -> HostClient:
    api.force_login(owner)
    return api


@pytest.mark.parametrize("body", HOSTILE)
def test_tags_filters_and_unknown_names_are_refused_at_save(
    signed_in: HostClient, body: str
) -> None:
    response = signed_in.post(
        "/admin/notifications/messagetemplate/add/",
        {"kind": "reminder", "language": "en", "subject": "", "body": body},
    )

    assert response.status_code == 200
    assert "errorlist" in response.content.decode()
    assert not MessageTemplate.objects.exists()


def test_wording_over_the_length_cap_is_refused(signed_in: HostClient) -> None:
    response = signed_in.post(
        "/admin/notifications/messagetemplate/add/",
        {
            "kind": "reminder",
            "language": "en",
            "subject": "",
            "body": "{{ patient_name }} " + "x" * wording.MAX_BODY,
        },
    )

    assert response.status_code == 200
    assert "Keep it to 1000 characters" in response.content.decode()


def test_placeholders_are_filled_in(signed_in: HostClient) -> None:
    response = signed_in.post(
        "/admin/notifications/messagetemplate/add/",
        {
            "kind": "reminder",
            "language": "en",
            "subject": "See {{doctor_name}}",
            "body": "{{ patient_name }}, {{ date }} at {{ time }}, {{ branch_name }}.",
        },
    )

    rendered = wording.render("reminder", "en", VALUES)

    assert response.status_code == 302
    assert rendered.subject == "See Dr. Rao"
    assert rendered.body == "Asha, Wed 02 Dec 2026 at 09:00, Juhu."


@pytest.mark.parametrize("body", HOSTILE)
def test_a_hostile_stored_wording_is_never_run_the_default_is_sent(
    tenant: object, body: str
) -> None:
    MessageTemplateFactory(kind="reminder", language="en", body=body)

    rendered = wording.render("reminder", "en", VALUES)

    assert rendered.body.startswith("Reminder: Asha, you see Dr. Rao at Juhu")
