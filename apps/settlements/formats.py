"""The files we read: Razorpay's settlement reconciliation report and a plain bank statement.

Parsing is all-or-nothing: a file with a bad row is refused whole, naming each bad line, and
nothing is imported (docs/SETTLEMENTS.md describes both formats).
"""

import csv
import hashlib
import io
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from django.utils.translation import gettext_noop

from apps.billing.money import MAX_AMOUNT, PAISA
from apps.core.dates import parse_date, parse_instant
from apps.core.errors import InvalidInput
from apps.settlements import problems

MAX_ROWS = 50_000
GATEWAY_TIME_ZONE = ZoneInfo("Asia/Kolkata")

RAZORPAY_REQUIRED = (
    "entity_id", "type", "debit", "credit", "amount", "currency", "fee", "tax",
    "settled", "created_at", "settled_at", "settlement_id", "settlement_utr",
)  # fmt: skip
RAZORPAY_OPTIONAL = ("on_hold", "order_id", "order_receipt", "method", "payment_id")
BANK_COLUMNS = ("date", "narration", "reference", "credit", "debit", "balance")
ROW_TYPES = ("payment", "refund", "adjustment")


@dataclass(frozen=True)
class GatewayLine:
    line: int
    entity_id: str
    type: str
    debit: Decimal
    credit: Decimal
    amount: Decimal
    currency: str
    fee: Decimal
    tax: Decimal
    settled: bool
    created_at: datetime | None
    settled_on: date | None
    settlement_id: str
    utr: str
    order_id: str
    order_receipt: str
    method: str
    payment_id: str

    @property
    def row_key(self) -> str:
        return f"{self.type}:{self.entity_id}"

    @property
    def digest(self) -> str:
        """What the row says, so the same row in a later file is known as the same."""
        fields = {k: str(v) for k, v in vars(self).items() if k != "line"}
        return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class BankEntry:
    line: int
    date: date
    narration: str
    reference: str
    credit: Decimal
    debit: Decimal
    balance: Decimal | None

    @property
    def line_key(self) -> str:
        return "|".join(
            [self.date.isoformat(), self.reference, str(self.credit), str(self.debit),
             str(self.balance if self.balance is not None else "")]
        )  # fmt: skip


def decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(gettext_noop("The file must be UTF-8 text."), field="file") from exc


def file_digest(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def _reader(text: str, required: tuple[str, ...]) -> "csv.DictReader[str]":
    reader = csv.DictReader(io.StringIO(text))
    names = [name.strip().lower() for name in reader.fieldnames or []]
    missing = [column for column in required if column not in names]
    if not names or missing:
        if not missing:
            raise InvalidInput(
                gettext_noop("The first line must name the columns; missing: all."), field="file"
            )
        raise InvalidInput(
            gettext_noop("The first line must name the columns; missing: %(missing)s."),
            field="file",
            params={"missing": ", ".join(missing)},
        )
    reader.fieldnames = names
    return reader


def _amount(value: str, *, signed: bool = False) -> Decimal:
    text = (value or "").strip().replace(",", "")
    if not text:
        return Decimal("0.00")
    try:
        amount = Decimal(text)
    except InvalidOperation as exc:
        raise ValueError(problems.NOT_AN_AMOUNT) from exc
    if not amount.is_finite() or amount != amount.quantize(PAISA):
        raise ValueError(problems.TOO_MANY_DECIMALS)
    if abs(amount) > MAX_AMOUNT * 100 or (amount < 0 and not signed):
        raise ValueError(problems.AMOUNT_OUT_OF_RANGE)
    return amount.quantize(PAISA)


def _instant(value: str) -> datetime | None:
    """Unix seconds (Razorpay's API) or an ISO timestamp (its dashboard: India time when no
    offset is given)."""
    text = (value or "").strip()
    if not text:
        return None
    if text.isdigit():
        return parse_instant(datetime.fromtimestamp(int(text), tz=UTC).isoformat())
    instant = parse_instant(text.replace(" ", "T", 1))
    return instant if instant.tzinfo else instant.replace(tzinfo=GATEWAY_TIME_ZONE)


def _day(value: str) -> date | None:
    instant = _instant(value)
    return instant.date() if instant else None


def _rows(reader: "csv.DictReader[str]") -> list[tuple[int, dict[str, str]]]:
    rows = []
    for number, row in enumerate(reader, start=2):
        if not any((v or "").strip() for v in row.values() if isinstance(v, str)):
            continue
        rows.append((number, {k: (v or "").strip() for k, v in row.items() if k}))
        if len(rows) > MAX_ROWS:
            raise InvalidInput(
                gettext_noop("A file holds at most %(most)s rows."),
                field="file",
                params={"most": f"{MAX_ROWS:,}"},
            )
    if not rows:
        raise InvalidInput(gettext_noop("The file has no rows."), field="file")
    return rows


def parse_razorpay(text: str) -> list[GatewayLine]:
    """Rows of Razorpay's settlement reconciliation report (amounts in rupees)."""
    lines: list[GatewayLine] = []
    refused: list[str] = []
    for number, row in _rows(_reader(text, RAZORPAY_REQUIRED)):
        try:
            kind = row["type"].lower()
            if kind not in ROW_TYPES:
                raise ValueError(problems.TYPE_NOT_KNOWN % {"types": ", ".join(ROW_TYPES)})
            if not row["entity_id"]:
                raise ValueError(problems.ENTITY_EMPTY)
            currency = row["currency"].upper() or "INR"
            if len(currency) != 3 or not currency.isalpha():
                raise ValueError(problems.CURRENCY_NOT_A_CODE)
            lines.append(
                GatewayLine(
                    line=number, entity_id=row["entity_id"][:60], type=kind,
                    debit=_amount(row["debit"]), credit=_amount(row["credit"]),
                    amount=_amount(row["amount"]), currency=currency,
                    fee=_amount(row["fee"], signed=True), tax=_amount(row["tax"], signed=True),
                    settled=row["settled"].lower() in ("1", "true", "yes"),
                    created_at=_instant(row["created_at"]), settled_on=_day(row["settled_at"]),
                    settlement_id=row["settlement_id"][:60], utr=row["settlement_utr"][:80],
                    order_id=row.get("order_id", "")[:60],
                    order_receipt=row.get("order_receipt", "")[:60],
                    method=row.get("method", "")[:20].lower(),
                    payment_id=row.get("payment_id", "")[:60],
                )
            )  # fmt: skip
        except (ValueError, InvalidInput) as exc:
            refused.append(problems.on_line(number, getattr(exc, "message", exc)))
    if refused:
        raise InvalidInput(errors={"rows": problems.listed(refused)})
    return lines


def parse_bank(text: str) -> list[BankEntry]:
    """Lines of a bank statement: date,narration,reference,credit,debit,balance."""
    entries: list[BankEntry] = []
    refused: list[str] = []
    for number, row in _rows(_reader(text, BANK_COLUMNS)):
        try:
            day = parse_date(row["date"])
            credit, debit = _amount(row["credit"]), _amount(row["debit"])
            if (credit > 0) == (debit > 0):
                raise ValueError(problems.CREDIT_OR_DEBIT)
            entries.append(
                BankEntry(
                    line=number, date=day, narration=row["narration"][:200],
                    reference=row["reference"][:80], credit=credit, debit=debit,
                    balance=_amount(row["balance"], signed=True) if row["balance"] else None,
                )
            )  # fmt: skip
        except (ValueError, InvalidInput) as exc:
            refused.append(problems.on_line(number, getattr(exc, "message", exc)))
    if refused:
        raise InvalidInput(errors={"rows": problems.listed(refused)})
    return entries
