"""What a tenant may send through the platform's phone channels: numbers of its own region
only, and at most a daily quota, so a tenant can never turn the platform's SMS account into
a way to message the world (wording is already limited to placeholders: see `wording`)."""

from django.conf import settings
from django.db import connection as db
from django.utils import timezone

from apps.tenants.verification import current_tenant, is_live

PHONE_CHANNELS = frozenset({"sms", "whatsapp"})

# E.164 country calling codes a tenant of each region may message.
REGION_COUNTRY_CODES: dict[str, tuple[str, ...]] = {
    "in": ("91",),
    "gcc": ("971", "966", "974", "968", "973", "965"),
    "sea": ("65", "60", "66", "62", "63", "84", "673", "855", "856", "95"),
    "eu": (
        "30", "31", "32", "33", "34", "36", "39", "40", "43", "45", "46", "48", "49", "351",
        "352", "353", "356", "357", "358", "359", "370", "371", "372", "385", "386", "420",
        "421",
    ),
}  # fmt: skip


class Refused(Exception):
    """Not sent, and never will be (`permanent`), or not today (quota)."""

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


def region() -> str:
    return str(getattr(current_tenant(), "region", "") or "in")


def check_live() -> None:
    """Nothing goes to patients before the owner has confirmed the sign-up email."""
    if not is_live():
        raise Refused(
            "The clinic's owner has not confirmed the sign-up email yet; sent once they do.",
            permanent=False,
        )


def check_recipient(channel: str, to: str) -> None:
    if channel not in PHONE_CHANNELS:
        return
    codes = REGION_COUNTRY_CODES.get(region(), REGION_COUNTRY_CODES["in"])
    if not any(to.startswith(f"+{code}") for code in codes):
        raise Refused(
            f"{channel.upper()} goes only to numbers of the clinic's region ({region()}).",
            permanent=True,
        )


def take_quota(channel: str) -> None:
    """Counts one message against today's quota of this tenant (UTC day), or refuses it."""
    if channel not in PHONE_CHANNELS:
        return
    with db.cursor() as cursor:
        cursor.execute(
            "INSERT INTO notifications_dailysendcount (day, channel, count) VALUES (%s, %s, 1) "
            "ON CONFLICT (day, channel) DO UPDATE "
            "SET count = notifications_dailysendcount.count + 1 RETURNING count",
            [timezone.now().date(), channel],
        )
        (count,) = cursor.fetchone()
    if count > settings.MYMEDIC_MESSAGE_DAILY_QUOTA:
        raise Refused(
            f"The clinic's daily {channel.upper()} quota "
            f"({settings.MYMEDIC_MESSAGE_DAILY_QUOTA}) is used up; it is sent tomorrow.",
            permanent=False,
        )
