"""Role and branch checks that commands repeat under their lock (the views check first)."""

from collections.abc import Iterable
from decimal import Decimal

from apps.clinic.models import Role, User
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


# Who may take money off a bill, and how much: owners, managers and branch managers any
# amount; a receptionist up to the tenant's cap (billing settings); nobody else.
DISCOUNT_UNLIMITED_ROLES = frozenset({Role.OWNER, Role.MANAGER, Role.BRANCH_MANAGER})
DISCOUNT_CAPPED_ROLES = frozenset({Role.RECEPTIONIST})
DISCOUNT_ROLES = DISCOUNT_UNLIMITED_ROLES | DISCOUNT_CAPPED_ROLES


def discount_cap_percent(actor: User | None, receptionist_cap: Decimal) -> Decimal | None:
    """The most (percent of a bill's charges, all discounts together) `actor` may discount;
    None is no limit. Raises PermissionDenied for a role that may give no discount at all."""
    require_role(actor, DISCOUNT_ROLES)
    if actor is None or actor.role in DISCOUNT_UNLIMITED_ROLES:
        return None
    return receptionist_cap


def may_discount(actor: User) -> bool:
    return actor.role in DISCOUNT_ROLES
