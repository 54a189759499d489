from django.urls import path

from apps.clinic import api

urlpatterns = [
    path("auth/token/", api.TokenApi.as_view(), name="api-token"),
    path("auth/me/", api.StaffMeApi.as_view(), name="api-me"),
    path("auth/logout/", api.LogoutApi.as_view(), name="api-logout"),
    path("auth/password/", api.PasswordChangeApi.as_view(), name="api-password"),
    path("branches/", api.BranchListApi.as_view(), name="api-branches"),
    path("branches/<int:pk>/", api.BranchDetailApi.as_view(), name="api-branch"),
    path("staff/", api.StaffListApi.as_view(), name="api-staff"),
]
