"""Scheduling API: one thin view per operation (parse, call a command or selector, serialize)."""

from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import QuerySet
from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.audit.trail import record
from apps.clinic.models import WHOLE_TENANT_ROLES, Branch, Role, User
from apps.clinic.permissions import STAFF_ROLES, roles
from apps.clinic.scoping import branch_in_reach, staff_of, visible_branches
from apps.core.api import get_visible
from apps.core.dates import BoundedDateField
from apps.core.errors import NotFound
from apps.core.keys import phone_indexes
from apps.scheduling import commands, read, waitlist
from apps.scheduling.commands import DOCTOR_ADMINS, FRONT_DESK
from apps.scheduling.formats import local_iso
from apps.scheduling.models import Appointment, Doctor, Patient, WaitlistEntry
from apps.scheduling.phones import normalize_phone
from apps.scheduling.selectors import (
    appointments_for,
    booking_parties,
    doctor_in_reach,
    doctors_for,
    on_local_date,
    patients_for,
    patients_of_my_branches,
    upcoming_scope,
    waitlist_for,
)
from apps.scheduling.serializers import (
    AppointmentCommandResultSerializer,
    AppointmentDetailSerializer,
    AppointmentFilterSerializer,
    AppointmentSerializer,
    BoardSerializer,
    BookSerializer,
    CancelSerializer,
    ClosureResultSerializer,
    ClosureSerializer,
    DoctorCreatedSerializer,
    DoctorDaySerializer,
    DoctorFilterSerializer,
    DoctorSerializer,
    LeaveResultSerializer,
    LeaveSerializer,
    PatientCreatedSerializer,
    PatientFilterSerializer,
    PatientRegisterSerializer,
    PatientSerializer,
    PhoneField,
    SlotQuerySerializer,
    SlotSerializer,
    StartSerializer,
    UpcomingSerializer,
    WaitlistCommandResultSerializer,
    WaitlistEntrySerializer,
    WaitlistFilterSerializer,
    WaitlistJoinSerializer,
)
from apps.scheduling.slots import free_slots

StaffReadDoctorAdminsWrite = roles(read=STAFF_ROLES, write=DOCTOR_ADMINS)
StaffReadFrontDeskWrite = roles(read=STAFF_ROLES, write=FRONT_DESK)
# A search by POST reads, so every staff role may make it (as the GET it replaces).
StaffSearch = roles(read=STAFF_ROLES, write=STAFF_ROLES)
FrontDeskOnly = roles(read=FRONT_DESK, write=FRONT_DESK)


def command_result(appointment: Appointment, code: int = status.HTTP_200_OK) -> Response:
    data = AppointmentCommandResultSerializer(appointment).data
    return Response(data, status=code)


@extend_schema_view(
    get=extend_schema(parameters=[DoctorFilterSerializer], tags=["doctors"]),
    post=extend_schema(
        request=DoctorSerializer, responses={201: DoctorCreatedSerializer}, tags=["doctors"]
    ),
)
class DoctorListApi(generics.ListCreateAPIView):
    serializer_class = DoctorSerializer
    permission_classes = [StaffReadDoctorAdminsWrite]

    def get_queryset(self) -> QuerySet[Doctor]:
        filters = DoctorFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        doctors = doctors_for(staff_of(self.request))
        if "branch" in filters.validated_data:
            doctors = doctors.filter(branch_id=filters.validated_data["branch"])
        return doctors

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        actor = staff_of(request)
        branch = get_visible(visible_branches(actor), data["branch_id"], "Branch")
        user = None
        if data.get("user_id") is not None:
            user = get_visible(User.objects.all(), data["user_id"], "Staff member")
        doctor = commands.doctor_add(
            actor=actor,
            branch=branch,
            name=data["name"],
            specialty=data["specialty"],
            slot_minutes=data["slot_minutes"],
            consultation_fee=data["consultation_fee"],
            weekly_hours=[dict(item) for item in data["weekly_hours"]],
            user=user,
        )
        body = {**DoctorSerializer(doctor).data, "position": doctor.position}
        return Response(body, status=status.HTTP_201_CREATED)


