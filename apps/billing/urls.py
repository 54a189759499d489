from django.urls import path

from apps.billing import api

urlpatterns = [
    path("appointments/<int:pk>/payments/", api.PaymentCreateApi.as_view(), name="api-payments"),
    path("appointments/<int:pk>/invoice/", api.InvoiceApi.as_view(), name="api-invoice"),
    path("payments/<int:pk>/refunds/", api.RefundCreateApi.as_view(), name="api-refunds"),
    path(
        "invoices/<int:pk>/discounts/",
        api.DiscountCreateApi.as_view(),
        name="api-invoice-discounts",
    ),
    path(
        "invoices/<int:pk>/lines/<int:line>/withdraw/",
        api.LineWithdrawApi.as_view(),
        name="api-invoice-line-withdraw",
    ),
    path("invoices/<int:pk>/items/", api.ItemCreateApi.as_view(), name="api-invoice-items"),
    path(
        "invoices/<int:pk>/gst-documents/",
        api.GstDocumentsApi.as_view(),
        name="api-invoice-gst-documents",
    ),
    path("gst-documents/<int:pk>/", api.GstDocumentApi.as_view(), name="api-gst-document"),
    path("billing/settings/", api.BillingSettingsApi.as_view(), name="api-billing-settings"),
    path("billing/tax-rules/", api.TaxRuleListApi.as_view(), name="api-tax-rules"),
]
