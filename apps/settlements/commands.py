"""Settlement commands: imports of gateway reports and bank statements, matching, the
exception queue, UPI set-up and the gateway's payment webhook. Each save appends its event.

Payments themselves are taken by `apps.billing.commands.payment_take`; this app links them to
the gateway's ids and books what the gateway settled, kept and charged for them.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Sum
from django.utils import timezone, translation
from django.utils.translation import gettext_noop

from apps.billing import commands as billing
from apps.billing.commands import local_date_of
from apps.billing.models import Method, Payment
from apps.billing.money import ZERO, money
from apps.clinic.access import require_branch, require_role
from apps.clinic.models import WHOLE_TENANT_ROLES, Branch, User
from apps.core.clinictime import format_date
from apps.core.errors import Conflict, DomainError, InvalidInput
from apps.eventstore.store import command
from apps.scheduling.models import Appointment
from apps.settlements import details, events, formats, signing, upi
from apps.settlements.models import (
    BankLine,
    BranchUpi,
    ExceptionItem,
    GatewayPayment,
    GatewayRow,
    ImportedFile,
    Settlement,
    SettlementSettings,
    WebhookDelivery,
)

SETTLEMENT_MANAGERS = WHOLE_TENANT_ROLES
# Bank credits that name one of these in their narration are gateway payouts: one that no
# settlement claims is an exception. Other credits (rent, transfers) are not our business.
GATEWAY_NARRATIONS = ("razorpay", "rzp")
# How far back the never-settled check looks: older payments were flagged long ago.
UNSETTLED_WINDOW_DAYS = 90
SETTLED_METHODS = (Method.CARD, Method.UPI)
GATEWAY_METHODS = {"upi": Method.UPI, "card": Method.CARD}


@dataclass
class ImportResult:
    file: ImportedFile
    already_imported: bool = False
    rows: int = 0
    new_rows: int = 0
    skipped: int = 0
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    exceptions: int = 0
    position: int = 0


@command
def settlement_settings_update(
    *, actor: User | None, unsettled_after_days: int
) -> SettlementSettings:
    require_role(actor, SETTLEMENT_MANAGERS)
    if not 1 <= unsettled_after_days <= 60:
        raise InvalidInput(gettext_noop("Give 1 to 60 days."), field="unsettled_after_days")
    settings = SettlementSettings.for_update()
    settings.unsettled_after_days = unsettled_after_days
    settings.record(
        events.SETTLEMENT_SETTINGS_CHANGED,
        {"unsettled_after_days": unsettled_after_days},
        actor=actor,
    )
    settings.save()
    return settings


@command
def webhook_secret_set(*, actor: User | None, secret: str) -> SettlementSettings:
    """Keeps the gateway's webhook secret, sealed under the tenant's key; the event says only
    that it changed."""
    require_role(actor, SETTLEMENT_MANAGERS)
    secret = secret.strip()
    if not 8 <= len(secret) <= 200:
        raise InvalidInput(gettext_noop("A webhook secret is 8 to 200 characters."), field="secret")
    settings = SettlementSettings.for_update()
    signing.seal_secret(settings, secret)
    settings.record(
        events.WEBHOOK_SECRET_SET, {"key_version": settings.webhook_key_version}, actor=actor
    )
    settings.save()
    return settings


@command
def branch_upi_set(*, actor: User | None, branch: Branch, vpa: str, payee: str) -> BranchUpi:
    """Sets the UPI ID a branch is paid at (validated) and the payee name shown to payers."""
    require_role(actor, SETTLEMENT_MANAGERS)
    require_branch(actor, branch.pk, "Branch not found.")
    vpa, payee = upi.check_vpa(vpa), upi.check_payee(payee)
    row = BranchUpi.objects.select_for_update().filter(branch=branch).first()
    row = row or BranchUpi(branch=branch)
    row.vpa, row.payee = vpa, payee
    row.record(events.BRANCH_UPI_SET, {"branch_id": branch.pk, "vpa": vpa}, actor=actor)
    row.save()
    return row


# The exception queue.


def _raise(
    *,
    kind: str,
    key: str,
    detail: str,
    reference: str = "",
    amount: Decimal | None = None,
    branch_id: int | None = None,
    actor: User | None = None,
) -> bool:
    """Raises an exception item once per `key`; True when it is new."""
    if ExceptionItem.objects.filter(key=key).exists():
        return False
    item = ExceptionItem(
        kind=kind, key=key, detail=detail[:300], reference=reference[:80], amount=amount,
        branch_id=branch_id,
    )  # fmt: skip
    item.record(
        events.SETTLEMENT_EXCEPTION_RAISED,
        {
            "kind": kind,
            "reference": item.reference,
            "amount": str(amount) if amount is not None else None,
            "branch_id": branch_id,
        },
        actor=actor,
    )
    item.save()
    return True


def _close(item: ExceptionItem, *, actor: User | None, note: str, by_system: bool) -> None:
    item.status = ExceptionItem.Status.RESOLVED
    item.note = note
    item.resolved_by = actor
    item.resolved_at = timezone.now()
    # The note is free text: it stays in the row, never in the event.
    item.record(
        events.SETTLEMENT_EXCEPTION_RESOLVED,
        {"kind": item.kind, "reference": item.reference, "by_system": by_system},
        actor=actor,
    )
    item.save()


def _settle_open(key: str, note: str) -> None:
    """Resolves an open item whose cause went away (a late file matched it)."""
    item = ExceptionItem.objects.select_for_update().filter(key=key, status="open").first()
    if item is not None:
        _close(item, actor=None, note=note, by_system=True)


@command
def exception_resolve(*, actor: User | None, item: ExceptionItem, note: str) -> ExceptionItem:
    """A manager closes an item with a note saying what was done (the event is audited)."""
    require_role(actor, SETTLEMENT_MANAGERS)
    item = ExceptionItem.objects.select_for_update().get(pk=item.pk)
    if item.branch_id is not None:
        require_branch(actor, item.branch_id, "Exception not found.")
    note = " ".join(note.split())
    if not note:
        raise InvalidInput(gettext_noop("Say what was done about it."), field="note")
    if item.status == ExceptionItem.Status.RESOLVED:
        raise Conflict(gettext_noop("This was already resolved."))
    _close(item, actor=actor, note=note[:500], by_system=False)
    return item


# Gateway settlement reports.


def _link_by_receipt(line: formats.GatewayLine) -> GatewayPayment | None:
    """A desk payment whose gateway receipt carries our reference (`A<visit>-<n>`): the card
    or UPI payment of that visit for the same amount that no gateway id claims yet."""
    appointment_id = upi.appointment_of(line.order_receipt)
    if appointment_id is None:
        return None
    payment = (
        Payment.objects.filter(
            appointment_id=appointment_id,
            method__in=SETTLED_METHODS,
            amount=line.amount,
            gateway__isnull=True,
        )
        .order_by("id")
        .first()
    )
    if payment is None:
        payment = _record_confirmed_payment(appointment_id, line)
    if payment is None:
        return None
    return _link(payment, line.entity_id, line.order_id, line.order_receipt, actor=None)


def _record_confirmed_payment(appointment_id: int, line: formats.GatewayLine) -> Payment | None:
    """A payment the desk never recorded and no webhook reported, that the gateway's settlement
    confirms: the patient paid the visit's UPI QR (whose reference the receipt carries).
    Recorded now, as the webhook would have; a visit that cannot take it (cancelled, already
    paid in full) leaves the row unmatched, for the exception queue."""
    appointment = Appointment.objects.filter(pk=appointment_id).first()
    if appointment is None or line.amount <= 0:
        return None
    method = GATEWAY_METHODS.get(line.method, Method.OTHER)
    kind = Payment.Kind.BALANCE if appointment.payments.exists() else Payment.Kind.DEPOSIT
    try:
        return billing.payment_take(
            actor=None, appointment=appointment, kind=kind, amount=line.amount, method=method
        )
    except DomainError:
        return None


def _link(
    payment: Payment, gateway_payment_id: str, order_id: str, reference: str, *, actor: User | None
) -> GatewayPayment:
    link = GatewayPayment(
        payment=payment, branch_id=payment.branch_id, gateway_payment_id=gateway_payment_id,
        order_id=order_id, reference=reference,
    )  # fmt: skip
    link.record(
        events.GATEWAY_PAYMENT_LINKED,
        {
            "payment_id": payment.pk,
            "branch_id": payment.branch_id,
            "gateway": link.gateway,
            "gateway_payment_id": gateway_payment_id,
            "order_id": order_id,
            "reference": reference,
        },
        actor=actor,
    )
    link.save()
    return link


def _payment_of(line: formats.GatewayLine) -> Payment | None:
    links = GatewayPayment.objects.select_related("payment__branch")
    if line.type == GatewayRow.Type.REFUND:
        found = (
            links.filter(gateway_payment_id=line.payment_id).first() if line.payment_id else None
        )
        return found.payment if found else None
    found = links.filter(gateway_payment_id=line.entity_id).first()
    if found is None and line.order_id:
        found = links.filter(order_id=line.order_id).first()
    if found is None and line.order_receipt:
        found = links.filter(reference=line.order_receipt).first() or _link_by_receipt(line)
    return found.payment if found else None


def _settlement_for(line: formats.GatewayLine, actor: User | None) -> Settlement:
    settlement = (
        Settlement.objects.select_for_update().filter(settlement_id=line.settlement_id).first()
    )
    if settlement is not None:
        return settlement
    settlement = Settlement(
        settlement_id=line.settlement_id, utr=line.utr, settled_on=line.settled_on
    )
    settlement.record(
        events.SETTLEMENT_RECORDED,
        {
            "settlement_id": line.settlement_id,
            "utr": line.utr,
            "settled_on": line.settled_on.isoformat() if line.settled_on else None,
        },
        actor=actor,
    )
    settlement.save()
    return settlement


def _row_event(row: GatewayRow, payment: Payment | None) -> tuple[str, dict[str, Any]]:
    data: dict[str, Any] = {
        "type": row.type,
        "entity_id": row.entity_id,
        "settlement_id": row.settlement.settlement_id if row.settlement else None,
        "settled_on": row.settled_on.isoformat() if row.settled_on else None,
        "amount": str(row.amount),
        "fee": str(row.fee_before_tax),
        "gst": str(row.tax),
        "credit": str(row.credit),
        "debit": str(row.debit),
        "currency": row.currency,
    }
    if payment is not None:
        data.update(
            payment_id=payment.pk,
            branch_id=payment.branch_id,
            method=payment.method,
            # The payment's own business day, so the daily close can set settled against taken.
            date=local_date_of(payment.received, payment.branch),
        )
    if row.status == GatewayRow.Status.DUPLICATE:
        return events.GATEWAY_ROW_DUPLICATED, data
    if row.type == GatewayRow.Type.ADJUSTMENT:
        return events.GATEWAY_ADJUSTMENT_BOOKED, data
    if payment is None:
        return events.GATEWAY_ROW_UNMATCHED, data
    if row.type == GatewayRow.Type.REFUND:
        return events.GATEWAY_REFUND_SETTLED, data
    return events.GATEWAY_PAYMENT_SETTLED, data


def _store_row(
    file: ImportedFile,
    line: formats.GatewayLine,
    status: str,
    actor: User | None,
    settlements: dict[str, Settlement],
) -> GatewayRow:
    """Stores a row under its settlement (made on its first row; `settlements` keeps those
    of this file, the ones whose figures are checked after it)."""
    settlement = settlements.get(line.settlement_id)
    if settlement is None:
        settlement = settlements[line.settlement_id] = _settlement_for(line, actor)
    payment = None
    if status != GatewayRow.Status.DUPLICATE and line.type != GatewayRow.Type.ADJUSTMENT:
        payment = _payment_of(line)
        status = GatewayRow.Status.MATCHED if payment else GatewayRow.Status.UNMATCHED
    row = GatewayRow(
        file=file, settlement=settlement, type=line.type, entity_id=line.entity_id,
        payment_ref=line.payment_id, order_id=line.order_id, order_receipt=line.order_receipt,
        method=line.method, currency=line.currency, amount=line.amount, fee=line.fee,
        tax=line.tax, debit=line.debit, credit=line.credit, gateway_created=line.created_at,
        settled_on=line.settled_on, row_key=line.row_key, digest=line.digest, status=status,
        payment=payment, branch_id=payment.branch_id if payment else None,
    )  # fmt: skip
    event_type, data = _row_event(row, payment)
    row.record(event_type, data, actor=actor)
    row.save()
    return row


def settlement_figures(settlement: Settlement) -> dict[str, Decimal]:
    """What a settlement's rows add up to: `net` is what the gateway says it paid out
    (credits less debits), `expected` is gross less refunds, fees and GST on the fees, plus
    adjustments; a settlement is short when they differ."""
    rows = list(settlement.rows.exclude(status=GatewayRow.Status.DUPLICATE))
    payments = [r for r in rows if r.type == GatewayRow.Type.PAYMENT]
    refunds = [r for r in rows if r.type == GatewayRow.Type.REFUND]
    adjustments = [r for r in rows if r.type == GatewayRow.Type.ADJUSTMENT]
    gross = sum((r.amount for r in payments), ZERO)
    refunded = sum((r.amount for r in refunds), ZERO)
    fees = sum((r.fee_before_tax for r in rows), ZERO)
    gst = sum((r.tax for r in rows), ZERO)
    adjusted = sum((r.credit - r.debit for r in adjustments), ZERO)
    net = sum((r.credit - r.debit for r in rows), ZERO)
    expected = gross - refunded - fees - gst + adjusted
    return {
        "gross": money(gross),
        "refunds": money(refunded),
        "fees": money(fees),
        "gst": money(gst),
        "adjustments": money(adjusted),
        "net": money(net),
        "expected": money(expected),
        "short": money(expected - net),
    }


def _check_short(settlement: Settlement, actor: User | None) -> int:
    figures = settlement_figures(settlement)
    if figures["short"] == ZERO:
        return 0
    return int(
        _raise(
            kind=ExceptionItem.Kind.SHORT_SETTLEMENT,
            key=f"short_settlement:{settlement.settlement_id}:{figures['net']}",
            detail=details.stored(
                details.SHORT_SETTLEMENT,
                settlement=settlement.settlement_id,
                **{name: figures[name] for name in details.SHORT_FIGURES},
            ),
            reference=settlement.settlement_id,
            amount=figures["short"],
            actor=actor,
        )
    )


@command
def gateway_file_import(*, actor: User | None, raw: bytes, name: str = "") -> ImportResult:
    """Imports a Razorpay settlement reconciliation report. Idempotent: the same file again
    changes nothing, and a row already imported from another file is skipped. A row of a
    gateway entity already booked differently, or twice in one file, is a duplicate: kept,
    never booked, and raised as an exception."""
    require_role(actor, SETTLEMENT_MANAGERS)
    lines = formats.parse_razorpay(formats.decode(raw))
    sha = formats.file_digest(raw)
    earlier = ImportedFile.objects.filter(kind=ImportedFile.Kind.GATEWAY, sha256=sha).first()
    if earlier is not None:
        return _already(earlier, len(lines))
    file = _new_file(ImportedFile.Kind.GATEWAY, "razorpay", name, sha, len(lines), actor)
    result = ImportResult(file=file, rows=len(lines))
    seen: set[str] = set()
    touched: dict[str, Settlement] = {}
    booked = _booked_digests([line.row_key for line in lines])
    for line in lines:
        if not line.settled or not line.settlement_id:
            result.skipped += 1  # not paid out yet: a later report brings it settled
            continue
        digest = booked.get(line.row_key)
        if digest == line.digest and line.row_key not in seen:
            seen.add(line.row_key)
            result.skipped += 1
            continue
        duplicate = digest is not None or line.row_key in seen
        seen.add(line.row_key)
        row = _store_row(
            file, line, GatewayRow.Status.DUPLICATE if duplicate else "", actor, touched
        )
        if not duplicate:
            booked[line.row_key] = line.digest
        result.new_rows += 1
        result.counts[str(row.status)] += 1
        result.exceptions += _row_exceptions(row, actor)
    for settlement in touched.values():
        result.exceptions += _check_short(settlement, actor)
    result.exceptions += _match_bank(actor) + _flag_unsettled(actor)
    _finish_file(file, result, actor)
    return result


def _booked_digests(row_keys: list[str]) -> dict[str, str]:
    """{row key: digest} of the booked (non-duplicate) rows among `row_keys`, in a few
    queries for the whole file rather than one per row."""
    booked: dict[str, str] = {}
    unique = sorted(set(row_keys))
    for start in range(0, len(unique), 1000):
        rows = GatewayRow.objects.filter(row_key__in=unique[start : start + 1000]).exclude(
            status=GatewayRow.Status.DUPLICATE
        )
        booked.update(rows.values_list("row_key", "digest"))
    return booked


def _row_exceptions(row: GatewayRow, actor: User | None) -> int:
    if row.status == GatewayRow.Status.DUPLICATE:
        return int(
            _raise(
                kind=ExceptionItem.Kind.DUPLICATE_ROW,
                key=f"duplicate_row:{row.pk}",
                detail=details.stored(
                    details.DUPLICATE_ROW,
                    type=row.type,
                    entity=row.entity_id,
                    settlement=row.settlement.settlement_id if row.settlement else "-",
                ),
                reference=row.entity_id,
                amount=row.amount,
                actor=actor,
            )
        )
    if row.status == GatewayRow.Status.UNMATCHED:
        return int(
            _raise(
                kind=ExceptionItem.Kind.UNMATCHED_ROW,
                key=f"unmatched_row:{row.row_key}",
                detail=details.stored(
                    details.UNMATCHED_ROW,
                    type=row.type,
                    entity=row.entity_id,
                    order=row.order_id or "-",
                    receipt=row.order_receipt or "-",
                ),
                reference=row.entity_id,
                amount=row.amount,
                actor=actor,
            )
        )
    if row.type == GatewayRow.Type.PAYMENT and row.payment_id is not None:
        _settle_open(f"unsettled_payment:{row.payment_id}", f"Settled in {row.settlement}.")
    return 0


def _flag_unsettled(actor: User | None) -> int:
    """Card and UPI payments older than the tenant's limit that no gateway row settled."""
    days = SettlementSettings.current().unsettled_after_days
    now = timezone.now()
    candidates = (
        Payment.objects.filter(
            method__in=SETTLED_METHODS,
            received__lt=now - timedelta(days=days),
            received__gte=now - timedelta(days=UNSETTLED_WINDOW_DAYS),
        )
        .exclude(gateway_rows__status=GatewayRow.Status.MATCHED)
        .select_related("branch")
        .annotate(refunded=Sum("refunds__amount"))
    )
    raised = 0
    for payment in candidates:
        if payment.refunded is not None and payment.refunded >= payment.amount:
            continue
        with translation.override(settings.LANGUAGE_CODE):  # stored: one language for all
            detail = details.stored(
                details.UNSETTLED_PAYMENT,
                method=Method(payment.method).label,
                payment=payment.pk,
                day=format_date(payment.received, payment.branch.timezone),
                days=days,
            )
        raised += _raise(
            kind=ExceptionItem.Kind.UNSETTLED_PAYMENT,
            key=f"unsettled_payment:{payment.pk}",
            detail=detail,
            reference=f"payment:{payment.pk}",
            amount=payment.amount,
            branch_id=payment.branch_id,
            actor=actor,
        )
    return raised


