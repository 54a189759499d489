"""Invoices and payments in the admin: read-only (money changes only through commands)."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from apps.billing import commands
from apps.billing.models import BillingSettings, Invoice, InvoiceAdjustment, Payment, Refund
from apps.clinic.admin import BranchScopedAdmin, TenantSettingsAdmin
from apps.clinic.scoping import staff_of


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
    list_display = ["number", "branch", "status", "total", "tax", "issued"]
    list_filter = ["status", ("branch", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["number"]
    readonly_fields = [f.name for f in Invoice._meta.fields]


@admin.register(Payment)
class PaymentAdmin(BranchScopedAdmin):
    list_display = ["id", "received", "branch", "kind", "method", "amount", "invoice"]
    list_filter = ["kind", "method", ("branch", admin.RelatedOnlyFieldListFilter)]
    date_hierarchy = "received"
    readonly_fields = [f.name for f in Payment._meta.fields]
    exclude = ["patient"]


@admin.register(Refund)
class RefundAdmin(BranchScopedAdmin):
    list_display = ["id", "refunded", "branch", "kind", "method", "amount", "payment"]
    list_filter = ["kind", "method", ("branch", admin.RelatedOnlyFieldListFilter)]
    readonly_fields = [f.name for f in Refund._meta.fields]


@admin.register(InvoiceAdjustment)
class InvoiceAdjustmentAdmin(BranchScopedAdmin):
    """Discounts and credit notes, read-only: they are made at the desk or through the API."""

    list_display = ["__str__", "created", "branch", "kind", "category", "total_reduction",
                    "invoice"]  # fmt: skip
    list_filter = ["kind", "category", ("branch", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["number", "invoice__number"]
    readonly_fields = [f.name for f in InvoiceAdjustment._meta.fields]
