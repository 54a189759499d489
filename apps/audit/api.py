from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.audit.trail import verify


class VerificationSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    entries = serializers.IntegerField()
    head = serializers.CharField()
    broken_at = serializers.IntegerField(required=False, allow_null=True)
    problem = serializers.CharField(required=False)
    anchors = serializers.IntegerField(help_text="Signed heads published outside the database.")


class AuditVerifyApi(APIView):
    """Walks the tenant's audit chain (and its event log) and reports the first break."""

    @extend_schema(responses={200: VerificationSerializer}, tags=["audit"])
    def get(self, request: Request) -> Response:
        result = verify()
        body = {
            "ok": result.ok,
            "entries": result.entries,
            "head": result.head,
            "anchors": result.anchors,
        }
        if not result.ok:
            body.update(broken_at=result.broken_at, problem=result.problem)
        return Response(body)
