"""The takings projection: money received per branch, local date and method, net of refunds."""

from collections import defaultdict
from datetime import date
from decimal import Decimal

from apps.billing.events import PAYMENT_TAKEN, REFUND_EVENT_TYPES
from apps.billing.models import BranchTakings, Method
from apps.clinic.models import Branch
from apps.core.db import connection
from apps.eventstore.models import Event
from apps.eventstore.projections import Projection, Touched, register
from apps.scheduling.read import board_section

# Credit moves no money: neither paying with it nor refunding into it changes the till.
NOT_MONEY = {Method.CREDIT}

ADD_TAKINGS = """
INSERT INTO billing_branchtakings (branch_id, date, method, amount)
VALUES (%s, %s, %s, %s)
ON CONFLICT (branch_id, date, method) DO UPDATE
SET amount = billing_branchtakings.amount + EXCLUDED.amount
"""


class TakingsProjection(Projection):
    name = "takings"
    handles = frozenset({PAYMENT_TAKEN, *REFUND_EVENT_TYPES})
    read_models = (BranchTakings,)

    def apply(self, event: Event, touched: Touched) -> None:
        self.apply_batch([event], touched)

    def apply_batch(self, events: list[Event], touched: Touched) -> None:
        change: dict[tuple[int, str, str], Decimal] = defaultdict(Decimal)
        for event in events:
            data = event.data
            if data["method"] in NOT_MONEY:
                continue
            sign = 1 if event.type == PAYMENT_TAKEN else -1
            change[(data["branch_id"], data["date"], data["method"])] += sign * Decimal(
                data["amount"]
            )
        with connection.cursor() as cursor:
            for (branch_id, day, method), amount in sorted(change.items()):
                cursor.execute(ADD_TAKINGS, [branch_id, day, method, amount])
                touched.branch(branch_id)


takings = register(TakingsProjection())


@board_section("takings", projection=takings.name)
def takings_on(branch: Branch, day: date) -> dict[str, str]:
    return {
        row.method: str(row.amount)
        for row in BranchTakings.objects.filter(branch_id=branch.pk, date=day).order_by("method")
    }
