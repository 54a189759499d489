"""National identifiers a patient may carry, in their one stored form."""

import re

from django.utils.translation import gettext_noop

from apps.core.errors import InvalidInput

_SEPARATORS = re.compile(r"[\s-]")


def normalize_abha_number(raw: str) -> str:
    """An ABHA number (India's Ayushman Bharat Health Account) is 14 digits; it is kept as
    printed on the card, `12-3456-7890-1234`, whatever spacing or dashes it came with."""
    digits = _SEPARATORS.sub("", raw or "")
    if not (len(digits) == 14 and digits.isascii() and digits.isdigit()):
        raise InvalidInput(gettext_noop("An ABHA number has 14 digits."), field="abha_number")
    return f"{digits[:2]}-{digits[2:6]}-{digits[6:10]}-{digits[10:]}"
