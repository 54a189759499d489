"""GST documents at the desk: items on a visit's bill, issuing its documents, printing them."""

from collections.abc import Callable
from typing import Any

from django import forms as django_forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext

from apps.audit.trail import record
from apps.billing import commands as billing
from apps.billing.documents import document_view, supplies_of
from apps.billing.models import Invoice
from apps.billing.selectors import gst_documents_for, invoice_view
from apps.billing.templatetags.billing import gst_title
from apps.clinic.scoping import staff_of
from apps.core.clinictime import format_money
from apps.core.errors import Conflict, DomainError
from apps.reception import forms
from apps.reception.console import _desk, _domain_error
from apps.scheduling.commands import FRONT_DESK
from apps.scheduling.selectors import appointments_for


@login_required
def visit_gst(request: HttpRequest, pk: int, aid: int) -> HttpResponse:
    """The visit's bill as GST sees it (SAC/HSN per charge), a form to add an item, a form to
    issue the documents, and the documents issued."""
    user, branch = _desk(request, pk)
    appointment = get_object_or_404(
        appointments_for(user).filter(branch=branch).select_related("patient"), pk=aid
    )
    posted = request.POST.get("form", "") if request.method == "POST" else ""
    item_form = forms.ItemForm(request.POST if posted == "item" else None, prefix="item")
    issue_form = forms.GstIssueForm(request.POST if posted == "issue" else None, prefix="issue")

    def add_item(cleaned: dict[str, Any]) -> str:
        invoice = billing.invoice_item_add(actor=user, appointment=appointment, **cleaned)
        return gettext("Added %(item)s to the bill, now %(total)s.") % {
            "item": cleaned["description"],
            "total": format_money(invoice.total, invoice.currency),
        }

    def issue(cleaned: dict[str, Any]) -> str:
        invoice = Invoice.objects.filter(appointment=appointment).first()
        if invoice is None:
            raise Conflict(
                gettext("The bill is still a draft: add an item or take a payment first.")
            )
        made = billing.gst_documents_issue(actor=user, invoice=invoice, **cleaned)
        return gettext("Issued %(documents)s.") % {
            "documents": gettext(" and ").join(f"{gst_title(d.kind)} {d.number}" for d in made)
        }

    actions: dict[str, tuple[django_forms.Form, Callable[[dict[str, Any]], str]]] = {
        "item": (item_form, add_item),
        "issue": (issue_form, issue),
    }
    form, act = actions.get(posted, (None, None))
    if form is not None and act is not None and form.is_valid():
        try:
            messages.success(request, act(form.cleaned_data))
            return redirect("reception-visit-gst", pk=branch.pk, aid=appointment.pk)
        except DomainError as exc:
            _domain_error(form, exc)
    record(
        "patient.read", actor=user, branch_id=branch.pk, target=f"patient:{appointment.patient_id}"
    )
    invoice = invoice_view(appointment)
    try:
        supplies = {supply.line: supply for supply in supplies_of(invoice["lines"])}
    except DomainError:
        supplies = {}
    lines = [
        {**line, "code": supplies[index].code if index in supplies else ""}
        for index, line in enumerate(invoice["lines"])
    ]
    return render(
        request,
        "reception/gst.html",
        {
            "branch": branch,
            "appointment": appointment,
            "invoice": invoice,
            "lines": lines,
            "item_form": item_form,
            "issue_form": issue_form,
        },
        status=400 if form is not None and form.errors else 200,
    )


@login_required
def gst_document_print(request: HttpRequest, pk: int) -> HttpResponse:
    """A printable Bill of Supply, Tax Invoice or Credit Note (print CSS, no PDF)."""
    user = staff_of(request)
    if user.role not in FRONT_DESK:
        raise PermissionDenied
    document = get_object_or_404(
        gst_documents_for(user).select_related("invoice__appointment"), pk=pk
    )
    record(
        "patient.read",
        actor=user,
        branch_id=document.branch_id,
        target=f"patient:{document.invoice.appointment.patient_id}",
    )
    return render(
        request,
        "reception/gst_document.html",
        {"document": document_view(document), "branch": document.branch},
    )
