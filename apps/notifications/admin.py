"""Notification admin: settings and wording per tenant, the outbox, and the dead-letter list
with its retry action (through the command, audited)."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.clinic.admin import RoleAdmin
from apps.clinic.scoping import staff_of
from apps.core.errors import DomainError
from apps.notifications import commands, wording
from apps.notifications.models import (
    CHANNEL_CHOICES,
    DeadLetter,
    Delivery,
    MessageTemplate,
    NotificationSettings,
)


def before(minutes: int) -> str:
    """1440 → "24 h before"; 90 → "90 min before"."""
    if minutes % 60 == 0:
        return f"{minutes // 60} h before"
    return f"{minutes} min before"


class NotificationSettingsForm(forms.ModelForm):
    reminder_offsets = forms.JSONField(help_text="Minutes before the visit, e.g. [1440, 120].")
    enabled_channels = forms.MultipleChoiceField(
        choices=CHANNEL_CHOICES, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = NotificationSettings
        fields = ["reminder_offsets", "enabled_channels", "default_channel"]

    def clean_reminder_offsets(self) -> list[int]:
        offsets = self.cleaned_data["reminder_offsets"]
        if not isinstance(offsets, list) or not all(
            isinstance(o, int) and not isinstance(o, bool) for o in offsets
        ):
            raise forms.ValidationError("A list of whole minutes, e.g. [1440, 120].")
        return offsets

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        enabled = cleaned.get("enabled_channels") or []
        if cleaned.get("default_channel") and cleaned["default_channel"] not in enabled:
            self.add_error("default_channel", "The default channel must be enabled.")
        return cleaned


@admin.register(NotificationSettings)
class NotificationSettingsAdmin(RoleAdmin):
    form = NotificationSettingsForm
    list_display = ["__str__", "reminders", "channels", "default_channel"]

    @admin.display(description="Reminders")
    def reminders(self, settings: NotificationSettings) -> str:
        return ", ".join(before(m) for m in settings.reminder_offsets) or "None"

    @admin.display(description="Channels")
    def channels(self, settings: NotificationSettings) -> str:
        labels = dict(CHANNEL_CHOICES)
        return ", ".join(labels.get(c, c) for c in settings.enabled_channels)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return super().has_add_permission(request) and not NotificationSettings.objects.exists()

    def save_model(
        self, request: HttpRequest, obj: NotificationSettings, form: Any, change: bool
    ) -> None:
        # A refusal comes back as a form error (see RoleAdmin.changeform_view).
        saved = commands.notification_settings_update(
            actor=staff_of(request),
            reminder_offsets=form.cleaned_data["reminder_offsets"],
            enabled_channels=list(form.cleaned_data["enabled_channels"]),
            default_channel=form.cleaned_data["default_channel"],
        )
        obj.pk = saved.pk


class MessageTemplateForm(forms.ModelForm):
    class Meta:
        model = MessageTemplate
        fields = ["kind", "language", "subject", "body"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        limits = {"subject": wording.MAX_SUBJECT, "body": wording.MAX_BODY}
        for field, limit in limits.items():
            if problem := wording.check_syntax(cleaned.get(field) or "", limit):
                self.add_error(field, problem)
        return cleaned


@admin.register(MessageTemplate)
class MessageTemplateAdmin(RoleAdmin):
    """A tenant's own wording; deleting one goes back to the default shipped in code."""

    form = MessageTemplateForm
    list_display = ["kind", "language", "subject", "updated"]
    list_filter = ["kind", "language"]


class DeliveryAdmin(RoleAdmin):
    list_display = [
        "id",
        "key",
        "kind",
        "channel",
        "status",
        "attempts",
        "next_attempt_at",
        "sent_at",
        "last_error",
    ]
    list_filter = ["status", "kind", "channel"]
    search_fields = ["key"]
    date_hierarchy = "created"
    readonly_fields = [f.name for f in Delivery._meta.fields]


admin.site.register(Delivery, DeliveryAdmin)


@admin.register(DeadLetter)
class DeadLetterAdmin(DeliveryAdmin):
    """Messages that need a person: refused, out of attempts, or an unknown outcome."""

    list_display = ["id", "key", "kind", "channel", "attempts", "updated", "last_error"]
    list_filter = ["kind", "channel", "branch_id"]
    actions = ["retry"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).filter(status=Delivery.Status.DEAD)

    @admin.action(description="Retry (send again)")
    def retry(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> None:
        count = 0
        for delivery in queryset:
            try:
                commands.delivery_retry(actor=staff_of(request), delivery=delivery)
                count += 1
            except DomainError as exc:
                self.message_user(request, f"{delivery.pk}: {exc.message}", messages.ERROR)
        if count:
            self.message_user(request, f"Queued again: {count}.")