def _already(file: ImportedFile, rows: int) -> ImportResult:
    last = file.history().last()
    return ImportResult(
        file=file, already_imported=True, rows=rows, skipped=rows,
        position=last.position if last else 0,
    )  # fmt: skip


def _new_file(
    kind: str, source: str, name: str, sha: str, rows: int, actor: User | None
) -> ImportedFile:
    file = ImportedFile(kind=kind, source=source, name=name[:200], sha256=sha, rows=rows)
    file.imported_by = actor
    file.record(
        events.SETTLEMENT_FILE_RECEIVED,
        {"kind": kind, "source": source, "sha256": sha, "rows": rows},
        actor=actor,
    )
    file.save()
    return file


def _finish_file(file: ImportedFile, result: ImportResult, actor: User | None) -> None:
    file.new_rows = result.new_rows
    file.record(
        events.SETTLEMENT_FILE_IMPORTED,
        {
            "kind": file.kind,
            "source": file.source,
            "sha256": file.sha256,
            "rows": file.rows,
            "new_rows": result.new_rows,
        },
        actor=actor,
    )
    file.save()
    result.position = file.position


# Bank statements.


@command
def bank_statement_import(*, actor: User | None, raw: bytes, name: str = "") -> ImportResult:
    """Imports a bank statement; a line already imported (same date, reference, amounts and
    balance) is skipped. Settlements are then matched to credits by UTR."""
    require_role(actor, SETTLEMENT_MANAGERS)
    entries = formats.parse_bank(formats.decode(raw))
    sha = formats.file_digest(raw)
    earlier = ImportedFile.objects.filter(kind=ImportedFile.Kind.BANK, sha256=sha).first()
    if earlier is not None:
        return _already(earlier, len(entries))
    file = _new_file(ImportedFile.Kind.BANK, "bank-csv", name, sha, len(entries), actor)
    result = ImportResult(file=file, rows=len(entries))
    for entry in entries:
        if BankLine.objects.filter(line_key=entry.line_key).exists():
            result.skipped += 1
            continue
        line = BankLine(
            file=file, date=entry.date, narration=entry.narration, reference=entry.reference,
            credit=entry.credit, debit=entry.debit, balance=entry.balance,
            line_key=entry.line_key,
        )  # fmt: skip
        line.record(
            events.BANK_LINE_IMPORTED,
            {
                "date": entry.date.isoformat(),
                "reference": entry.reference,
                "credit": str(entry.credit),
                "debit": str(entry.debit),
            },
            actor=actor,
        )
        line.save()
        result.new_rows += 1
    result.exceptions += _match_bank(actor)
    _finish_file(file, result, actor)
    return result


