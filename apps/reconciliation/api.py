"""Reconciliation API: declarations, settlement import, daily/weekly/monthly reports, runs."""

from datetime import date
from typing import Any

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import Serializer
from rest_framework.views import APIView

from apps.clinic.models import Branch, Role
from apps.clinic.permissions import roles
from apps.clinic.scoping import staff_of, visible_branches
from apps.core.api import get_visible
from apps.core.db import connection
from apps.core.errors import InvalidInput, Unavailable
from apps.core.openapi import DATE_PATTERN
from apps.reconciliation import commands, reports
from apps.reconciliation.analytics import chain_analytics
from apps.reconciliation.compute import close_days
from apps.reconciliation.serializers import (
    AnalyticsQuery,
    AnalyticsRowSerializer,
    DailyCloseSerializer,
    DayQuery,
    DeclarationResultSerializer,
    DeclarationSerializer,
    ImportResultSerializer,
    MonthlySerializer,
    MonthQuery,
    RunResultSerializer,
    RunSerializer,
    SignOffResultSerializer,
    SignOffSerializer,
    WeeklySerializer,
    WeekQuery,
)
from apps.reconciliation.warehouse import TenantWarehouse, WarehouseUnavailable

MANAGERS = frozenset({Role.OWNER, Role.MANAGER})
READERS = MANAGERS | {Role.BRANCH_MANAGER}
Declarers = roles(read=commands.DECLARERS, write=commands.DECLARERS)
Readers = roles(read=READERS, write=commands.SIGNERS)
Managers = roles(read=MANAGERS, write=MANAGERS)


def _branch(request: Request, pk: int) -> Branch:
    return get_visible(visible_branches(staff_of(request)), pk, "Branch")


def _query(serializer: type[Serializer], request: Request) -> dict[str, Any]:
    """The report's query string, validated (400 on any bad parameter)."""
    query = serializer(data=request.query_params)
    query.is_valid(raise_exception=True)
    return query.validated_data


