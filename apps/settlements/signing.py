"""The gateway's webhook secret: sealed under the tenant's key (AES-GCM, bound to the schema),
opened only to check a signature; `verify_signature` compares in constant time."""

import hashlib
import hmac

from apps.core import crypto
from apps.core.db import connection
from apps.core.keys import active_tenant_key, tenant_key
from apps.settlements.models import SettlementSettings


def _context() -> str:
    return f"razorpay-webhook-secret:{connection.schema_name}"


def seal_secret(settings: SettlementSettings, secret: str) -> None:
    version, key = active_tenant_key()
    settings.webhook_secret = crypto.seal(key, secret.encode(), _context())
    settings.webhook_key_version = version


def webhook_secret() -> bytes | None:
    settings = SettlementSettings.current()
    if not settings.webhook_secret:
        return None
    key = tenant_key(settings.webhook_key_version)
    return crypto.unseal(key, bytes(settings.webhook_secret), _context())


def signature(secret: bytes, body: bytes) -> str:
    """What the gateway sends as `X-Razorpay-Signature`: hex HMAC-SHA256 of the raw body."""
    return hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify_signature(body: bytes, sent: str) -> bool:
    secret = webhook_secret()
    if secret is None or not sent:
        return False
    return hmac.compare_digest(signature(secret, body), sent.strip().lower())
