"""What a tenant's slug, timezone and currency may be."""

import re

from django.conf import settings
from django.utils.translation import gettext_noop

SLUG_PATTERN = re.compile(r"^[a-z][a-z0-9-]{2,30}$")

# Host labels that belong to the platform, and names PostgreSQL keeps for itself.
RESERVED_SLUGS = frozenset(
    {
        "www",
        "admin",
        "api",
        "public",
        "app",
        "apps",
        "static",
        "media",
        "assets",
        "mail",
        "email",
        "smtp",
        "ftp",
        "help",
        "support",
        "status",
        "docs",
        "blog",
        "billing",
        "signup",
        "login",
        "auth",
        "account",
        "accounts",
        "dashboard",
        "console",
        "cdn",
        "dev",
        "test",
        "staging",
        "demo-template",
        "tenant-template",
        "information-schema",
        "mymedic",
        "root",
        "system",
        "postgres",
    }
)

# Markets MyMedic serves: India first, then GCC, South-East Asia and Europe.
SUPPORTED_CURRENCIES = frozenset(
    {
        "INR",
        "AED",
        "SAR",
        "QAR",
        "OMR",
        "KWD",
        "BHD",
        "SGD",
        "MYR",
        "IDR",
        "THB",
        "PHP",
        "VND",
        "LKR",
        "NPR",
        "BDT",
        "EUR",
        "GBP",
        "USD",
        "CHF",
        "SEK",
        "DKK",
        "NOK",
        "PLN",
    }
)


def schema_name_for(slug: str) -> str:
    """PostgreSQL schema of a tenant; slugs have no underscore, so this is one-to-one."""
    return slug.replace("-", "_")


def slug_problem(slug: str) -> str | None:
    """Why `slug` cannot name a new tenant, or None. Availability is checked separately."""
    if not SLUG_PATTERN.fullmatch(slug):
        return gettext_noop(
            "Use 3 to 31 characters: lowercase letters, digits and hyphens, starting with a letter."
        )
    if slug.endswith("-"):
        return gettext_noop("An address cannot end with a hyphen.")
    if slug in RESERVED_SLUGS or slug.startswith("pg-"):
        return gettext_noop("This address is reserved. Please choose another.")
    if schema_name_for(slug) == settings.TENANT_BASE_SCHEMA:
        return gettext_noop("This address is reserved. Please choose another.")
    return None


def currency_problem(code: str) -> str | None:
    if code not in SUPPORTED_CURRENCIES:
        return f"Currency “{code}” is not supported. Use an ISO 4217 code such as INR."
    return None
