"""Write commands for branches and staff. Every caller (API, admin, onboarding) uses these."""

import re
from collections.abc import Sequence
from datetime import datetime
from functools import partial
from importlib import import_module

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.utils import timezone as dj_timezone
from django_tenants.utils import schema_context

from apps.audit.trail import record
from apps.clinic import events, policy
from apps.clinic.access import require_role
from apps.clinic.models import STAFF_LANGUAGES, WHOLE_TENANT_ROLES, Branch, Role, StaffToken, User
from apps.clinic.tasks import send_invitation
from apps.clinic.tokens import mint
from apps.core.db import connection
from apps.core.errors import Conflict, InvalidInput, PermissionDenied
from apps.core.timezones import timezone_problem
from apps.core.wakeups import after_commit
from apps.eventstore.store import command
from apps.plans.gate import require_room

# Roles whose work happens in particular branches: they must be given at least one.
BRANCH_BOUND_ROLES = frozenset({Role.BRANCH_MANAGER, Role.RECEPTIONIST, Role.DOCTOR})


# Digits with the usual separators, e.g. "+91 22 2345 6789" or "(022) 2345-6789".
BRANCH_PHONE = re.compile(r"^\+?[0-9][0-9 ()-]{5,18}$")


def _branch_details(
    *, name: str, city: str, address: str, phone: str, timezone: str, exclude: int | None
) -> dict[str, str]:
    """The branch's fields, stripped and checked (one home for the branch rules)."""
    details = {
        "name": name.strip(),
        "city": city.strip(),
        "address": address.strip(),
        "phone": phone.strip(),
        "timezone": timezone,
    }
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
    require_room(limit="branches", in_use=Branch.objects.count(), actor=actor)
    branch = Branch(**details)
    branch.record(events.BRANCH_OPENED, {"timezone": timezone}, actor=actor)
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
    branch.record(
        events.BRANCH_UPDATED, {"changed": changed, "timezone": branch.timezone}, actor=actor
    )
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
    user = _new_staff_member(name=name, email=email, role=role, branches=branches)
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise InvalidInput(errors={"password": exc.messages}) from exc
    user.set_password(password)
    _save_new_staff(user, branches, actor=actor, action="staff.created")
    return user


def _new_staff_member(*, name: str, email: str, role: str, branches: Sequence[Branch]) -> User:
    """The unsaved user of a new staff member: the email normalised and not yet taken, and a
    branch-bound role given at least one branch."""
    email = User.objects.normalize_email(email.strip()).lower()
    if User.objects.filter(email__iexact=email).exists():
        raise InvalidInput("A staff member with this email already exists.", field="email")
    if role in BRANCH_BOUND_ROLES and not branches:
        raise InvalidInput("Give this role at least one branch.", field="branches")
    return User(email=email, name=name.strip(), role=role)


def _save_new_staff(
    user: User, branches: Sequence[Branch], *, actor: User | None, action: str
) -> None:
    """Saves a new staff member with their branches and audits it (`action`). Admin access
    comes from the role policy; no role is a Django superuser."""
    user.is_staff = policy.may_use_admin(user.role)
    user.is_superuser = False
    user.save()
    if user.role not in WHOLE_TENANT_ROLES:
        user.branches.set(branches)
    record(
        action,
        actor=actor,
        target=f"user:{user.pk}",
        detail={"role": user.role, "branches": sorted(b.pk for b in branches)},
    )


def _queue_invitation(schema: str, user_id: int, site_url: str) -> None:
    with schema_context(schema):
        send_invitation.delay(user_id, site_url)


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
    user = _new_staff_member(name=name, email=email, role=role, branches=branches)
    user.set_unusable_password()
    _save_new_staff(user, branches, actor=actor, action="staff.invited")
    after_commit(
        partial(_queue_invitation, connection.schema_name, user.pk, site_url), what="invitation"
    )
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
    after_commit(
        partial(_queue_invitation, connection.schema_name, user.pk, site_url), what="invitation"
    )
    return user


def _check_password(password: str, user: User, field: str) -> None:
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise InvalidInput(errors={field: exc.messages}) from exc


def require_not_owner_of_another(actor: User | None, user: User, what: str) -> None:
    """The owner's account is the owner's alone: nobody else demotes, deactivates or resets
    it (the system, actor None, may)."""
    if user.role == Role.OWNER and actor is not None and actor.pk != user.pk:
        raise Conflict(f"Only the owner can {what} the owner's account.")


