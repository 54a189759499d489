"""API for sign-in, branches and staff. Thin: parse, call a command or selector, serialize."""

from typing import Any

from django.contrib.auth import update_session_auth_hash
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics, serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.clinic.commands import (
    branch_create,
    staff_create,
    staff_password_change,
    staff_token_issue,
    staff_token_revoke,
)
from apps.clinic.models import Branch, StaffToken, User
from apps.clinic.permissions import ManagersOnly, StaffReadManagersWrite
from apps.clinic.scoping import staff_of, visible_branches
from apps.clinic.serializers import (
    BranchSerializer,
    PasswordChangeSerializer,
    StaffCreateSerializer,
    StaffSerializer,
    TokenRequestSerializer,
)
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
        key = staff_token_issue(actor=user)
        return Response({"token": key, "role": user.role}, headers={"Cache-Control": "no-store"})


class LogoutApi(APIView):
    """Revokes the token this request carries (a web session signs out at /logout/)."""

    @extend_schema(request=None, responses={204: None}, tags=["auth"], summary="Revoke this token")
    def post(self, request: Request) -> Response:
        if not isinstance(request.auth, StaffToken):
            return Response(
                {"detail": "Sign out of the web console at /logout/."},
                status=status.HTTP_400_BAD_REQUEST,
            )
        staff_token_revoke(actor=staff_of(request), token=request.auth)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PasswordChangeApi(APIView):
    """Changes the caller's own password; every token of theirs (this one too) is revoked."""

    @extend_schema(
        request=PasswordChangeSerializer, responses={204: None}, tags=["auth"],
        summary="Change your password (revokes all your tokens)",
    )  # fmt: skip
    def post(self, request: Request) -> Response:
        serializer = PasswordChangeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        by_session = request.auth is None
        session = getattr(request._request, "session", None)
        user = staff_password_change(
            actor=staff_of(request),
            old_password=serializer.validated_data["old_password"],
            new_password=serializer.validated_data["new_password"],
            keep_session=session.session_key if by_session and session else None,
        )
        if by_session:
            update_session_auth_hash(request._request, user)
        return Response(status=status.HTTP_204_NO_CONTENT)


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


@extend_schema_view(
    get=extend_schema(tags=["staff"]),
    post=extend_schema(
        request=StaffCreateSerializer, responses={201: StaffSerializer}, tags=["staff"]
    ),
)
class StaffListApi(generics.ListCreateAPIView):
    serializer_class = StaffSerializer
    permission_classes = [ManagersOnly]
    queryset = User.objects.prefetch_related("branches")

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = StaffCreateSerializer(data=request.data)
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
