"""A tenant goes live when its owner proves the email address given at sign-up.

Sign-up sends a signed link (`MYMEDIC_VERIFY_LINK_DAYS` valid) to the owner's address. Until
it is opened the clinic can be set up and tried, but nothing is sent to patients (no SMS,
WhatsApp or email: see `apps.notifications.limits`), so a throw-away sign-up cannot message
anyone; an unverified tenant is removed, schema and all, after
`MYMEDIC_UNVERIFIED_TENANT_DAYS`. Sign-ups are also throttled per address and per email
domain.
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.core import signing
from django.core.mail import send_mail
from django.db.models import QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext

from apps.clinic.language import page_language
from apps.core.counters import take
from apps.core.db import connection
from apps.core.wakeups import guarded
from apps.tenants.models import Tenant

logger = logging.getLogger(__name__)

SALT = "apps.tenants.verify-email"


class LinkRefused(Exception):
    """The link is forged, expired or names no tenant any more."""


def verification_token(tenant: Tenant) -> str:
    # Tenant ids are per cell (each its own database): the link names the cell too.
    return signing.dumps({"tenant": tenant.pk, "cell": settings.MYMEDIC_CELL}, salt=SALT)


def verification_cell(token: str) -> str:
    """The cell whose tenant the link confirms (links made before cells: this one)."""
    try:
        data = signing.loads(token, salt=SALT)
    except signing.BadSignature as exc:
        raise LinkRefused from exc
    return str(data.get("cell") or settings.MYMEDIC_CELL)


def send_verification(
    tenant: Tenant, owner_email: str, site_url: str, language: str = "en"
) -> None:
    """Queues the email with the link that makes the clinic live (site_url: the public site;
    language: the owner's, a `User.language` choice). The page answers whether or not the
    broker takes it; the owner can ask again in set-up."""
    from apps.tenants.tasks import send_verification_email  # the task renders with this module

    guarded(
        lambda: send_verification_email.delay(tenant.pk, owner_email, site_url, language),
        what="verification email",
    )


def verification_email(
    tenant: Tenant, owner_email: str, site_url: str, language: str = "en"
) -> None:
    """Emails the owner the link that makes the clinic live, in the owner's language."""
    values = {
        "clinic": tenant.name,
        "link": f"{site_url}/verify-email/{verification_token(tenant)}/",
        "days": settings.MYMEDIC_VERIFY_LINK_DAYS,
        "removed_after": settings.MYMEDIC_UNVERIFIED_TENANT_DAYS,
    }
    with translation.override(page_language(language)):
        subject = gettext("Confirm your email to open %(clinic)s on MyMedic") % values
        message = (
            gettext(
                "Welcome to MyMedic.\n\nOpen this link to confirm your email address and open "
                "%(clinic)s to patients (until then no message is sent to them):\n\n%(link)s\n\n"
                "The link works for %(days)s days. A clinic not confirmed within "
                "%(removed_after)s days is removed.\n"
            )
            % values
        )
    send_mail(
        subject=subject,
        message=message,
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=[owner_email],
    )


def verify(token: str) -> Tenant:
    """Marks the link's tenant verified (again is harmless); refuses bad or old links."""
    try:
        data = signing.loads(
            token, salt=SALT, max_age=timedelta(days=settings.MYMEDIC_VERIFY_LINK_DAYS)
        )
    except signing.BadSignature as exc:  # SignatureExpired is one
        raise LinkRefused from exc
    if data.get("cell", settings.MYMEDIC_CELL) != settings.MYMEDIC_CELL:
        raise LinkRefused  # another cell's tenant id: never this cell's tenant of that id
    tenant = Tenant.objects.filter(pk=data.get("tenant")).first()
    if tenant is None:
        raise LinkRefused
    if tenant.verified_at is None:
        Tenant.objects.filter(pk=tenant.pk, verified_at__isnull=True).update(
            verified_at=timezone.now()
        )
        tenant.refresh_from_db()
        logger.info("tenant verified schema=%s", tenant.schema_name)
    return tenant


def current_tenant() -> Tenant | None:
    """The row of the schema in use (a schema entered by name carries no row of its own)."""
    tenant = getattr(connection, "tenant", None)
    if isinstance(tenant, Tenant):
        return tenant
    return Tenant.objects.filter(schema_name=connection.schema_name).first()


def is_live() -> bool:
    """Whether the current tenant may send to patients (its owner's email is confirmed)."""
    tenant = current_tenant()
    return tenant is not None and tenant.verified_at is not None


def _take(key: str, limit: int, seconds: int) -> bool:
    return take(key, seconds) <= limit


def signup_allowed(address: str, email: str) -> bool:
    """Counts a sign-up from `address` with `email`; False past either limit."""
    domain = email.rpartition("@")[2].strip().lower() or "-"
    per_address = _take(
        f"signup:address:{address}", settings.MYMEDIC_SIGNUPS_PER_ADDRESS_HOUR, 3600
    )
    per_domain = _take(f"signup:domain:{domain}", settings.MYMEDIC_SIGNUPS_PER_DOMAIN_DAY, 86400)
    return per_address and per_domain


def _unverified(now: datetime | None = None) -> QuerySet[Tenant]:
    cutoff = (now or timezone.now()) - timedelta(days=settings.MYMEDIC_UNVERIFIED_TENANT_DAYS)
    return Tenant.objects.filter(verified_at__isnull=True, created__lt=cutoff)


def unverified_past_deadline(now: datetime | None = None) -> list[str]:
    """Slugs of the tenants whose owner did not confirm in time."""
    return list(_unverified(now).order_by("slug").values_list("slug", flat=True))


def reap_unverified(now: datetime | None = None, slugs: list[str] | None = None) -> list[str]:
    """Removes tenants whose owner never confirmed (schema, domain, row); returns their slugs."""
    tenants = _unverified(now)
    if slugs is not None:
        tenants = tenants.filter(slug__in=slugs)
    reaped = []
    for tenant in tenants:
        slug = tenant.slug
        tenant.delete(force_drop=True)
        logger.info("unverified tenant removed slug=%s", slug)
        reaped.append(slug)
    return reaped
