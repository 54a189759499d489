"""Invoices and payments in the admin: read-only (money changes only through commands)."""

import re
from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from apps.billing import commands, gst, gstr1
from apps.billing.models import (
    BillingSettings,
    GstDocument,
    GstRate,
    GstSupplier,
    Invoice,
    InvoiceAdjustment,
    Payment,
    Refund,
)
from apps.clinic.admin import (
    BranchScopedAdmin,
    RoleAdmin,
    TenantSettingsAdmin,
    clinic_time_column,
    money_column,
)
from apps.clinic.policy import MANAGERS
from apps.clinic.scoping import staff_of
from apps.core import clinictime

GSTR1_MONTH = re.compile(r"^(19|2[01])[0-9]{2}-(0[1-9]|1[0-2])$")


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


@admin.register(GstSupplier)
class GstSupplierAdmin(RoleAdmin):
    """The GST registrations documents are issued under: the tenant's, and any branch's own."""

    list_display = ["legal_name", "gstin", "branch", "address"]
    fields = ["branch", "legal_name", "gstin", "address"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return ["branch"] if obj is not None else []

    def save_model(self, request: HttpRequest, obj: GstSupplier, form: Any, change: bool) -> None:
        saved = commands.gst_supplier_set(
            actor=staff_of(request),
            legal_name=obj.legal_name,
            gstin=obj.gstin,
            address=obj.address,
            branch=obj.branch,
        )
        obj.pk = saved.pk


@admin.register(GstRate)
class GstRateAdmin(RoleAdmin):
    """A tenant's own dated GST rates, on top of the defaults (docs/BILLING-GST.md); a new
    rate is a new row from a later date, never an edit."""

    list_display = ["category", "rate", "taxable_above", "effective_from", "created"]
    list_filter = ["category"]
    fields = ["category", "rate", "taxable_above", "effective_from"]

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form = super().get_form(request, obj, change, **kwargs)
        if "category" in form.base_fields:
            form.base_fields["category"] = forms.ChoiceField(choices=gst.CATEGORY_CHOICES)
        return form

    def save_model(self, request: HttpRequest, obj: GstRate, form: Any, change: bool) -> None:
        saved = commands.gst_rate_add(
            actor=staff_of(request),
            category=obj.category,
            rate=obj.rate,
            effective_from=obj.effective_from,
            taxable_above=obj.taxable_above,
        )
        obj.pk = saved.pk


@admin.register(GstDocument)
class GstDocumentAdmin(BranchScopedAdmin):
    """Issued GST documents, read-only; the month's GSTR-1 summary downloads from here."""

    list_display = ["number", "date", "kind", "branch", "taxable", "cgst", "sgst", "igst", "total"]
    list_select_related = ["branch"]
    list_filter = ["kind", ("branch", admin.RelatedOnlyFieldListFilter)]
    date_hierarchy = "date"
    ordering = ["-date", "-id"]
    search_fields = ["number"]
    readonly_fields = (
        "number",
        "date",
        "kind",
        "branch",
        "supplier_gstin",
        "place_of_supply",
        "recipient_gstin",
        "original",
        "taxable",
        "cgst",
        "sgst",
        "igst",
        "total",
        "invoice",
    )
    fields = readonly_fields
    change_list_template = "admin/billing/gstdocument/change_list.html"

    def get_urls(self) -> list[Any]:
        view = self.admin_site.admin_view
        return [path("gstr1/", view(self.gstr1_view), name="billing_gstr1"), *super().get_urls()]

    def gstr1_view(self, request: HttpRequest) -> HttpResponse:
        """The month's GSTR-1 summary of the whole tenant as CSV (owners and managers)."""
        if getattr(request.user, "role", None) not in MANAGERS:
            raise PermissionDenied
        month = request.GET.get("month", "")
        if not GSTR1_MONTH.match(month):
            return render(
                request,
                "admin/billing/gstr1.html",
                {
                    **self.admin_site.each_context(request),
                    "title": "GSTR-1 outward supplies",
                    "month": timezone.localdate().strftime("%Y-%m"),
                    "opts": self.model._meta,
                },
            )
        response = HttpResponse(gstr1.month_csv(month), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="gstr1-{month}.csv"'
        return response
