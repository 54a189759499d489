"""The reception console: the board, finding and registering patients, booking, visit
actions, payments, refunds and the day-end count. Every change goes through the commands;
the board reads the read models (and the names of the patients on it, an audited read)."""

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone

from apps.audit.trail import record
from apps.billing import commands as billing
from apps.billing.models import Payment
from apps.billing.selectors import invoice_view
from apps.billing.templatetags.billing import method_label
from apps.clinic.models import Branch, User
from apps.clinic.scoping import staff_of, visible_branches
from apps.core import clinictime
from apps.core.errors import DomainError
from apps.core.keys import phone_index
from apps.eventstore.projections import catch_up
from apps.reception import forms
from apps.reconciliation import commands as reconciliation
from apps.scheduling import commands
from apps.scheduling.commands import FRONT_DESK
from apps.scheduling.models import Appointment, Doctor, Patient
from apps.scheduling.phones import normalize_phone
from apps.scheduling.read import branch_board
from apps.scheduling.selectors import appointments_for, patients_for
from apps.scheduling.slots import free_slots

ACTIONS = {
    "check-in": commands.appointment_check_in,
    "complete": commands.appointment_complete,
    "no-show": commands.appointment_mark_no_show,
}


def _desk(request: HttpRequest, branch_id: int) -> tuple[User, Branch]:
    user = staff_of(request)
    if user.role not in FRONT_DESK:
        raise PermissionDenied
    return user, get_object_or_404(visible_branches(user), pk=branch_id)


def _today(branch: Branch) -> date:
    return timezone.now().astimezone(ZoneInfo(branch.timezone)).date()


def _board_context(user: User, branch: Branch) -> dict[str, Any]:
    board = branch_board(branch, _today(branch))
    patient_ids = sorted({row["patient"] for row in board["appointments"]})
    patients = {p.pk: p for p in Patient.objects.filter(pk__in=patient_ids)}
    if patient_ids:
        record("patient.list", actor=user, branch_id=branch.pk, detail={"patients": patient_ids})
    doctors = dict(Doctor.objects.filter(branch=branch).values_list("pk", "name"))
    rows = []
    for row in board["appointments"]:
        patient = patients.get(row["patient"])
        rows.append({
            **row,
            "time": clinictime.format_time(datetime.fromisoformat(row["start"]), branch.timezone),
            "patient_name": (patient.name if patient else None) or "(erased)",
            "status_label": Appointment.Status(row["status"]).label,
            "doctor_name": doctors.get(row["doctor"], "—"),
        })  # fmt: skip
    counts = [(Appointment.Status(key).label, key, n) for key, n in board["counts"].items()]
    return {"branch": branch, "board": board, "rows": rows, "counts": counts,
            "day": date.fromisoformat(board["date"])}  # fmt: skip


def _board_response(request: HttpRequest, user: User, branch: Branch) -> HttpResponse:
    template = (
        "reception/_board.html" if request.headers.get("HX-Request") else "reception/board.html"
    )
    return render(request, template, _board_context(user, branch))


@login_required
def board(request: HttpRequest, pk: int) -> HttpResponse:
    user, branch = _desk(request, pk)
    return _board_response(request, user, branch)


def _after_change(request: HttpRequest, user: User, branch: Branch, done: str) -> HttpResponse:
    # The board reads projections: bring them up to date now, so the desk sees its own change
    # (the worker's coalesced run finds nothing left to do).
    catch_up()
    messages.success(request, done)
    if request.headers.get("HX-Request"):
        return _board_response(request, user, branch)
    return redirect("reception-branch", pk=branch.pk)


