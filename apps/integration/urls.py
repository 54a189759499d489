from django.urls import path

from apps.integration import api

urlpatterns = [
    path("channels/", api.ChannelListApi.as_view(), name="api-hl7-channels"),
    path("messages/", api.MessageListApi.as_view(), name="api-hl7-messages"),
    path(
        "messages/<int:pk>/reprocess/",
        api.MessageReprocessApi.as_view(),
        name="api-hl7-message-reprocess",
    ),
]
