from decimal import Decimal
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.billing import gst
from apps.billing.models import (
    DISCOUNT_CATEGORIES,
    BillingSettings,
    GstDocument,
    InvoiceAdjustment,
    Method,
    Payment,
    Refund,
    TaxRule,
)
from apps.billing.money import PAISA


def amount_field(**options: Any) -> serializers.DecimalField:
    return serializers.DecimalField(
        max_digits=12, decimal_places=2, coerce_to_string=True, **options
    )


def money_in(**options: Any) -> serializers.DecimalField:
    """An amount a caller pays, refunds or takes off: more than 0, at most 10,000,000.00
    (`apps.billing.money.check_amount`); the schema says at most 9,999,999.99."""
    return serializers.DecimalField(
        max_digits=9, decimal_places=2, min_value=PAISA, coerce_to_string=True, **options
    )


@extend_schema_field(
    {"type": "string", "format": "decimal", "example": "10.00",
     "pattern": r"^(100(\.00?)?|[1-9][0-9]?(\.[0-9]{1,2})?|0\.([1-9][0-9]?|0[1-9]))$",
     "description": "A percent more than 0 and at most 100, at most two decimals."}
)  # fmt: skip
class PercentField(serializers.DecimalField):
    def __init__(self, **options: Any) -> None:
        super().__init__(
            max_digits=5, decimal_places=2, min_value=PAISA, max_value=Decimal("100"),
            coerce_to_string=True, **options,
        )  # fmt: skip


class PaymentRequestSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=Payment.Kind.choices)
    amount = money_in()
    method = serializers.ChoiceField(choices=Method.choices)


class PaymentSerializer(serializers.ModelSerializer):
    amount = amount_field()
    position = serializers.IntegerField()
    invoice = serializers.CharField(source="invoice.number")
    appointment = serializers.IntegerField(source="appointment_id")

    class Meta:
        model = Payment
        fields = ["id", "appointment", "invoice", "kind", "amount", "method", "position"]


class RefundRequestSerializer(serializers.Serializer):
    """`kind` refund (the default: money back, the bill unchanged, so it is owed again),
    overpayment (only what was paid beyond the bill) or concession (`amount` comes off the
    bill as a `category` concession and what was then paid beyond it is paid back)."""

    kind = serializers.ChoiceField(
        choices=Refund.Kind.choices, required=False, default=Refund.Kind.REFUND
    )
    amount = money_in()
    reason = serializers.CharField(max_length=200)
    category = serializers.ChoiceField(choices=DISCOUNT_CATEGORIES, required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["kind"] == Refund.Kind.CONCESSION and not attrs.get("category"):
            raise serializers.ValidationError(
                {
                    "category": [
                        "Say which concession: " + ", ".join(c for c, _ in DISCOUNT_CATEGORIES)
                    ]
                }
            )
        if attrs["kind"] != Refund.Kind.CONCESSION:
            attrs.pop("category", None)
        return attrs


class RefundResultSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    payment = serializers.IntegerField(source="payment_id")
    kind = serializers.CharField()
    amount = amount_field()
    method = serializers.CharField()
    adjustment = serializers.IntegerField(source="adjustment_id", allow_null=True)
    position = serializers.IntegerField()


class DiscountRequestSerializer(serializers.Serializer):
    """Either `amount` (before tax) or `percent` of what is left to bill."""

    category = serializers.ChoiceField(choices=DISCOUNT_CATEGORIES)
    reason = serializers.CharField(max_length=200)
    amount = money_in(required=False)
    percent = PercentField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("amount" in attrs) == ("percent" in attrs):
            raise serializers.ValidationError({"amount": ["Give either an amount or a percent."]})
        return attrs


class WithdrawRequestSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=200)


class AdjustmentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    invoice = serializers.IntegerField(source="invoice_id")
    kind = serializers.CharField(help_text="discount or credit_note")
    category = serializers.CharField(
        help_text="senior_citizen, staff, hardship, other; withdrawn for a credit note"
    )
    number = serializers.CharField(allow_null=True, help_text="Credit notes only.")
    line = serializers.IntegerField(allow_null=True, help_text="Credit notes only.")
    percent = serializers.DecimalField(
        max_digits=5, decimal_places=2, coerce_to_string=True, allow_null=True
    )
    amount = amount_field()
    total_reduction = amount_field()
    invoice_total = amount_field(source="invoice.total")
    # The invoice's event is the last one the command appended.
    position = serializers.IntegerField(source="invoice.position")

    def to_representation(self, instance: InvoiceAdjustment) -> dict[str, Any]:
        body = super().to_representation(instance)
        body["number"] = body["number"] or None
        return body


class InvoiceAdjustmentLineSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    category = serializers.CharField()
    category_label = serializers.CharField()
    number = serializers.CharField(allow_null=True)
    line = serializers.IntegerField(allow_null=True)
    percent = serializers.CharField(allow_null=True)
    amount = serializers.CharField()
    total_reduction = serializers.CharField()


class InvoiceRefundLineSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    payment = serializers.IntegerField()
    kind = serializers.CharField()
    kind_label = serializers.CharField()
    method = serializers.CharField()
    method_label = serializers.CharField()
    amount = serializers.CharField()


class InvoicePaymentLineSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=Payment.Kind.choices)
    method = serializers.CharField()
    method_label = serializers.CharField()
    amount = serializers.CharField()
    refunded = serializers.CharField()
    refundable = serializers.CharField()


class GstDocumentRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=GstDocument.Kind.choices)
    number = serializers.CharField()
    date = serializers.DateField()


class InvoiceSerializer(serializers.Serializer):
    id = serializers.IntegerField(allow_null=True, help_text="None while a draft.")
    number = serializers.CharField(allow_null=True)
    status = serializers.CharField()
    currency = serializers.CharField()
    total = amount_field()
    tax = amount_field()
    paid = amount_field()
    refunded = amount_field()
    balance_due = amount_field()
    overpaid = amount_field()
    lines = serializers.ListField(child=serializers.DictField())
    payments = InvoicePaymentLineSerializer(many=True)
    adjustments = InvoiceAdjustmentLineSerializer(many=True)
    refunds = InvoiceRefundLineSerializer(many=True)
    gst_documents = GstDocumentRefSerializer(many=True)


class BillingSettingsSerializer(serializers.ModelSerializer):
    class Meta:
        model = BillingSettings
        fields = ["cancellation_policy"]
        extra_kwargs = {"cancellation_policy": {"required": True}}


class BillingSettingsResultSerializer(BillingSettingsSerializer):
    position = serializers.IntegerField()

    class Meta(BillingSettingsSerializer.Meta):
        fields = [*BillingSettingsSerializer.Meta.fields, "position"]


class TaxRuleSerializer(serializers.ModelSerializer):
    rate = PercentField()
    branch = serializers.IntegerField(
        source="branch_id", required=False, allow_null=True, min_value=1
    )

    class Meta:
        model = TaxRule
        fields = ["id", "name", "rate", "branch", "active"]
        read_only_fields = ["active"]


class TaxRuleCreatedSerializer(TaxRuleSerializer):
    position = serializers.IntegerField()

    class Meta(TaxRuleSerializer.Meta):
        fields = [*TaxRuleSerializer.Meta.fields, "position"]


class ItemRequestSerializer(serializers.Serializer):
    """A charge added to the visit's bill; `unit_price` is what the patient pays for one, tax
    included (medicines at MRP)."""

    category = serializers.ChoiceField(choices=gst.CATEGORY_CHOICES)
    description = serializers.RegexField(r"\S", max_length=120)
    quantity = serializers.IntegerField(min_value=1, max_value=1000)
    unit_price = money_in()


class ItemResultSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="The invoice.")
    number = serializers.CharField()
    total = amount_field()
    tax = amount_field()
    position = serializers.IntegerField()


class GstSupplierPartySerializer(serializers.Serializer):
    legal_name = serializers.CharField()
    gstin = serializers.CharField()
    address = serializers.CharField()
    state_code = serializers.CharField()
    state = serializers.CharField()


class GstRecipientSerializer(serializers.Serializer):
    name = serializers.CharField()
    gstin = serializers.CharField(allow_null=True)


class GstStateSerializer(serializers.Serializer):
    state_code = serializers.CharField()
    state = serializers.CharField()


class GstDocumentLineSerializer(serializers.Serializer):
    line = serializers.CharField(help_text="The index of the bill's line.")
    description = serializers.CharField()
    code = serializers.CharField(help_text="SAC or HSN.")
    quantity = serializers.CharField()
    unit_price = serializers.CharField(help_text="Tax included.")
    rate = serializers.CharField(help_text="GST percent; 0 on a bill of supply.")
    taxable = serializers.CharField()
    cgst = serializers.CharField()
    sgst = serializers.CharField()
    igst = serializers.CharField()
    total = serializers.CharField()


class GstDocumentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=GstDocument.Kind.choices)
    kind_label = serializers.CharField()
    number = serializers.CharField()
    date = serializers.DateField()
    financial_year = serializers.CharField(help_text="e.g. 2026-27")
    invoice = serializers.IntegerField()
    currency = serializers.CharField()
    supplier = GstSupplierPartySerializer()
    recipient = GstRecipientSerializer()
    place_of_supply = GstStateSerializer()
    inter_state = serializers.BooleanField()
    state_tax_label = serializers.CharField(help_text="SGST, or UTGST in a union territory.")
    original = GstDocumentRefSerializer(allow_null=True, help_text="Credit notes only.")
    lines = GstDocumentLineSerializer(many=True)
    taxable = amount_field()
    cgst = amount_field()
    sgst = amount_field()
    igst = amount_field()
    total = amount_field()
    total_in_words = serializers.CharField()


class GstIssueRequestSerializer(serializers.Serializer):
    """All optional: the recipient is the patient unless a name is given; a registered
    recipient gives a GSTIN; the place of supply is the GSTIN's state, else the clinic's."""

    recipient_name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    recipient_gstin = serializers.RegexField(
        r"^[0-9]{2}[A-Za-z]{5}[0-9]{4}[A-Za-z][1-9A-Za-z][Zz][0-9A-Za-z]$",
        required=False,
        allow_blank=True,
    )
    place_of_supply = serializers.ChoiceField(choices=sorted(gst.STATES.items()), required=False)


class GstIssueResultSerializer(serializers.Serializer):
    documents = GstDocumentSerializer(many=True)
    position = serializers.IntegerField()
