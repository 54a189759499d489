"""The patient app's API on a tenant host: sign-in by SMS code, then the patient's own
visits, bookable doctors and their free slots, and the patient's invoices.

Patient endpoints accept only patient tokens, and staff endpoints only staff tokens. A visit
or invoice that is not the patient's own answers 404, exactly like an unknown id.
"""

from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.permissions import AllowAny, BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.audit.trail import record
from apps.billing.models import Invoice
from apps.billing.selectors import invoice_view
from apps.clinic import signin
from apps.core.api import Pagination, get_visible
from apps.core.errors import DomainError, InvalidInput
from apps.core.keys import phone_index
from apps.core.throttling import AnonThrottle
from apps.patientapp import auth, commands
from apps.patientapp.models import PatientToken
from apps.patientapp.selectors import (
    bookable_doctors,
    own_appointments,
    own_invoices,
    own_patient,
    own_waitlist,
)
from apps.patientapp.serializers import (
    BookableDoctorSerializer,
    CodeRequestSerializer,
    CodeSentSerializer,
    DoctorFilterSerializer,
    MeSerializer,
    PatientBookSerializer,
    PatientCancelSerializer,
    PatientInvoiceSerializer,
    PatientWaitlistJoinSerializer,
    SignedInSerializer,
    SignInSerializer,
)
from apps.patientapp.tasks import queue_code_request
from apps.patientapp.throttling import (
    CodeRequestAddressThrottle,
    CodeRequestPhoneThrottle,
    PatientThrottle,
    SignInAddressThrottle,
    SignInPhoneThrottle,
)
from apps.scheduling import waitlist
from apps.scheduling.actors import PatientActor
from apps.scheduling.api import AppointmentCommandApi, free_slots_of, waitlist_result
from apps.scheduling.models import Appointment, Doctor, WaitlistEntry
from apps.scheduling.phones import normalize_phone
from apps.scheduling.serializers import (
    AppointmentCommandResultSerializer,
    AppointmentSerializer,
    SlotQuerySerializer,
    SlotSerializer,
    StartSerializer,
    WaitlistCommandResultSerializer,
    WaitlistEntrySerializer,
)

TAGS = ["patient app"]
CODE_SENT = "If this number belongs to a patient of the clinic, a code is on its way by SMS."
SIGN_IN_FAILED = "This code is wrong or has expired. Ask for a new one."


class IsPatient(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.user, PatientActor)


def patient_of(request: Request) -> PatientActor:
    user = request.user
    if not isinstance(user, PatientActor):
        raise PermissionError("This view needs a signed-in patient.")
    return user


class PatientView(APIView):
    """Authentication, permission and throttle of every signed-in patient endpoint."""

    authentication_classes = [auth.PatientTokenAuthentication]
    permission_classes = [IsPatient]
    throttle_classes = [PatientThrottle]


class CodeRequestApi(APIView):
    authentication_classes: list[type] = []
    permission_classes = [AllowAny]
    throttle_classes = [AnonThrottle, CodeRequestAddressThrottle, CodeRequestPhoneThrottle]

    @extend_schema(
        request=CodeRequestSerializer,
        responses={202: CodeSentSerializer},
        tags=TAGS,
        summary="Send a sign-in code by SMS (the same answer for any valid phone number)",
    )
    def post(self, request: Request) -> Response:
        serializer = CodeRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        queue_code_request(normalize_phone(serializer.validated_data["phone"]))
        return Response(
            {"detail": CODE_SENT, "expires_in": settings.MYMEDIC_PATIENT_CODE_TTL_SECONDS},
            status=status.HTTP_202_ACCEPTED,
        )


class SignInApi(APIView):
    authentication_classes: list[type] = []
    permission_classes = [AllowAny]
    throttle_classes = [AnonThrottle, SignInAddressThrottle, SignInPhoneThrottle]

    @extend_schema(
        request=SignInSerializer, responses={200: SignedInSerializer}, tags=TAGS,
        summary="Exchange the SMS code for a patient token",
    )  # fmt: skip
    def post(self, request: Request) -> Response:
        serializer = SignInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            phone = normalize_phone(data["phone"])
        except DomainError as exc:
            raise InvalidInput(SIGN_IN_FAILED) from exc
        account = f"patient:{phone_index(phone)}"  # keyed hash: no phone number in Redis
        try:
            signin.guard(request, account)
        except signin.LockedOut as exc:
            return Response(
                {"detail": str(exc)},
                status=status.HTTP_429_TOO_MANY_REQUESTS,
                headers={"Retry-After": str(exc.seconds)},
            )
        patient = auth.verify_code(phone, data["code"].strip())
        if patient is None:
            signin.failed(request, account)
            record("patient.login.failed")  # no phone: it may name someone who is no patient
            raise InvalidInput(SIGN_IN_FAILED)
        signin.succeeded(account)
        token = auth.issue_token(patient)
        return Response(
            {"token": token, "patient": {"id": patient.pk, "name": patient.name}},
            headers={"Cache-Control": "no-store"},
        )


class SignOutApi(PatientView):
    @extend_schema(request=None, responses={204: None}, tags=TAGS, summary="Revoke this token")
    def post(self, request: Request) -> Response:
        token = request.auth
        if not isinstance(token, PatientToken):
            raise PermissionError("This view needs a patient token.")
        auth.revoke_token(token)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeApi(PatientView):
    @extend_schema(responses={200: MeSerializer}, tags=TAGS)
    def get(self, request: Request) -> Response:
        actor = patient_of(request)
        patient = own_patient(actor)
        record("patient.read", actor=actor, target=f"patient:{patient.pk}")
        return Response(
            MeSerializer(
                {
                    "id": patient.pk,
                    "name": patient.name,
                    "phone": patient.phone,
                    "date_of_birth": patient.date_of_birth,
                }
            ).data
        )


