"""Billing API: payments, refunds, invoices and billing settings (thin views)."""

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.billing import commands
from apps.billing.models import BillingSettings, Refund, TaxRule
from apps.billing.selectors import invoice_view, invoices_for, payments_for
from apps.billing.serializers import (
    AdjustmentSerializer,
    BillingSettingsResultSerializer,
    BillingSettingsSerializer,
    DiscountRequestSerializer,
    InvoiceSerializer,
    PaymentRequestSerializer,
    PaymentSerializer,
    RefundRequestSerializer,
    RefundResultSerializer,
    TaxRuleCreatedSerializer,
    TaxRuleSerializer,
    WithdrawRequestSerializer,
)
from apps.clinic.models import WHOLE_TENANT_ROLES
from apps.clinic.permissions import roles
from apps.clinic.scoping import staff_of, visible_branches
from apps.core.api import get_visible
from apps.scheduling.commands import FRONT_DESK
from apps.scheduling.selectors import appointments_for

FrontDesk = roles(read=FRONT_DESK, write=FRONT_DESK)
Managers = roles(read=WHOLE_TENANT_ROLES, write=WHOLE_TENANT_ROLES)


class PaymentCreateApi(APIView):
    permission_classes = [FrontDesk]

    @extend_schema(
        request=PaymentRequestSerializer, responses={201: PaymentSerializer}, tags=["billing"]
    )
    def post(self, request: Request, pk: int) -> Response:
        actor = staff_of(request)
        appointment = get_visible(appointments_for(actor), pk, "Appointment")
        serializer = PaymentRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        payment = commands.payment_take(
            actor=actor, appointment=appointment, **serializer.validated_data
        )
        return Response(PaymentSerializer(payment).data, status=status.HTTP_201_CREATED)


class InvoiceApi(APIView):
    permission_classes = [FrontDesk]

    @extend_schema(responses={200: InvoiceSerializer}, tags=["billing"])
    def get(self, request: Request, pk: int) -> Response:
        appointment = get_visible(appointments_for(staff_of(request)), pk, "Appointment")
        return Response(InvoiceSerializer(invoice_view(appointment)).data)


class RefundCreateApi(APIView):
    permission_classes = [FrontDesk]

    @extend_schema(
        request=RefundRequestSerializer, responses={201: RefundResultSerializer}, tags=["billing"]
    )
    def post(self, request: Request, pk: int) -> Response:
        actor = staff_of(request)
        payment = get_visible(payments_for(actor), pk, "Payment")
        serializer = RefundRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        kind = data.pop("kind")
        if kind == Refund.Kind.OVERPAYMENT:
            refund = commands.payment_refund_overpayment(actor=actor, payment=payment, **data)
        elif kind == Refund.Kind.CONCESSION:
            refund = commands.payment_refund_concession(actor=actor, payment=payment, **data)
        else:
            refund = commands.payment_refund(actor=actor, payment=payment, **data)
        return Response(RefundResultSerializer(refund).data, status=status.HTTP_201_CREATED)


class DiscountCreateApi(APIView):
    permission_classes = [FrontDesk]

    @extend_schema(
        request=DiscountRequestSerializer, responses={201: AdjustmentSerializer}, tags=["billing"]
    )
    def post(self, request: Request, pk: int) -> Response:
        actor = staff_of(request)
        invoice = get_visible(invoices_for(actor), pk, "Invoice")
        serializer = DiscountRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        adjustment = commands.invoice_discount(
            actor=actor, appointment=invoice.appointment, **serializer.validated_data
        )
        return Response(AdjustmentSerializer(adjustment).data, status=status.HTTP_201_CREATED)


class LineWithdrawApi(APIView):
    permission_classes = [FrontDesk]

    @extend_schema(
        request=WithdrawRequestSerializer, responses={201: AdjustmentSerializer}, tags=["billing"]
    )
    def post(self, request: Request, pk: int, line: int) -> Response:
        actor = staff_of(request)
        invoice = get_visible(invoices_for(actor), pk, "Invoice")
        serializer = WithdrawRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        adjustment = commands.invoice_line_withdraw(
            actor=actor, invoice=invoice, line=line, **serializer.validated_data
        )
        return Response(AdjustmentSerializer(adjustment).data, status=status.HTTP_201_CREATED)


class BillingSettingsApi(APIView):
    permission_classes = [Managers]

    @extend_schema(responses={200: BillingSettingsSerializer}, tags=["billing"])
    def get(self, request: Request) -> Response:
        return Response(BillingSettingsSerializer(BillingSettings.current()).data)

    @extend_schema(
        request=BillingSettingsSerializer,
        responses={200: BillingSettingsResultSerializer},
        tags=["billing"],
    )
    def post(self, request: Request) -> Response:
        serializer = BillingSettingsSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        settings = commands.billing_settings_update(
            actor=staff_of(request), **serializer.validated_data
        )
        body = {**BillingSettingsSerializer(settings).data, "position": settings.position}
        return Response(body)


@extend_schema_view(
    get=extend_schema(tags=["billing"]),
    post=extend_schema(
        request=TaxRuleSerializer, responses={201: TaxRuleCreatedSerializer}, tags=["billing"]
    ),
)
class TaxRuleListApi(generics.ListCreateAPIView):
    serializer_class = TaxRuleSerializer
    permission_classes = [Managers]

    def get_queryset(self) -> QuerySet[TaxRule]:
        return TaxRule.objects.all()

    def create(self, request: Request, *args: object, **kwargs: object) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        actor = staff_of(request)
        branch = None
        if data.get("branch_id") is not None:
            branch = get_visible(visible_branches(actor), data["branch_id"], "Branch")
        rule = commands.tax_rule_add(
            actor=actor, name=data["name"], rate=data["rate"], branch=branch
        )
        body = {**TaxRuleSerializer(rule).data, "position": rule.position}
        return Response(body, status=status.HTTP_201_CREATED)
