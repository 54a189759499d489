"""Live pushes: after a projection run commits, each touched branch's channel gets an event.

Channels are per tenant and branch (`{schema}.branch.{id}`); a user may read one only when
they belong to that tenant and may see that branch.
"""

import logging
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils.module_loading import import_string
from django_eventstream import send_event
from django_eventstream.channelmanager import ChannelManagerBase
from django_tenants.utils import schema_context

from apps.core.db import connection, release_connection
from apps.eventstore.projections import Touched, announce

logger = logging.getLogger(__name__)

BOARD_EVENT = "board"


def branch_channel(schema: str, branch_id: int) -> str:
    return f"{schema}.branch.{branch_id}"


@announce
def push_branch_changes(touched: Touched, position: int) -> None:
    schema = connection.schema_name
    for branch_id in sorted(touched.branches):
        try:
            send_event(branch_channel(schema, branch_id), BOARD_EVENT, {"as_of_position": position})
        except Exception:  # noqa: BLE001  (a failed push must not undo a committed projection)
            logger.exception("live push failed schema=%s branch=%s", schema, branch_id)


class BranchChannelManager(ChannelManagerBase):
    """Maps `/events/branches/{id}/` to its tenant's channel and checks who may read it."""

    def get_channels_for_request(
        self, request: HttpRequest, view_kwargs: dict[str, Any]
    ) -> set[str]:
        schema = request.tenant.schema_name  # type: ignore[attr-defined]
        return {branch_channel(schema, int(view_kwargs["branch_id"]))}

    def can_read_channel(self, user: Any, channel: str) -> bool:
        may_see_branch = import_string(settings.MYMEDIC_BRANCH_ACCESS)
        schema, _, branch = channel.rpartition(".branch.")
        if user is None or not branch.isdigit():
            return False
        # Streams are read outside the request's thread state; name the schema explicitly.
        # An open stream re-checks now and then: it must not keep the connection it used.
        try:
            with schema_context(schema):
                return bool(may_see_branch(user, int(branch)))
        finally:
            release_connection()

    def is_channel_reliable(self, channel: str) -> bool:
        return False
