"""Bank statements: a settlement is banked by the credit carrying its UTR for its net; other
gateway credits and wrong amounts go to the exception queue."""

from decimal import Decimal

from apps.billing.models import Payment
from apps.eventstore.models import Event
from apps.settlements import commands, events
from apps.settlements.models import BankLine, ExceptionItem, Settlement
from tests.settlements.conftest import sample

D = Decimal


def test_a_bank_credit_with_the_utr_and_the_net_banks_the_settlement(
    paid_by_gateway: dict[str, Payment],
) -> None:
    commands.gateway_file_import(actor=None, raw=sample("razorpay_settlement.csv"))

    result = commands.bank_statement_import(actor=None, raw=sample("bank_statement.csv"))

    assert (result.rows, result.new_rows) == (3, 3)
    settlement = Settlement.objects.get()
    assert settlement.bank_line is not None
    assert (settlement.bank_line.date.isoformat(), settlement.bank_line.credit) == (
        "2027-01-05",
        D("1559.88"),
    )
    banked = Event.objects.get(type=events.SETTLEMENT_BANKED)
    assert (banked.data["utr"], banked.data["amount"]) == ("UTIBR72027010500451", "1559.88")
    # The other Razorpay credit has no settlement; the rent debit is none of our business.
    assert list(
        ExceptionItem.objects.filter(status="open").values_list("kind", "reference", "amount")
    ) == [("unbanked_line", "UTIBR72027010600117", D("2210.40"))]


def test_the_same_statement_again_adds_no_line(paid_by_gateway: dict[str, Payment]) -> None:
    commands.bank_statement_import(actor=None, raw=sample("bank_statement.csv"))
    again = commands.bank_statement_import(actor=None, raw=sample("bank_statement.csv") + b"\n")

    assert (again.already_imported, again.new_rows, again.skipped) == (False, 0, 3)
    assert BankLine.objects.count() == 3


def test_a_credit_for_another_amount_is_queued_and_banks_nothing(
    paid_by_gateway: dict[str, Payment],
) -> None:
    commands.gateway_file_import(actor=None, raw=sample("razorpay_settlement.csv"))
    statement = (
        b"date,narration,reference,credit,debit,balance\n"
        b"2027-01-05,NEFT CR RAZORPAY,UTIBR72027010500451,1550.00,,1550.00\n"
    )

    commands.bank_statement_import(actor=None, raw=statement)

    assert Settlement.objects.get().bank_line is None
    item = ExceptionItem.objects.get(kind="bank_mismatch")
    assert (item.reference, item.amount) == ("UTIBR72027010500451", D("9.88"))


def test_a_credit_imported_before_its_report_is_banked_when_the_report_arrives(
    paid_by_gateway: dict[str, Payment],
) -> None:
    commands.bank_statement_import(actor=None, raw=sample("bank_statement.csv"))
    early = ExceptionItem.objects.get(reference="UTIBR72027010500451")
    assert (early.kind, early.status) == ("unbanked_line", "open")

    commands.gateway_file_import(actor=None, raw=sample("razorpay_settlement.csv"))

    early.refresh_from_db()
    assert (early.status, early.resolved_by) == ("resolved", None)
    assert Settlement.objects.get().bank_line is not None
