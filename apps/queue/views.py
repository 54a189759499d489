"""Pages of the queue: the waiting-room display (opened by a display link, no sign-in), the
branch managers' display links and rooms, the printable token slip and the doctor's queue.

Every change goes through `apps.queue.commands`; reads come from `apps.queue.read`."""

from datetime import datetime
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from apps.audit.trail import record
from apps.clinic.models import Branch, Role
from apps.clinic.scoping import staff_of, visible_branches
from apps.core.db import release_connection
from apps.core.errors import DomainError
from apps.eventstore.live import stream_checked
from apps.eventstore.projections import catch_up
from apps.queue import commands, read
from apps.queue.commands import QUEUE_ADMINS, link_from_key
from apps.queue.forms import DisplayLinkForm, RoomForm
from apps.queue.live import REVOKED_EVENT, STATE_EVENT, display_channel
from apps.queue.models import DisplayLink, DoctorRoom
from apps.scheduling.commands import FRONT_DESK
from apps.scheduling.formats import human_time
from apps.scheduling.models import Doctor, Patient
from apps.scheduling.read import board_projections
from apps.scheduling.selectors import appointments_for


def _refused(request: HttpRequest) -> HttpResponse:
    return render(request, "queue/display_refused.html", status=403)


def _link(request: HttpRequest, branch_id: int) -> DisplayLink | None:
    return link_from_key(request.GET.get("key", ""), branch_id)


def display(request: HttpRequest, pk: int) -> HttpResponse:
    """The waiting-room screen: large type, live; in its link's language."""
    link = _link(request, pk)
    if link is None:
        return _refused(request)
    branch = link.branch
    with translation.override(link.language):
        response = render(
            request,
            "queue/display.html",
            {
                "branch": branch,
                "link": link,
                "state": read.display_state(branch),
                "config": {
                    "link": link.pk,
                    "state": reverse("queue-display-state", args=[pk]),
                    "events": reverse("queue-display-events", args=[pk]),
                    "language": link.language,
                    "stateEvent": STATE_EVENT,
                    "revokedEvent": REVOKED_EVENT,
                    "words": {
                        "token": _("Token"),
                        "room": _("Room"),
                        "nowServing": _("Now serving"),
                        "waiting": _("Waiting"),
                        "nobody": _("—"),
                        "inConsultation": _("In consultation"),
                        "pleaseGo": _("Token %(token)s, please go to %(room)s"),
                        "pleaseGoDoctor": _("Token %(token)s, please go to %(doctor)s"),
                        "reconnecting": _("Reconnecting…"),
                    },
                },
            },
        )
    response["Referrer-Policy"] = "no-referrer"
    response["Cache-Control"] = "no-store"
    return response


def display_state(request: HttpRequest, pk: int) -> HttpResponse:
    """The display's state as JSON, for a screen that comes back after losing its stream."""
    link = _link(request, pk)
    if link is None:
        return JsonResponse({"detail": "This display link is not valid."}, status=403)
    response = JsonResponse(read.display_state(link.branch))
    response["Cache-Control"] = "no-store"
    return response


def display_events(request: HttpRequest, pk: int) -> HttpResponse:
    """The display's live stream: the branch's display channel, which carries no patient."""
    link = _link(request, pk)
    if link is None:
        return JsonResponse({"detail": "This display link is not valid."}, status=403)
    channel = display_channel(request.tenant.schema_name, pk)  # type: ignore[attr-defined]
    response = stream_checked(request, channel)
    release_connection()  # the stream needs no database while it stays open
    return response


def _managed_branch(request: HttpRequest, pk: int) -> tuple[Any, Branch]:
    user = staff_of(request)
    if user.role not in QUEUE_ADMINS:
        raise PermissionDenied
    return user, get_object_or_404(visible_branches(user), pk=pk)


@login_required
def display_links(request: HttpRequest, pk: int) -> HttpResponse:
    """Branch managers: make and revoke the branch's display links; set the doctors' rooms."""
    user, branch = _managed_branch(request, pk)
    form = DisplayLinkForm(request.POST if request.POST.get("form") == "link" else None)
    created_url = None
    if form.is_bound and form.is_valid():
        try:
            link, key = commands.display_link_create(actor=user, branch=branch, **form.cleaned_data)
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.translated())
        else:
            path = reverse("queue-display", args=[branch.pk])
            created_url = request.build_absolute_uri(f"{path}?key={key}")
            messages.success(request, _("Display link made for %(name)s.") % {"name": link.name})
    doctors = list(Doctor.objects.filter(branch=branch, active=True).order_by("name"))
    room_of = read.rooms([d.pk for d in doctors])
    room_forms = []
    for doctor in doctors:
        posted = request.POST.get("form") == f"room-{doctor.pk}"
        room_form = RoomForm(
            request.POST if posted else None,
            prefix=f"room-{doctor.pk}",
            initial={"room": room_of.get(doctor.pk, "")},
        )
        if posted and room_form.is_valid():
            try:
                commands.doctor_room_set(
                    actor=user, doctor=doctor, room=room_form.cleaned_data["room"]
                )
            except DomainError as exc:
                room_form.add_error("room", exc.translated())
            else:
                catch_up(board_projections())
                messages.success(request, _("Room saved."))
                return redirect("queue-links", pk=branch.pk)
        room_forms.append((doctor, room_form))
    return render(
        request,
        "queue/links.html",
        {
            "branch": branch,
            "form": form,
            "created_url": created_url,
            "links": DisplayLink.objects.filter(branch=branch),
            "room_forms": room_forms,
        },
    )


