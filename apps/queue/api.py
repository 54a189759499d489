"""Queue API for the doctor app: my queue, call next, and call / start / end one visit."""

from collections.abc import Callable

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.clinic.models import Role
from apps.clinic.permissions import roles
from apps.clinic.scoping import staff_of
from apps.core.api import get_visible
from apps.core.errors import NotFound
from apps.eventstore.projections import catch_up
from apps.queue import commands, read
from apps.queue.models import Consultation
from apps.queue.serializers import ConsultationResultSerializer, DoctorQueueSerializer
from apps.scheduling.commands import VISIT_STAFF
from apps.scheduling.models import Doctor
from apps.scheduling.read import board_projections
from apps.scheduling.selectors import appointments_for

DOCTORS = frozenset({Role.DOCTOR})
DoctorsOnly = roles(read=DOCTORS, write=DOCTORS)
VisitStaff = roles(read=VISIT_STAFF, write=VISIT_STAFF)


def _my_doctor(request: Request) -> Doctor:
    doctor = Doctor.objects.select_related("branch").filter(user=staff_of(request)).first()
    if doctor is None:
        raise NotFound("No doctor is linked to this account.")
    return doctor


def _result(consultation: Consultation) -> Response:
    catch_up(board_projections())  # the display and the board show the change at once
    return Response(ConsultationResultSerializer(consultation).data)


class MyQueueApi(APIView):
    """The signed-in doctor's checked-in patients of today in token order, with waiting and
    consultation times."""

    permission_classes = [DoctorsOnly]

    @extend_schema(responses={200: DoctorQueueSerializer}, tags=["queue"])
    def get(self, request: Request) -> Response:
        return Response(read.doctor_queue(_my_doctor(request)))


class CallNextApi(APIView):
    """Calls the doctor's lowest waiting token (409 when nobody is waiting)."""

    permission_classes = [DoctorsOnly]

    @extend_schema(request=None, responses={200: ConsultationResultSerializer}, tags=["queue"])
    def post(self, request: Request) -> Response:
        doctor = _my_doctor(request)
        return _result(commands.queue_call_next(actor=staff_of(request), doctor=doctor))


STEPS: dict[str, Callable[..., Consultation]] = {
    "call": commands.patient_call,
    "start": commands.consultation_start,
    "end": commands.consultation_end,
}


class ConsultationStepApi(APIView):
    """Call a checked-in patient (again), start or end the consultation (ending completes
    the visit); a doctor only their own patients."""

    permission_classes = [VisitStaff]
    step = ""

    @extend_schema(request=None, responses={200: ConsultationResultSerializer}, tags=["queue"])
    def post(self, request: Request, pk: int) -> Response:
        user = staff_of(request)
        appointment = get_visible(appointments_for(user), pk, "Appointment")
        return _result(STEPS[self.step](actor=user, appointment=appointment))