class DoctorDetailApi(generics.RetrieveAPIView):
    serializer_class = DoctorSerializer

    def get_queryset(self) -> QuerySet[Doctor]:
        return doctors_for(staff_of(self.request))


class DoctorSlotsApi(APIView):
    @extend_schema(
        parameters=[SlotQuerySerializer],
        responses={200: SlotSerializer(many=True)},
        tags=["doctors"],
    )
    def get(self, request: Request, pk: int) -> Response:
        doctor = get_visible(doctors_for(staff_of(request)), pk, "Doctor")
        return Response(free_slots_of(doctor, request))


def free_slots_of(
    doctor: Doctor, request: Request, patient: Patient | None = None
) -> list[dict[str, str]]:
    """The doctor's free slots on the request's `?date=`, in the branch's timezone; with a
    `patient`, slots held for that patient (a waitlist offer) count as free."""
    query = SlotQuerySerializer(data=request.query_params)
    query.is_valid(raise_exception=True)
    zone = doctor.branch.timezone
    return [
        {"start": local_iso(slot.start, zone), "end": local_iso(slot.end, zone)}
        for slot in free_slots(doctor, query.validated_data["date"], patient=patient)
    ]


class DoctorLeaveApi(APIView):
    permission_classes = [roles(read=DOCTOR_ADMINS, write=DOCTOR_ADMINS)]

    @extend_schema(
        request=LeaveSerializer, responses={201: LeaveResultSerializer}, tags=["doctors"]
    )
    def post(self, request: Request, pk: int) -> Response:
        actor = staff_of(request)
        doctor = get_visible(doctors_for(actor), pk, "Doctor")
        serializer = LeaveSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        leave = commands.doctor_leave_grant(actor=actor, doctor=doctor, **serializer.validated_data)
        body = {
            "id": leave.pk,
            "doctor": doctor.pk,
            **serializer.data,
            "position": leave.position,
        }
        return Response(body, status=status.HTTP_201_CREATED)


class BranchClosureApi(APIView):
    permission_classes = [roles(read=DOCTOR_ADMINS, write=DOCTOR_ADMINS)]

    @extend_schema(
        request=ClosureSerializer, responses={201: ClosureResultSerializer}, tags=["branches"]
    )
    def post(self, request: Request, pk: int) -> Response:
        actor = staff_of(request)
        branch: Branch = get_visible(visible_branches(actor), pk, "Branch")
        serializer = ClosureSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        closure = commands.branch_closure_add(
            actor=actor,
            branch=branch,
            day=serializer.validated_data["date"],
            reason=serializer.validated_data["reason"],
        )
        body = {
            "id": closure.pk,
            "branch": branch.pk,
            **serializer.data,
            "position": closure.position,
        }
        return Response(body, status=status.HTTP_201_CREATED)


# The largest page of patients a listing without a search may ask for.
BROWSE_PAGE_SIZE = 50


@extend_schema_view(
    get=extend_schema(parameters=[PatientFilterSerializer], tags=["patients"]),
    post=extend_schema(
        request=PatientRegisterSerializer,
        responses={201: PatientCreatedSerializer},
        tags=["patients"],
    ),
)
class PatientListApi(generics.ListCreateAPIView):
    serializer_class = PatientSerializer
    permission_classes = [StaffReadFrontDeskWrite]

    def get_queryset(self) -> QuerySet[Patient]:
        user = staff_of(self.request)
        filters = PatientFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        phone = filters.validated_data.get("phone")
        if phone is not None:
            return patients_for(user).filter(phone_index__in=phone_indexes(normalize_phone(phone)))
        return patients_of_my_branches(user)

    def paginate_queryset(self, queryset: Any) -> Any:
        # Browsing without a search is a bulk read of PHI: smaller pages, one audit entry each.
        if "phone" not in self.request.query_params:
            self.paginator.max_page_size = BROWSE_PAGE_SIZE  # type: ignore[union-attr]
        return super().paginate_queryset(queryset)

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response = super().list(request, *args, **kwargs)
        record(
            "patient.search" if "phone" in request.query_params else "patient.list",
            actor=staff_of(request),
            detail={"patients": [row["id"] for row in response.data["results"]]},
        )
        return response

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = PatientRegisterSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        actor = staff_of(request)
        branch = None
        if data.get("registered_branch_id") is not None:
            branch = get_visible(visible_branches(actor), data["registered_branch_id"], "Branch")
        patient = commands.patient_register(
            actor=actor,
            name=data["name"],
            phone=data["phone"],
            date_of_birth=data.get("date_of_birth"),
            address=data.get("address", ""),
            notes=data.get("notes", ""),
            branch=branch,
            email=data.get("email") or "",
            language=data.get("language", "en"),
            abha_number=data.get("abha_number") or "",
        )
        body = {**PatientSerializer(patient).data, "position": patient.position}
        return Response(body, status=status.HTTP_201_CREATED)


