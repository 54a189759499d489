"""How Hindi-reading staff in India read dates, times and numbers: the month named in Hindi,
the 24-hour clock and lakh/crore grouping as in English (en-IN).

Months use Django's standalone names ("E"): its "F" names in Hindi misspell दिसंबर."""

from mymedic.formats.en_IN.formats import (
    DATE_INPUT_FORMATS,
    DATETIME_INPUT_FORMATS,
    DECIMAL_SEPARATOR,
    FIRST_DAY_OF_WEEK,
    NUMBER_GROUPING,
    THOUSAND_SEPARATOR,
    TIME_FORMAT,
    TIME_INPUT_FORMATS,
)

DATE_FORMAT = "j E Y"
SHORT_DATE_FORMAT = "d/m/Y"
DATETIME_FORMAT = "j E Y, H:i T"
SHORT_DATETIME_FORMAT = "d/m/Y, H:i T"
MONTH_DAY_FORMAT = "j E"
YEAR_MONTH_FORMAT = "E Y"

__all__ = [
    "DATE_FORMAT",
    "DATE_INPUT_FORMATS",
    "DATETIME_FORMAT",
    "DATETIME_INPUT_FORMATS",
    "DECIMAL_SEPARATOR",
    "FIRST_DAY_OF_WEEK",
    "MONTH_DAY_FORMAT",
    "NUMBER_GROUPING",
    "SHORT_DATE_FORMAT",
    "SHORT_DATETIME_FORMAT",
    "THOUSAND_SEPARATOR",
    "TIME_FORMAT",
    "TIME_INPUT_FORMATS",
    "YEAR_MONTH_FORMAT",
]
