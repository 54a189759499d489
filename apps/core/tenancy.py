"""Running work once per tenant schema (from beat tasks and management commands)."""

from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from django_tenants.utils import get_public_schema_name, get_tenant_model, schema_context

T = TypeVar("T")


def tenant_schemas(slugs: list[str] | None = None) -> Iterator[Any]:
    tenants = get_tenant_model().objects.exclude(schema_name=get_public_schema_name())
    if slugs:
        tenants = tenants.filter(slug__in=slugs)
    yield from tenants.order_by("schema_name").iterator()


def for_each_tenant(work: Callable[[Any], T], slugs: list[str] | None = None) -> dict[str, T]:
    """Runs `work(tenant)` inside each tenant's schema; returns the results by schema."""
    results = {}
    for tenant in tenant_schemas(slugs):
        with schema_context(tenant.schema_name):
            results[tenant.schema_name] = work(tenant)
    return results
