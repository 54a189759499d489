"""When a visit may take each step of its state machine: the state (`Appointment.TRANSITIONS`)
and the clock (the visit's own day, the check-in window, the no-show grace, cancelling
before the start). The commands refuse with `clock_refusal`; the console, the admin and the
API show what `allowed_actions` allows. One home for both, so they never disagree."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.utils.translation import gettext_noop

from apps.core.errors import Conflict
from apps.scheduling.formats import human_time
from apps.scheduling.models import Appointment, SchedulingSettings

# Steps taken only on the visit's own local day (branch time).
SAME_DAY = frozenset({"check_in", "no_show", "undo_no_show"})


def check_in_opens_at(start: datetime, rules: SchedulingSettings | None = None) -> datetime:
    """When check-in opens for a visit starting at `start` (it closes with the visit's day)."""
    rules = rules or SchedulingSettings.current()
    return start - timedelta(minutes=rules.check_in_opens_minutes)


def no_show_allowed_from(start: datetime, rules: SchedulingSettings | None = None) -> datetime:
    rules = rules or SchedulingSettings.current()
    return start + timedelta(minutes=rules.no_show_grace_minutes)


def clock_refusal(
    action: str,
    *,
    start: datetime,
    zone: str,
    now: datetime,
    rules: SchedulingSettings | None = None,
) -> Conflict | None:
    """Why the clock does not let a visit starting at `start` take `action` now (the refusal
    the command raises), or None."""
    tz = ZoneInfo(zone)
    if action in SAME_DAY and now.astimezone(tz).date() != start.astimezone(tz).date():
        return Conflict(gettext_noop("This can be done only on the day of the appointment."))
    if action == "check_in":
        opens = check_in_opens_at(start, rules)
        if now < opens:
            return Conflict(
                gettext_noop("Check-in opens at %(time)s."),
                params={"time": human_time(opens, zone)},
            )
    if action == "no_show":
        allowed = no_show_allowed_from(start, rules)
        if now < allowed:
            return Conflict(
                gettext_noop("A no-show can be marked from %(time)s."),
                params={"time": human_time(allowed, zone)},
            )
    if action == "cancel" and now >= start:
        return Conflict(gettext_noop("An appointment can be cancelled only before it starts."))
    return None


def allowed_actions(
    status: str, start: datetime, zone: str, rules: SchedulingSettings, now: datetime
) -> dict[str, bool]:
    """Which steps the state machine and the clock allow now (the commands check again)."""
    return {
        action: Appointment.allows(action, status)
        and clock_refusal(action, start=start, zone=zone, now=now, rules=rules) is None
        for action in Appointment.TRANSITIONS
    }
