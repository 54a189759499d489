"""Shapes of the settlements API (serializers never save)."""

from rest_framework import serializers

from apps.settlements.models import ExceptionItem


class ExceptionItemSerializer(serializers.ModelSerializer):
    kind_label = serializers.CharField(source="get_kind_display")
    amount = serializers.DecimalField(
        max_digits=12, decimal_places=2, allow_null=True, coerce_to_string=True
    )
    resolved_by = serializers.IntegerField(source="resolved_by_id", allow_null=True)
    branch = serializers.IntegerField(source="branch_id", allow_null=True)

    class Meta:
        model = ExceptionItem
        fields = [
            "id", "kind", "kind_label", "status", "branch", "reference", "amount", "detail",
            "raised", "note", "resolved_by", "resolved_at",
        ]  # fmt: skip


class ExceptionQuery(serializers.Serializer):
    status = serializers.ChoiceField(choices=ExceptionItem.Status.choices, required=False)
    kind = serializers.ChoiceField(choices=ExceptionItem.Kind.choices, required=False)


class ResolveSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=500)


class ResolvedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    position = serializers.IntegerField()


class ImportSummarySerializer(serializers.Serializer):
    file = serializers.IntegerField()
    already_imported = serializers.BooleanField()
    rows = serializers.IntegerField()
    new_rows = serializers.IntegerField()
    skipped = serializers.IntegerField()
    matched = serializers.IntegerField()
    unmatched = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    exceptions = serializers.IntegerField()
    position = serializers.IntegerField()


class SettlementSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    settlement_id = serializers.CharField()
    utr = serializers.CharField()
    settled_on = serializers.DateField(allow_null=True)
    banked_on = serializers.DateField(allow_null=True)
    gross = serializers.CharField()
    refunds = serializers.CharField()
    fees = serializers.CharField()
    gst = serializers.CharField()
    adjustments = serializers.CharField()
    net = serializers.CharField()
    expected = serializers.CharField()
    short = serializers.CharField()


class WebhookAnswerSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["recorded", "already", "refused", "ignored"])
    replayed = serializers.BooleanField()
    payment = serializers.IntegerField(allow_null=True)
