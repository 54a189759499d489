"""Reconciliation commands: declarations, settlement imports, sign-offs, tolerance."""

import csv
import io
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone

from apps.billing.money import check_amount
from apps.clinic.access import require_branch, require_role
from apps.clinic.models import WHOLE_TENANT_ROLES, Branch, Role, User
from apps.clinic.scoping import visible_branches
from apps.core.dates import OutOfRange, parse_amount, parse_date
from apps.core.errors import InvalidInput, PermissionDenied
from apps.eventstore.store import command
from apps.reconciliation import events
from apps.reconciliation.models import METHODS, Declaration, ReconciliationSettings, SignOff

DECLARERS = WHOLE_TENANT_ROLES | {Role.BRANCH_MANAGER, Role.RECEPTIONIST}
SIGNERS = WHOLE_TENANT_ROLES | {Role.BRANCH_MANAGER}
# Who may declare a day older than MYMEDIC_DECLARATION_WINDOW_DAYS (the desk may not).
LATE_DECLARERS = SIGNERS
SETTLEMENT_COLUMNS = ["date", "branch", "method", "amount", "reference"]


def _declare(
    *,
    actor: User | None,
    branch: Branch,
    day: date,
    method: str,
    amount: Decimal,
    source: str,
    reference: str = "",
) -> Declaration:
    declaration = Declaration(
        branch=branch, date=day, method=method, amount=amount, source=source, reference=reference
    )
    declaration.record(
        events.DECLARATION_MADE,
        {
            "branch_id": branch.pk,
            "date": day,
            "method": method,
            "amount": str(amount),
            "source": source,
        },
        actor=actor,
    )
    declaration.save()
    return declaration


@command
def declaration_make(
    *, actor: User | None, branch: Branch, day: date, method: str, amount: Decimal
) -> Declaration:
    """The day-end count of one method; a later one for the same day replaces it."""
    require_role(actor, DECLARERS)
    require_branch(actor, branch.pk, "Branch not found.")
    if method not in METHODS:
        raise InvalidInput(f"Method is one of: {', '.join(METHODS)}.", field="method")
    if amount < 0 or amount != amount.quantize(Decimal("0.01")):
        raise InvalidInput("Declare zero or more, with at most two decimals.", field="amount")
    if amount > 0:
        check_amount(amount)
    _check_declarable(actor, branch, day)
    return _declare(
        actor=actor,
        branch=branch,
        day=day,
        method=method,
        amount=amount,
        source=Declaration.Source.COUNT,
    )


def _check_declarable(actor: User | None, branch: Branch, day: date) -> None:
    """No count for a day that has not happened; the front desk counts only recent days
    (a re-count years back would rewrite a closed month), managers any past day."""
    today = timezone.now().astimezone(ZoneInfo(branch.timezone)).date()
    if day > today:
        raise InvalidInput(
            "That day has not happened yet: count today or an earlier day.", field="date"
        )
    window = settings.MYMEDIC_DECLARATION_WINDOW_DAYS
    if actor is not None and actor.role not in LATE_DECLARERS and day < today - timedelta(window):
        raise PermissionDenied(
            f"The front desk may count the last {window} days only; ask a manager to declare "
            f"{day.isoformat()}."
        )


@dataclass(frozen=True)
class RowError:
    line: int
    field: str
    message: str


@command
def settlements_import(*, actor: User | None, text: str) -> list[Declaration]:
    """Imports a settlement CSV (date,branch,method,amount,reference) whole, or nothing.

    Every bad row is reported with its line number; one bad row refuses the file.
    """
    require_role(actor, WHOLE_TENANT_ROLES | {Role.BRANCH_MANAGER})
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    if (
        reader.fieldnames is None
        or [f.strip().lower() for f in reader.fieldnames][:4] != SETTLEMENT_COLUMNS[:4]
    ):
        raise InvalidInput(f"The first line must be: {','.join(SETTLEMENT_COLUMNS)}", field="file")
    branches = {b.pk: b for b in (visible_branches(actor) if actor else Branch.objects.all())}
    rows, errors = [], []
    for line, row in enumerate(reader, start=2):
        problems = _row_problems(row, branches)
        errors += [RowError(line, f, m) for f, m in problems]
        if not problems:
            rows.append(row)
    if errors:
        raise InvalidInput(
            errors={"rows": [f"line {e.line}, {e.field}: {e.message}" for e in errors]}
        )
    if not rows:
        raise InvalidInput("The file has no rows.", field="file")
    return [
        _declare(
            actor=actor,
            branch=branches[int(row["branch"])],
            day=parse_date(row["date"]),
            method=row["method"].strip().lower(),
            amount=parse_amount(row["amount"]),
            source=Declaration.Source.SETTLEMENT,
            reference=(row.get("reference") or "").strip()[:80],
        )
        for row in rows
    ]


def _row_problems(row: dict[str, str], branches: dict[int, Branch]) -> list[tuple[str, str]]:
    problems = []
    try:
        parse_date(row.get("date") or "")
    except OutOfRange as exc:
        problems.append(("date", str(exc)))
    except ValueError:
        problems.append(("date", "use YYYY-MM-DD"))
    branch = (row.get("branch") or "").strip()
    if not branch.isdigit() or int(branch) not in branches:
        problems.append(("branch", "unknown branch id"))
    if (row.get("method") or "").strip().lower() not in ("card", "upi", "other"):
        problems.append(("method", "settlements are card, upi or other"))
    try:
        parse_amount(row.get("amount") or "")
    except ValueError as exc:
        problems.append(("amount", str(exc)))
    return problems


@command
def close_sign_off(*, actor: User | None, branch: Branch, day: date, note: str = "") -> SignOff:
    from apps.reconciliation.compute import close_days

    require_role(actor, SIGNERS)
    require_branch(actor, branch.pk, "Branch not found.")
    (close,) = close_days(day, day, {branch.pk})
    if close.status == close.Status.VARIANCE and not note.strip():
        raise InvalidInput("Explain the variance in a note before signing off.", field="note")
    sign_off = SignOff(branch=branch, date=day, note=note.strip()[:500], variance=close.variance)
    # The note is free text: it stays in the row, out of the event.
    sign_off.record(
        events.DAILY_CLOSE_SIGNED_OFF,
        {"branch_id": branch.pk, "date": day, "status": close.status, "variance": close.variance},
        actor=actor,
    )
    sign_off.save()
    return sign_off


@command
def tolerance_set(*, actor: User | None, tolerance: Decimal) -> ReconciliationSettings:
    require_role(actor, WHOLE_TENANT_ROLES)
    if tolerance < 0 or tolerance > Decimal("100000"):
        raise InvalidInput("Tolerance is 0 to 100000.", field="tolerance")
    settings = ReconciliationSettings.for_update()
    settings.tolerance = tolerance
    settings.record(events.RECONCILIATION_TOLERANCE_SET, {"tolerance": str(tolerance)}, actor=actor)
    settings.save()
    return settings
