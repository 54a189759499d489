"""The FHIR R4 facade under /fhir/R4/: thin views over `search`, `document` and the export
commands, with the JSON API's token auth, roles and audit, answering
`application/fhir+json` and every error as an OperationOutcome."""

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlencode
from uuid import UUID

from django.http import HttpResponse
from django.utils import timezone
from rest_framework import status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.audit.trail import record
from apps.clinic.permissions import STAFF_ROLES, roles
from apps.clinic.scoping import staff_of
from apps.core import keys
from apps.core.api import exception_handler as api_exception_handler
from apps.core.errors import InvalidInput, NotFound
from apps.core.wakeups import guarded
from apps.fhir import capability, commands, export, resources, search
from apps.fhir.document import op_consultation
from apps.fhir.models import BulkExport
from apps.fhir.params import check_known, instant, page, single
from apps.fhir.tasks import requeue_if_stalled

FHIR_JSON = "application/fhir+json"
NDJSON = "application/fhir+ndjson"
OUTPUT_FORMATS = frozenset({NDJSON, "application/ndjson", "ndjson"})
# OperationOutcome.issue.code for each status we answer with.
ISSUE_CODES = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    409: "conflict",
    413: "too-costly",
    415: "not-supported",
    429: "throttled",
}


class FhirJsonRenderer(JSONRenderer):
    media_type = FHIR_JSON
    format = "json"


class AlwaysFhirJson(BaseContentNegotiation):
    """FHIR JSON whatever `Accept` says (JSON is the one format we serve)."""

    def select_parser(self, request: Request, parsers: Any) -> Any:
        return parsers[0] if parsers else None

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        return next(iter(renderers)), FHIR_JSON


def outcome(
    code: str, diagnostics: str, severity: str = "error", where: str = ""
) -> dict[str, Any]:
    issue: dict[str, Any] = {"severity": severity, "code": code, "diagnostics": diagnostics}
    if where:
        issue["expression"] = [where]
    return {"resourceType": "OperationOutcome", "issue": [issue]}


def fhir_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """The API's one mapping of errors to statuses, with each body as an OperationOutcome."""
    response = api_exception_handler(exc, context)
    if response is None:
        return None
    code = ISSUE_CODES.get(response.status_code, "exception")
    issues: list[dict[str, Any]] = []
    data = response.data if isinstance(response.data, dict) else {"detail": response.data}
    for field, messages in data.items():
        for message in messages if isinstance(messages, list) else [messages]:
            issue = outcome(code, str(message), where="" if field == "detail" else field)
            issues.extend(issue["issue"])
    response.data = {"resourceType": "OperationOutcome", "issue": issues}
    return response


