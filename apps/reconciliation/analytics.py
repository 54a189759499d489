"""Chain analytics, read from the warehouse: bookings, no-show rate, takings and variance
by branch and by week or month."""

from collections import defaultdict
from datetime import date
from decimal import Decimal
from typing import Any

from apps.reconciliation.warehouse import TenantWarehouse, literal

PERIOD = {"week": "toMonday(date)", "month": "toStartOfMonth(date)"}


def chain_analytics(
    warehouse: TenantWarehouse, lo: date, hi: date, by: str
) -> list[dict[str, Any]]:
    period = PERIOD[by]
    between = f"date BETWEEN {literal(lo)} AND {literal(hi)}"
    rows: dict[tuple[int, str], dict[str, Any]] = defaultdict(
        lambda: {
            "bookings": 0,
            "no_shows": 0,
            "cancellations": 0,
            "takings": Decimal("0"),
            "variance": Decimal("0"),
            "days_with_variance": 0,
        }
    )
    for branch, start, bookings, no_shows, cancelled in warehouse.rows(
        f"SELECT branch_id, toString({period}) AS p, count(), countIf(status = 'no_show'), "
        f"countIf(status = 'cancelled') FROM {{db}}.appointments FINAL WHERE {between} "
        "GROUP BY branch_id, p"
    ):
        row = rows[(int(branch), start)]
        row.update(bookings=int(bookings), no_shows=int(no_shows), cancellations=int(cancelled))
    for branch, start, takings in warehouse.rows(
        f"SELECT branch_id, toString({period}) AS p, "
        "sumIf(amount, kind = 'payment') - sumIf(amount, kind = 'refund') "
        f"FROM {{db}}.money FINAL WHERE {between} GROUP BY branch_id, p"
    ):
        rows[(int(branch), start)]["takings"] = Decimal(str(takings))
    for branch, start, variance, days in warehouse.rows(
        f"SELECT branch_id, toString({period}) AS p, sum(variance), countIf(status = 'variance') "
        f"FROM {{db}}.daily_closes FINAL WHERE {between} GROUP BY branch_id, p"
    ):
        rows[(int(branch), start)].update(
            variance=Decimal(str(variance)), days_with_variance=int(days)
        )
    result = []
    for (branch, start), row in sorted(rows.items()):
        attended = row["bookings"] - row["cancellations"]
        result.append(
            {
                "branch": branch,
                "period": start,
                **row,
                "takings": str(row["takings"].quantize(Decimal("0.01"))),
                "variance": str(row["variance"].quantize(Decimal("0.01"))),
                "no_show_rate": round(row["no_shows"] / attended, 4) if attended else 0.0,
            }
        )
    return result


def monthly_takings(warehouse: TenantWarehouse, year: int) -> list[dict[str, Any]]:
    """From the rollup: net takings per branch and month of a year."""
    return [
        {
            "branch": int(branch),
            "month": month,
            "takings": str(Decimal(str(amount)).quantize(Decimal("0.01"))),
        }
        for branch, month, amount in warehouse.rows(
            "SELECT branch_id, toString(month), sumIf(amount, kind = 'payment') - "
            "sumIf(amount, kind = 'refund') FROM {db}.money_monthly FINAL "
            f"WHERE toYear(month) = {int(year)} GROUP BY branch_id, month ORDER BY branch_id, month"
        )
    ]
