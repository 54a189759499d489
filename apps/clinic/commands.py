"""Write commands for branches and staff. Every caller (API, admin, onboarding) uses these."""

from collections.abc import Sequence

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError

from apps.audit.trail import record
from apps.clinic import policy
from apps.clinic.access import require_role
from apps.clinic.models import WHOLE_TENANT_ROLES, Branch, Role, User
from apps.core.errors import InvalidInput
from apps.core.timezones import timezone_problem
from apps.eventstore.store import command

# Roles whose work happens in particular branches: they must be given at least one.
BRANCH_BOUND_ROLES = frozenset({Role.BRANCH_MANAGER, Role.RECEPTIONIST, Role.DOCTOR})


@command
def branch_create(*, actor: User | None, name: str, city: str = "", timezone: str) -> Branch:
    require_role(actor, WHOLE_TENANT_ROLES)
    name = name.strip()
    if not name:
        raise InvalidInput("A branch needs a name.", field="name")
    if problem := timezone_problem(timezone):
        raise InvalidInput(problem, field="timezone")
    if Branch.objects.filter(name__iexact=name).exists():
        raise InvalidInput("A branch with this name already exists.", field="name")
    branch = Branch(name=name, city=city.strip(), timezone=timezone)
    branch.record("BranchOpened", {"timezone": timezone}, actor=actor)
    branch.save()
    return branch


@command
def staff_create(
    *,
    actor: User | None,
    name: str,
    email: str,
    password: str,
    role: str,
    branches: Sequence[Branch] = (),
) -> User:
    """Adds a staff member. Only the system makes owners (at onboarding)."""
    require_role(actor, WHOLE_TENANT_ROLES)
    if role not in Role.values or (role == Role.OWNER and actor is not None):
        raise InvalidInput(f"“{role}” is not a role you can give.", field="role")
    email = User.objects.normalize_email(email.strip()).lower()
    if User.objects.filter(email__iexact=email).exists():
        raise InvalidInput("A staff member with this email already exists.", field="email")
    if role in BRANCH_BOUND_ROLES and not branches:
        raise InvalidInput("Give this role at least one branch.", field="branches")
    user = User(email=email, name=name.strip(), role=role)
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise InvalidInput(errors={"password": exc.messages}) from exc
    user.set_password(password)
    # Admin access comes from the role policy; no role is a Django superuser.
    user.is_staff = policy.may_use_admin(role)
    user.is_superuser = False
    user.save()
    if role not in WHOLE_TENANT_ROLES:
        user.branches.set(branches)
    record(
        "staff.created",
        actor=actor,
        target=f"user:{user.pk}",
        detail={"role": role, "branches": sorted(b.pk for b in branches)},
    )
    return user
