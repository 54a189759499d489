"""Live pushes: after a projection run commits, each touched branch's channel gets an event.

Channels are per tenant and branch (`{schema}.branch.{id}`); a user may read one only when
they belong to that tenant and may see that branch.

Pushes travel from the worker to the web processes over Redis pub/sub. django-eventstream's
listener stops for good when Redis drops its connection; `ResilientRedisListener` (put in
its place by the app's `ready`) subscribes again with backoff and then tells every open board to
re-read, since what was pushed during the outage is lost.
"""

import asyncio
import contextlib
import json
import logging
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils.module_loading import import_string
from django_eventstream import send_event
from django_eventstream.channelmanager import ChannelManagerBase
from django_eventstream.event import Event
from django_eventstream.views import RedisListener, events, get_listener_manager
from django_tenants.utils import schema_context
from redis.exceptions import RedisError

from apps.core.db import connection, release_connection
from apps.eventstore.projections import Touched, announce

logger = logging.getLogger(__name__)

BOARD_EVENT = "board"


def branch_channel(schema: str, branch_id: int) -> str:
    return f"{schema}.branch.{branch_id}"


# Kinds of channel (`{schema}.{kind}.{id}`) whose streaming view checks the reader itself
# before it streams (a waiting-room display opened with its link's key, no staff sign-in);
# higher apps add theirs. Every other channel is a branch's, for its signed-in staff.
VIEW_CHECKED_KINDS: set[str] = set()


def stream_checked(request: HttpRequest, channel: str) -> Any:
    """The Server-Sent Events stream of one view-checked channel (see VIEW_CHECKED_KINDS)."""
    return events(request, channel=channel)


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
        if "channel" in view_kwargs:  # named by a view that checked its reader
            return {view_kwargs["channel"]}
        schema = request.tenant.schema_name  # type: ignore[attr-defined]
        return {branch_channel(schema, int(view_kwargs["branch_id"]))}

    def can_read_channel(self, user: Any, channel: str) -> bool:
        if channel.count(".") >= 2 and channel.split(".")[1] in VIEW_CHECKED_KINDS:
            return True  # only `stream_checked` names such a channel, after its check
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


class ResilientRedisListener(RedisListener):
    """django-eventstream's pub/sub listener that survives Redis going away and coming back."""

    FIRST_WAIT_SECONDS = 0.25
    MOST_WAIT_SECONDS = 2.0
    redis_client: Any
    pubsub: Any

    async def start(self) -> None:
        wait = self.FIRST_WAIT_SECONDS
        interrupted = False
        while True:
            try:
                await self.pubsub.subscribe("events_channel")
                if interrupted:
                    logger.info("live pushes resumed")
                    self._everyone_reads_again()
                interrupted, wait = False, self.FIRST_WAIT_SECONDS
                async for message in self.pubsub.listen():
                    if message["type"] == "message":
                        self._deliver(json.loads(message["data"]))
            except (RedisError, OSError) as exc:
                interrupted = True
                logger.warning(
                    "live pushes interrupted (%s); again in %.2f s", type(exc).__name__, wait
                )
            await asyncio.sleep(wait)
            wait = min(self.MOST_WAIT_SECONDS, wait * 2)
            with contextlib.suppress(RedisError, OSError):
                await self.pubsub.aclose()
            self.pubsub = self.redis_client.pubsub()

    @staticmethod
    def _deliver(published: dict[str, Any]) -> None:
        channel = published["channel"]
        event = Event(channel, published["event_type"], published["data"], id=published["pub_id"])
        get_listener_manager().add_to_queues(channel, event)

    @staticmethod
    def _everyone_reads_again() -> None:
        manager = get_listener_manager()
        with manager.lock:
            channels = list(manager.listeners_by_channel)
        for channel in channels:
            manager.add_to_queues(channel, Event(channel, BOARD_EVENT, {"as_of_position": None}))
