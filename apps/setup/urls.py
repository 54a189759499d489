from django.urls import path

from apps.setup import views

urlpatterns = [
    path("welcome/<str:token>/", views.welcome, name="welcome"),
    path("setup/", views.overview, name="setup"),
    path("setup/verify-email/", views.verify_email_resend, name="setup-verify-email"),
    path("setup/branches/", views.branches, name="setup-branches"),
    path("setup/branches/new/", views.branch_edit, name="setup-branch-new"),
    path("setup/branches/<int:pk>/", views.branch_edit, name="setup-branch"),
    path("setup/branches/<int:pk>/closures/", views.closures, name="setup-closures"),
    path(
        "setup/branches/<int:pk>/closures/<int:cid>/remove/",
        views.closure_remove,
        name="setup-closure-remove",
    ),
    path("setup/doctors/", views.doctors, name="setup-doctors"),
    path("setup/doctors/new/", views.doctor_edit, name="setup-doctor-new"),
    path("setup/doctors/<int:pk>/", views.doctor_edit, name="setup-doctor"),
    path("setup/doctors/<int:pk>/leave/", views.leave, name="setup-leave"),
    path(
        "setup/doctors/<int:pk>/leave/<int:lid>/remove/",
        views.leave_remove,
        name="setup-leave-remove",
    ),
    path("setup/staff/", views.staff, name="setup-staff"),
    path("setup/staff/<int:pk>/resend/", views.staff_resend, name="setup-staff-resend"),
    path("setup/billing/", views.billing_settings, name="setup-billing"),
    path(
        "invitation/<uidb64>/<token>/",
        views.InvitationAcceptView.as_view(),
        name="invitation-accept",
    ),
    path("password-reset/", views.password_reset, name="password_reset"),
    path("password-reset/sent/", views.password_reset_done, name="password_reset_done"),
    path(
        "password-reset/<uidb64>/<token>/",
        views.password_reset_confirm,
        name="password_reset_confirm",
    ),
    path("password-reset/done/", views.password_reset_complete, name="password_reset_complete"),
]
