"""Money arithmetic: two-place `Decimal`s, GST-style tax lines rounded as Indian invoices are."""

from decimal import ROUND_HALF_UP, Decimal

from apps.core.errors import InvalidInput

PAISA = Decimal("0.01")
ZERO = Decimal("0.00")
# The largest amount one payment or refund may carry (₹1 crore); anything above is a typo.
MAX_AMOUNT = Decimal("10000000.00")


def money(value: Decimal) -> Decimal:
    """Rounds half up to the paisa, as GST invoices round each tax line."""
    return value.quantize(PAISA, rounding=ROUND_HALF_UP)


def check_amount(amount: Decimal, field: str = "amount") -> Decimal:
    """A positive amount with at most two decimal places and at most MAX_AMOUNT."""
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise InvalidInput("Enter an amount such as 500.00.", field=field)
    if amount <= 0:
        raise InvalidInput("The amount must be more than zero.", field=field)
    if amount != amount.quantize(PAISA):
        raise InvalidInput("Use at most two decimal places.", field=field)
    if amount > MAX_AMOUNT:
        raise InvalidInput(f"The amount cannot exceed {MAX_AMOUNT:,}.", field=field)
    return amount.quantize(PAISA)


def invoice_lines(fee: Decimal, taxes: list[tuple[str, Decimal]]) -> list[dict[str, str]]:
    """The consultation line and one line per tax, each tax computed on the fee and rounded."""
    lines = [{"kind": "fee", "description": "Consultation", "rate": "", "amount": str(money(fee))}]
    for name, rate in taxes:
        lines.append(
            {
                "kind": "tax",
                "description": f"{name} @ {rate.normalize():f}%",
                "rate": str(rate),
                "amount": str(money(fee * rate / 100)),
            }
        )
    return lines


def totals(lines: list[dict[str, str]]) -> tuple[Decimal, Decimal]:
    """(total, tax) of invoice lines: total = fees + tax."""
    tax = sum((Decimal(line["amount"]) for line in lines if line["kind"] == "tax"), ZERO)
    total = sum((Decimal(line["amount"]) for line in lines), ZERO)
    return money(total), money(tax)
