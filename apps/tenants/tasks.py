"""Periodic upkeep of the public schema's tenants (thin; safe to run twice)."""

from celery import shared_task

from apps.tenants.verification import reap_unverified


@shared_task
def reap_unverified_tenants() -> list[str]:
    """Beat, hourly: removes tenants whose owner never confirmed the sign-up email."""
    return reap_unverified()
