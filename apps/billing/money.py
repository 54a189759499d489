"""Money arithmetic: two-place `Decimal`s, GST-style tax lines rounded as Indian invoices are."""

import re
from decimal import ROUND_HALF_UP, Decimal

from django.utils.translation import gettext_noop

from apps.core.errors import InvalidInput

PAISA = Decimal("0.01")
ZERO = Decimal("0.00")
# The largest amount one payment or refund may carry (₹1 crore); anything above is a typo.
MAX_AMOUNT = Decimal("10000000.00")
# The consultation line's description, stored in English on every bill; pages show it in their
# language (`apps.billing.templatetags.billing.line_label`).
CONSULTATION = gettext_noop("Consultation")
# A tax line's description ("CGST @ 9%"), stored in English on the bill; pages show it in
# their language by reading the parts back (`tax_line_parts`).
TAX_LINE = gettext_noop("%(tax)s @ %(rate)s%%")
_TAX_LINE_READ = re.compile(r"(?P<tax>.+) @ (?P<rate>\d+(?:\.\d+)?)%")


def tax_line_description(name: str, rate: Decimal) -> str:
    return TAX_LINE % {"tax": name, "rate": f"{rate.normalize():f}"}


def tax_line_parts(description: str) -> dict[str, str] | None:
    """The tax's name and rate of a description `tax_line_description` wrote, else None."""
    found = _TAX_LINE_READ.fullmatch(description)
    return found.groupdict() if found else None


def money(value: Decimal) -> Decimal:
    """Rounds half up to the paisa, as GST invoices round each tax line."""
    return value.quantize(PAISA, rounding=ROUND_HALF_UP)


def check_amount(amount: Decimal, field: str = "amount") -> Decimal:
    """A positive amount with at most two decimal places and at most MAX_AMOUNT."""
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise InvalidInput(gettext_noop("Enter an amount such as 500.00."), field=field)
    if amount <= 0:
        raise InvalidInput(gettext_noop("The amount must be more than zero."), field=field)
    if amount != amount.quantize(PAISA):
        raise InvalidInput(gettext_noop("Use at most two decimal places."), field=field)
    if amount > MAX_AMOUNT:
        raise InvalidInput(
            gettext_noop("The amount cannot exceed %(most)s."),
            field=field,
            params={"most": f"{MAX_AMOUNT:,}"},
        )
    return amount.quantize(PAISA)


def invoice_lines(fee: Decimal, taxes: list[tuple[str, Decimal]]) -> list[dict[str, str]]:
    """The consultation line and one line per tax, each tax computed on the fee and rounded."""
    lines = [{"kind": "fee", "description": CONSULTATION, "rate": "", "amount": str(money(fee))}]
    for name, rate in taxes:
        lines.append(
            {
                "kind": "tax",
                "description": tax_line_description(name, rate),
                "rate": str(rate),
                "amount": str(money(fee * rate / 100)),
            }
        )
    return lines


def totals(lines: list[dict[str, str]]) -> tuple[Decimal, Decimal]:
    """(total, tax) of invoice lines: total = fees − discounts + tax (withdrawn lines, whose
    credit note took them off, count for nothing)."""
    lines = [line for line in lines if not line.get("withdrawn")]
    tax = sum((Decimal(line["amount"]) for line in lines if line["kind"] == "tax"), ZERO)
    total = sum((Decimal(line["amount"]) for line in lines), ZERO)
    return money(total), money(tax)


# Charges are the lines a patient is billed for before tax; only the consultation is taxed.
TAXED = {"fee"}
NOT_CHARGES = {"tax", "discount"}


def charges_of(lines: list[dict[str, str]]) -> Decimal:
    """What the invoice still bills before tax: charge lines that were not withdrawn."""
    return sum(
        (
            Decimal(line["amount"])
            for line in lines
            if line["kind"] not in NOT_CHARGES and not line.get("withdrawn")
        ),
        ZERO,
    )


def reprice(
    lines: list[dict[str, str]], discounts: list[tuple[str, Decimal]]
) -> list[dict[str, str]]:
    """The invoice's lines after its discounts and withdrawn lines.

    Charge and tax lines keep their places (a line's index names it, e.g. to withdraw it);
    a withdrawn charge carries its credit note's number and counts for nothing. Discounts,
    in the order given, come last: each takes off what is left of the charges, never more,
    coming off the taxed charges first. Each tax is computed again on what is left of the
    taxed charges, rounded as at issue, so tax is charged on the discounted amount.
    `totals()` of the result is the new total.
    """
    kept = [line for line in lines if line["kind"] != "discount"]
    left = charges_of(kept)
    taxed = sum(
        (
            Decimal(line["amount"])
            for line in kept
            if line["kind"] in TAXED and not line.get("withdrawn")
        ),
        ZERO,
    )
    discount_lines = []
    for description, amount in discounts:
        taken = min(amount, left)
        left -= taken
        taxed -= min(taken, taxed)
        discount_lines.append(
            {
                "kind": "discount",
                "description": description,
                "rate": "",
                "amount": str(money(ZERO - taken)),
            }
        )
    repriced = [
        {**line, "amount": str(money(taxed * Decimal(line["rate"]) / 100))}
        if line["kind"] == "tax"
        else line
        for line in kept
    ]
    return repriced + discount_lines
