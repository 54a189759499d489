"""Integration admin: channels, and the HL7 error queue with edit-and-reprocess.

The queue's list shows ids, types, statuses and our own error wording. A message's text
names patients: only its page shows it (the screen is for owners and managers, the roles
that may read patients), and each opening is an audited read.
"""

from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from apps.audit.trail import record
from apps.clinic.admin import RoleAdmin
from apps.clinic.scoping import staff_of
from apps.core.errors import DomainError, InvalidInput
from apps.integration import commands, replay, selectors
from apps.integration.mapping import DEFAULT_MAPPING
from apps.integration.models import (
    ApplicationAck,
    Channel,
    MappingVersion,
    Message,
    OutboundMessage,
)
from apps.integration.outbound import app_ack_again, send_again


class ChannelForm(forms.ModelForm):
    class Meta:
        model = Channel
        fields = [
            "name", "sending_facility", "direction", "hold_on_error", "max_retries", "host",
            "port",
        ]  # fmt: skip


class ChannelEditForm(forms.ModelForm):
    """What an integration analyst changes on a channel, and which of its mapping versions
    is live (a retired one brings it back: a rollback)."""

    live_mapping = forms.TypedChoiceField(
        label="Live mapping version",
        coerce=int,
        required=False,
        empty_value=None,
        help_text="A draft can be chosen once it was tried on sample messages; choosing a "
        "retired version rolls the mapping back to it.",
    )

    class Meta:
        model = Channel
        fields = list(commands.EDITABLE)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        live = self.fields["live_mapping"]
        assert isinstance(live, forms.TypedChoiceField)  # noqa: S101  (declared above)
        choices: list[tuple[Any, str]] = [("", "The shipped default (no version made live)")]
        for version in selectors.mappings(channel=self.instance):
            if version.status == MappingVersion.Status.DRAFT and version.tested_at is None:
                continue
            choices.append((version.number, f"Version {version.number} ({version.status})"))
            if version.status == MappingVersion.Status.LIVE:
                live.initial = version.number
        live.choices = choices

    def clean_live_mapping(self) -> int | None:
        number: int | None = self.cleaned_data.get("live_mapping")
        if number is None and self.fields["live_mapping"].initial is not None:
            raise forms.ValidationError(
                "A live mapping is replaced by another version, never removed."
            )
        return number


class ReplayForm(forms.Form):
    start = forms.DateTimeField(label="From", help_text="Received at or after (clinic time).")
    end = forms.DateTimeField(label="To", help_text="Received before.")
    resend_to = forms.CharField(
        label="Resend to (HOST:PORT)",
        required=False,
        help_text="Empty: replay into a scratch copy and compare with live. Else: send the "
        "messages again, in order, to that MLLP listener.",
    )

    def clean_resend_to(self) -> tuple[str, int] | None:
        text = self.cleaned_data["resend_to"].strip()
        if not text:
            return None
        host, _, port = text.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise forms.ValidationError("Give HOST:PORT.")
        return host, int(port)


