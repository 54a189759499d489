"""Periodic upkeep of the public schema's tenants (thin; safe to run twice)."""

from celery import shared_task

from apps.clinic.tasks import MAIL_RETRY
from apps.tenants.models import Tenant
from apps.tenants.verification import reap_unverified, verification_email


@shared_task
def reap_unverified_tenants() -> list[str]:
    """Beat, hourly: removes tenants whose owner never confirmed the sign-up email."""
    return reap_unverified()


@shared_task(**MAIL_RETRY)
def send_verification_email(tenant_id: int, owner_email: str, site_url: str) -> None:
    """The sign-up's confirmation link, from the public schema; a tenant removed meanwhile
    gets nothing."""
    tenant = Tenant.objects.filter(pk=tenant_id).first()
    if tenant is not None:
        verification_email(tenant, owner_email, site_url)
