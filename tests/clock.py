"""The suite's calendar: January 2027 in Mumbai, with Monday the 4th as "today"."""

from datetime import datetime
from zoneinfo import ZoneInfo

IST = ZoneInfo("Asia/Kolkata")
# A Monday; tests that freeze time run as if it were 08:00 that morning in Mumbai.
MONDAY = datetime(2027, 1, 4, tzinfo=IST).date()


def ist(day: int, hour: int, minute: int = 0) -> datetime:
    """An instant in January 2027, Mumbai time."""
    return datetime(2027, 1, day, hour, minute, tzinfo=IST)
