"""The waiting-room display's live channel: one per branch (`{schema}.display.{branch}`).

After a projection run commits, each touched branch's display channel gets the display's
whole state (tokens, doctors, rooms, steps: `read.display_state`, never a patient), so an
open screen redraws without asking; a screen that lost its stream asks for the state again
when it is back. Revoking a link tells its screens to stop at once.
"""

import logging

from django_eventstream import send_event

from apps.clinic.models import Branch
from apps.core.db import connection
from apps.core.wakeups import after_commit
from apps.eventstore.live import VIEW_CHECKED_KINDS
from apps.eventstore.projections import Touched, announce
from apps.queue.models import DisplayLink
from apps.queue.read import display_state

logger = logging.getLogger(__name__)

DISPLAY_KIND = "display"
STATE_EVENT = "queue"
REVOKED_EVENT = "revoked"
VIEW_CHECKED_KINDS.add(DISPLAY_KIND)


def display_channel(schema: str, branch_id: int) -> str:
    return f"{schema}.{DISPLAY_KIND}.{branch_id}"


@announce
def push_display_changes(touched: Touched, position: int) -> None:
    schema = connection.schema_name
    # Only branches with a live display link can have a screen open (a screen opens with the
    # whole state, and a revoked link's screens were told to stop): the others' state is not
    # worked out for nobody.
    shown = Branch.objects.filter(
        pk__in=DisplayLink.objects.filter(
            branch_id__in=sorted(touched.branches), revoked_at__isnull=True
        ).values("branch_id")
    )
    for branch in shown:
        try:
            send_event(display_channel(schema, branch.pk), STATE_EVENT, display_state(branch))
        except Exception:  # noqa: BLE001  (a failed push must not undo a committed projection)
            logger.exception("display push failed schema=%s branch=%s", schema, branch.pk)


def tell_revoked(link: DisplayLink) -> None:
    """After the revocation commits: the link's open screens stop (each knows its link id)."""
    channel = display_channel(connection.schema_name, link.branch_id)
    after_commit(
        lambda: send_event(channel, REVOKED_EVENT, {"link": link.pk}),
        what="display link revoked",
    )
