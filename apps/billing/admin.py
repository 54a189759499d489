"""Invoices and payments in the admin: read-only (money changes only through commands)."""

from django.contrib import admin

from apps.billing.models import Invoice, Payment, Refund
from apps.clinic.admin import BranchScopedAdmin


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
    list_display = ["id", "refunded", "branch", "method", "amount", "payment"]
    list_filter = ["method", ("branch", admin.RelatedOnlyFieldListFilter)]
    readonly_fields = [f.name for f in Refund._meta.fields]
