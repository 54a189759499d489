from rest_framework import serializers

from apps.billing.models import BillingSettings, Method, Payment, TaxRule


def amount_field() -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=12, decimal_places=2, coerce_to_string=True)


class PaymentRequestSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=Payment.Kind.choices)
    amount = amount_field()
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
    amount = amount_field()
    reason = serializers.CharField(max_length=200)


class RefundResultSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    payment = serializers.IntegerField(source="payment_id")
    amount = amount_field()
    method = serializers.CharField()
    position = serializers.IntegerField()


class InvoiceSerializer(serializers.Serializer):
    number = serializers.CharField(allow_null=True)
    status = serializers.CharField()
    currency = serializers.CharField()
    total = amount_field()
    tax = amount_field()
    paid = amount_field()
    refunded = amount_field()
    balance_due = amount_field()
    lines = serializers.ListField(child=serializers.DictField())
    payments = serializers.ListField(child=serializers.DictField())


class BillingSettingsSerializer(serializers.ModelSerializer):
    class Meta:
        model = BillingSettings
        fields = ["cancellation_policy"]
        extra_kwargs = {"cancellation_policy": {"required": True}}


class TaxRuleSerializer(serializers.ModelSerializer):
    rate = serializers.DecimalField(max_digits=5, decimal_places=2, coerce_to_string=True)
    branch = serializers.IntegerField(source="branch_id", required=False, allow_null=True)

    class Meta:
        model = TaxRule
        fields = ["id", "name", "rate", "branch", "active"]
        read_only_fields = ["active"]
