"""`{% upi_qr appointment invoice %}`: the UPI QR for what a visit still owes, on the pay page
and the receipt (nothing when the branch has no UPI ID or nothing is due)."""

from typing import Any

from django import template

from apps.scheduling.models import Appointment
from apps.settlements.selectors import upi_request

register = template.Library()


@register.inclusion_tag("settlements/_upi_qr.html")
def upi_qr(appointment: Appointment, invoice: dict[str, Any]) -> dict[str, Any]:
    return {"upi": upi_request(appointment, invoice), "currency": invoice.get("currency", "INR")}
