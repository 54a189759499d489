"""Invoices and payments in the admin: read-only (money changes only through commands)."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join

from apps.billing import commands
from apps.billing.models import BillingSettings, Invoice, InvoiceAdjustment, Payment, Refund
from apps.clinic.admin import (
    BranchScopedAdmin,
    TenantSettingsAdmin,
    clinic_time_column,
    money_column,
)
from apps.clinic.scoping import staff_of
from apps.core import clinictime


@admin.register(BillingSettings)
class BillingSettingsAdmin(TenantSettingsAdmin):
    list_display = ["__str__", "no_show_fee", "no_show_deposit", "receptionist_discount_cap"]
    fields = ["cancellation_policy", "no_show_fee", "no_show_deposit", "receptionist_discount_cap"]

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form = super().get_form(request, obj, change, **kwargs)
        # Left out, the cap keeps its default (older forms and scripts do not send it).
        form.base_fields["receptionist_discount_cap"].required = False
        return form

    def update(
        self, request: HttpRequest, obj: BillingSettings, changed: list[str]
    ) -> BillingSettings:
        actor, adding = staff_of(request), obj._state.adding
        saved = obj
        if adding or "cancellation_policy" in changed:
            saved = commands.billing_settings_update(
                actor=actor, cancellation_policy=obj.cancellation_policy
            )
        if adding or {"no_show_fee", "no_show_deposit"} & set(changed):
            saved = commands.no_show_charges_update(
                actor=actor, no_show_fee=obj.no_show_fee, no_show_deposit=obj.no_show_deposit
            )
        if adding or "receptionist_discount_cap" in changed:
            cap = obj.receptionist_discount_cap
            default = BillingSettings._meta.get_field("receptionist_discount_cap").default
            saved = commands.receptionist_discount_cap_update(
                actor=actor, percent=default if cap is None else cap
            )
        return saved


@admin.register(Invoice)
class InvoiceAdmin(BranchScopedAdmin):
    list_display = ["number", "issued_at", "branch", "status", "total_money", "tax_money"]
    list_select_related = ["branch"]
    list_filter = [
        "status",
        ("branch", admin.RelatedOnlyFieldListFilter),
        ("issued", admin.DateFieldListFilter),
    ]
    date_hierarchy = "issued"
    ordering = ["-issued", "-id"]
    search_fields = ["number"]
    readonly_fields = (
        "number",
        "issued_at",
        "branch",
        "status",
        "lines_table",
        "tax_money",
        "total_money",
        "appointment",
    )
    fields = readonly_fields

    issued_at = clinic_time_column("issued", "Issued")
    total_money = money_column("total", "Total", currency="currency")
    tax_money = money_column("tax", "Tax", currency="currency")

    @admin.display(description="Lines")
    def lines_table(self, invoice: Invoice) -> str:
        rows = [
            (
                line.get("description", ""),
                clinictime.format_money(line.get("amount"), invoice.currency),
            )
            for line in invoice.lines
        ]
        body = format_html_join("", '<tr><td>{}</td><td class="num">{}</td></tr>', rows)
        return format_html('<table class="details">{}</table>', body)


@admin.register(Payment)
class PaymentAdmin(BranchScopedAdmin):
    """Newest first; each time on the clock of the branch that took the money."""

    list_display = ["received_at", "branch", "kind", "method", "amount_money", "invoice"]
    list_select_related = ["branch", "invoice"]
    list_filter = [
        ("received", admin.DateFieldListFilter),
        "kind",
        "method",
        ("branch", admin.RelatedOnlyFieldListFilter),
    ]
    date_hierarchy = "received"
    ordering = ["-received", "-id"]
    readonly_fields = (
        "received_at",
        "branch",
        "kind",
        "method",
        "amount_money",
        "invoice",
        "appointment",
    )
    fields = readonly_fields

    received_at = clinic_time_column("received", "Received")
    amount_money = money_column("amount", "Amount")


@admin.register(Refund)
class RefundAdmin(BranchScopedAdmin):
    list_display = ["refunded_at", "branch", "kind", "method", "amount_money", "payment", "reason"]
    list_select_related = ["branch", "payment"]
    list_filter = [
        ("refunded", admin.DateFieldListFilter),
        "kind",
        "method",
        ("branch", admin.RelatedOnlyFieldListFilter),
    ]
    date_hierarchy = "refunded"
    ordering = ["-refunded", "-id"]
    readonly_fields = (
        "refunded_at",
        "branch",
        "kind",
        "method",
        "amount_money",
        "payment",
        "reason",
    )
    fields = readonly_fields

    refunded_at = clinic_time_column("refunded", "Refunded")
    amount_money = money_column("amount", "Amount")


@admin.register(InvoiceAdjustment)
class InvoiceAdjustmentAdmin(BranchScopedAdmin):
    """Discounts and credit notes, read-only: they are made at the desk or through the API."""

    list_display = [
        "__str__",
        "created_at",
        "branch",
        "kind",
        "category",
        "reduction_money",
        "invoice",
    ]
    list_select_related = ["branch", "invoice"]
    list_filter = ["kind", "category", ("branch", admin.RelatedOnlyFieldListFilter)]
    ordering = ["-created", "-id"]
    search_fields = ["number", "invoice__number"]
    readonly_fields = [f.name for f in InvoiceAdjustment._meta.fields]

    created_at = clinic_time_column("created", "Made")
    reduction_money = money_column("total_reduction", "Reduction")
