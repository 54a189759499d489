"""Periodic upkeep of the public schema's tenants (thin; safe to run twice)."""

import logging

from celery import shared_task
from django.db import DatabaseError

from apps.clinic.tasks import MAIL_RETRY
from apps.core.tenancy import first_fire
from apps.tenants.commands import spare_schemas_top_up, tenants_register_in_directory
from apps.tenants.models import Tenant
from apps.tenants.verification import reap_unverified, unverified_past_deadline, verification_email

logger = logging.getLogger(__name__)


@shared_task
def repair_directory() -> list[str]:
    """Beat, every minute: records in the directory any tenant of this cell it does not know
    (a sign-up whose directory commit failed after the tenant committed), so the edge routes
    it. Two queries when there is nothing to repair."""
    added = tenants_register_in_directory()
    for slug in added:
        logger.error("directory repaired: tenant %s was unrouted and is now recorded", slug)
    return added


@shared_task
def reap_unverified_tenants() -> list[str]:
    """Beat, hourly: one removal task per tenant whose owner never confirmed the sign-up
    email (each in the public schema, where the tenant row lives)."""
    if not first_fire("reap-unverified-tenants"):
        return []
    slugs = unverified_past_deadline()
    for slug in slugs:
        reap_tenant.apply_async(args=(slug,), headers={"_schema_name": "public"})
    return slugs


@shared_task(acks_late=True, autoretry_for=(DatabaseError,), retry_backoff=10, max_retries=3)
def reap_tenant(slug: str) -> list[str]:
    """Removes one unverified tenant, if it is still unverified and past its deadline."""
    return reap_unverified(slugs=[slug])


@shared_task(**MAIL_RETRY)
def send_verification_email(
    tenant_id: int, owner_email: str, site_url: str, language: str = "en"
) -> None:
    """The sign-up's confirmation link, from the public schema, in the owner's language; a
    tenant removed meanwhile gets nothing."""
    tenant = Tenant.objects.filter(pk=tenant_id).first()
    if tenant is not None:
        verification_email(tenant, owner_email, site_url, language)


@shared_task(acks_late=True)
def top_up_spare_schemas() -> int:
    """Beat, and after each sign-up that claimed a spare: makes spare schemas until
    MYMEDIC_SPARE_SCHEMAS are ready (in the public schema). Returns how many it made."""
    return len(spare_schemas_top_up(actor=None).made)