@login_required
def appointment_action(request: HttpRequest, pk: int, aid: int, action: str) -> HttpResponse:
    user, branch = _desk(request, pk)
    if request.method != "POST":
        return redirect("reception-branch", pk=branch.pk)
    appointment = get_object_or_404(appointments_for(user).filter(branch=branch), pk=aid)
    try:
        if action == "cancel":
            form = forms.CancelForm(request.POST)
            if not form.is_valid():
                messages.error(request, "Give a reason to cancel.")
                return (
                    _board_response(request, user, branch)
                    if request.headers.get("HX-Request")
                    else redirect("reception-branch", pk=branch.pk)
                )
            commands.appointment_cancel(
                actor=user, appointment=appointment, reason=form.cleaned_data["reason"]
            )
        elif action in ACTIONS:
            ACTIONS[action](actor=user, appointment=appointment)
        else:
            raise PermissionDenied
    except DomainError as exc:
        messages.error(request, exc.message)
        return (
            _board_response(request, user, branch)
            if request.headers.get("HX-Request")
            else redirect("reception-branch", pk=branch.pk)
        )
    return _after_change(request, user, branch, f"Appointment {action.replace('-', ' ')} done.")


@login_required
def patients(request: HttpRequest, pk: int) -> HttpResponse:
    user, branch = _desk(request, pk)
    search = forms.PhoneSearchForm(request.GET or None)
    register = forms.RegisterForm(
        request.POST or None, initial={"phone": request.GET.get("phone", "")}
    )
    found: list[Patient] = []
    if search.is_valid():
        try:
            found = list(
                patients_for(user).filter(
                    phone_index=phone_index(normalize_phone(search.cleaned_data["phone"]))
                )
            )
            record(
                "patient.search",
                actor=user,
                branch_id=branch.pk,
                detail={"patients": [p.pk for p in found]},
            )
        except DomainError as exc:
            search.add_error("phone", exc.message)
    if request.method == "POST" and register.is_valid():
        try:
            patient = commands.patient_register(actor=user, branch=branch, **register.cleaned_data)
        except DomainError as exc:
            register.add_error(exc.field if exc.field in register.fields else None, exc.message)
        else:
            messages.success(request, "Patient registered.")
            return redirect(f"/reception/branches/{branch.pk}/book/?patient={patient.pk}")
    return render(
        request,
        "reception/patients.html",
        {"branch": branch, "search": search, "register": register, "found": found},
    )


@login_required
def book(request: HttpRequest, pk: int) -> HttpResponse:
    user, branch = _desk(request, pk)
    patient = get_object_or_404(
        patients_for(user), pk=request.GET.get("patient") or request.POST.get("patient") or 0
    )
    record("patient.read", actor=user, branch_id=branch.pk, target=f"patient:{patient.pk}")
    doctors = list(Doctor.objects.filter(branch=branch, active=True).order_by("name"))
    form = forms.BookForm(
        request.GET if "doctor" in request.GET else None, initial={"date": _today(branch)}
    )
    form.fields["doctor"].choices = [(d.pk, f"{d.name} — {d.specialty}") for d in doctors]  # type: ignore[attr-defined]
    slots: list[Any] = []
    chosen = None
    if form.is_valid():
        chosen = next(d for d in doctors if d.pk == form.cleaned_data["doctor"])
        day = form.cleaned_data["date"]
        slots = [{"value": s.start.isoformat(),
                  "label": clinictime.format_time(s.start, branch.timezone)}
                 for s in free_slots(chosen, day, patient=patient)]  # fmt: skip
    if request.method == "POST":
        doctor = get_object_or_404(
            Doctor.objects.filter(branch=branch), pk=request.POST.get("doctor") or 0
        )
        try:
            commands.appointment_book(
                actor=user, doctor=doctor, patient=patient,
                start=datetime.fromisoformat(request.POST.get("start", "")),
            )  # fmt: skip
        except (DomainError, ValueError) as exc:
            messages.error(request, getattr(exc, "message", "Choose a free slot."))
            day = request.POST.get("date", "")
            return redirect(f"{request.path}?patient={patient.pk}&doctor={doctor.pk}&date={day}")
        return _after_change(request, user, branch, f"Booked {patient.name} with {doctor.name}.")
    return render(
        request,
        "reception/book.html",
        {"branch": branch, "patient": patient, "form": form, "slots": slots, "doctor": chosen},
    )


