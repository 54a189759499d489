"""The desk's whole calendar: a day or a week of a branch (or of one doctor) for any date,
one visit with every action the desk may take on it, and a patient's visits.

Visits come from the appointments read model; names are an audited read of the patients
on screen. What a visit allows right now is asked of the scheduling rules, never re-derived.
"""

from datetime import date, datetime, timedelta
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext

from apps.audit.trail import record
from apps.billing.selectors import invoice_view
from apps.clinic.models import Branch, User
from apps.clinic.scoping import visible_branches
from apps.reception import forms
from apps.reception.console import _desk, _today
from apps.scheduling.formats import human_date, human_time, human_when
from apps.scheduling.lifecycle import allowed_actions, check_in_opens_at, no_show_allowed_from
from apps.scheduling.models import (
    Appointment,
    AppointmentView,
    Doctor,
    Patient,
    SchedulingSettings,
)
from apps.scheduling.read import branch_calendar, patient_visits
from apps.scheduling.selectors import appointments_for, patients_for


def _names(user: User, branch: Branch, patient_ids: set[int]) -> dict[int, str]:
    if not patient_ids:
        return {}
    ids = sorted(patient_ids)
    record("patient.list", actor=user, branch_id=branch.pk, detail={"patients": ids})
    return {p.pk: p.name or "(erased)" for p in Patient.objects.filter(pk__in=ids)}


@login_required
def calendar(request: HttpRequest, pk: int) -> HttpResponse:
    """A day or a week (Monday to Sunday) of the branch, or of one of its doctors."""
    user, branch = _desk(request, pk)
    doctors = list(Doctor.objects.filter(branch=branch).order_by("name"))
    today = _today(branch)
    form = forms.CalendarForm(request.GET or None, doctors=doctors, initial={"date": today})
    day, view, doctor_id = today, "day", None
    if form.is_valid():
        day = form.cleaned_data["date"] or today
        view = form.cleaned_data["view"] or "day"
        doctor_id = form.cleaned_data["doctor"]
    first = day - timedelta(days=day.weekday()) if view == "week" else day
    span = 7 if view == "week" else 1
    found = branch_calendar(branch, first, span, doctor_id)
    names = _names(
        user, branch, {row["patient"] for rows in found["days"].values() for row in rows}
    )
    doctor_names = {d.pk: d.name for d in doctors}
    days = [
        {
            "date": when,
            "label": human_date(when),
            "is_today": when == today,
            "visits": [
                {
                    **row,
                    "time": human_time(datetime.fromisoformat(row["start"]), branch.timezone),
                    "patient_name": names.get(row["patient"], gettext("(erased)")),
                    "doctor_name": doctor_names.get(row["doctor"], "—"),
                    "status_label": Appointment.Status(row["status"]).label,
                    "url": reverse("reception-visit", args=[branch.pk, row["id"]]),
                }
                for row in rows
            ],
        }
        for when, rows in found["days"].items()
    ]
    step = timedelta(days=span)

    def link(to: date) -> str:
        query = f"?date={to.isoformat()}&view={view}"
        return query + (f"&doctor={doctor_id}" if doctor_id else "")

    title = (
        gettext("Week of %(day)s") % {"day": human_date(first)}
        if view == "week"
        else human_date(first)
    ) + (f" — {doctor_names[doctor_id]}" if doctor_id else "")
    return render(
        request,
        "reception/calendar.html",
        {
            "branch": branch,
            "form": form,
            "days": days,
            "view": view,
            "title": title,
            "previous": link(first - step),
            "next": link(first + step),
            "today_link": link(today),
        },
    )


@login_required
def visit(request: HttpRequest, pk: int, aid: int) -> HttpResponse:
    """One visit of the branch with what can be done to it now, and its balance."""
    user, branch = _desk(request, pk)
    appointment = get_object_or_404(
        appointments_for(user).filter(branch=branch).select_related("patient"), pk=aid
    )
    record(
        "patient.read", actor=user, branch_id=branch.pk, target=f"patient:{appointment.patient_id}"
    )
    rules = SchedulingSettings.current()
    now = timezone.now()
    zone = branch.timezone
    return render(
        request,
        "reception/visit.html",
        {
            "branch": branch,
            "appointment": appointment,
            "when": human_when(appointment.start, zone),
            "can": allowed_actions(appointment.status, appointment.start, zone, rules, now),
            "state_allows": {
                action: Appointment.allows(action, appointment.status)
                for action in Appointment.TRANSITIONS
            },
            "check_in_opens": human_time(check_in_opens_at(appointment.start, rules), zone),
            "no_show_from": human_time(no_show_allowed_from(appointment.start, rules), zone),
            "confirm_no_show": request.GET.get("confirm") == "no-show",
            "invoice": invoice_view(appointment),
            "here": request.path,
            "cancel_form": forms.CancelForm(prefix=f"visit-{appointment.pk}"),
        },
    )


@login_required
def patient(request: HttpRequest, pk: int, pid: int) -> HttpResponse:
    """The patient's upcoming and past visits in the user's branches, each with its actions
    and balance due (an audited read)."""
    user, branch = _desk(request, pk)
    person = get_object_or_404(patients_for(user), pk=pid)
    record("patient.read", actor=user, branch_id=branch.pk, target=f"patient:{person.pk}")
    branches = {b.pk: b for b in visible_branches(user)}
    rows: list[AppointmentView] = patient_visits(person.pk, list(branches))
    appointments = {
        a.pk: a
        for a in Appointment.objects.filter(pk__in=[r.appointment_id for r in rows]).select_related(
            "doctor", "branch", "patient"
        )
    }
    rules = SchedulingSettings.current()
    now = timezone.now()
    upcoming: list[dict[str, Any]] = []
    past: list[dict[str, Any]] = []
    for row in rows:
        appointment = appointments.get(row.appointment_id)
        if appointment is None:  # the read model runs ahead of nothing; a lagging row waits
            continue
        zone = branches[row.branch_id].timezone
        entry = {
            "id": row.appointment_id,
            "when": human_when(row.start, zone),
            "doctor": appointment.doctor.name,
            "branch": appointment.branch,
            "status": row.status,
            "status_label": Appointment.Status(row.status).label,
            "can": allowed_actions(row.status, row.start, zone, rules, now),
            "balance_due": invoice_view(appointment)["balance_due"],
            "url": reverse("reception-visit", args=[row.branch_id, row.appointment_id]),
            "pay_url": reverse("reception-pay", args=[row.branch_id, row.appointment_id]),
        }
        live = row.status in Appointment.LIVE
        (upcoming if live and row.end >= now else past).append(entry)
    upcoming.reverse()  # soonest first
    return render(
        request,
        "reception/patient.html",
        {
            "branch": branch,
            "patient": person,
            "upcoming": upcoming,
            "past": past,
        },
    )
