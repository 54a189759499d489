from django.urls import path

from apps.settlements import api, views

urlpatterns = [
    path(
        "api/v1/payments/webhooks/razorpay/",
        api.RazorpayWebhookApi.as_view(),
        name="api-razorpay-webhook",
    ),
    path("api/v1/settlements/", api.SettlementListApi.as_view(), name="api-settlement-list"),
    path(
        "api/v1/settlements/gateway-files/",
        api.GatewayFileApi.as_view(),
        name="api-settlement-gateway-files",
    ),
    path(
        "api/v1/settlements/bank-statements/",
        api.BankStatementApi.as_view(),
        name="api-settlement-bank-statements",
    ),
    path(
        "api/v1/settlements/exceptions/",
        api.ExceptionListApi.as_view(),
        name="api-settlement-exceptions",
    ),
    path(
        "api/v1/settlements/exceptions/<int:pk>/resolve/",
        api.ExceptionResolveApi.as_view(),
        name="api-settlement-exception-resolve",
    ),
    path("reception/settlements/", views.queue, name="settlements"),
    path(
        "reception/settlements/exceptions/<int:pk>/resolve/",
        views.resolve,
        name="settlements-resolve",
    ),
]
