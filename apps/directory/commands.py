"""Writes to the directory. Each commits on the directory's connection; every change wakes the
edge (the table's trigger sends NOTIFY), which rewrites its host map and reloads."""

from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import IntegrityError, connections, transaction
from django.utils.translation import gettext_noop

from apps.core.errors import InvalidInput, NotFound
from apps.directory.cells import RegionFull, cell_named
from apps.directory.models import TenantLocation
from apps.directory.router import directory_alias

TAKEN = gettext_noop("This address is already taken.")


@contextmanager
def location_reserve(*, actor: None, slug: str, region: str, hosts: list[str]) -> Iterator[None]:
    """Holds the tenant's place in this cell while the body creates it: one sign-up at a time
    per cell checks the cell's room and takes the slug, globally unique across every cell
    (400 when taken, 503 when the cell is full). The place is kept when the body succeeds and
    released when it raises."""
    cell = cell_named(settings.MYMEDIC_CELL)
    if cell.region != region:
        raise InvalidInput(f"Cell {cell.name} serves region {cell.region}.", field="region")
    alias = directory_alias()
    with transaction.atomic(using=alias):
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"directory:{cell.name}"])
        if TenantLocation.objects.filter(cell=cell.name).count() >= cell.capacity:
            raise RegionFull(
                f"Region {region} is not taking new sign-ups right now (every cell is full); "
                "please try again later."
            )
        try:
            with transaction.atomic(using=alias):
                TenantLocation.objects.create(slug=slug, region=region, cell=cell.name, hosts=hosts)
        except IntegrityError as exc:
            raise InvalidInput(errors={"slug": [TAKEN]}) from exc
        yield


def location_register(*, actor: None, slug: str, region: str, hosts: list[str]) -> bool:
    """Records a tenant of this cell that the directory does not know yet (tenants made before
    the directory, restores); never takes over a slug the directory places elsewhere. True
    when it added the row."""
    _, created = TenantLocation.objects.get_or_create(
        slug=slug, defaults={"region": region, "cell": settings.MYMEDIC_CELL, "hosts": hosts}
    )
    return created


def location_forget(*, actor: None, slug: str) -> bool:
    """Removes a deleted tenant's place, if the directory still places it in this cell and the
    cell no longer holds it (a tenant moved away, or restored over itself, keeps its place)."""
    from apps.tenants.models import Tenant  # the directory knows tenants only by slug

    if Tenant.objects.filter(slug=slug).exists():
        return False
    deleted, _ = TenantLocation.objects.filter(slug=slug, cell=settings.MYMEDIC_CELL).delete()
    return bool(deleted)


def relocate(*, actor: None, slug: str, cell: str) -> TenantLocation:
    """Points the tenant's hosts at `cell` (in its region): the edge routes them there once it
    has reloaded, which the directory's NOTIFY triggers on commit. For the tenant mover, after
    the tenant's data is in place in the new cell."""
    target = cell_named(cell)
    alias = directory_alias()
    with transaction.atomic(using=alias):
        location = TenantLocation.objects.select_for_update().filter(slug=slug).first()
        if location is None:
            raise NotFound(f"No tenant {slug} in the directory.")
        if target.region != location.region:
            raise InvalidInput(
                f"Cell {cell} is in region {target.region}, the tenant's is {location.region}.",
                field="cell",
            )
        location.cell = target.name
        location.save(update_fields=["cell", "changed"])
    return location
