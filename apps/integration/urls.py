from django.urls import path

from apps.integration import api

urlpatterns = [
    path("channels/", api.ChannelListApi.as_view(), name="api-hl7-channels"),
    path("channels/<int:pk>/mappings/", api.MappingListApi.as_view(), name="api-hl7-mappings"),
    path(
        "channels/<int:pk>/mappings/<int:number>/test/",
        api.MappingTestApi.as_view(),
        name="api-hl7-mapping-test",
    ),
    path(
        "channels/<int:pk>/mappings/<int:number>/activate/",
        api.MappingActivateApi.as_view(),
        name="api-hl7-mapping-activate",
    ),
    path("messages/", api.MessageListApi.as_view(), name="api-hl7-messages"),
    path(
        "messages/<int:pk>/reprocess/",
        api.MessageReprocessApi.as_view(),
        name="api-hl7-message-reprocess",
    ),
]