class FhirView(APIView):
    # Not in the OpenAPI document (docs/FHIR.md): the CapabilityStatement is FHIR's contract.
    schema = None
    renderer_classes = [FhirJsonRenderer]
    content_negotiation_class = AlwaysFhirJson
    permission_classes = [roles(read=STAFF_ROLES, write=STAFF_ROLES)]

    def get_exception_handler(self) -> Any:
        return fhir_exception_handler

    def dispatch(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        # A search or a document opens many patients: their tenant key is read once.
        with keys.remembered():
            return super().dispatch(request, *args, **kwargs)

    def base(self, request: Request) -> str:
        return request.build_absolute_uri("/fhir/R4/")


class CapabilityApi(FhirView):
    def get(self, request: Request) -> Response:
        return Response(capability.statement(self.base(request)))


def _params(request: Request) -> dict[str, list[str]]:
    return {key: request.query_params.getlist(key) for key in request.query_params}


class SearchApi(FhirView):
    def get(self, request: Request, resource_type: str) -> Response:
        user, params = staff_of(request), _params(request)
        tenant = resources.current_tenant()
        found = search.search(resource_type, user, params, tenant)
        count, offset = page(params, search.LARGEST_PAGE.get(resource_type, 200))
        total = found.total()
        rows, items = found.page(count, offset) if count else ([], [])
        if found.audit is not None:
            record(found.audit, actor=user, detail={"patients": [row.pk for row in rows]})
        base = self.base(request)
        bundle: dict[str, Any] = {
            "resourceType": "Bundle",
            "type": "searchset",
            "meta": {"lastUpdated": timezone.now().isoformat()},
            "total": total,
            "link": _links(base, resource_type, params, count, offset, total),
        }
        if items:  # FHIR's JSON has no empty arrays
            bundle["entry"] = [
                {
                    "fullUrl": f"{base}{resource_type}/{item['id']}",
                    "resource": item,
                    "search": {"mode": "match"},
                }
                for item in items
            ]
        return Response(bundle)


def _links(
    base: str, resource_type: str, params: dict[str, list[str]], count: int, offset: int, total: int
) -> list[dict[str, str]]:
    def url(at: int) -> str:
        query = [(k, v) for k, values in params.items() if k != "_offset" for v in values]
        query = [(k, v) for k, v in query if k != "_count"] + [("_count", str(count))]
        return f"{base}{resource_type}?{urlencode([*query, ('_offset', str(at))])}"

    links = [{"relation": "self", "url": url(offset)}]
    if count and offset + count < total:
        links.append({"relation": "next", "url": url(offset + count)})
    if count and offset > 0:
        links.append({"relation": "previous", "url": url(max(offset - count, 0))})
    return links


class ReadApi(FhirView):
    def get(self, request: Request, resource_type: str, pk: str) -> Response:
        user = staff_of(request)
        tenant = resources.current_tenant()
        if resource_type == "Organization":
            return Response(search.organization(tenant, pk))
        body = search.read(resource_type, user, pk, tenant)
        if resource_type == "Patient":
            record("patient.read", actor=user, target=f"patient:{body['id']}")
        return Response(body)


class EncounterDocumentApi(FhirView):
    """`$document`: the visit's OP consultation record as a document Bundle (a PHI read)."""

    def get(self, request: Request, pk: str) -> Response:
        user = staff_of(request)
        check_known(_params(request), ())
        if not (pk.isascii() and pk.isdigit()) or len(pk) > 18:
            raise NotFound("No such resource.")
        visit = search.encounters_for(user).select_related("patient").filter(pk=int(pk)).first()
        if visit is None:
            raise NotFound("No such resource.")
        record(
            "patient.read",
            actor=user,
            target=f"patient:{visit.patient_id}",
            detail={"fhir": "Encounter/$document", "encounter": visit.pk},
        )
        return Response(op_consultation(visit, resources.current_tenant(), self.base(request)))


class UnknownApi(FhirView):
    """A path under /fhir/R4/ that names no resource type or operation we serve."""

    def get(self, request: Request, rest: str) -> Response:
        raise NotFound("This server has no such resource type or operation.")

    post = put = patch = delete = get


# Bulk export (FHIR Bulk Data Access, system level)

Exporters = roles(read=commands.EXPORTERS, write=commands.EXPORTERS)


def _export_of(request: Request, uid: object) -> BulkExport:
    try:
        key = uid if isinstance(uid, UUID) else UUID(str(uid))
    except ValueError as exc:
        raise NotFound("No such export.") from exc
    job = BulkExport.objects.filter(uid=key).exclude(status=BulkExport.Status.CANCELLED).first()
    if job is None:
        raise NotFound("No such export.")
    return job


class ExportKickOffApi(FhirView):
    permission_classes = [Exporters]

    def get(self, request: Request) -> Response:
        params = _params(request)
        for name in params:
            if name not in ("_type", "_since", "_outputFormat"):
                raise InvalidInput(f"`{name}` is not supported by this export.", field=name)
        if "respond-async" not in request.headers.get("Prefer", ""):
            raise InvalidInput("An export needs `Prefer: respond-async`.", field="Prefer")
        fmt = single(params, "_outputFormat")
        if fmt is not None and fmt not in OUTPUT_FORMATS:
            raise InvalidInput("Exports are NDJSON only.", field="_outputFormat")
        types = list(export.EXPORT_TYPES)
        if (asked := single(params, "_type")) is not None:
            wanted = [item.strip() for item in asked.split(",") if item.strip()]
            unknown = [item for item in wanted if item not in export.EXPORT_TYPES]
            if unknown or not wanted:
                raise InvalidInput(
                    f"`_type` takes {', '.join(export.EXPORT_TYPES)}.", field="_type"
                )
            types = [item for item in export.EXPORT_TYPES if item in wanted]
        job = commands.bulk_export_request(
            actor=staff_of(request),
            types=types,
            since=instant(single(params, "_since"), "_since"),
            request_url=request.build_absolute_uri()[:2000],
        )
        answer = Response(
            outcome("informational", "Export accepted.", severity="information"),
            status=status.HTTP_202_ACCEPTED,
        )
        answer["Content-Location"] = f"{self.base(request)}$export/{job.uid}"
        return answer


class ExportStatusApi(FhirView):
    permission_classes = [Exporters]

    def get(self, request: Request, uid: str) -> Response:
        job = _export_of(request, uid)
        if job.status == BulkExport.Status.RUNNING:
            guarded(lambda: requeue_if_stalled(job), what="FHIR export re-queue")
            answer = Response(status=status.HTTP_202_ACCEPTED)
            answer["X-Progress"] = f"{export.written(job)} of {len(job.types)} files written"
            answer["Retry-After"] = "2"
            return answer
        if job.status == BulkExport.Status.FAILED:
            return Response(
                outcome("exception", "The export failed; request a new one."),
                status=status.HTTP_500_INTERNAL_SERVER_ERROR,
            )
        base = f"{self.base(request)}$export/{job.uid}/"
        manifest = {
            "transactionTime": job.created.isoformat(),
            "request": job.request_url,
            "requiresAccessToken": True,
            "output": [
                {
                    "type": item["type"],
                    "url": f"{base}{item['type']}.ndjson",
                    "count": item["count"],
                }
                for item in job.output
            ],
            "error": [],
        }
        return Response(manifest, content_type="application/json")

    def delete(self, request: Request, uid: str) -> Response:
        commands.bulk_export_cancel(actor=staff_of(request), job=_export_of(request, uid))
        return Response(status=status.HTTP_202_ACCEPTED)


class ExportFileApi(FhirView):
    permission_classes = [Exporters]

    def get(self, request: Request, uid: str, resource_type: str) -> HttpResponse:
        job = _export_of(request, uid)
        item = next((row for row in job.output if row["type"] == resource_type), None)
        if job.status != BulkExport.Status.COMPLETE or item is None:
            raise NotFound("No such file.")
        if resource_type == "Patient":
            record(
                "patient.list",
                actor=staff_of(request),
                target=f"fhir-export:{job.uid}",
                detail={"fhir": "$export", "patient_count": item["count"]},
            )
        # Whole, not streamed: under ASGI Django would read a synchronous stream whole anyway.
        return HttpResponse(b"".join(export.read(job, resource_type)), content_type=NDJSON)
