"""Billing API: payments, refunds, invoices and billing settings (thin views)."""

from typing import Any, Generic, TypeVar

from django.db.models import Model, QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.audit.trail import record
from apps.billing import commands
from apps.billing.documents import document_view
from apps.billing.models import (
    BillingSettings,
    GstDocument,
    Invoice,
    InvoiceAdjustment,
    Payment,
    Refund,
    TaxRule,
)
from apps.billing.selectors import gst_documents_for, invoice_view, invoices_for, payments_for
from apps.billing.serializers import (
    AdjustmentSerializer,
    BillingSettingsResultSerializer,
    BillingSettingsSerializer,
    DiscountRequestSerializer,
    GstDocumentSerializer,
    GstIssueRequestSerializer,
    GstIssueResultSerializer,
    InvoiceSerializer,
    ItemRequestSerializer,
    ItemResultSerializer,
    PaymentRequestSerializer,
    PaymentSerializer,
    RefundRequestSerializer,
    RefundResultSerializer,
    TaxRuleCreatedSerializer,
    TaxRuleSerializer,
    WithdrawRequestSerializer,
)
from apps.clinic.models import WHOLE_TENANT_ROLES, User
from apps.clinic.permissions import roles
from apps.clinic.scoping import staff_of, visible_branches
from apps.core.api import get_visible
from apps.scheduling.commands import FRONT_DESK
from apps.scheduling.models import Appointment
from apps.scheduling.selectors import appointments_for

FrontDesk = roles(read=FRONT_DESK, write=FRONT_DESK)
Managers = roles(read=WHOLE_TENANT_ROLES, write=WHOLE_TENANT_ROLES)

Target = TypeVar("Target", bound=Model)


class BillingCommandApi(APIView, Generic[Target]):
    # Base of the billing writes: finds the object the URL names within the caller's reach
    # (`target`), validates the body (`body`), runs the command (`run`) and answers 201 with
    # what it made (`result`). No docstring: these operations have no description in the
    # OpenAPI document.

    permission_classes = [FrontDesk]
    body: type[serializers.Serializer]
    result: type[serializers.Serializer]

    def target(self, actor: User, pk: int) -> Target:
        raise NotImplementedError

    def run(self, actor: User, target: Target, data: dict[str, Any], **url: int) -> Model:
        raise NotImplementedError

    def post(self, request: Request, pk: int, **url: int) -> Response:
        actor = staff_of(request)
        target = self.target(actor, pk)
        serializer = self.body(data=request.data)
        serializer.is_valid(raise_exception=True)
        made = self.run(actor, target, dict(serializer.validated_data), **url)
        return Response(self.result(made).data, status=status.HTTP_201_CREATED)


@extend_schema(
    request=PaymentRequestSerializer, responses={201: PaymentSerializer}, tags=["billing"]
)
class PaymentCreateApi(BillingCommandApi[Appointment]):
    body = PaymentRequestSerializer
    result = PaymentSerializer

    def target(self, actor: User, pk: int) -> Appointment:
        return get_visible(appointments_for(actor), pk, "Appointment")

    def run(self, actor: User, target: Appointment, data: dict[str, Any], **url: int) -> Payment:
        return commands.payment_take(actor=actor, appointment=target, **data)


class InvoiceApi(APIView):
    permission_classes = [FrontDesk]

    @extend_schema(responses={200: InvoiceSerializer}, tags=["billing"])
    def get(self, request: Request, pk: int) -> Response:
        appointment = get_visible(appointments_for(staff_of(request)), pk, "Appointment")
        return Response(InvoiceSerializer(invoice_view(appointment)).data)


@extend_schema(
    request=RefundRequestSerializer, responses={201: RefundResultSerializer}, tags=["billing"]
)
class RefundCreateApi(BillingCommandApi[Payment]):
    body = RefundRequestSerializer
    result = RefundResultSerializer

    def target(self, actor: User, pk: int) -> Payment:
        return get_visible(payments_for(actor), pk, "Payment")

    def run(self, actor: User, target: Payment, data: dict[str, Any], **url: int) -> Refund:
        return commands.payment_refund_of_kind(actor=actor, payment=target, **data)


