"""Role and branch checks that commands repeat under their lock (the views check first)."""

from collections.abc import Iterable

from apps.clinic.models import User
from apps.clinic.scoping import can_see_branch
from apps.core.errors import NotFound, PermissionDenied


def require_role(actor: User | None, roles: Iterable[str]) -> None:
    """`actor` None is the system itself (onboarding, seeding, tasks), which may do anything."""
    if actor is not None and actor.role not in roles:
        raise PermissionDenied("Your role does not allow this.")


def require_branch(actor: User | None, branch_id: int, what: str = "Not found.") -> None:
    """Out-of-reach objects look exactly like missing ones."""
    if actor is not None and not can_see_branch(actor, branch_id):
        raise NotFound(what)