def _csv(text: str, name: str) -> HttpResponse:
    response = HttpResponse(text, content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    return response


class DeclarationApi(APIView):
    permission_classes = [Declarers]

    @extend_schema(
        request=DeclarationSerializer, responses={201: DeclarationResultSerializer},
        tags=["reconciliation"],
    )  # fmt: skip
    def post(self, request: Request) -> Response:
        data = DeclarationSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        declaration = commands.declaration_make(
            actor=staff_of(request), branch=_branch(request, values["branch"]),
            day=values["date"], method=values["method"], amount=values["amount"],
        )  # fmt: skip
        body = {"id": declaration.pk, **data.data, "position": declaration.position}
        return Response(body, status=status.HTTP_201_CREATED)


class SettlementImportApi(APIView):
    """A settlement CSV as the request body (text/csv) or as the multipart field `file`:
    UTF-8, first line `date,branch,method,amount,reference`, then one row per settlement
    (`date` the branch's business day, `branch` its id, `method` card, upi or other, `amount`
    non-negative with two decimals, `reference` optional). Anything else is a 400 on `file`
    (not UTF-8, another first line, no rows) or on `rows` (each bad row by line number), and
    nothing is imported."""

    permission_classes = [roles(read=READERS, write=READERS)]
    parser_classes = [MultiPartParser]

    @extend_schema(
        request={"text/csv": {"type": "string"}, "multipart/form-data": {
            "type": "object", "properties": {"file": {"type": "string", "format": "binary"}},
            "required": ["file"]}},
        responses={201: ImportResultSerializer}, tags=["reconciliation"],
    )  # fmt: skip
    def post(self, request: Request) -> Response:
        if request.content_type.startswith("multipart/"):
            upload = request.FILES.get("file")
            if upload is None:
                raise InvalidInput("Attach the CSV as the field `file`.", field="file")
            raw = upload.read()
        else:
            raw = request.body
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidInput("The file must be UTF-8 text.", field="file") from exc
        imported = commands.settlements_import(actor=staff_of(request), text=text)
        return Response(
            {"imported": len(imported), "position": imported[-1].position},
            status=status.HTTP_201_CREATED,
        )


class DailyApi(APIView):
    permission_classes = [Readers]

    @extend_schema(
        parameters=[DayQuery], responses={200: DailyCloseSerializer}, tags=["reconciliation"]
    )
    def get(self, request: Request) -> Response:
        query = _query(DayQuery, request)
        close = reports.daily(_branch(request, query["branch"]), query["date"])
        return Response(reports.close_dict(close))


class SignOffApi(APIView):
    permission_classes = [Readers]

    @extend_schema(
        request=SignOffSerializer, responses={201: SignOffResultSerializer}, tags=["reconciliation"]
    )
    def post(self, request: Request) -> Response:
        data = SignOffSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        sign_off = commands.close_sign_off(
            actor=staff_of(request), branch=_branch(request, values["branch"]),
            day=values["date"], note=values["note"],
        )  # fmt: skip
        return Response(
            {"id": sign_off.pk, "variance": sign_off.variance, "position": sign_off.position},
            status=status.HTTP_201_CREATED,
        )


class WeeklyApi(APIView):
    permission_classes = [Readers]

    @extend_schema(
        parameters=[WeekQuery],
        responses={200: WeeklySerializer, (200, "text/csv"): {"type": "string"}},
        tags=["reconciliation"],
    )
    def get(self, request: Request) -> Response | HttpResponse:
        query = _query(WeekQuery, request)
        report = reports.weekly(_branch(request, query["branch"]), query["week"])
        if query["format"] == "csv":
            return _csv(
                reports.to_csv(report["days"], ["branch", "date"]), f"week-{report['week']}"
            )
        return Response(report)


class MonthlyApi(APIView):
    permission_classes = [Readers]

    @extend_schema(
        parameters=[MonthQuery],
        responses={200: MonthlySerializer, (200, "text/csv"): {"type": "string"}},
        tags=["reconciliation"],
    )
    def get(self, request: Request) -> Response | HttpResponse:
        query = _query(MonthQuery, request)
        report = reports.monthly(query["month"], list(visible_branches(staff_of(request))))
        if query["format"] == "csv":
            rows = report["branches"] + [{"branch": "chain", "name": "", **report["chain"]}]
            return _csv(reports.to_csv(rows, ["branch", "name"]), f"month-{report['month']}")
        return Response(report)


class RunApi(APIView):
    """Recomputes one day for every branch now (it also runs nightly)."""

    permission_classes = [Managers]

    @extend_schema(
        request=RunSerializer, responses={202: RunResultSerializer}, tags=["reconciliation"]
    )
    def post(self, request: Request) -> Response:
        data = RunSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        day: date = data.validated_data["date"]
        ids = set(visible_branches(staff_of(request)).values_list("pk", flat=True))
        closes = close_days(day, day, ids)
        return Response(
            {"date": day.isoformat(), "closes": [reports.close_dict(c) for c in closes]},
            status=status.HTTP_202_ACCEPTED,
        )


class AnalyticsApi(APIView):
    """Chain analytics from the warehouse (exported every few minutes)."""

    permission_classes = [Managers]

    @extend_schema(
        parameters=[
            OpenApiParameter("from", OpenApiTypes.DATE, required=True, pattern=DATE_PATTERN),
            OpenApiParameter(
                "to",
                OpenApiTypes.DATE,
                required=True,
                pattern=DATE_PATTERN,
                description="On or after `from`, at most ten years later (400 on `end`).",
            ),
            OpenApiParameter("by", OpenApiTypes.STR, enum=["week", "month"]),
        ],
        responses={200: AnalyticsRowSerializer(many=True)},
        tags=["reconciliation"],
    )
    def get(self, request: Request) -> Response:
        query = AnalyticsQuery(
            data={"start": request.query_params.get("from"), "end": request.query_params.get("to"),
                  **({"by": request.query_params["by"]} if "by" in request.query_params else {})}
        )  # fmt: skip
        query.is_valid(raise_exception=True)
        values = query.validated_data
        try:
            warehouse = TenantWarehouse(connection.schema_name)
            warehouse.ensure_schema()  # a tenant whose facts were never exported has empty tables
            rows = chain_analytics(warehouse, values["start"], values["end"], values["by"])
        except WarehouseUnavailable as exc:
            raise Unavailable(
                "The analytics warehouse cannot be reached now; try again later."
            ) from exc
        return Response(rows)
