"""UPI at the desk: the payment link (NPCI's `upi://pay` deep link) for an amount due, and its
QR code as inline SVG (segno), which any UPI app scans."""

import re
from decimal import Decimal
from urllib.parse import quote

import segno

from apps.core.errors import InvalidInput

# A VPA is `handle@provider`: NPCI allows letters, digits, dot, hyphen and underscore in the
# handle and letters in the provider's name.
VPA_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,98}@[A-Za-z][A-Za-z0-9]{1,48}$")
PAYEE_PATTERN = re.compile(r"^[A-Za-z0-9 .&'-]{2,60}$")
# Our transaction reference (`tr`): the appointment and which payment of it this is.
REFERENCE_PATTERN = re.compile(r"^A(\d{1,18})-(\d{1,6})$")


def check_vpa(vpa: str) -> str:
    vpa = vpa.strip()
    if not VPA_PATTERN.match(vpa):
        raise InvalidInput("Enter a UPI ID such as clinic@okhdfcbank.", field="vpa")
    return vpa


def check_payee(payee: str) -> str:
    payee = " ".join(payee.split())
    if not PAYEE_PATTERN.match(payee):
        raise InvalidInput(
            "A payee name is 2 to 60 letters, digits, spaces or . & ' -.", field="payee"
        )
    return payee


def reference_for(appointment_id: int, payment_number: int) -> str:
    return f"A{appointment_id}-{payment_number}"


def appointment_of(reference: str) -> int | None:
    """The appointment a reference names, or None for anything that is not ours."""
    match = REFERENCE_PATTERN.match(reference.strip())
    return int(match.group(1)) if match else None


def pay_uri(*, vpa: str, payee: str, amount: Decimal, reference: str, note: str) -> str:
    parts = [
        ("pa", vpa),
        ("pn", payee),
        ("am", f"{amount:.2f}"),
        ("tr", reference),
        ("tn", note),
        ("cu", "INR"),
    ]
    return "upi://pay?" + "&".join(f"{key}={quote(value, safe='@.-_')}" for key, value in parts)


def qr_svg(uri: str) -> str:
    """The QR code of `uri` as an inline `<svg>` element (no XML declaration, no script)."""
    qr = segno.make(uri, error="m", micro=False)
    return str(qr.svg_inline(scale=5, border=2, dark="#000", light="#fff"))
