"""Notification test data: the plan comes from the projection, so a planned message is made
by booking the visit and running the projections; a template is a plain row, as the admin
saves it."""

from typing import Any

import factory
from factory.django import DjangoModelFactory

from apps.eventstore.projections import catch_up
from apps.notifications.models import Kind, MessageTemplate, Notification
from apps.scheduling import commands
from tests.scheduling.factories import PatientFactory


class NotificationFactory(factory.Factory):
    """The booking confirmation planned for a visit the system books with `doctor` at
    `start` (the projections run, so its reminders are planned too)."""

    class Meta:
        model = Notification

    patient = factory.SubFactory(PatientFactory)

    @classmethod
    def _create(cls, model_class: type[Notification], **kwargs: Any) -> Notification:
        visit = commands.appointment_book(actor=None, **kwargs)
        catch_up()
        return Notification.objects.get(appointment_id=visit.pk, kind=Kind.CONFIRMATION)


class MessageTemplateFactory(DjangoModelFactory):
    """A tenant's own English reminder wording unless told otherwise."""

    class Meta:
        model = MessageTemplate

    kind = Kind.REMINDER
    language = "en"
    subject = ""
    body = "Reminder: {{ patient_name }}, {{ date }} at {{ time }}."
