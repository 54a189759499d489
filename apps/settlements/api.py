"""Settlements API: file imports, the exception queue, settlements, and the gateway's
payment webhook (thin views; the commands decide)."""

import json
from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.clinic.permissions import roles
from apps.clinic.scoping import staff_of
from apps.core.api import Pagination, get_visible
from apps.core.errors import InvalidInput
from apps.settlements import commands, signing
from apps.settlements.commands import SETTLEMENT_MANAGERS, ImportResult
from apps.settlements.selectors import exceptions_for, settlements_with_figures
from apps.settlements.serializers import (
    ExceptionItemSerializer,
    ExceptionQuery,
    ImportSummarySerializer,
    ResolvedSerializer,
    ResolveSerializer,
    SettlementSerializer,
    WebhookAnswerSerializer,
)

Managers = roles(read=SETTLEMENT_MANAGERS, write=SETTLEMENT_MANAGERS)

UPLOAD_SCHEMA = {
    "text/csv": {"type": "string"},
    "multipart/form-data": {
        "type": "object",
        "properties": {"file": {"type": "string", "format": "binary"}},
        "required": ["file"],
    },
}


def summary(result: ImportResult) -> dict[str, Any]:
    return {
        "file": result.file.pk,
        "already_imported": result.already_imported,
        "rows": result.rows,
        "new_rows": result.new_rows,
        "skipped": result.skipped,
        "matched": result.counts.get("matched", 0),
        "unmatched": result.counts.get("unmatched", 0),
        "duplicates": result.counts.get("duplicate", 0),
        "exceptions": result.exceptions,
        "position": result.position,
    }


def uploaded(request: Request) -> tuple[bytes, str]:
    """The file as the multipart field `file`, or the whole body (text/csv)."""
    if request.content_type.startswith("multipart/"):
        upload = request.FILES.get("file")
        if upload is None:
            raise InvalidInput("Attach the CSV as the field `file`.", field="file")
        return upload.read(), upload.name or ""
    return request.body, ""


class GatewayFileApi(APIView):
    """A Razorpay settlement reconciliation report (docs/SETTLEMENTS.md): 201 with what was
    new, skipped, matched, unmatched or duplicated; the same file again is a 201 with
    `already_imported` and no change."""

    permission_classes = [Managers]
    parser_classes = [MultiPartParser]

    @extend_schema(
        request=UPLOAD_SCHEMA, responses={201: ImportSummarySerializer}, tags=["settlements"]
    )
    def post(self, request: Request) -> Response:
        raw, name = uploaded(request)
        result = commands.gateway_file_import(actor=staff_of(request), raw=raw, name=name)
        return Response(summary(result), status=status.HTTP_201_CREATED)


class BankStatementApi(APIView):
    """A bank statement CSV `date,narration,reference,credit,debit,balance`; settlements are
    then matched to its credits by UTR."""

    permission_classes = [Managers]
    parser_classes = [MultiPartParser]

    @extend_schema(
        request=UPLOAD_SCHEMA, responses={201: ImportSummarySerializer}, tags=["settlements"]
    )
    def post(self, request: Request) -> Response:
        raw, name = uploaded(request)
        result = commands.bank_statement_import(actor=staff_of(request), raw=raw, name=name)
        return Response(summary(result), status=status.HTTP_201_CREATED)


class ExceptionListApi(generics.ListAPIView):
    """The exception queue, open items first; `?status=open|resolved`, `?kind=`."""

    permission_classes = [Managers]
    serializer_class = ExceptionItemSerializer
    pagination_class = Pagination

    @extend_schema(parameters=[ExceptionQuery], tags=["settlements"])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> Any:
        query = ExceptionQuery(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        return exceptions_for(staff_of(self.request), **query.validated_data)


class ExceptionResolveApi(APIView):
    permission_classes = [Managers]

    @extend_schema(
        request=ResolveSerializer, responses={200: ResolvedSerializer}, tags=["settlements"]
    )
    def post(self, request: Request, pk: int) -> Response:
        actor = staff_of(request)
        item = get_visible(exceptions_for(actor), pk, "Exception")
        body = ResolveSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        item = commands.exception_resolve(actor=actor, item=item, note=body.validated_data["note"])
        return Response({"id": item.pk, "status": item.status, "position": item.position})


class SettlementListApi(APIView):
    permission_classes = [Managers]

    @extend_schema(responses={200: SettlementSerializer(many=True)}, tags=["settlements"])
    def get(self, request: Request) -> Response:
        return Response(SettlementSerializer(settlements_with_figures(), many=True).data)


class RazorpayWebhookApi(APIView):
    """Razorpay's webhook: `X-Razorpay-Signature` must be the hex HMAC-SHA256 of the raw body
    under the clinic's webhook secret (400 and nothing done otherwise); `X-Razorpay-Event-Id`
    makes it idempotent (a replay answers 200 and records nothing again)."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    @extend_schema(
        request={"application/json": {"type": "object"}},
        parameters=[
            OpenApiParameter("X-Razorpay-Signature", str, OpenApiParameter.HEADER, required=True),
            OpenApiParameter("X-Razorpay-Event-Id", str, OpenApiParameter.HEADER, required=True),
        ],
        responses={200: WebhookAnswerSerializer},
        tags=["settlements"],
    )
    def post(self, request: Request) -> Response:
        raw = request.body
        if not signing.verify_signature(raw, request.headers.get("X-Razorpay-Signature", "")):
            raise InvalidInput("The signature does not match this clinic's webhook secret.")
        try:
            body = json.loads(raw)
        except ValueError as exc:
            raise InvalidInput("The body is not JSON.") from exc
        if not isinstance(body, dict):
            raise InvalidInput("The body is not a JSON object.")
        payload = body.get("payload")
        result = commands.payment_webhook_receive(
            event_id=request.headers.get("X-Razorpay-Event-Id", ""),
            event_type=str(body.get("event") or ""),
            payload=payload if isinstance(payload, dict) else {},
        )
        delivery = result.delivery
        return Response(
            {
                "status": delivery.outcome,
                "replayed": result.replayed,
                "payment": delivery.payment_id,
            }
        )
