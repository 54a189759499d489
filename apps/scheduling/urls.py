from django.urls import path

from apps.scheduling import api

urlpatterns = [
    path("doctors/", api.DoctorListApi.as_view(), name="api-doctors"),
    path("doctors/<int:pk>/", api.DoctorDetailApi.as_view(), name="api-doctor"),
    path("doctors/<int:pk>/slots/", api.DoctorSlotsApi.as_view(), name="api-doctor-slots"),
    path("doctors/<int:pk>/day/", api.DoctorDayApi.as_view(), name="api-doctor-day"),
    path("branches/<int:pk>/board/", api.BranchBoardApi.as_view(), name="api-branch-board"),
    path(
        "patients/<int:pk>/upcoming/", api.PatientUpcomingApi.as_view(), name="api-patient-upcoming"
    ),
    path("doctors/<int:pk>/leave/", api.DoctorLeaveApi.as_view(), name="api-doctor-leave"),
    path("branches/<int:pk>/closures/", api.BranchClosureApi.as_view(), name="api-closures"),
    path("patients/", api.PatientListApi.as_view(), name="api-patients"),
    path("patients/search/", api.PatientSearchApi.as_view(), name="api-patient-search"),
    path("patients/<int:pk>/", api.PatientDetailApi.as_view(), name="api-patient"),
    path("patients/<int:pk>/erase/", api.PatientEraseApi.as_view(), name="api-patient-erase"),
    path("appointments/", api.AppointmentListApi.as_view(), name="api-appointments"),
    path("appointments/<int:pk>/", api.AppointmentDetailApi.as_view(), name="api-appointment"),
    path("appointments/<int:pk>/cancel/", api.AppointmentCancelApi.as_view()),
    path("appointments/<int:pk>/reschedule/", api.AppointmentRescheduleApi.as_view()),
    path("appointments/<int:pk>/check-in/", api.AppointmentStepApi.as_view(step="check_in")),
    path("appointments/<int:pk>/complete/", api.AppointmentStepApi.as_view(step="complete")),
    path("appointments/<int:pk>/no-show/", api.AppointmentStepApi.as_view(step="no_show")),
    path(
        "appointments/<int:pk>/undo-no-show/", api.AppointmentStepApi.as_view(step="undo_no_show")
    ),
    path("appointments/<int:pk>/follow-up/", api.AppointmentFollowUpApi.as_view()),
    path("waitlist/", api.WaitlistListApi.as_view(), name="api-waitlist"),
    path("waitlist/<int:pk>/leave/", api.WaitlistLeaveApi.as_view(), name="api-waitlist-leave"),
]
