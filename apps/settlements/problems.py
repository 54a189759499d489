"""What is wrong with a line of an uploaded settlements file ("line 3: not an amount such as
500.00"): each wording once, with the parts that change named, as `details` does for the
exceptions.

The import refuses the file with the problems in English (en-IN), the API's `rows` errors; the
upload page shows them in its language (`shown`) by reading the line number and the parts
back out of the English text. Column names and the codes a column takes (`entity_id`,
`payment`, `YYYY-MM-DD`) stay as the file writes them. A text no wording fits is shown as it
is.
"""

from django.utils.translation import gettext_noop

from apps.core.dates import FORMAT_WORDING, OUT_OF_RANGE_WORDING
from apps.settlements.details import in_page_language

LINE = gettext_noop("line %(line)s: %(problem)s")
# A file refused for more lines than the import lists: the last entry says how many more.
LISTED = 50
NOT_LISTED = gettext_noop("%(count)s more line(s) with a problem, not listed")
NOT_AN_AMOUNT = gettext_noop("not an amount such as 500.00")
TOO_MANY_DECIMALS = gettext_noop("not an amount with at most two decimals")
AMOUNT_OUT_OF_RANGE = gettext_noop("out of range")
TYPE_NOT_KNOWN = gettext_noop("type is one of %(types)s")
ENTITY_EMPTY = gettext_noop("entity_id is empty")
CURRENCY_NOT_A_CODE = gettext_noop("currency is a three-letter code")
CREDIT_OR_DEBIT = gettext_noop("a line is either a credit or a debit")
WORDINGS = (
    NOT_AN_AMOUNT,
    TOO_MANY_DECIMALS,
    AMOUNT_OUT_OF_RANGE,
    TYPE_NOT_KNOWN,
    ENTITY_EMPTY,
    CURRENCY_NOT_A_CODE,
    CREDIT_OR_DEBIT,
    FORMAT_WORDING,
    OUT_OF_RANGE_WORDING,
)


def on_line(number: int, problem: object) -> str:
    """The English problem of one line, as the import lists it."""
    return LINE % {"line": number, "problem": problem}


def listed(refused: list[str]) -> list[str]:
    """The problems an import refuses a file with: the first LISTED lines, and how many more."""
    if len(refused) <= LISTED:
        return refused
    return [*refused[:LISTED], NOT_LISTED % {"count": len(refused) - LISTED}]


def shown(text: str) -> str:
    """A line's problem in the page's language, or as given when no wording fits it."""

    def part(name: str, value: str) -> str:
        return in_page_language(WORDINGS, value) if name == "problem" else value

    return in_page_language([LINE, NOT_LISTED], text, part)