class InvoiceCommandApi(BillingCommandApi[Invoice]):
    # A billing write on one invoice within the caller's reach.

    result = AdjustmentSerializer

    def target(self, actor: User, pk: int) -> Invoice:
        return get_visible(invoices_for(actor), pk, "Invoice")


@extend_schema(
    request=DiscountRequestSerializer, responses={201: AdjustmentSerializer}, tags=["billing"]
)
class DiscountCreateApi(InvoiceCommandApi):
    body = DiscountRequestSerializer

    def run(
        self, actor: User, target: Invoice, data: dict[str, Any], **url: int
    ) -> InvoiceAdjustment:
        return commands.invoice_discount(actor=actor, appointment=target.appointment, **data)


@extend_schema(
    request=WithdrawRequestSerializer, responses={201: AdjustmentSerializer}, tags=["billing"]
)
class LineWithdrawApi(InvoiceCommandApi):
    body = WithdrawRequestSerializer

    def run(
        self, actor: User, target: Invoice, data: dict[str, Any], **url: int
    ) -> InvoiceAdjustment:
        return commands.invoice_line_withdraw(actor=actor, invoice=target, line=url["line"], **data)


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


@extend_schema(
    request=ItemRequestSerializer, responses={201: ItemResultSerializer}, tags=["billing"]
)
class ItemCreateApi(BillingCommandApi[Invoice]):
    body = ItemRequestSerializer
    result = ItemResultSerializer

    def target(self, actor: User, pk: int) -> Invoice:
        return get_visible(invoices_for(actor), pk, "Invoice")

    def run(self, actor: User, target: Invoice, data: dict[str, Any], **url: int) -> Invoice:
        return commands.invoice_item_add(actor=actor, appointment=target.appointment, **data)


def _documents_body(documents: list[GstDocument]) -> list[dict[str, Any]]:
    return list(GstDocumentSerializer([document_view(d) for d in documents], many=True).data)


def _audit_recipient(actor: User, invoice: Invoice) -> None:
    # A document names its recipient, the patient unless a company was named.
    record("patient.read", actor=actor, target=f"patient:{invoice.appointment.patient_id}")


class GstDocumentsApi(APIView):
    """A bill's GST documents: a Bill of Supply for its exempt charges, a Tax Invoice for its
    taxable ones, credit notes when the bill went down."""

    permission_classes = [FrontDesk]

    @extend_schema(responses={200: GstDocumentSerializer(many=True)}, tags=["billing"])
    def get(self, request: Request, pk: int) -> Response:
        actor = staff_of(request)
        invoice = get_visible(invoices_for(actor), pk, "Invoice")
        _audit_recipient(actor, invoice)
        return Response(_documents_body(list(invoice.gst_documents.order_by("id"))))

    @extend_schema(
        request=GstIssueRequestSerializer,
        responses={201: GstIssueResultSerializer},
        tags=["billing"],
    )
    def post(self, request: Request, pk: int) -> Response:
        actor = staff_of(request)
        invoice = get_visible(invoices_for(actor), pk, "Invoice")
        serializer = GstIssueRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        made = commands.gst_documents_issue(
            actor=actor, invoice=invoice, **serializer.validated_data
        )
        _audit_recipient(actor, invoice)
        body = {"documents": _documents_body(made), "position": made[-1].position}
        return Response(body, status=status.HTTP_201_CREATED)


class GstDocumentApi(APIView):
    permission_classes = [FrontDesk]

    @extend_schema(responses={200: GstDocumentSerializer}, tags=["billing"])
    def get(self, request: Request, pk: int) -> Response:
        actor = staff_of(request)
        document = get_visible(
            gst_documents_for(actor).select_related("invoice__appointment"), pk, "GST document"
        )
        _audit_recipient(actor, document.invoice)
        return Response(GstDocumentSerializer(document_view(document)).data)
