from django.urls import path

from apps.notifications import api

urlpatterns = [
    path("dead-letter/", api.DeadLetterListApi.as_view(), name="api-dead-letter"),
    path("<int:pk>/retry/", api.DeliveryRetryApi.as_view(), name="api-notification-retry"),
]
