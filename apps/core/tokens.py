"""What staff and patient API tokens share: `Authorization: Token <key>`, and keys kept only
as a SHA-256 digest. Each kind looks its digest up in its own table."""

import hashlib
from typing import Any

from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class DigestTokenAuthentication(BaseAuthentication):
    """Reads the key from `Authorization: Token <key>` (None without that header, so other
    authenticators may try) and hands its digest to `authenticate_digest`."""

    keyword = "Token"

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword.lower().encode():
            return None
        if len(parts) != 2:
            raise AuthenticationFailed("Invalid token header.")
        try:
            key = parts[1].decode()
        except UnicodeError as exc:
            raise AuthenticationFailed("Invalid token.") from exc
        return self.authenticate_digest(key_hash(key))

    def authenticate_digest(self, digest: str) -> tuple[Any, Any]:
        raise NotImplementedError

    def authenticate_header(self, request: Any) -> str:
        return self.keyword
