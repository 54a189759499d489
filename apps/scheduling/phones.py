"""Phone numbers in E.164 form, so that search by phone finds a patient however it was typed."""

import re

from django.utils.translation import gettext_noop

from apps.core.errors import InvalidInput

_SEPARATORS = re.compile(r"[\s\-().]")


def normalize_phone(raw: str, *, default_country_code: str = "91") -> str:
    """`+91 98123-45678`, `09812345678` and `9812345678` all become `+919812345678`."""
    compact = _SEPARATORS.sub("", raw or "")
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    if compact.startswith("+"):
        digits = compact[1:]
    elif len(compact) == 11 and compact.startswith("0"):
        digits = default_country_code + compact[1:]
    elif len(compact) == 10:
        digits = default_country_code + compact
    else:
        digits = ""
    if not digits.isdigit() or not 8 <= len(digits) <= 15:
        raise InvalidInput(
            gettext_noop("Enter a phone number with its country code, e.g. +91 98123 45678."),
            field="phone",
        )
    return "+" + digits