@login_required
@require_POST
def display_link_revoke(request: HttpRequest, pk: int, link_id: int) -> HttpResponse:
    user, branch = _managed_branch(request, pk)
    link = get_object_or_404(DisplayLink.objects.filter(branch=branch), pk=link_id)
    commands.display_link_revoke(actor=user, link=link)
    messages.success(request, _("Display link %(name)s revoked.") % {"name": link.name})
    return redirect("queue-links", pk=branch.pk)


@login_required
def token_slip(request: HttpRequest, pk: int) -> HttpResponse:
    """The printable token slip of a checked-in visit: token, doctor, room, time."""
    user = staff_of(request)
    if user.role not in FRONT_DESK:
        raise PermissionDenied
    appointment = get_object_or_404(
        appointments_for(user).select_related("doctor", "branch"), pk=pk, token__isnull=False
    )
    room = DoctorRoom.objects.filter(doctor=appointment.doctor).values_list("room", flat=True)
    return render(
        request,
        "queue/token_slip.html",
        {"appointment": appointment, "room": room.first() or "", "clinic": request.tenant},  # type: ignore[attr-defined]
    )


def _my_doctor(request: HttpRequest) -> tuple[Any, Doctor]:
    user = staff_of(request)
    if user.role != Role.DOCTOR:
        raise PermissionDenied
    doctor = Doctor.objects.select_related("branch").filter(user=user).first()
    if doctor is None:
        raise PermissionDenied
    return user, doctor


def _doctor_queue_page(
    request: HttpRequest, user: Any, doctor: Doctor, said: dict[str, str] | None = None
) -> HttpResponse:
    queue = read.doctor_queue(doctor)
    patient_ids = [row["patient"] for row in queue["patients"]]
    names = {p.pk: p.name for p in Patient.objects.filter(pk__in=patient_ids)}
    if patient_ids:
        record(
            "patient.list",
            actor=user,
            branch_id=doctor.branch_id,
            detail={"patients": sorted(set(patient_ids))},
        )
    zone = doctor.branch.timezone
    rows = [
        {
            **row,
            "name": names.get(row["patient"]) or _("(erased)"),
            "checked_in": human_time(datetime.fromisoformat(row["checked_in_at"]), zone),
        }
        for row in queue["patients"]
    ]
    fragment = bool(request.headers.get("HX-Request"))
    return render(
        request,
        "queue/_doctor_queue.html" if fragment else "queue/doctor_queue.html",
        {
            "doctor": doctor,
            "queue": queue,
            "rows": rows,
            "room": read.rooms([doctor.pk]).get(doctor.pk, ""),
            "fragment": fragment,
            "said": said,
        },
    )


@login_required
def doctor_queue(request: HttpRequest) -> HttpResponse:
    """The doctor's queue: checked-in patients in token order; call next, start, end."""
    user, doctor = _my_doctor(request)
    return _doctor_queue_page(request, user, doctor)


@login_required
@require_POST
def doctor_queue_action(request: HttpRequest, action: str, aid: int | None = None) -> HttpResponse:
    """Call next, or call / start / end one visit. Under htmx the answer is the queue with
    what was done (no session message: a live refresh of the page could race it away)."""
    user, doctor = _my_doctor(request)
    try:
        if action == "next":
            called = commands.queue_call_next(actor=user, doctor=doctor)
            said = {"success": _("Called token %(token)s.") % {"token": called.appointment.token}}
        else:
            appointment = get_object_or_404(appointments_for(user), pk=aid)
            step = {
                "call": commands.patient_call,
                "start": commands.consultation_start,
                "end": commands.consultation_end,
            }.get(action)
            if step is None:
                raise PermissionDenied
            step(actor=user, appointment=appointment)
            token = {"token": appointment.token}
            said = {
                "success": {
                    "call": _("Called token %(token)s."),
                    "start": _("Consultation of token %(token)s started."),
                    "end": _("Consultation of token %(token)s ended."),
                }[action]
                % token
            }
    except DomainError as exc:
        said = {"error": exc.translated()}
    else:
        catch_up(board_projections())
    if request.headers.get("HX-Request"):
        return _doctor_queue_page(request, user, doctor, said)
    for level, text in said.items():
        messages.add_message(
            request, messages.ERROR if level == "error" else messages.SUCCESS, text
        )
    return redirect("queue-doctor")
