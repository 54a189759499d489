from django.contrib.auth import views as auth_views
from django.urls import path

from apps.clinic.forms import StaffLoginForm
from apps.reception import live, views

urlpatterns = [
    path(
        "login/",
        auth_views.LoginView.as_view(
            authentication_form=StaffLoginForm, redirect_authenticated_user=True
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("reception/", views.branch_choice, name="reception"),
    path("reception/branches/<int:pk>/", views.branch_home, name="reception-branch"),
    path("reception/appointments/<int:pk>/invoice/", views.invoice_print, name="invoice-print"),
    path("events/branches/<int:branch_id>/", live.branch_events, name="branch-events"),
]
