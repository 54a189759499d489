"""Property-based: random sequences of bookings, deposits, balances, refunds and
cancellations, with the ledger's invariants checked after every step."""

from collections import defaultdict
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Sum
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from apps.billing import commands as billing
from apps.billing import ledger
from apps.billing.models import Invoice, Payment, Refund
from apps.clinic.models import Branch
from apps.core.errors import Conflict
from apps.eventstore.models import Event
from apps.scheduling import commands
from apps.scheduling.models import Appointment
from apps.tenants.models import Tenant
from tests.scheduling.conftest import ist
from tests.scheduling.factories import DoctorFactory, PatientFactory

ZERO = Decimal("0.00")
cents = st.integers(min_value=1, max_value=60_000).map(lambda c: Decimal(c) / 100)


def _sum(queryset: Any) -> Decimal:
    return queryset.aggregate(s=Sum("amount"))["s"] or ZERO


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.savepoint = transaction.savepoint()
        self.doctor = DoctorFactory(branch=Branch.objects.get(name="Main branch"))
        self.patient = PatientFactory()
        self.appointments: list[Appointment] = []
        self.payments: list[Payment] = []
        self.hours = iter(range(9, 13))

    def teardown(self) -> None:
        transaction.savepoint_rollback(self.savepoint)

    @precondition(lambda self: len(self.appointments) < 4)
    @rule()
    def book(self) -> None:
        self.appointments.append(
            commands.appointment_book(
                actor=None, doctor=self.doctor, patient=self.patient, start=ist(5, next(self.hours))
            )
        )

    @precondition(lambda self: self.appointments)
    @rule(data=st.data(), amount=cents, kind=st.sampled_from(["deposit", "balance"]),
          method=st.sampled_from(["cash", "card", "upi"]))  # fmt: skip
    def pay(self, data: st.DataObject, amount: Decimal, kind: str, method: str) -> None:
        appointment = data.draw(st.sampled_from(self.appointments))
        appointment.refresh_from_db()
        due = self._due(appointment)
        allowed = appointment.status != Appointment.Status.CANCELLED and amount <= due
        try:
            payment = billing.payment_take(
                actor=None, appointment=appointment, kind=kind, amount=amount, method=method
            )
        except Conflict:
            assert not allowed, f"refused a payment of {amount} with {due} due"
            return
        assert allowed, f"took {amount} with only {due} due"
        self.payments.append(payment)

    @precondition(lambda self: self.payments)
    @rule(data=st.data(), amount=cents)
    def refund(self, data: st.DataObject, amount: Decimal) -> None:
        payment = data.draw(st.sampled_from(self.payments))
        left = payment.amount - _sum(Refund.objects.filter(payment=payment))
        try:
            billing.payment_refund(actor=None, payment=payment, amount=amount, reason="test")
        except Conflict:
            assert amount > left
            return
        assert amount <= left

    @precondition(lambda self: self.appointments)
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        appointment = data.draw(st.sampled_from(self.appointments))
        appointment.refresh_from_db()
        try:
            commands.appointment_cancel(actor=None, appointment=appointment, reason="test")
        except Conflict:
            assert appointment.status != Appointment.Status.BOOKED

    @rule(policy=st.sampled_from(["refund", "credit", "fee"]))
    def set_policy(self, policy: str) -> None:
        billing.billing_settings_update(actor=None, cancellation_policy=policy)

    def _due(self, appointment: Appointment) -> Decimal:
        invoice = Invoice.objects.filter(appointment=appointment).first()
        if invoice is None:
            return appointment.doctor.consultation_fee
        return ledger.balance_of(invoice).balance_due

    @invariant()
    def balance_due_is_total_minus_paid_plus_refunded(self) -> None:
        for invoice in Invoice.objects.all():
            balance = ledger.balance_of(invoice)
            assert balance.balance_due == balance.total - balance.paid + balance.refunded
            assert balance.balance_due >= ZERO, "never paid more than the invoice"

    @invariant()
    def paid_minus_refunded_is_the_sum_of_the_ledger(self) -> None:
        for invoice in Invoice.objects.all():
            balance = ledger.balance_of(invoice)
            entries = [p.amount for p in Payment.objects.filter(appointment=invoice.appointment)]
            entries += [
                -r.amount for r in Refund.objects.filter(payment__appointment=invoice.appointment)
            ]
            assert balance.paid - balance.refunded == sum(entries, ZERO)

    @invariant()
    def no_refund_exceeds_its_payment(self) -> None:
        for payment in Payment.objects.all():
            assert _sum(payment.refunds.all()) <= payment.amount

    @invariant()
    def the_ledger_is_a_fold_of_its_events(self) -> None:
        folded: dict[int, Decimal] = defaultdict(lambda: ZERO)
        for event in Event.objects.filter(type__in=["PaymentTaken", "RefundIssued"]):
            sign = 1 if event.type == "PaymentTaken" else -1
            folded[event.data["appointment_id"]] += sign * Decimal(event.data["amount"])
        rows: dict[int, Decimal] = defaultdict(lambda: ZERO)
        for payment in Payment.objects.all():
            rows[payment.appointment_id] += payment.amount
        for refund in Refund.objects.select_related("payment"):
            rows[refund.payment.appointment_id] -= refund.amount
        assert dict(folded) == dict(rows)


def test_ledger_invariants_hold_over_random_histories(tenant: Tenant) -> None:
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=40,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        ),
    )
