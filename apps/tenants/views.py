"""The public site: sign-up as an HTML form and as an API."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext, gettext_noop
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.clinic.handoff import sign_in_link_token
from apps.clinic.language import in_visitors_language, staff_choice
from apps.core.clientip import client_address
from apps.core.errors import DomainError, InvalidInput
from apps.core.hosts import host_url
from apps.directory.cells import cell_named
from apps.directory.forward import SECRET_HEADER, call_cell, secret_matches
from apps.tenants.commands import tenant_domain, tenant_onboard, tenant_sign_up
from apps.tenants.forms import SignupForm
from apps.tenants.serializers import (
    CellOnboardedSerializer,
    CellOnboardingSerializer,
    OnboardedSerializer,
    OnboardingSerializer,
)
from apps.tenants.verification import (
    LinkRefused,
    send_verification,
    signup_allowed,
    verification_cell,
    verify,
)


class OnboardingApi(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]
    unavailable_codes = ["503"]  # the region's cells are full or cannot be reached

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
        signed_up = tenant_sign_up(site_url=_site(request), **serializer.validated_data)
        return Response(OnboardedSerializer(signed_up).data, status=status.HTTP_201_CREATED)


class CellInternalApi(APIView):
    """A call from another cell: only with the cells' shared secret (anyone else gets 404),
    never routed by the edge, not in the public contract. Subclasses answer in `answer`."""

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = []

    @extend_schema(exclude=True)
    def post(self, request: Request) -> Response:
        if not secret_matches(request.headers.get(SECRET_HEADER)):
            return Response({"detail": "Not found."}, status=status.HTTP_404_NOT_FOUND)
        return self.answer(request)

    def answer(self, request: Request) -> Response:
        raise NotImplementedError


class CellOnboardingApi(CellInternalApi):
    """A sign-up forwarded by the cell that received it, for a region this cell serves."""

    def answer(self, request: Request) -> Response:
        serializer = CellOnboardingSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        fields = dict(serializer.validated_data)
        site_url = fields.pop("site_url")
        onboarded = tenant_onboard(**fields)
        send_verification(
            onboarded.tenant, fields["owner_email"], site_url, fields["owner_language"]
        )
        body = CellOnboardedSerializer(
            {
                "slug": onboarded.tenant.slug,
                "domain": onboarded.domain,
                "region": onboarded.tenant.region,
                "schema_name": onboarded.tenant.schema_name,
                "owner_id": onboarded.owner_id,
            }
        )
        return Response(body.data, status=status.HTTP_201_CREATED)


TOO_MANY = gettext_noop(
    "Too many sign-ups from this address or email domain; please try again later."
)


def _site(request: HttpRequest) -> str:
    """The public site's address as the caller reached it (for links in emails)."""
    return f"{request.scheme}://{request.get_host()}"


@in_visitors_language
def verify_email(request: HttpRequest, token: str) -> HttpResponse:
    """The link in the sign-up email: the clinic goes live (in its own cell: the public site's
    cell asks the cell that the link names)."""
    try:
        cell = cell_named(verification_cell(token))
        if cell.is_here:
            tenant = verify(token)
            verified = {"name": tenant.name, "slug": tenant.slug}
        else:
            verified = call_cell(cell, "verify-email/", {"token": token})
    except (LinkRefused, DomainError):
        return render(request, "tenants/verify_failed.html", status=400)
    login_url = host_url(request, tenant_domain(verified["slug"]))
    return render(
        request, "tenants/verified.html", {"tenant": verified, "login_url": f"{login_url}/login/"}
    )


class CellVerifyEmailApi(CellInternalApi):
    """A sign-up confirmation link that the public site's cell received for this cell's
    tenant."""

    def answer(self, request: Request) -> Response:
        try:
            tenant = verify(str(request.data.get("token", "")))
        except LinkRefused:
            return Response({"detail": "This link cannot be used."}, status=400)
        return Response({"name": tenant.name, "slug": tenant.slug})


@in_visitors_language
def signup(request: HttpRequest) -> HttpResponse:
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if not signup_allowed(client_address(request), form.cleaned_data["owner_email"]):
            form.add_error(None, gettext(TOO_MANY))
            return render(request, "tenants/signup.html", {"form": form}, status=429)
        try:
            signed_up = tenant_sign_up(
                site_url=_site(request), owner_language=staff_choice(), **form.cleaned_data
            )
        except InvalidInput as exc:
            for field, messages in exc.as_dict().items():
                for message in messages:  # type: ignore[attr-defined]
                    # The command's problems are English; the page shows them in its language.
                    form.add_error(field if field in form.fields else None, gettext(message))
        except DomainError as exc:  # the region is full or its cell unreachable
            form.add_error(None, exc.translated())
            return render(request, "tenants/signup.html", {"form": form}, status=exc.status_code)
        else:
            # The tenant's host has its own cookies: a single-use signed link signs the
            # owner in there and opens the set-up screens (cells share the signing key).
            tenant_url = host_url(request, signed_up.domain)
            token = sign_in_link_token(
                schema_name=signed_up.schema_name, user_id=signed_up.owner_id
            )
            return redirect(f"{tenant_url}/welcome/{token}/")
    return render(
        request, "tenants/signup.html", {"form": form}, status=400 if form.errors else 200
    )
