"""Settlements in the admin: settings (UPI IDs, webhook secret), file imports, the exception
queue (resolve with a note), and read-only settlements, rows, bank lines and webhooks."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path

from apps.clinic.admin import BranchScopedAdmin, RoleAdmin, TenantSettingsAdmin
from apps.clinic.scoping import staff_of
from apps.core.admin import NoAddOrDelete
from apps.core.errors import DomainError
from apps.settlements import commands, upi
from apps.settlements.commands import settlement_figures
from apps.settlements.models import (
    BankLine,
    BranchUpi,
    ExceptionItem,
    GatewayRow,
    ImportedFile,
    Settlement,
    SettlementSettings,
    WebhookDelivery,
)
from apps.settlements.views import UploadForm


class SettlementSettingsForm(forms.ModelForm):
    new_webhook_secret = forms.CharField(
        required=False,
        widget=forms.PasswordInput,
        help_text="The secret set on the gateway's webhook; kept sealed, never shown. Leave "
        "blank to keep the current one.",
    )

    class Meta:
        model = SettlementSettings
        fields = ["unsettled_after_days"]


@admin.register(SettlementSettings)
class SettlementSettingsAdmin(TenantSettingsAdmin):
    form = SettlementSettingsForm
    list_display = ["__str__", "unsettled_after_days", "webhook_secret_set"]

    @admin.display(boolean=True, description="Webhook secret set")
    def webhook_secret_set(self, obj: SettlementSettings) -> bool:
        return bool(obj.webhook_secret)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        actor = staff_of(request)
        saved = commands.settlement_settings_update(
            actor=actor, unsettled_after_days=obj.unsettled_after_days
        )
        if secret := form.cleaned_data.get("new_webhook_secret"):
            saved = commands.webhook_secret_set(actor=actor, secret=secret)
        obj.pk = saved.pk


class BranchUpiForm(forms.ModelForm):
    class Meta:
        model = BranchUpi
        fields = ["branch", "vpa", "payee"]

    def clean_vpa(self) -> str:
        try:
            return upi.check_vpa(self.cleaned_data["vpa"])
        except DomainError as exc:
            raise forms.ValidationError(exc.message) from exc

    def clean_payee(self) -> str:
        try:
            return upi.check_payee(self.cleaned_data["payee"])
        except DomainError as exc:
            raise forms.ValidationError(exc.message) from exc


@admin.register(BranchUpi)
class BranchUpiAdmin(BranchScopedAdmin):
    form = BranchUpiForm
    list_display = ["branch", "vpa", "payee"]

    def save_model(self, request: HttpRequest, obj: BranchUpi, form: Any, change: bool) -> None:
        saved = commands.branch_upi_set(
            actor=staff_of(request), branch=obj.branch, vpa=obj.vpa, payee=obj.payee
        )
        obj.pk = saved.pk


class ResolveForm(forms.Form):
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=500,
        help_text="Say what was done about it (kept with the item, audited).",
    )


@admin.register(ExceptionItem)
class ExceptionItemAdmin(NoAddOrDelete, RoleAdmin):
    list_display = ["raised", "kind", "status", "reference", "amount", "branch", "note"]
    list_filter = ["status", "kind"]
    search_fields = ["reference"]
    actions = ["resolve"]
    readonly_fields = [
        "kind", "status", "reference", "amount", "detail", "branch", "raised", "note",
        "resolved_by", "resolved_at",
    ]  # fmt: skip

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description="Resolve the selected items with a note")
    def resolve(
        self, request: HttpRequest, queryset: QuerySet[ExceptionItem]
    ) -> HttpResponse | None:
        form = ResolveForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            done = 0
            for item in queryset:
                try:
                    commands.exception_resolve(
                        actor=staff_of(request), item=item, note=form.cleaned_data["note"]
                    )
                    done += 1
                except DomainError as exc:
                    self.message_user(request, f"{item}: {exc.message}", messages.ERROR)
            if done:
                self.message_user(request, f"Resolved {done} item(s).")
            return None
        return render(
            request,
            "admin/settlements/resolve.html",
            {
                **self.admin_site.each_context(request),
                "items": queryset,
                "form": form,
                "title": "Resolve exceptions",
                "opts": self.model._meta,
            },
        )


@admin.register(ImportedFile)
class ImportedFileAdmin(NoAddOrDelete, RoleAdmin):
    list_display = ["created", "kind", "source", "name", "rows", "new_rows"]
    list_filter = ["kind"]
    readonly_fields = ["kind", "source", "name", "sha256", "rows", "new_rows", "created"]
    change_list_template = "admin/settlements/importedfile/change_list.html"

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_urls(self) -> list[Any]:
        view = self.admin_site.admin_view
        return [
            path("import/", view(self.import_view), name="settlements_import"),
            *super().get_urls(),
        ]

    def import_view(self, request: HttpRequest) -> HttpResponse:
        user = staff_of(request)
        if user.role not in commands.SETTLEMENT_MANAGERS:
            raise PermissionDenied
        form = UploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            run = (
                commands.gateway_file_import
                if form.cleaned_data["kind"] == "gateway"
                else commands.bank_statement_import
            )
            try:
                result = run(actor=user, raw=upload.read(), name=upload.name or "")
            except DomainError as exc:
                for problem in getattr(exc, "errors", {}).get("rows", [exc.message]):
                    form.add_error("file", problem)
            else:
                messages.success(
                    request,
                    f"{result.new_rows} new row(s) of {result.rows}, {result.exceptions} new "
                    "exception(s)."
                    if not result.already_imported
                    else "Imported before.",
                )
                return redirect("admin:settlements_importedfile_changelist")
        return render(
            request,
            "admin/settlements/import.html",
            {
                **self.admin_site.each_context(request),
                "form": form,
                "title": "Import a settlement report or bank statement",
                "opts": self.model._meta,
            },
        )


class ReadOnlyScreen(NoAddOrDelete, RoleAdmin):
    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Settlement)
class SettlementAdmin(ReadOnlyScreen):
    list_display = ["settlement_id", "utr", "settled_on", "net", "banked"]
    search_fields = ["settlement_id", "utr"]

    @admin.display(description="Net paid out")
    def net(self, obj: Settlement) -> str:
        return str(settlement_figures(obj)["net"])

    @admin.display(boolean=True)
    def banked(self, obj: Settlement) -> bool:
        return obj.bank_line_id is not None


@admin.register(GatewayRow)
class GatewayRowAdmin(ReadOnlyScreen):
    list_display = ["entity_id", "type", "status", "amount", "fee", "tax", "settlement"]
    list_filter = ["status", "type"]
    search_fields = ["entity_id", "order_id", "order_receipt"]


@admin.register(BankLine)
class BankLineAdmin(ReadOnlyScreen):
    list_display = ["date", "reference", "narration", "credit", "debit"]
    search_fields = ["reference", "narration"]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyScreen):
    list_display = ["received", "event_type", "event_id", "outcome", "gateway_payment_id"]
    list_filter = ["outcome"]