class AppointmentListApi(PatientView, generics.ListAPIView):
    serializer_class = AppointmentSerializer
    pagination_class = Pagination

    def get_queryset(self) -> QuerySet[Appointment]:
        return own_appointments(patient_of(self.request)).order_by("-start", "-id")

    @extend_schema(
        request=PatientBookSerializer,
        responses={201: AppointmentCommandResultSerializer},
        tags=TAGS,
        summary="Book a free slot for the signed-in patient",
    )
    def post(self, request: Request) -> Response:
        serializer = PatientBookSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        appointment = commands.patient_appointment_book(
            actor=patient_of(request),
            doctor=get_visible(bookable_doctors(), data["doctor"], "Doctor"),
            start=data["start"],
        )
        body = AppointmentCommandResultSerializer(appointment).data
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(tags=TAGS)
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class AppointmentDetailApi(PatientView, generics.RetrieveAPIView):
    serializer_class = AppointmentSerializer

    def get_queryset(self) -> QuerySet[Appointment]:
        return own_appointments(patient_of(self.request))

    @extend_schema(tags=TAGS)
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class PatientAppointmentCommandApi(PatientView, AppointmentCommandApi):
    # A transition of one of the signed-in patient's own appointments (no docstring: its
    # subclasses keep PatientView's description in the OpenAPI document).

    def appointment(self, request: Request, pk: int) -> Appointment:
        return get_visible(own_appointments(patient_of(request)), pk, "Appointment")


@extend_schema(
    request=PatientCancelSerializer,
    responses={200: AppointmentCommandResultSerializer},
    tags=TAGS,
)
class AppointmentCancelApi(PatientAppointmentCommandApi):
    body = PatientCancelSerializer

    def run(self, request: Request, appointment: Appointment, data: dict[str, Any]) -> Appointment:
        return commands.patient_appointment_cancel(
            actor=patient_of(request), appointment=appointment, reason=data["reason"]
        )


@extend_schema(
    request=StartSerializer, responses={200: AppointmentCommandResultSerializer}, tags=TAGS
)
class AppointmentRescheduleApi(PatientAppointmentCommandApi):
    body = StartSerializer

    def run(self, request: Request, appointment: Appointment, data: dict[str, Any]) -> Appointment:
        return commands.patient_appointment_reschedule(
            actor=patient_of(request), appointment=appointment, start=data["start"]
        )


class DoctorListApi(PatientView, generics.ListAPIView):
    serializer_class = BookableDoctorSerializer
    pagination_class = Pagination

    def get_queryset(self) -> QuerySet[Doctor]:
        query = DoctorFilterSerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        doctors = bookable_doctors()
        if "branch" in query.validated_data:
            doctors = doctors.filter(branch_id=query.validated_data["branch"])
        return doctors

    @extend_schema(parameters=[DoctorFilterSerializer], tags=TAGS)
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class DoctorSlotsApi(PatientView):
    @extend_schema(
        parameters=[SlotQuerySerializer], responses={200: SlotSerializer(many=True)}, tags=TAGS
    )
    def get(self, request: Request, pk: int) -> Response:
        doctor = get_visible(bookable_doctors(), pk, "Doctor")
        patient = own_patient(patient_of(request))
        return Response(free_slots_of(doctor, request, patient=patient))


class WaitlistApi(PatientView, generics.ListAPIView):
    """The patient's places on doctors' waitlists; an offered one carries its held slot,
    which the patient takes by booking it (`POST /api/v1/patient/appointments/`)."""

    serializer_class = WaitlistEntrySerializer
    pagination_class = Pagination

    def get_queryset(self) -> QuerySet[WaitlistEntry]:
        return own_waitlist(patient_of(self.request))

    @extend_schema(
        request=PatientWaitlistJoinSerializer,
        responses={201: WaitlistCommandResultSerializer},
        tags=TAGS,
        summary="Join a doctor's waitlist for a day",
    )
    def post(self, request: Request) -> Response:
        serializer = PatientWaitlistJoinSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        actor = patient_of(request)
        entry = waitlist.waitlist_join(
            actor=actor,
            doctor=get_visible(bookable_doctors(), data["doctor"], "Doctor"),
            patient=own_patient(actor),
            day=data["date"],
        )
        return waitlist_result(entry, status.HTTP_201_CREATED)


class WaitlistLeaveApi(PatientView):
    @extend_schema(request=None, responses={200: WaitlistCommandResultSerializer}, tags=TAGS)
    def post(self, request: Request, pk: int) -> Response:
        actor = patient_of(request)
        entry = get_visible(own_waitlist(actor), pk, "Waitlist entry")
        return waitlist_result(waitlist.waitlist_leave(actor=actor, entry=entry))


def _invoice_body(invoice: Invoice) -> dict[str, Any]:
    return {"id": invoice.pk, "appointment": invoice.appointment_id,
            **invoice_view(invoice.appointment)}  # fmt: skip


class InvoiceListApi(PatientView, generics.ListAPIView):
    serializer_class = PatientInvoiceSerializer
    pagination_class = Pagination

    def get_queryset(self) -> QuerySet[Invoice]:
        return own_invoices(patient_of(self.request))

    @extend_schema(tags=TAGS)
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        rows = [_invoice_body(invoice) for invoice in page or []]
        return self.get_paginated_response(PatientInvoiceSerializer(rows, many=True).data)


class InvoiceDetailApi(PatientView):
    @extend_schema(responses={200: PatientInvoiceSerializer}, tags=TAGS)
    def get(self, request: Request, pk: int) -> Response:
        invoice = get_visible(own_invoices(patient_of(request)), pk, "Invoice")
        return Response(PatientInvoiceSerializer(_invoice_body(invoice)).data)
