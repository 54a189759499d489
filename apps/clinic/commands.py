"""Write commands for branches and staff. Every caller (API, admin, onboarding) uses these."""

import re
from collections.abc import Sequence

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from apps.audit.trail import record
from apps.clinic.access import require_role
from apps.clinic.models import WHOLE_TENANT_ROLES, Branch, Role, User
from apps.core.errors import Conflict, InvalidInput
from apps.core.timezones import timezone_problem
from apps.eventstore.store import command

# Roles whose work happens in particular branches: they must be given at least one.
BRANCH_BOUND_ROLES = frozenset({Role.BRANCH_MANAGER, Role.RECEPTIONIST, Role.DOCTOR})


# Digits with the usual separators, e.g. "+91 22 2345 6789" or "(022) 2345-6789".
BRANCH_PHONE = re.compile(r"^\+?[0-9][0-9 ()-]{5,18}$")


def _branch_details(
    *, name: str, city: str, address: str, phone: str, timezone: str, exclude: int | None
) -> dict[str, str]:
    """The branch's fields, stripped and checked (one home for the branch rules)."""
    details = {"name": name.strip(), "city": city.strip(), "address": address.strip(),
               "phone": phone.strip(), "timezone": timezone}  # fmt: skip
    if not details["name"]:
        raise InvalidInput("A branch needs a name.", field="name")
    if problem := timezone_problem(timezone):
        raise InvalidInput(problem, field="timezone")
    if details["phone"] and not BRANCH_PHONE.match(details["phone"]):
        raise InvalidInput("Give a phone number of digits, e.g. +91 22 2345 6789.", field="phone")
    if Branch.objects.filter(name__iexact=details["name"]).exclude(pk=exclude).exists():
        raise InvalidInput("A branch with this name already exists.", field="name")
    return details


@command
def branch_create(
    *,
    actor: User | None,
    name: str,
    city: str = "",
    timezone: str,
    address: str = "",
    phone: str = "",
) -> Branch:
    require_role(actor, WHOLE_TENANT_ROLES)
    details = _branch_details(
        name=name, city=city, address=address, phone=phone, timezone=timezone, exclude=None
    )
    branch = Branch(**details)
    branch.record("BranchOpened", {"timezone": timezone}, actor=actor)
    branch.save()
    return branch


@command
def branch_update(
    *,
    actor: User | None,
    branch: Branch,
    name: str,
    city: str,
    address: str,
    phone: str,
    timezone: str,
) -> Branch:
    """Changes a branch's details; no event when nothing changed. The event names the fields
    that changed (and the new time zone), never their free text."""
    require_role(actor, WHOLE_TENANT_ROLES)
    branch = Branch.objects.select_for_update().get(pk=branch.pk)
    details = _branch_details(
        name=name, city=city, address=address, phone=phone, timezone=timezone, exclude=branch.pk
    )
    changed = sorted(key for key, value in details.items() if getattr(branch, key) != value)
    if not changed:
        return branch
    for key in changed:
        setattr(branch, key, details[key])
    branch.record("BranchUpdated", {"changed": changed, "timezone": branch.timezone}, actor=actor)
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
    # Branch managers use the admin too, for their own branches (see apps.clinic.admin).
    user.is_staff = role in WHOLE_TENANT_ROLES | {Role.BRANCH_MANAGER}
    user.is_superuser = role in WHOLE_TENANT_ROLES
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


def _send_invitation(user_id: int, site_url: str) -> None:
    user = User.objects.get(pk=user_id)
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    context = {"user": user, "link": f"{site_url}/invitation/{uid}/{token}/", "site": site_url}
    send_mail(
        subject="You are invited to MyMedic",
        message=render_to_string("registration/invitation_email.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=[user.email],
    )


@command
def staff_invite(
    *,
    actor: User | None,
    name: str,
    email: str,
    role: str,
    branches: Sequence[Branch] = (),
    site_url: str,
) -> User:
    """Adds a staff member without a password and emails them a link to set one.

    The link is Django's password-reset token: it dies once the password is set.
    """
    require_role(actor, WHOLE_TENANT_ROLES)
    if role not in Role.values or role == Role.OWNER:
        raise InvalidInput(f"“{role}” is not a role you can give.", field="role")
    if not name.strip():
        raise InvalidInput("Give the person's name.", field="name")
    email = User.objects.normalize_email(email.strip()).lower()
    if User.objects.filter(email__iexact=email).exists():
        raise InvalidInput("A staff member with this email already exists.", field="email")
    if role in BRANCH_BOUND_ROLES and not branches:
        raise InvalidInput("Give this role at least one branch.", field="branches")
    user = User(email=email, name=name.strip(), role=role)
    user.set_unusable_password()
    user.is_staff = role in WHOLE_TENANT_ROLES | {Role.BRANCH_MANAGER}
    user.is_superuser = role in WHOLE_TENANT_ROLES
    user.save()
    if role not in WHOLE_TENANT_ROLES:
        user.branches.set(branches)
    record(
        "staff.invited",
        actor=actor,
        target=f"user:{user.pk}",
        detail={"role": role, "branches": sorted(b.pk for b in branches)},
    )
    transaction.on_commit(lambda: _send_invitation(user.pk, site_url))
    return user


def invitation_pending(user: User) -> bool:
    """Invited and not yet signed up: no password set and never signed in."""
    return not user.has_usable_password() and user.last_login is None


@command
def staff_invite_resend(*, actor: User | None, user: User, site_url: str) -> User:
    require_role(actor, WHOLE_TENANT_ROLES)
    user = User.objects.select_for_update().get(pk=user.pk)
    if not invitation_pending(user):
        raise Conflict("This person has already set a password.")
    record("staff.invitation_resent", actor=actor, target=f"user:{user.pk}")
    transaction.on_commit(lambda: _send_invitation(user.pk, site_url))
    return user
