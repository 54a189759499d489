"""Integration admin: channels, and the HL7 error queue with edit-and-reprocess.

The queue's list shows ids, types, statuses and our own error wording. A message's text
names patients: only its page shows it (the screen is for owners and managers, the roles
that may read patients), and each opening is an audited read.
"""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from apps.audit.trail import record
from apps.clinic.admin import RoleAdmin
from apps.clinic.scoping import staff_of
from apps.core.errors import DomainError, InvalidInput
from apps.integration import commands
from apps.integration.mapping import DEFAULT_MAPPING
from apps.integration.models import Channel, MappingVersion, Message, OutboundMessage
from apps.integration.outbound import send_again


class ChannelForm(forms.ModelForm):
    class Meta:
        model = Channel
        fields = [
            "name", "sending_facility", "direction", "hold_on_error", "max_retries", "host",
            "port",
        ]  # fmt: skip


@admin.register(Channel)
class ChannelAdmin(RoleAdmin):
    form = ChannelForm
    list_display = ["name", "sending_facility", "direction", "hold_on_error", "max_retries"]
    list_filter = ["direction"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ChannelForm.Meta.fields if obj is not None else []

    def save_model(self, request: HttpRequest, obj: Channel, form: Any, change: bool) -> None:
        saved = commands.channel_add(actor=staff_of(request), **form.cleaned_data)
        obj.pk = saved.pk


class MessageForm(forms.ModelForm):
    raw = forms.CharField(
        label="Message",
        widget=forms.Textarea(attrs={"rows": 12, "cols": 100, "style": "font-family: monospace"}),
        help_text="Segments one per line. Saving sends the message through again (the control "
        "id, MSH-10, stays the same).",
    )

    class Meta:
        model = Message
        fields: list[str] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["raw"].initial = self.instance.raw.replace("\r", "\n")


@admin.register(Message)
class MessageAdmin(RoleAdmin):
    form = MessageForm
    list_display = [
        "id", "channel", "control_id", "message_type", "status", "attempts", "next_attempt_at",
        "received_at", "error",
    ]  # fmt: skip
    list_filter = ["status", "channel"]
    date_hierarchy = "received_at"
    actions = ["reprocess"]
    readonly_fields = [
        "channel", "control_id", "message_type", "status", "error", "attempts",
        "next_attempt_at", "patient", "received_at", "applied_at",
    ]  # fmt: skip

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).select_related("channel")

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        if request.method == "GET":
            record("hl7.message.read", actor=staff_of(request), target=f"hl7message:{object_id}")
        return super().change_view(request, object_id, form_url, extra_context)

    def save_model(self, request: HttpRequest, obj: Message, form: Any, change: bool) -> None:
        raw = form.cleaned_data["raw"]
        edited = raw if "raw" in form.changed_data else None
        done = commands.message_reprocess(actor=staff_of(request), message=obj, raw=edited)
        messages.info(request, f"Message {done.pk} reprocessed: {done.get_status_display()}.")

    def response_change(self, request: HttpRequest, obj: Message) -> HttpResponse:
        # Back to the queue with our one line about the outcome (Django's own "was changed
        # successfully" would name the message by its status before it was reprocessed).
        return HttpResponseRedirect(reverse("admin:integration_message_changelist"))

    @admin.action(description="Reprocess the selected messages")
    def reprocess(self, request: HttpRequest, queryset: QuerySet[Message]) -> None:
        actor = staff_of(request)
        done, refused = 0, 0
        for message in queryset.order_by("id"):
            try:
                commands.message_reprocess(actor=actor, message=message)
                done += 1
            except DomainError:
                refused += 1
        messages.info(request, f"{done} reprocessed, {refused} not in the error queue.")


class MappingForm(forms.ModelForm):
    document = forms.JSONField(
        initial=DEFAULT_MAPPING,
        widget=forms.Textarea(attrs={"rows": 24, "cols": 100, "style": "font-family: monospace"}),
        help_text="Which HL7 field feeds which field (docs/INTEGRATION.md). Saved as a draft: "
        "try it on sample messages through the API, then make it live with the action.",
    )

    class Meta:
        model = MappingVersion
        fields = ["channel", "document"]


@admin.register(MappingVersion)
class MappingVersionAdmin(RoleAdmin):
    form = MappingForm
    list_display = ["channel", "number", "status", "created", "activated_at"]
    list_filter = ["status", "channel"]
    actions = ["make_live"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ["channel", "number", "status", "document", "activated_at"] if obj else []

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.get_readonly_fields(request, obj) if obj else ["channel", "document"]

    def save_model(
        self, request: HttpRequest, obj: MappingVersion, form: Any, change: bool
    ) -> None:
        try:
            saved = commands.mapping_draft(
                actor=staff_of(request),
                channel=form.cleaned_data["channel"],
                document=form.cleaned_data["document"],
            )
        except InvalidInput as exc:
            # One line per problem, on the document field (see RoleAdmin.changeform_view).
            raise InvalidInput("; ".join(exc.errors.get("document", [])), field="document") from exc
        obj.pk = saved.pk

    @admin.action(description="Make the selected version live")
    def make_live(self, request: HttpRequest, queryset: QuerySet[MappingVersion]) -> None:
        for version in queryset.order_by("number"):
            commands.mapping_activate(actor=staff_of(request), version=version)
        messages.info(request, "Made live.")


@admin.register(OutboundMessage)
class OutboundMessageAdmin(RoleAdmin):
    """The outbound side of the queue: what a hospital did not acknowledge."""

    list_display = [
        "id", "channel", "message_type", "appointment_id", "status", "attempts",
        "next_attempt_at", "sent_at", "error",
    ]  # fmt: skip
    list_filter = ["status", "channel"]
    readonly_fields = [
        "channel", "message_type", "appointment_id", "status", "attempts", "next_attempt_at",
        "sent_at", "error",
    ]  # fmt: skip
    actions = ["send_again"]

    @admin.action(description="Send the selected dead letters again")
    def send_again(self, request: HttpRequest, queryset: QuerySet[OutboundMessage]) -> None:
        dead = queryset.filter(status=OutboundMessage.Status.DEAD)
        for message in dead.order_by("position"):
            send_again(message)
            record("hl7.outbound.resend", actor=staff_of(request), target=f"hl7out:{message.pk}")
        messages.info(request, "Queued to be sent again.")
