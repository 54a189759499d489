from django.urls import path

from apps.queue import api, views

api_urlpatterns = [
    path("doctors/me/queue/", api.MyQueueApi.as_view(), name="api-my-queue"),
    path("doctors/me/queue/next/", api.CallNextApi.as_view(), name="api-my-queue-next"),
    path("appointments/<int:pk>/call/", api.ConsultationStepApi.as_view(step="call")),
    path("appointments/<int:pk>/start/", api.ConsultationStepApi.as_view(step="start")),
    path("appointments/<int:pk>/end/", api.ConsultationStepApi.as_view(step="end")),
]

urlpatterns = [
    path("queue/branches/<int:pk>/", views.display, name="queue-display"),
    path("queue/branches/<int:pk>/state/", views.display_state, name="queue-display-state"),
    path("queue/branches/<int:pk>/events/", views.display_events, name="queue-display-events"),
    path("reception/branches/<int:pk>/displays/", views.display_links, name="queue-links"),
    path(
        "reception/branches/<int:pk>/displays/<int:link_id>/revoke/",
        views.display_link_revoke,
        name="queue-link-revoke",
    ),
    path("reception/appointments/<int:pk>/token/", views.token_slip, name="queue-token-slip"),
    path("console/queue/", views.doctor_queue, name="queue-doctor"),
    path("console/queue/next/", views.doctor_queue_action, {"action": "next"}, name="queue-next"),
    path(
        "console/queue/<int:aid>/<str:action>/",
        views.doctor_queue_action,
        name="queue-doctor-action",
    ),
]