class PatientSearchRequestSerializer(serializers.Serializer):
    phone = PhoneField()


class PatientSearchResultSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    results = PatientSerializer(many=True)


class PatientSearchApi(APIView):
    """Finds patients by phone with the number in the body, not the URL (where proxies,
    browsers and logs would keep it). Same answer and audit as `GET /patients/?phone=`."""

    permission_classes = [StaffSearch]

    @extend_schema(
        request=PatientSearchRequestSerializer,
        responses={200: PatientSearchResultSerializer},
        tags=["patients"],
        summary="Find patients by phone (the number in the body)",
    )
    def post(self, request: Request) -> Response:
        body = PatientSearchRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        user = staff_of(request)
        found = list(
            patients_for(user).filter(
                phone_index__in=phone_indexes(normalize_phone(body.validated_data["phone"]))
            )
        )
        record("patient.search", actor=user, detail={"patients": [p.pk for p in found]})
        return Response({"count": len(found), "results": PatientSerializer(found, many=True).data})


class PatientDetailApi(generics.RetrieveAPIView):
    serializer_class = PatientSerializer

    def get_queryset(self) -> QuerySet[Patient]:
        return patients_for(staff_of(self.request))

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response = super().retrieve(request, *args, **kwargs)
        record("patient.read", actor=staff_of(request), target=f"patient:{kwargs['pk']}")
        return response


@extend_schema_view(
    get=extend_schema(parameters=[AppointmentFilterSerializer], tags=["appointments"]),
    post=extend_schema(
        request=BookSerializer,
        responses={201: AppointmentCommandResultSerializer},
        tags=["appointments"],
        summary="Book a free slot",
        description="409 when the slot is taken or outside working hours, or (with "
        "`confirm_duplicate: false`) the patient already has a live visit with this doctor "
        "that day: `{detail, code: duplicate_visit, existing}`.",
    ),
)
class AppointmentListApi(generics.ListCreateAPIView):
    serializer_class = AppointmentSerializer
    permission_classes = [StaffReadFrontDeskWrite]

    def get_queryset(self) -> QuerySet[Appointment]:
        user = staff_of(self.request)
        filters = AppointmentFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        wanted = filters.validated_data
        appointments = appointments_for(user)
        if "date" in wanted:
            appointments = on_local_date(appointments, user, wanted["date"])
        for name in ("doctor", "branch", "patient", "status"):
            if name in wanted:
                field = name if name == "status" else f"{name}_id"
                appointments = appointments.filter(**{field: wanted[name]})
        return appointments

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = BookSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        actor = staff_of(request)
        doctor, patient = booking_parties(actor, data["doctor"], data["patient"])
        appointment = commands.appointment_book(
            actor=actor,
            doctor=doctor,
            patient=patient,
            start=data["start"],
            confirm_duplicate=data["confirm_duplicate"],
        )
        return command_result(appointment, status.HTTP_201_CREATED)


class AppointmentDetailApi(generics.RetrieveAPIView):
    serializer_class = AppointmentDetailSerializer

    def get_queryset(self) -> QuerySet[Appointment]:
        return appointments_for(staff_of(self.request))


