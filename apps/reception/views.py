"""The reception console: server-rendered pages for front-desk staff."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from apps.audit.trail import record
from apps.billing.selectors import invoice_view
from apps.clinic.models import Role
from apps.clinic.scoping import staff_of, visible_branches
from apps.scheduling.commands import FRONT_DESK
from apps.scheduling.selectors import appointments_for


@login_required
def branch_choice(request: HttpRequest) -> HttpResponse:
    if staff_of(request).role == Role.DOCTOR:  # a doctor's console is their queue
        return redirect("queue-doctor")
    branches = list(visible_branches(staff_of(request)))
    if len(branches) == 1:
        return redirect("reception-branch", pk=branches[0].pk)
    return render(request, "reception/branch_choice.html", {"branches": branches})


@login_required
def invoice_print(request: HttpRequest, pk: int) -> HttpResponse:
    """A printer-friendly invoice/receipt of one appointment."""
    user = staff_of(request)
    if user.role not in FRONT_DESK:
        raise PermissionDenied
    appointment = get_object_or_404(
        appointments_for(user).select_related("patient", "doctor", "branch"), pk=pk
    )
    record("patient.read", actor=user, target=f"patient:{appointment.patient_id}")
    return render(
        request,
        "reception/invoice.html",
        {
            "appointment": appointment,
            "invoice": invoice_view(appointment),
            "clinic": request.tenant,  # type: ignore[attr-defined]
        },
    )
