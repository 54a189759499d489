"""The owner's subscription page in the console (the API's answer, as a page)."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _

from apps.clinic.models import Role
from apps.core.db import connection
from apps.core.errors import NotFound
from apps.plans.models import Module
from apps.plans.summary import subscription_summary

USAGE_LABELS = {
    "doctors": _("Active doctors (the month's highest)"),
    "branches": _("Branches"),
    "bookings": _("Bookings"),
    "messages": _("Patient messages sent"),
    "hl7_messages": _("HL7 messages"),
}


@login_required
def subscription_page(request: HttpRequest) -> HttpResponse:
    if getattr(request.user, "role", None) != Role.OWNER:
        raise PermissionDenied
    summary = subscription_summary(connection.schema_name)
    if summary is None:
        raise NotFound("This clinic has no subscription.")
    limits = summary.subscription.plan.limits()
    rows = [
        {"label": label, "used": summary.usage[metric], "limit": limits.get(metric)}
        for metric, label in USAGE_LABELS.items()
    ]
    modules = [
        {"module": module, "included": module.code in summary.modules}
        for module in Module.objects.order_by("id")
    ]
    return render(
        request,
        "plans/subscription.html",
        {"summary": summary, "rows": rows, "modules": modules},
    )
