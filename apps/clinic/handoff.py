"""Single-use sign-in links that carry a freshly signed-up owner from the public site to
their clinic's host (the two hosts do not share cookies).

A link is signed with the secret key and a salt of its own, names the tenant's schema and
the user, lives `HANDOFF_SECONDS`, and carries a random nonce that is recorded when the link
is used, so a second use (or a link for another tenant) signs nobody in.
"""

import secrets

from django.core import signing
from django.db import IntegrityError, transaction

from apps.audit.trail import record
from apps.clinic.models import SignInLinkUse, User
from apps.core.db import connection

HANDOFF_SALT = "mymedic.clinic.sign-in-link"
HANDOFF_SECONDS = 120


class LinkRefused(Exception):
    """The link is forged, expired, for another clinic, or already used."""


def sign_in_link_token(*, schema_name: str, user_id: int) -> str:
    payload = {"schema": schema_name, "user": user_id, "nonce": secrets.token_urlsafe(24)}
    return signing.dumps(payload, salt=HANDOFF_SALT)


def redeem_sign_in_link(token: str) -> User:
    """The user the link signs in, in the active tenant's schema; LinkRefused otherwise."""
    try:
        payload = signing.loads(token, salt=HANDOFF_SALT, max_age=HANDOFF_SECONDS)
    except signing.BadSignature as exc:  # includes SignatureExpired
        raise LinkRefused from exc
    if not isinstance(payload, dict) or payload.get("schema") != connection.schema_name:
        raise LinkRefused
    user_id = payload.get("user")
    if not isinstance(user_id, int):
        raise LinkRefused
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        raise LinkRefused
    try:
        with transaction.atomic():
            SignInLinkUse.objects.create(nonce=str(payload.get("nonce")), user=user)
            record("login.link", actor=user, target=f"user:{user.pk}")
    except IntegrityError as exc:
        raise LinkRefused from exc
    return user
