"""Self-onboarding: one command makes a tenant's schema, domain, first branch and owner."""

import logging
import time
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone as dj_timezone
from django_tenants.utils import schema_context

from apps.clinic.commands import branch_create, staff_create
from apps.clinic.models import Role, User
from apps.core.errors import InvalidInput
from apps.core.keys import ensure_tenant_key
from apps.core.timezones import timezone_problem
from apps.tenants.models import Domain, Tenant
from apps.tenants.rules import currency_problem, schema_name_for, slug_problem

logger = logging.getLogger(__name__)

FIRST_BRANCH_NAME = "Main branch"


@dataclass(frozen=True)
class Onboarded:
    tenant: Tenant
    domain: str
    owner_id: int
    seconds: float


def tenant_domain(slug: str) -> str:
    return f"{slug}.{settings.BASE_DOMAIN}"


def onboarding_problems(
    *,
    slug: str,
    kind: str,
    owner_name: str,
    owner_email: str,
    owner_password: str,
    timezone: str,
    currency: str,
) -> dict[str, list[str]]:
    """Every reason the sign-up cannot go ahead, by field (empty when it can)."""
    problems: dict[str, list[str]] = {}
    if problem := slug_problem(slug):
        problems["slug"] = [problem]
    elif Tenant.objects.filter(slug=slug).exists():
        problems["slug"] = ["This address is already taken."]
    if kind not in Tenant.Kind.values:
        problems["kind"] = [f"Choose one of: {', '.join(Tenant.Kind.values)}."]
    if problem := timezone_problem(timezone):
        problems["timezone"] = [problem]
    if problem := currency_problem(currency):
        problems["currency"] = [problem]
    try:
        validate_password(owner_password, User(email=owner_email, name=owner_name))
    except ValidationError as exc:
        problems["owner_password"] = list(exc.messages)
    return problems


def tenant_onboard(
    *,
    clinic_name: str,
    slug: str,
    kind: str,
    owner_name: str,
    owner_email: str,
    owner_password: str,
    timezone: str = "Asia/Kolkata",
    currency: str = "INR",
    verified: bool = False,
) -> Onboarded:
    """Creates the tenant whole, or nothing: schema, domain, owner and branch in one transaction.

    A self-service sign-up is not `verified` until its owner opens the emailed link
    (`apps.tenants.verification`); tenants an operator makes (demo, workloads) are."""
    started = time.perf_counter()
    problems = onboarding_problems(
        slug=slug,
        kind=kind,
        owner_name=owner_name,
        owner_email=owner_email,
        owner_password=owner_password,
        timezone=timezone,
        currency=currency,
    )
    if problems:
        raise InvalidInput(errors=problems)
    try:
        with transaction.atomic():
            tenant = Tenant(
                schema_name=schema_name_for(slug),
                slug=slug,
                name=clinic_name.strip(),
                kind=kind,
                timezone=timezone,
                currency=currency,
                verified_at=dj_timezone.now() if verified else None,
            )
            tenant.save(verbosity=0)
            domain = Domain.objects.create(domain=tenant_domain(slug), tenant=tenant)
            with schema_context(tenant.schema_name):
                ensure_tenant_key()
                branch_create(actor=None, name=FIRST_BRANCH_NAME, timezone=timezone)
                owner = staff_create(
                    actor=None,
                    name=owner_name,
                    email=owner_email,
                    password=owner_password,
                    role=Role.OWNER,
                )
    except IntegrityError as exc:
        # Two sign-ups raced for the same address; the unique index let one through.
        raise InvalidInput(errors={"slug": ["This address is already taken."]}) from exc
    seconds = time.perf_counter() - started
    logger.info("tenant onboarded schema=%s seconds=%.3f", tenant.schema_name, seconds)
    return Onboarded(tenant=tenant, domain=domain.domain, owner_id=owner.pk, seconds=seconds)
