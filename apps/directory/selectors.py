"""Reads of the directory."""

from django.db.models import Count

from apps.directory.models import TenantLocation


def location_of(slug: str) -> TenantLocation | None:
    return TenantLocation.objects.filter(slug=slug).first()


def tenants_per_cell() -> dict[str, int]:
    rows = TenantLocation.objects.values("cell").annotate(n=Count("id")).order_by()
    return {row["cell"]: row["n"] for row in rows}


def host_map() -> list[tuple[str, str]]:
    """(host, cell) for every host of every tenant, sorted: the edge's routing table."""
    pairs = TenantLocation.objects.values_list("hosts", "cell")
    return sorted((host, cell) for hosts, cell in pairs for host in hosts)
