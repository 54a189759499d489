from django.contrib.auth import views as auth_views
from django.urls import path

from apps.board import views as board
from apps.clinic.forms import StaffLoginForm
from apps.clinic.language import in_visitors_language
from apps.reception import console, desk, gst, live, views

urlpatterns = [
    path(
        "login/",
        in_visitors_language(
            auth_views.LoginView.as_view(
                authentication_form=StaffLoginForm, redirect_authenticated_user=True
            )
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("reception/", views.branch_choice, name="reception"),
    path("reception/branches/<int:pk>/", console.board, name="reception-branch"),
    path("reception/branches/<int:pk>/doctors/", board.doctors, name="reception-doctors"),
    path("reception/branches/<int:pk>/patients/", console.patients, name="reception-patients"),
    path("reception/branches/<int:pk>/book/", console.book, name="reception-book"),
    path("reception/branches/<int:pk>/calendar/", desk.calendar, name="reception-calendar"),
    path("reception/branches/<int:pk>/patients/<int:pid>/", desk.patient, name="reception-patient"),
    path("reception/branches/<int:pk>/appointments/<int:aid>/", desk.visit, name="reception-visit"),
    path("reception/branches/<int:pk>/declare/", console.declare, name="reception-declare"),
    path(
        "reception/branches/<int:pk>/appointments/<int:aid>/pay/",
        console.pay,
        name="reception-pay",
    ),
    path(
        "reception/branches/<int:pk>/appointments/<int:aid>/reschedule/",
        console.reschedule,
        name="reception-reschedule",
    ),
    path(
        "reception/branches/<int:pk>/appointments/<int:aid>/gst/",
        gst.visit_gst,
        name="reception-visit-gst",
    ),
    path(
        "reception/branches/<int:pk>/appointments/<int:aid>/<str:action>/",
        console.appointment_action,
        name="reception-action",
    ),
    path("reception/appointments/<int:pk>/invoice/", views.invoice_print, name="invoice-print"),
    path("reception/gst-documents/<int:pk>/", gst.gst_document_print, name="gst-document-print"),
    path("events/branches/<int:branch_id>/", live.branch_events, name="branch-events"),
]
