"""Daily, weekly and monthly reports: weeks and months are sums of their days, always."""

import csv
import io
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from apps.clinic.models import Branch
from apps.reconciliation.compute import close_days, money
from apps.reconciliation.models import DailyClose

COUNTS = ("bookings", "cancellations", "no_shows", "completed")
BOOKS = ("collected", "refunded", "declared", "variance")


def close_dict(close: DailyClose) -> dict[str, Any]:
    return {
        "branch": close.branch_id,
        "date": close.date.isoformat(),
        **{name: getattr(close, name) for name in COUNTS},
        "expected": money(close.expected),
        **{name: getattr(close, name) for name in BOOKS},
        "net": money(close.net),
        "settled": close.settled,
        "in_transit": close.in_transit,
        "status": close.status,
        "as_of_position": close.as_of_position,
    }


def totals(closes: list[DailyClose]) -> dict[str, Any]:
    """The sum of days: counts, expected, and every per-method book."""
    books: dict[str, dict[str, Decimal]] = {name: defaultdict(Decimal) for name in BOOKS}
    for close in closes:
        for name in BOOKS:
            for method, amount in getattr(close, name).items():
                books[name][method] += Decimal(amount)
    return {
        **{name: sum(getattr(c, name) for c in closes) for name in COUNTS},
        "expected": money(sum((c.expected for c in closes), Decimal("0"))),
        **{name: {m: money(v) for m, v in sorted(books[name].items())} for name in BOOKS},
        "net": money(sum((c.net for c in closes), Decimal("0"))),
        "days_with_variance": sum(c.status == DailyClose.Status.VARIANCE for c in closes),
    }


def daily(branch: Branch, day: date) -> DailyClose:
    (close,) = close_days(day, day, {branch.pk})
    return close


def week_bounds(week: str) -> tuple[date, date]:
    """`2026-W48` → its Monday and Sunday."""
    monday = date.fromisocalendar(int(week[:4]), int(week.split("W")[1]), 1)
    return monday, monday + timedelta(days=6)


def weekly(branch: Branch, week: str) -> dict[str, Any]:
    monday, sunday = week_bounds(week)
    closes = close_days(monday, sunday, {branch.pk})
    return {
        "branch": branch.pk,
        "week": week,
        "days": [close_dict(close) for close in closes],
        "totals": totals(closes),
    }


def month_bounds(month: str) -> tuple[date, date]:
    first = date.fromisoformat(f"{month}-01")
    following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    return first, following - timedelta(days=1)


def monthly(month: str, branches: list[Branch]) -> dict[str, Any]:
    first, last = month_bounds(month)
    ids = {branch.pk for branch in branches}
    closes = close_days(first, last, ids)
    by_branch: dict[int, list[DailyClose]] = defaultdict(list)
    for close in closes:
        by_branch[close.branch_id].append(close)
    return {
        "month": month,
        "branches": [
            {"branch": branch.pk, "name": branch.name, **totals(by_branch[branch.pk])}
            for branch in branches
        ],
        "chain": totals([close for close in closes if close.branch_id in ids]),
    }


def to_csv(rows: list[dict[str, Any]], first: list[str]) -> str:
    """Flattens per-method books into columns such as `collected_cash`."""
    methods = sorted({m for row in rows for name in BOOKS for m in row.get(name, {})})
    header = first + list(COUNTS) + ["expected"] + [f"{n}_{m}" for n in BOOKS for m in methods]
    header += ["net"]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for row in rows:
        writer.writerow(
            [row.get(c, "") for c in first]
            + [row[c] for c in COUNTS]
            + [row["expected"]]
            + [row.get(n, {}).get(m, "") for n in BOOKS for m in methods]
            + [row["net"]]
        )
    return out.getvalue()