@command
def staff_change(
    *,
    actor: User | None,
    user: User,
    name: str | None = None,
    role: str | None = None,
    is_active: bool | None = None,
    branches: Sequence[Branch] | None = None,
) -> User:
    """Changes a staff member's name, role, status or branches (owners and managers)."""
    require_role(actor, WHOLE_TENANT_ROLES)
    user = User.objects.select_for_update().get(pk=user.pk)
    changed: list[str] = []
    if role is not None and role != user.role:
        require_not_owner_of_another(actor, user, "change the role of")
        if role not in Role.values or (role == Role.OWNER and actor is not None):
            raise InvalidInput(f"“{role}” is not a role you can give.", field="role")
        user.role = role
        user.is_staff = policy.may_use_admin(role)
        changed.append("role")
    if is_active is not None and is_active != user.is_active:
        if not is_active:
            require_not_owner_of_another(actor, user, "deactivate")
        user.is_active = is_active
        changed.append("is_active")
    if name is not None and name.strip() != user.name:
        if not name.strip():
            raise InvalidInput("A staff member needs a name.", field="name")
        user.name = name.strip()
        changed.append("name")
    user.save()
    if branches is not None and set(branches) != set(user.branches.all()):
        user.branches.set(branches)
        changed.append("branches")
    if not user.is_active:
        end_access(user)
    record("staff.changed", actor=actor, target=f"user:{user.pk}", detail={"fields": changed})
    return user


def end_access(user: User, *, keep_session: str | None = None) -> None:
    """Revokes every API token of `user` and ends their web sessions (but `keep_session`)."""
    StaffToken.objects.filter(user=user).delete()
    for session in Session.objects.filter(expire_date__gt=dj_timezone.now()):
        if session.session_key == keep_session:
            continue
        if str(session.get_decoded().get("_auth_user_id")) == str(user.pk):
            # Through the session engine, so that its cached copy goes too.
            import_module(settings.SESSION_ENGINE).SessionStore().delete(session.session_key)


@command
def staff_token_issue(*, actor: User, now: datetime | None = None) -> str:
    """A new API token for `actor`, who just proved their password. The key is returned
    once and never stored: only its digest is."""
    key = mint(actor, now=now)
    record("login.token", actor=actor, target=f"user:{actor.pk}")
    return key


@command
def staff_token_revoke(*, actor: User, token: StaffToken) -> None:
    """Sign-out of one token (the caller's own)."""
    if token.user_id != actor.pk:
        raise PermissionDenied("This token is not yours.")
    StaffToken.objects.filter(pk=token.pk).delete()
    record("logout.token", actor=actor, target=f"user:{actor.pk}")


@command
def staff_password_change(
    *, actor: User, old_password: str, new_password: str, keep_session: str | None = None
) -> User:
    """A signed-in staff member changes their own password. Every API token and every other
    web session of theirs dies with the old password."""
    user = User.objects.select_for_update().get(pk=actor.pk)
    if not user.check_password(old_password):
        raise InvalidInput("Your current password is not correct.", field="old_password")
    if old_password == new_password:
        raise InvalidInput("Choose a password you have not used here.", field="new_password")
    _check_password(new_password, user, "new_password")
    user.set_password(new_password)
    user.save(update_fields=["password"])
    end_access(user, keep_session=keep_session)
    record("staff.password_changed", actor=actor, target=f"user:{user.pk}")
    return user


@command
def staff_password_reset(*, actor: User | None, user: User, new_password: str) -> User:
    """An owner or manager sets a staff member's password (a forgotten one). Every API token
    and web session of that member ends."""
    require_role(actor, WHOLE_TENANT_ROLES)
    user = User.objects.select_for_update().get(pk=user.pk)
    require_not_owner_of_another(actor, user, "reset the password of")
    _check_password(new_password, user, "new_password")
    user.set_password(new_password)
    user.save(update_fields=["password"])
    end_access(user)
    record("staff.password_reset", actor=actor, target=f"user:{user.pk}")
    return user


@command
def staff_language_set(*, actor: User, language: str) -> User:
    """A signed-in staff member chooses the language of their console pages."""
    if language not in dict(STAFF_LANGUAGES):
        raise InvalidInput("Choose English or Hindi.", field="language")
    user = User.objects.select_for_update().get(pk=actor.pk)
    if user.language != language:
        user.language = language
        user.save(update_fields=["language"])
        record(
            "staff.changed", actor=actor, target=f"user:{user.pk}", detail={"fields": ["language"]}
        )
    return user