class AppointmentCommandApi(APIView):
    """Base of the transition endpoints: finds the appointment within the caller's reach."""

    # Then validates the body (`body`, none when None), runs the command (`run`) and answers
    # with the appointment it returns (201 when the command `creates` one). The docstring
    # above is every subclass's description in the OpenAPI document.

    body: type[serializers.Serializer] | None = None
    creates = False

    def appointment(self, request: Request, pk: int) -> Appointment:
        return get_visible(appointments_for(staff_of(request)), pk, "Appointment")

    def run(self, request: Request, appointment: Appointment, data: dict[str, Any]) -> Appointment:
        raise NotImplementedError

    def post(self, request: Request, pk: int) -> Response:
        appointment = self.appointment(request, pk)
        data: dict[str, Any] = {}
        if self.body is not None:
            serializer = self.body(data=request.data)
            serializer.is_valid(raise_exception=True)
            data = serializer.validated_data
        code = status.HTTP_201_CREATED if self.creates else status.HTTP_200_OK
        return command_result(self.run(request, appointment, data), code)


@extend_schema(
    request=CancelSerializer,
    responses={200: AppointmentCommandResultSerializer},
    tags=["appointments"],
)
class AppointmentCancelApi(AppointmentCommandApi):
    permission_classes = [FrontDeskOnly]
    body = CancelSerializer

    def run(self, request: Request, appointment: Appointment, data: dict[str, Any]) -> Appointment:
        return commands.appointment_cancel(
            actor=staff_of(request), appointment=appointment, reason=data["reason"]
        )


@extend_schema(
    request=StartSerializer,
    responses={200: AppointmentCommandResultSerializer},
    tags=["appointments"],
)
class AppointmentRescheduleApi(AppointmentCommandApi):
    permission_classes = [FrontDeskOnly]
    body = StartSerializer

    def run(self, request: Request, appointment: Appointment, data: dict[str, Any]) -> Appointment:
        return commands.appointment_reschedule(
            actor=staff_of(request), appointment=appointment, start=data["start"]
        )


@extend_schema(
    request=StartSerializer,
    responses={201: AppointmentCommandResultSerializer},
    tags=["appointments"],
)
class AppointmentFollowUpApi(AppointmentCommandApi):
    permission_classes = [FrontDeskOnly]
    body = StartSerializer
    creates = True

    def run(self, request: Request, appointment: Appointment, data: dict[str, Any]) -> Appointment:
        return commands.appointment_follow_up(
            actor=staff_of(request), appointment=appointment, start=data["start"]
        )


@extend_schema(
    request=None, responses={200: AppointmentCommandResultSerializer}, tags=["appointments"]
)
class AppointmentStepApi(AppointmentCommandApi):
    """Check in, complete, mark or undo a no-show: one step of the visit state machine
    (`step`, given in the URL conf), with no body."""

    step = ""

    def run(self, request: Request, appointment: Appointment, data: dict[str, Any]) -> Appointment:
        return commands.VISIT_STEPS[self.step](actor=staff_of(request), appointment=appointment)


class DayQuerySerializer(serializers.Serializer):
    date = BoundedDateField(required=False)


# A query string's day as `DayQuerySerializer` reads it, kept per process: the same few query
# strings (today's, tomorrow's) come with every read of a day or a board, and building the
# serializer cost more than the rest of a cached read's view. The answer depends on the string
# alone; only strings that passed are kept (a refusal is checked again), at most DAYS_KEPT.
DAYS_KEPT = 1024
_days_asked: dict[str, date | None] = {}


def _day(request: Request, zone: str) -> date:
    asked = str(request.META.get("QUERY_STRING", ""))
    if asked in _days_asked:
        day = _days_asked[asked]
    else:
        query = DayQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        day = query.validated_data.get("date")
        if len(_days_asked) >= DAYS_KEPT:
            _days_asked.clear()
        _days_asked[asked] = day
    return day or timezone.now().astimezone(ZoneInfo(zone)).date()


