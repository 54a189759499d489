from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.audit.trail import verify


class AuditVerifyApi(APIView):
    """Walks the tenant's audit chain (and its event log) and reports the first break."""

    def get(self, request: Request) -> Response:
        result = verify()
        body = {"ok": result.ok, "entries": result.entries, "head": result.head}
        if not result.ok:
            body.update(broken_at=result.broken_at, problem=result.problem)
        return Response(body)