def _match_bank(actor: User | None) -> int:
    """Banks each settlement on the credit that carries its UTR for exactly its net; a credit
    from a gateway that no settlement claims, or one for another amount, is an exception."""
    raised = 0
    open_lines = list(BankLine.objects.filter(credit__gt=0, settlement__isnull=True))
    for settlement in (
        Settlement.objects.select_for_update().filter(bank_line__isnull=True).exclude(utr="")
    ):
        utr = settlement.utr.lower()
        line = next(
            (
                candidate
                for candidate in open_lines
                if candidate.reference.lower() == utr or utr in candidate.narration.lower()
            ),
            None,
        )
        if line is None:
            continue
        net = settlement_figures(settlement)["net"]
        if line.credit != net:
            raised += _raise(
                kind=ExceptionItem.Kind.BANK_MISMATCH,
                key=f"bank_mismatch:{settlement.settlement_id}:{line.pk}",
                detail=details.stored(
                    details.BANK_MISMATCH,
                    credit=line.credit,
                    day=line.date,
                    utr=settlement.utr,
                    settlement=settlement.settlement_id,
                    net=net,
                ),
                reference=settlement.utr,
                amount=money(net - line.credit),
                actor=actor,
            )
            continue
        open_lines.remove(line)
        settlement.bank_line = line
        settlement.record(
            events.SETTLEMENT_BANKED,
            {
                "settlement_id": settlement.settlement_id,
                "utr": settlement.utr,
                "bank_line_id": line.pk,
                "date": line.date.isoformat(),
                "amount": str(line.credit),
            },
            actor=actor,
        )
        settlement.save()
        _settle_open(f"unbanked_line:{line.pk}", f"Banks settlement {settlement.settlement_id}.")
    for line in open_lines:
        text = f"{line.narration} {line.reference}".lower()
        if any(word in text for word in GATEWAY_NARRATIONS):
            raised += _raise(
                kind=ExceptionItem.Kind.UNBANKED_LINE,
                key=f"unbanked_line:{line.pk}",
                detail=details.stored(
                    details.UNBANKED_LINE,
                    credit=line.credit,
                    day=line.date,
                    reference=line.reference or "-",
                ),
                reference=line.reference,
                amount=line.credit,
                actor=actor,
            )
    return raised