class DoctorDayApi(APIView):
    """A doctor's day from the read model; a doctor may read only their own."""

    @extend_schema(
        parameters=[DayQuerySerializer], responses={200: DoctorDaySerializer}, tags=["doctors"]
    )
    def get(self, request: Request, pk: int) -> HttpResponse:
        user = staff_of(request)
        doctor = doctor_in_reach(user, pk)
        if user.role == Role.DOCTOR and doctor.user_id != user.pk:
            raise NotFound("Doctor not found.")
        day = _day(request, doctor.branch.timezone)
        return HttpResponse(read.doctor_day_json(doctor, day), content_type="application/json")


class BranchBoardApi(APIView):
    permission_classes = [FrontDeskOnly]

    @extend_schema(
        parameters=[DayQuerySerializer], responses={200: BoardSerializer}, tags=["branches"]
    )
    def get(self, request: Request, pk: int) -> HttpResponse:
        branch = branch_in_reach(staff_of(request), pk)
        day = _day(request, branch.timezone)
        return HttpResponse(read.branch_board_json(branch, day), content_type="application/json")


class PatientEraseApi(APIView):
    permission_classes = [roles(read=WHOLE_TENANT_ROLES, write=WHOLE_TENANT_ROLES)]

    @extend_schema(request=None, responses={200: PatientCreatedSerializer}, tags=["patients"])
    def post(self, request: Request, pk: int) -> Response:
        actor = staff_of(request)
        patient = commands.patient_erase(
            actor=actor, patient=get_visible(patients_for(actor), pk, "Patient")
        )
        return Response({**PatientSerializer(patient).data, "position": patient.position})


class PatientUpcomingApi(APIView):
    @extend_schema(responses={200: UpcomingSerializer}, tags=["patients"])
    def get(self, request: Request, pk: int) -> Response:
        user = staff_of(request)
        patient = get_visible(patients_for(user), pk, "Patient")
        return Response(read.patient_upcoming(patient.pk, **upcoming_scope(user)))


WaitlistStaff = roles(read=waitlist.WAITLIST_STAFF, write=waitlist.WAITLIST_STAFF)


def waitlist_result(entry: WaitlistEntry, code: int = status.HTTP_200_OK) -> Response:
    """The entry as a waitlist command left it, with the position of its last event."""
    return Response({**WaitlistEntrySerializer(entry).data, "position": entry.position}, code)


class WaitlistListApi(generics.ListCreateAPIView):
    serializer_class = WaitlistEntrySerializer
    permission_classes = [WaitlistStaff]

    @extend_schema(parameters=[WaitlistFilterSerializer], tags=["waitlist"])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[WaitlistEntry]:
        filters = WaitlistFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        wanted = filters.validated_data
        entries = waitlist_for(staff_of(self.request))
        if "doctor" in wanted:
            entries = entries.filter(doctor_id=wanted["doctor"])
        if "date" in wanted:
            entries = entries.filter(date=wanted["date"])
        if "status" in wanted:
            entries = entries.filter(status=wanted["status"])
        return entries

    @extend_schema(
        request=WaitlistJoinSerializer,
        responses={201: WaitlistCommandResultSerializer},
        tags=["waitlist"],
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = WaitlistJoinSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        actor = staff_of(request)
        entry = waitlist.waitlist_join(
            actor=actor,
            doctor=get_visible(doctors_for(actor), data["doctor"], "Doctor"),
            patient=get_visible(patients_for(actor), data["patient"], "Patient"),
            day=data["date"],
        )
        return waitlist_result(entry, status.HTTP_201_CREATED)


class WaitlistLeaveApi(APIView):
    permission_classes = [WaitlistStaff]

    @extend_schema(
        request=None, responses={200: WaitlistCommandResultSerializer}, tags=["waitlist"]
    )
    def post(self, request: Request, pk: int) -> Response:
        actor = staff_of(request)
        entry = get_visible(waitlist_for(actor), pk, "Waitlist entry")
        return waitlist_result(waitlist.waitlist_leave(actor=actor, entry=entry))
