"""What a settlement exception says about itself: each wording once, with the parts that
change named.

The row stores the wording in the project's language (en-IN), whoever was signed in, so stored
data never depends on a member's language (`stored`). A page shows it in its own language
(`shown`): the stored text is read back against the same wording to get its parts (ids,
amounts, dates), and the wording is translated around them. A text this code did not write
(an older wording, one cut at the column's length, a webhook's own reason) is shown as
stored.
"""

import re
from collections.abc import Callable, Iterable
from datetime import date, datetime
from decimal import Decimal
from functools import cache

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext, gettext_noop, pgettext_lazy

from apps.billing.models import Method
from apps.core.clinictime import format_date, format_money

UNMATCHED_ROW = gettext_noop(
    "The gateway's %(type)s %(entity)s (order %(order)s, receipt %(receipt)s) matches no "
    "payment of ours."
)
DUPLICATE_ROW = gettext_noop(
    "The gateway lists %(type)s %(entity)s again (settlement %(settlement)s); it was not "
    "booked twice."
)
SHORT_SETTLEMENT = gettext_noop(
    "Settlement %(settlement)s paid out %(net)s; gross %(gross)s less refunds %(refunds)s, "
    "fees %(fees)s and GST %(gst)s, plus adjustments %(adjustments)s, is %(expected)s."
)
UNSETTLED_PAYMENT = gettext_noop(
    "%(method)s payment %(payment)s of %(day)s is in no settlement after %(days)s days."
)
BANK_MISMATCH = gettext_noop(
    "The bank credited %(credit)s on %(day)s with UTR %(utr)s; settlement %(settlement)s paid "
    "out %(net)s."
)
UNBANKED_LINE = gettext_noop(
    "The bank credited %(credit)s on %(day)s (reference %(reference)s) and no imported "
    "settlement has that UTR."
)
SHORT_FIGURES = ("net", "gross", "refunds", "fees", "gst", "adjustments", "expected")
WORDINGS = (
    UNMATCHED_ROW,
    DUPLICATE_ROW,
    SHORT_SETTLEMENT,
    UNSETTLED_PAYMENT,
    BANK_MISMATCH,
    UNBANKED_LINE,
)
# The kinds of row a gateway's report lists, as its `type` column names them.
ROW_TYPES = {
    "payment": pgettext_lazy("gateway row", "payment"),
    "refund": pgettext_lazy("gateway row", "refund"),
    "adjustment": pgettext_lazy("gateway row", "adjustment"),
}
STORED_DATE = "%d %b %Y"  # en-IN's DATE_FORMAT ("2 Dec 2026"), as `stored` writes dates


def _part(value: object) -> str:
    if isinstance(value, Decimal):
        return format_money(value)
    if isinstance(value, date | datetime):
        return format_date(value)
    return str(value)


def stored(wording: str, **parts: object) -> str:
    """The wording with its parts, in the project's language: amounts as money, dates as
    dates, anything else as text."""
    with translation.override(settings.LANGUAGE_CODE):
        return wording % {name: _part(value) for name, value in parts.items()}


@cache
def wording_pattern(wording: str) -> re.Pattern[str]:
    """A regular expression that reads a filled-in wording back, one group per named part."""
    pieces = re.split(r"%\((\w+)\)s", wording)
    regex = "".join(
        re.escape(piece) if n % 2 == 0 else f"(?P<{piece}>.+?)" for n, piece in enumerate(pieces)
    )
    return re.compile(regex)


def _shown_part(name: str, value: str) -> str:
    """A stored part in the page's language: the kinds of row and payment methods, and dates;
    ids and amounts are the same in every language."""
    if name == "type":
        return str(ROW_TYPES.get(value, value))
    if name == "method":
        with translation.override(settings.LANGUAGE_CODE):
            methods = {str(method.label): method for method in Method}
        return str(methods[value].label) if value in methods else value
    if name == "day":
        try:
            return format_date(datetime.strptime(value, STORED_DATE).date())  # noqa: DTZ007
        except ValueError:
            return value
    return value


def in_page_language(
    wordings: Iterable[str],
    text: str,
    part: Callable[[str, str], str] = lambda name, value: value,
) -> str:
    """`text` in the page's language: read back by the first of `wordings` that fits it,
    each named part passed through `part`, and filled into that wording's translation; as
    given when none fits."""
    for wording in wordings:
        found = wording_pattern(wording).fullmatch(text)
        if found is not None:
            parts = {name: part(name, value) for name, value in found.groupdict().items()}
            return gettext(wording) % parts
    return text


def shown(detail: str) -> str:
    """The stored detail in the page's language, or as stored when no wording fits it."""
    return in_page_language(WORDINGS, detail, _shown_part)