# The gateway's payment webhook.


@dataclass(frozen=True)
class WebhookResult:
    delivery: WebhookDelivery
    replayed: bool


def _refuse(delivery: WebhookDelivery, reason: str, amount: Decimal | None) -> None:
    delivery.outcome = WebhookDelivery.Outcome.REFUSED
    _raise(
        kind=ExceptionItem.Kind.WEBHOOK_REFUSED,
        key=f"webhook_refused:{delivery.event_id}",
        detail=f"Gateway payment {delivery.gateway_payment_id or '-'} was not recorded: {reason}",
        reference=delivery.gateway_payment_id,
        amount=amount,
        branch_id=delivery.branch_id,
    )


def _capture(delivery: WebhookDelivery, entity: dict[str, Any]) -> None:
    """Records the payment a `payment.captured` event reports, against the visit our
    reference (`notes.reference`, else the description) names."""
    notes = entity.get("notes")
    notes = notes if isinstance(notes, dict) else {}
    reference = str(notes.get("reference") or entity.get("description") or "")[:60]
    try:
        paise = int(entity.get("amount"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        _refuse(delivery, "the event carries no amount.", None)
        return
    amount = money(Decimal(paise) / 100)
    if GatewayPayment.objects.filter(gateway_payment_id=delivery.gateway_payment_id).exists():
        delivery.outcome = WebhookDelivery.Outcome.ALREADY
        return
    appointment_id = upi.appointment_of(reference)
    appointment = Appointment.objects.filter(pk=appointment_id).first() if appointment_id else None
    if appointment is None:
        _refuse(delivery, f"its reference {reference or '-'} names no visit.", amount)
        return
    delivery.branch_id = appointment.branch_id
    if str(entity.get("currency") or "INR").upper() != "INR" or paise <= 0:
        _refuse(delivery, "only payments of more than zero in INR are recorded.", amount)
        return
    method = GATEWAY_METHODS.get(str(entity.get("method") or ""), Method.OTHER)
    kind = Payment.Kind.BALANCE if appointment.payments.exists() else Payment.Kind.DEPOSIT
    try:
        payment = billing.payment_take(
            actor=None, appointment=appointment, kind=kind, amount=amount, method=method
        )
    except DomainError as exc:
        _refuse(delivery, exc.message, amount)
        return
    _link(
        payment, delivery.gateway_payment_id, str(entity.get("order_id") or "")[:60], reference,
        actor=None,
    )  # fmt: skip
    delivery.payment = payment
    delivery.outcome = WebhookDelivery.Outcome.RECORDED


@command
def payment_webhook_receive(
    *, event_id: str, event_type: str, payload: dict[str, Any]
) -> WebhookResult:
    """Acts on a webhook whose signature was checked: once per event id (a replay returns the
    first delivery and changes nothing). `payment.captured` records the payment through
    billing; one that cannot be recorded goes to the exception queue."""
    event_id = event_id.strip()[:80]
    if not event_id:
        raise InvalidInput(gettext_noop("The webhook carries no event id."), field="event_id")
    earlier = WebhookDelivery.objects.filter(event_id=event_id).first()
    if earlier is not None:
        return WebhookResult(delivery=earlier, replayed=True)
    entity = payload.get("payment", {}).get("entity", {}) if isinstance(payload, dict) else {}
    entity = entity if isinstance(entity, dict) else {}
    delivery = WebhookDelivery(
        event_id=event_id,
        event_type=event_type[:60],
        gateway_payment_id=str(entity.get("id") or "")[:60],
        outcome=WebhookDelivery.Outcome.IGNORED,
    )
    if event_type == "payment.captured":
        _capture(delivery, entity)
    delivery.record(
        events.WEBHOOK_RECEIVED,
        {
            "event_id": event_id,
            "event_type": delivery.event_type,
            "gateway_payment_id": delivery.gateway_payment_id,
            "outcome": delivery.outcome,
            "payment_id": delivery.payment_id,
        },
        actor=None,
    )
    delivery.save()
    return WebhookResult(delivery=delivery, replayed=False)
