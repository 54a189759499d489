"""What a plan charges for a month's usage: one rule per kind of pricing, and GST."""

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from apps.plans.models import Plan

GST_RATE = Decimal("18.00")
CENTS = Decimal("0.01")


@dataclass(frozen=True)
class Line:
    description: str
    quantity: int
    unit_price: Decimal

    @property
    def amount(self) -> Decimal:
        return (self.unit_price * self.quantity).quantize(CENTS, ROUND_HALF_UP)

    def as_dict(self) -> dict[str, object]:
        return {
            "description": self.description,
            "quantity": self.quantity,
            "unit_price": str(self.unit_price),
            "amount": str(self.amount),
        }


def charges(plan: Plan, usage: dict[str, int]) -> list[Line]:
    """The month's lines: per active doctor (the month's highest), per branch plus booking
    tiers, or a base fee plus each module's price."""
    if plan.pricing == Plan.Pricing.PER_DOCTOR:
        return [Line(f"{plan.name} plan: active doctors", usage["doctors"], plan.unit_price)]
    if plan.pricing == Plan.Pricing.PER_BRANCH:
        lines = [Line(f"{plan.name} plan: branches", usage["branches"], plan.unit_price)]
        return lines + booking_tier_lines(plan.booking_tiers, usage["bookings"])
    lines = [Line(f"{plan.name} plan: base fee", 1, plan.unit_price)]
    return lines + [
        Line(f"Module: {module.name}", 1, module.monthly_price)
        for module in plan.modules.order_by("id")
        if module.monthly_price
    ]


def booking_tier_lines(tiers: list[dict[str, object]], bookings: int) -> list[Line]:
    """Bookings charged tier by tier: those up to each tier's `up_to` (null: no end) at its
    `per_booking` price; a tier that costs nothing is not listed."""
    lines, below = [], 0
    for tier in tiers:
        up_to = tier.get("up_to")
        ceiling = bookings if up_to is None else min(bookings, int(str(up_to)))
        counted = max(0, ceiling - below)
        price = Decimal(str(tier.get("per_booking", "0")))
        if counted and price:
            span = f"from {below + 1}" if up_to is None else f"{below + 1}–{up_to}"
            lines.append(Line(f"Bookings {span}", counted, price))
        if up_to is not None:
            below = max(below, int(str(up_to)))
    return lines


def gst_on(subtotal: Decimal) -> Decimal:
    return (subtotal * GST_RATE / 100).quantize(CENTS, ROUND_HALF_UP)


def financial_year(month: date) -> str:
    """India's financial year (April to March) of a month: "2026-27" for December 2026."""
    start = month.year if month.month >= 4 else month.year - 1
    return f"{start}-{(start + 1) % 100:02d}"
