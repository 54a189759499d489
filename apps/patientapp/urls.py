from django.urls import path

from apps.patientapp import api

urlpatterns = [
    path("auth/otp/", api.CodeRequestApi.as_view(), name="patient-otp"),
    path("auth/token/", api.SignInApi.as_view(), name="patient-token"),
    path("auth/logout/", api.SignOutApi.as_view(), name="patient-logout"),
    path("me/", api.MeApi.as_view(), name="patient-me"),
    path("appointments/", api.AppointmentListApi.as_view(), name="patient-appointments"),
    path("appointments/<int:pk>/", api.AppointmentDetailApi.as_view(), name="patient-appointment"),
    path("appointments/<int:pk>/cancel/", api.AppointmentCancelApi.as_view()),
    path("appointments/<int:pk>/reschedule/", api.AppointmentRescheduleApi.as_view()),
    path("doctors/", api.DoctorListApi.as_view(), name="patient-doctors"),
    path("doctors/<int:pk>/slots/", api.DoctorSlotsApi.as_view(), name="patient-doctor-slots"),
    path("waitlist/", api.WaitlistApi.as_view(), name="patient-waitlist"),
    path("waitlist/<int:pk>/leave/", api.WaitlistLeaveApi.as_view(), name="patient-waitlist-leave"),
    path("invoices/", api.InvoiceListApi.as_view(), name="patient-invoices"),
    path("invoices/<int:pk>/", api.InvoiceDetailApi.as_view(), name="patient-invoice"),
]
