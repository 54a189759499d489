"""Envelope encryption for patient data (PHI).

master key (environment) + the tenant's key-store secret ─wrap→ tenant key (row in the
tenant's schema; `apps.core.keystore`: destroying the secret shreds every copy of the tenant)
tenant key ─wraps→ patient key (row of the patient) ─encrypts→ the patient's fields

Destroying a patient's wrapped key makes that patient's fields unreadable for good, while
every id, event and audit entry that refers to the patient stays as it was. Phone search
uses a keyed hash of the normalized number (a blind index), so the number itself is never
stored in clear; name search likewise uses keyed hashes of the folded name's word prefixes
(`apps.scheduling.names`), under a key of their own derived from the tenant key, so
destroying the tenant key leaves both indexes without meaning.
"""

import base64
import hashlib
import hmac
import json
import os
from functools import lru_cache
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from apps.core import keystore

NONCE_BYTES = 12


def master_key() -> bytes:
    key = base64.urlsafe_b64decode(settings.MYMEDIC_MASTER_KEY.encode())
    if len(key) != 32:
        raise ImproperlyConfigured("MYMEDIC_MASTER_KEY must be 32 bytes, base64url-encoded.")
    return key


def seal(key: bytes, plaintext: bytes, context: str) -> bytes:
    """AES-256-GCM; `context` is authenticated, so a blob moved elsewhere will not open."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, context.encode())


def unseal(key: bytes, blob: bytes, context: str) -> bytes:
    return AESGCM(key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], context.encode())


def new_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def retired_master_keys() -> list[bytes]:
    """Master keys being rotated away from (MYMEDIC_MASTER_KEYS_RETIRED): still opened, never
    used to wrap, until `rotate_keys --master` has re-wrapped every tenant key."""
    keys = [base64.urlsafe_b64decode(k.strip()) for k in settings.MYMEDIC_MASTER_KEYS_RETIRED if k]
    if any(len(key) != 32 for key in keys):
        raise ImproperlyConfigured("MYMEDIC_MASTER_KEYS_RETIRED holds keys of 32 bytes only.")
    return keys


def _wrapping_key(master: bytes, secret: bytes | None) -> bytes:
    """The key that wraps a tenant key: the master key alone for tenants made before the key
    store (until `rotate_keys --master` re-wraps them), else derived from both."""
    if secret is None:
        return master
    return derive(master + secret, "tenant-key-wrap")


@lru_cache(maxsize=4096)
def _unwrap(wrapped: bytes, schema: str, secret: bytes | None) -> bytes:
    context = f"tenant-key:{schema}"
    secrets = [secret, None] if secret is not None else [None]
    for master in (master_key(), *retired_master_keys()):
        for each in secrets:
            try:
                return unseal(_wrapping_key(master, each), wrapped, context)
            except InvalidTag:
                continue
    raise InvalidTag


class _TenantKeyUnwrapper:
    """`unwrap_tenant_key(wrapped, schema)`: opens a tenant key with the master key (or a
    retired one) and the schema's key-store secret, read afresh at each call, so a destroyed
    secret is never served from the cache."""

    def __call__(self, wrapped: bytes, schema: str) -> bytes:
        return _unwrap(wrapped, schema, keystore.secret(schema))

    def cache_clear(self) -> None:
        _unwrap.cache_clear()


unwrap_tenant_key = _TenantKeyUnwrapper()


def wrapped_by_current_master(wrapped: bytes, schema: str) -> bool:
    """Whether `wrapped` is wrapped the way new keys are: current master key and key store."""
    secret = keystore.secret(schema)
    if secret is None:
        return False
    try:
        unseal(_wrapping_key(master_key(), secret), wrapped, f"tenant-key:{schema}")
    except InvalidTag:
        return False
    return True


def wrap_tenant_key(key: bytes, schema: str) -> bytes:
    secret = keystore.ensure_secret(schema)
    return seal(_wrapping_key(master_key(), secret), key, f"tenant-key:{schema}")


def derive(key: bytes, purpose: str) -> bytes:
    return HKDF(algorithm=SHA256(), length=32, salt=None, info=purpose.encode()).derive(key)


def blind_index(tenant_key: bytes, value: str) -> str:
    return hmac.new(
        derive(tenant_key, "blind-index:phone"), value.encode(), hashlib.sha256
    ).hexdigest()


def name_index_key(tenant_key: bytes) -> bytes:
    """The key of the name index, derived from the tenant key (never the phone index's)."""
    return derive(tenant_key, "blind-index:name")


def name_digest(index_key: bytes, token: str) -> int:
    """The blind index of one folded name prefix: the first 8 bytes of its HMAC-SHA256 as a
    signed 64-bit integer (a compact column; a rare collision only adds a candidate)."""
    mac = hmac.new(index_key, token.encode(), hashlib.sha256).digest()
    return int.from_bytes(mac[:8], "big", signed=True)


def seal_fields(data_key: bytes, fields: dict[str, Any], context: str) -> bytes:
    return seal(data_key, json.dumps(fields, sort_keys=True).encode(), context)


def unseal_fields(data_key: bytes, blob: bytes, context: str) -> dict[str, Any]:
    return dict(json.loads(unseal(data_key, blob, context)))
