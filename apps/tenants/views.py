"""The public site: sign-up as an HTML form and as an API."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.clinic.handoff import sign_in_link_token
from apps.core.clientip import client_address
from apps.core.errors import InvalidInput
from apps.core.hosts import host_url
from apps.tenants.commands import tenant_domain, tenant_onboard
from apps.tenants.forms import SignupForm
from apps.tenants.serializers import OnboardedSerializer, OnboardingSerializer
from apps.tenants.verification import LinkRefused, send_verification, signup_allowed, verify


class OnboardingApi(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(
        request=OnboardingSerializer,
        responses={201: OnboardedSerializer},
        tags=["onboarding"],
        summary="Sign up a clinic (public host)",
    )
    def post(self, request: Request) -> Response:
        serializer = OnboardingSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        if not signup_allowed(client_address(request), serializer.validated_data["owner_email"]):
            return Response({"detail": TOO_MANY}, status=status.HTTP_429_TOO_MANY_REQUESTS)
        onboarded = tenant_onboard(**serializer.validated_data)
        send_verification(
            onboarded.tenant, serializer.validated_data["owner_email"], _site(request)
        )
        body = OnboardedSerializer({"slug": onboarded.tenant.slug, "domain": onboarded.domain})
        return Response(body.data, status=status.HTTP_201_CREATED)


TOO_MANY = "Too many sign-ups from this address or email domain; please try again later."


def _site(request: HttpRequest) -> str:
    """The public site's address as the caller reached it (for links in emails)."""
    return f"{request.scheme}://{request.get_host()}"


def verify_email(request: HttpRequest, token: str) -> HttpResponse:
    """The link in the sign-up email: the clinic goes live."""
    try:
        tenant = verify(token)
    except LinkRefused:
        return render(request, "tenants/verify_failed.html", status=400)
    login_url = host_url(request, tenant_domain(tenant.slug))
    return render(
        request, "tenants/verified.html", {"tenant": tenant, "login_url": f"{login_url}/login/"}
    )


def signup(request: HttpRequest) -> HttpResponse:
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if not signup_allowed(client_address(request), form.cleaned_data["owner_email"]):
            form.add_error(None, TOO_MANY)
            return render(request, "tenants/signup.html", {"form": form}, status=429)
        try:
            onboarded = tenant_onboard(**form.cleaned_data)
        except InvalidInput as exc:
            for field, messages in exc.as_dict().items():
                for message in messages:  # type: ignore[attr-defined]
                    form.add_error(field if field in form.fields else None, message)
        else:
            send_verification(onboarded.tenant, form.cleaned_data["owner_email"], _site(request))
            # The tenant's host has its own cookies: a single-use signed link signs the
            # owner in there and opens the set-up screens.
            tenant_url = host_url(request, onboarded.domain)
            token = sign_in_link_token(
                schema_name=onboarded.tenant.schema_name, user_id=onboarded.owner_id
            )
            return redirect(f"{tenant_url}/welcome/{token}/")
    return render(
        request, "tenants/signup.html", {"form": form}, status=400 if form.errors else 200
    )