@login_required
def reschedule(request: HttpRequest, pk: int, aid: int) -> HttpResponse:
    """Moves a booked visit to another free slot of its doctor (same appointment)."""
    user, branch = _desk(request, pk)
    appointment = get_object_or_404(
        appointments_for(user).filter(branch=branch).select_related("doctor", "patient"), pk=aid
    )
    if request.method == "POST":
        try:
            commands.appointment_reschedule(
                actor=user, appointment=appointment,
                start=datetime.fromisoformat(request.POST.get("start", "")),
            )  # fmt: skip
        except (DomainError, ValueError) as exc:
            messages.error(request, getattr(exc, "message", "Choose a free slot."))
        else:
            return _after_change(request, user, branch, "Appointment moved.")
    form = forms.RescheduleForm(request.GET or None, initial={"date": _today(branch)})
    day = form.cleaned_data["date"] if form.is_valid() else _today(branch)
    slots = [
        {"value": s.start.isoformat(), "label": clinictime.format_time(s.start, branch.timezone)}
        for s in free_slots(appointment.doctor, day, patient=appointment.patient)
    ]
    record(
        "patient.read", actor=user, branch_id=branch.pk, target=f"patient:{appointment.patient_id}"
    )
    return render(request, "reception/reschedule.html", {
        "branch": branch, "appointment": appointment, "form": form, "slots": slots, "day": day,
    })  # fmt: skip


@login_required
def pay(request: HttpRequest, pk: int, aid: int) -> HttpResponse:
    user, branch = _desk(request, pk)
    appointment = get_object_or_404(
        appointments_for(user).filter(branch=branch).select_related("patient", "doctor"), pk=aid
    )
    payment_form = forms.PaymentForm(
        request.POST if request.POST.get("form") == "payment" else None
    )
    refund_form = forms.RefundForm(request.POST if request.POST.get("form") == "refund" else None)
    try:
        if payment_form.is_valid():
            billing.payment_take(actor=user, appointment=appointment, **payment_form.cleaned_data)
            catch_up()
            messages.success(request, "Payment taken.")
            return redirect("reception-pay", pk=branch.pk, aid=appointment.pk)
        if refund_form.is_valid():
            payment = get_object_or_404(
                Payment.objects.filter(appointment=appointment),
                pk=refund_form.cleaned_data["payment"],
            )
            billing.payment_refund(
                actor=user,
                payment=payment,
                amount=refund_form.cleaned_data["amount"],
                reason=refund_form.cleaned_data["reason"],
            )
            catch_up()
            messages.success(request, "Refund recorded.")
            return redirect("reception-pay", pk=branch.pk, aid=appointment.pk)
    except DomainError as exc:
        (payment_form if request.POST.get("form") == "payment" else refund_form).add_error(
            "amount" if exc.field == "amount" or exc.status_code == 409 else None, exc.message
        )
    record(
        "patient.read", actor=user, branch_id=branch.pk, target=f"patient:{appointment.patient_id}"
    )
    return render(request, "reception/pay.html", {
        "branch": branch, "appointment": appointment, "invoice": invoice_view(appointment),
        "payment_form": payment_form, "refund_form": refund_form,
    })  # fmt: skip


@login_required
def declare(request: HttpRequest, pk: int) -> HttpResponse:
    user, branch = _desk(request, pk)
    form = forms.DeclarationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            reconciliation.declaration_make(
                actor=user, branch=branch, day=_today(branch), **form.cleaned_data
            )
        except DomainError as exc:
            form.add_error("amount", exc.message)
        else:
            messages.success(
                request,
                f"Declared {method_label(form.cleaned_data['method'])} "
                f"{clinictime.format_money(form.cleaned_data['amount'])} for today.",
            )
            return redirect("reception-declare", pk=branch.pk)
    return render(
        request, "reception/declare.html", {"branch": branch, "form": form, "today": _today(branch)}
    )
