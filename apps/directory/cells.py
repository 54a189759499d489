"""The cells of this deployment (settings.MYMEDIC_CELLS) and where a new tenant goes.

A cell is one PostgreSQL database with its Redis and processes; a region is the set of cells
that carry its name. A sign-up for a region goes to the first of its cells (in the order
configured) that has room: fewer tenants in the directory than its `capacity`.
"""

from dataclasses import dataclass

from django.conf import settings

from apps.core.errors import InvalidInput, Unavailable
from apps.directory.selectors import tenants_per_cell


@dataclass(frozen=True)
class Cell:
    name: str
    region: str
    url: str  # its own base URL on loopback, for cell-internal calls
    capacity: int
    database_url: str

    @property
    def is_here(self) -> bool:
        return self.name == settings.MYMEDIC_CELL


def all_cells() -> list[Cell]:
    return [
        Cell(
            name=name,
            region=str(spec["region"]),
            url=str(spec.get("url", "")).rstrip("/"),
            capacity=int(spec.get("capacity", 0)),  # type: ignore[call-overload]
            database_url=str(spec.get("database_url", "")),
        )
        for name, spec in settings.MYMEDIC_CELLS.items()
    ]


def this_cell() -> Cell:
    return next(cell for cell in all_cells() if cell.is_here)


def cell_named(name: str) -> Cell:
    for cell in all_cells():
        if cell.name == name:
            return cell
    raise InvalidInput(f"No cell is named {name!r}.", field="cell")


def regions() -> list[str]:
    """The regions this deployment serves, in the order their first cell is configured."""
    return list(dict.fromkeys(cell.region for cell in all_cells()))


class RegionFull(Unavailable):
    """Every cell of the region is at capacity: nobody can sign up there until one is added."""


def region_problem(region: str) -> str | None:
    if region not in regions():
        return f"Choose one of: {', '.join(regions())}."
    return None


def place(region: str) -> Cell:
    """The cell a new tenant of `region` goes to; 400 for a region not served, 503 when all
    its cells are full. The chosen cell checks its room again under a lock when it onboards
    (`apps.directory.commands.location_reserve`)."""
    if problem := region_problem(region):
        raise InvalidInput(problem, field="region")
    counts = tenants_per_cell()
    for cell in all_cells():
        if cell.region == region and counts.get(cell.name, 0) < cell.capacity:
            return cell
    raise RegionFull(
        f"Region {region} is not taking new sign-ups right now (every cell is full); "
        "please try again later."
    )
