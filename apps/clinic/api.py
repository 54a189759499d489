"""API for sign-in, branches and staff. Thin: parse, call a command or selector, serialize."""

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.authtoken.models import Token
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.audit.trail import record
from apps.clinic.commands import branch_create, staff_create
from apps.clinic.models import Branch, User
from apps.clinic.permissions import ManagersOnly, StaffReadManagersWrite
from apps.clinic.scoping import staff_of, visible_branches
from apps.clinic.serializers import BranchSerializer, StaffSerializer, TokenRequestSerializer
from apps.clinic.signin import LockedOut


class TokenResponseSerializer(serializers.Serializer):
    token = serializers.CharField()
    role = serializers.CharField()


class TokenApi(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(
        request=TokenRequestSerializer, responses={200: TokenResponseSerializer}, tags=["auth"]
    )
    def post(self, request: Request) -> Response:
        serializer = TokenRequestSerializer(data=request.data, context={"request": request})
        try:
            serializer.is_valid(raise_exception=True)
        except LockedOut as exc:
            return Response(
                {"detail": str(exc)},
                status=status.HTTP_429_TOO_MANY_REQUESTS,
                headers={"Retry-After": str(exc.seconds)},
            )
        user: User = serializer.validated_data["user"]
        token, _ = Token.objects.get_or_create(user=user)
        record("login.token", actor=user, target=f"user:{user.pk}")
        return Response(
            {"token": token.key, "role": user.role}, headers={"Cache-Control": "no-store"}
        )


class StaffMeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    name = serializers.CharField()
    role = serializers.CharField()


class StaffMeApi(APIView):
    """Who the token belongs to: what an app shows after sign-in. No query beyond the token's."""

    @extend_schema(responses={200: StaffMeSerializer}, tags=["auth"])
    def get(self, request: Request) -> Response:
        user = staff_of(request)
        return Response({"id": user.pk, "email": user.email, "name": user.name, "role": user.role})


class BranchListApi(generics.ListCreateAPIView):
    serializer_class = BranchSerializer
    permission_classes = [StaffReadManagersWrite]

    def get_queryset(self) -> QuerySet[Branch]:
        return visible_branches(staff_of(self.request))

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        tenant: Any = request.tenant  # the Tenant row, set by the routing middleware
        branch = branch_create(
            actor=staff_of(request),
            name=data["name"],
            city=data.get("city", ""),
            timezone=data.get("timezone") or tenant.timezone,
        )
        return Response(BranchSerializer(branch).data, status=status.HTTP_201_CREATED)


class BranchDetailApi(generics.RetrieveAPIView):
    serializer_class = BranchSerializer
    permission_classes = [StaffReadManagersWrite]

    def get_queryset(self) -> QuerySet[Branch]:
        return visible_branches(staff_of(self.request))


class StaffListApi(generics.ListCreateAPIView):
    serializer_class = StaffSerializer
    permission_classes = [ManagersOnly]
    queryset = User.objects.prefetch_related("branches")

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        user = staff_create(
            actor=staff_of(request),
            name=data["name"],
            email=data["email"],
            password=data["password"],
            role=data["role"],
            branches=data.get("branches", []),
        )
        return Response(StaffSerializer(user).data, status=status.HTTP_201_CREATED)
