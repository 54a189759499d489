from django.urls import path

from apps.reconciliation import api

urlpatterns = [
    path("declarations/", api.DeclarationApi.as_view(), name="api-declarations"),
    path("settlements/", api.SettlementImportApi.as_view(), name="api-settlements"),
    path("run/", api.RunApi.as_view(), name="api-reconciliation-run"),
    path("daily/", api.DailyApi.as_view(), name="api-daily"),
    path("daily/sign-off/", api.SignOffApi.as_view(), name="api-sign-off"),
    path("weekly/", api.WeeklyApi.as_view(), name="api-weekly"),
    path("monthly/", api.MonthlyApi.as_view(), name="api-monthly"),
    path("analytics/", api.AnalyticsApi.as_view(), name="api-analytics"),
]
