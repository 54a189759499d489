"""Envelope encryption for patient data (PHI).

master key (environment) ─wraps→ tenant key (row in the tenant's schema)
tenant key ─wraps→ patient key (row of the patient) ─encrypts→ the patient's fields

Destroying a patient's wrapped key makes that patient's fields unreadable for good, while
every id, event and audit entry that refers to the patient stays as it was. Phone search
uses a keyed hash of the normalized number (a blind index), so the number itself is never
stored in clear.
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


@lru_cache(maxsize=4096)
def unwrap_tenant_key(wrapped: bytes, schema: str) -> bytes:
    context = f"tenant-key:{schema}"
    try:
        return unseal(master_key(), wrapped, context)
    except InvalidTag:
        for retired in retired_master_keys():
            try:
                return unseal(retired, wrapped, context)
            except InvalidTag:
                continue
        raise


def wrapped_by_current_master(wrapped: bytes, schema: str) -> bool:
    try:
        unseal(master_key(), wrapped, f"tenant-key:{schema}")
    except InvalidTag:
        return False
    return True


def wrap_tenant_key(key: bytes, schema: str) -> bytes:
    return seal(master_key(), key, f"tenant-key:{schema}")


def derive(key: bytes, purpose: str) -> bytes:
    return HKDF(algorithm=SHA256(), length=32, salt=None, info=purpose.encode()).derive(key)


def blind_index(tenant_key: bytes, value: str) -> str:
    return hmac.new(
        derive(tenant_key, "blind-index:phone"), value.encode(), hashlib.sha256
    ).hexdigest()


def seal_fields(data_key: bytes, fields: dict[str, Any], context: str) -> bytes:
    return seal(data_key, json.dumps(fields, sort_keys=True).encode(), context)


def unseal_fields(data_key: bytes, blob: bytes, context: str) -> dict[str, Any]:
    return dict(json.loads(unseal(data_key, blob, context)))