@admin.register(Channel)
class ChannelAdmin(RoleAdmin):
    form = ChannelForm
    list_display = [
        "name", "sending_facility", "direction", "hold_on_error", "max_retries", "live_mapping",
    ]  # fmt: skip
    list_filter = ["direction"]

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        if obj is not None:
            kwargs["form"] = ChannelEditForm
            kwargs["fields"] = [*commands.EDITABLE, "live_mapping"]
        return super().get_form(request, obj, change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ChannelForm.Meta.fields
        return ["direction", *commands.EDITABLE, "live_mapping", "mapping_versions"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ["direction", "mapping_versions"] if obj is not None else []

    @admin.display(description="Live mapping")
    def live_mapping(self, channel: Channel) -> str:
        live = selectors.mappings(channel=channel).filter(status=MappingVersion.Status.LIVE)
        number = live.values_list("number", flat=True).first()
        return f"Version {number}" if number else "Default"

    @admin.display(description="Mapping versions")
    def mapping_versions(self, channel: Channel) -> str:
        rows = [
            format_html(
                '<li><a href="{}">Version {}</a>: {}{} — <a href="{}">try on samples</a></li>',
                reverse("admin:integration_mappingversion_change", args=[version.pk]),
                version.number,
                version.get_status_display(),
                ", tried" if version.tested_at else "",
                reverse("admin:integration_mappingversion_try", args=[version.pk]),
            )
            for version in selectors.mappings(channel=channel)
        ]
        new = format_html(
            '<a href="{}?channel={}">New version (from the live one)</a>',
            reverse("admin:integration_mappingversion_add"),
            channel.pk,
        )
        return format_html("<ul>{}</ul>{}", mark_safe("".join(rows)), new)  # noqa: S308  (each row escaped)

    actions = ["replay_range"]

    @admin.action(description="Replay a time range into a scratch copy, or resend it")
    def replay_range(
        self, request: HttpRequest, queryset: QuerySet[Channel]
    ) -> HttpResponse | None:
        form = ReplayForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            actor, data = staff_of(request), form.cleaned_data
            for channel in queryset.order_by("id"):
                if data["resend_to"]:
                    host, port = data["resend_to"]
                    outcome = replay.resend(
                        actor=actor, channel=channel, start=data["start"], end=data["end"],
                        host=host, port=port, pause=0.5,
                    )  # fmt: skip
                    level = messages.ERROR if outcome.stopped_at else messages.INFO
                    self.message_user(
                        request,
                        f"{channel.name}: sent {outcome.sent} to {host}:{port}"
                        + (f", stopped at {outcome.stopped_at}" if outcome.stopped_at else ""),
                        level,
                    )
                    continue
                report = replay.replay_check(
                    actor=actor, channel=channel, start=data["start"], end=data["end"]
                )
                self.message_user(request, f"{channel.name}: {report.summary()}")
                for diff in report.different[:20]:
                    self.message_user(
                        request,
                        f"patient {diff.live_patient or '—'} (messages "
                        f"{', '.join(diff.control_ids[:5])}): {', '.join(diff.fields)} differ",
                        messages.WARNING,
                    )
            return None
        return render(
            request,
            "admin/integration/replay.html",
            {
                **self.admin_site.each_context(request),
                "title": "Replay HL7 messages",
                "opts": self.model._meta,
                "channels": queryset,
                "form": form,
            },
        )

    def save_model(self, request: HttpRequest, obj: Channel, form: Any, change: bool) -> None:
        actor = staff_of(request)
        if not change:
            saved = commands.channel_add(actor=actor, **form.cleaned_data)
            obj.pk = saved.pk
            return
        commands.channel_edit(
            actor=actor,
            channel=obj,
            **{name: form.cleaned_data[name] for name in commands.EDITABLE},
        )
        number = form.cleaned_data.get("live_mapping")
        if number is not None and number != form.fields["live_mapping"].initial:
            version = selectors.mappings(channel=obj).get(number=number)
            commands.mapping_activate(actor=actor, version=version)


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
        "try it on sample messages, then make it live.",
    )

    class Meta:
        model = MappingVersion
        fields = ["channel", "document"]


class SamplesForm(forms.Form):
    samples = forms.CharField(
        label="Sample messages",
        widget=forms.Textarea(attrs={"rows": 12, "cols": 100, "style": "font-family: monospace"}),
        help_text="One or more messages, segments one per line, a blank line between "
        "messages. Nothing is applied and nothing of them is kept.",
    )

    def clean_samples(self) -> list[str]:
        text = self.cleaned_data["samples"].replace("\r\n", "\n")
        samples = [block.strip() for block in text.split("\n\n") if block.strip()]
        if len(samples) > MAX_SAMPLES:
            raise forms.ValidationError(f"At most {MAX_SAMPLES} messages at a time.")
        return samples


MAX_SAMPLES = 20


@dataclass(frozen=True)
class Tried:
    """One sample and what the version makes of it, side by side."""

    segments: list[str]
    result: commands.SampleResult
    rows: list[tuple[str, str, str]]  # (command field, HL7 path, value)


def _side_by_side(
    version: MappingVersion, samples: list[str], results: list[commands.SampleResult]
) -> list[Tried]:
    fields = version.document.get("fields", {})
    tried = []
    for sample, result in zip(samples, results, strict=True):
        rows = []
        if not result.error:
            for target, spec in fields.items():
                paths = [spec["path"]] if "path" in spec else spec.get("paths", [])
                rows.append((target, ", ".join(paths), str(result.values.get(target, "—"))))
        tried.append(Tried(sample.splitlines(), result, rows))
    return tried


@admin.register(MappingVersion)
class MappingVersionAdmin(RoleAdmin):
    form = MappingForm
    list_display = ["channel", "number", "status", "created", "tested_at", "activated_at"]
    list_filter = ["status", "channel"]
    actions = ["make_live"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return []
        return ["channel", "number", "status", "try_it", "document", "tested_at", "activated_at"]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.get_readonly_fields(request, obj) if obj else ["channel", "document"]

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        """`?channel=<id>` starts the new draft from that channel's live mapping."""
        initial: dict[str, Any] = dict(super().get_changeform_initial_data(request))
        channel_id = str(initial.get("channel", ""))
        channel = Channel.objects.filter(pk=channel_id).first() if channel_id.isdigit() else None
        if channel is not None:
            initial["document"] = commands.mapping_of(channel)
        return initial

    @admin.display(description="Try it")
    def try_it(self, version: MappingVersion) -> str:
        return format_html(
            '<a href="{}">Try this version on sample messages</a>',
            reverse("admin:integration_mappingversion_try", args=[version.pk]),
        )

    def get_urls(self) -> list[Any]:
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/try/", view(self.try_view), name="integration_mappingversion_try"),
            *super().get_urls(),
        ]

    def try_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Tries a version on sample messages (the message and the command fields it makes,
        side by side), then makes it live or rolls back to it."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        version = MappingVersion.objects.select_related("channel").filter(pk=pk).first()
        if version is None:
            raise Http404("Mapping version not found.")
        actor = staff_of(request)
        form = SamplesForm(request.POST if "try" in request.POST else None)
        tried: list[Tried] = []
        if request.method == "POST" and "activate" in request.POST:
            try:
                commands.mapping_activate(actor=actor, version=version)
            except DomainError as exc:
                messages.error(request, exc.message)
            else:
                messages.success(request, f"Version {version.number} is live.")
            return HttpResponseRedirect(request.path)
        if form.is_bound and form.is_valid():
            samples = form.cleaned_data["samples"]
            results = commands.mapping_test(actor=actor, version=version, samples=samples)
            tried = _side_by_side(version, samples, results)
            version.refresh_from_db()
        return render(
            request,
            "admin/integration/mapping_try.html",
            {
                **self.admin_site.each_context(request),
                "title": f"Mapping version {version.number} of {version.channel.name}",
                "opts": self.model._meta,
                "version": version,
                "form": form,
                "tried": tried,
                "may_go_live": version.status != MappingVersion.Status.LIVE
                and (version.tested_at is not None or version.status == "retired"),
            },
        )

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
        obj.pk, obj.number = saved.pk, saved.number

    def response_add(
        self, request: HttpRequest, obj: MappingVersion, post_url_continue: str | None = None
    ) -> HttpResponse:
        # A new draft is tried next: straight to its samples page.
        messages.info(request, f"Version {obj.number} saved as a draft: try it on samples.")
        return HttpResponseRedirect(reverse("admin:integration_mappingversion_try", args=[obj.pk]))

    @admin.action(description="Make the selected version live (or roll back to it)")
    def make_live(self, request: HttpRequest, queryset: QuerySet[MappingVersion]) -> None:
        for version in queryset.order_by("number"):
            try:
                commands.mapping_activate(actor=staff_of(request), version=version)
            except DomainError as exc:
                messages.error(request, f"Version {version.number}: {exc.message}")
                return
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


@admin.register(ApplicationAck)
class ApplicationAckAdmin(RoleAdmin):
    """Application ACKs owed to inbound senders (enhanced mode, MSH-16): what their system
    has not accepted yet, or never did."""

    list_display = [
        "id", "channel", "message", "code", "control_id", "status", "attempts",
        "next_attempt_at", "sent_at", "error",
    ]  # fmt: skip
    list_filter = ["status", "code", "channel"]
    readonly_fields = [
        "channel", "message", "code", "control_id", "status", "attempts", "next_attempt_at",
        "sent_at", "error",
    ]  # fmt: skip
    actions = ["send_again"]

    @admin.action(description="Send the selected failed ACKs again")
    def send_again(self, request: HttpRequest, queryset: QuerySet[ApplicationAck]) -> None:
        failed = queryset.filter(status=ApplicationAck.Status.FAILED)
        for owed in failed.order_by("id"):
            app_ack_again(owed)
            record("hl7.app_ack.resend", actor=staff_of(request), target=f"hl7ack:{owed.pk}")
        messages.info(request, "Queued to be sent again.")
