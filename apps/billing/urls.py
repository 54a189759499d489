from django.urls import path

from apps.billing import api

urlpatterns = [
    path("appointments/<int:pk>/payments/", api.PaymentCreateApi.as_view(), name="api-payments"),
    path("appointments/<int:pk>/invoice/", api.InvoiceApi.as_view(), name="api-invoice"),
    path("payments/<int:pk>/refunds/", api.RefundCreateApi.as_view(), name="api-refunds"),
    path("billing/settings/", api.BillingSettingsApi.as_view(), name="api-billing-settings"),
    path("billing/tax-rules/", api.TaxRuleListApi.as_view(), name="api-tax-rules"),
]
