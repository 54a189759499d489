"""The outbound projection: appointment events become SIU messages in each outbound
channel's outbox, in position order.

The outbox is not a read model: its rows are keyed by channel and event position and a
channel is sent only events after it was added, so a rebuild from position 0 makes no row
twice and sends no history; `reset` therefore leaves the outbox alone.
"""

from functools import partial

from apps.core.db import connection
from apps.core.tenancy import note_due
from apps.core.wakeups import after_commit
from apps.eventstore.models import Event
from apps.eventstore.projections import Projection, Touched, register
from apps.integration.outbound import SEND_JOB, SIU_BY_EVENT, plan


class OutboundProjection(Projection):
    name = "hl7-outbound"
    handles = frozenset(SIU_BY_EVENT)
    read_models = ()

    def apply(self, event: Event, touched: Touched) -> None:
        if plan(event.type, event.position, event.data):
            note_due(SEND_JOB, event.occurred_at)
            # The commit may come after the schema was switched back: name it here.
            after_commit(partial(_request_send, connection.schema_name), what="hl7 send")

    def reset(self) -> None:
        """Nothing to empty (see the module's note)."""


def _request_send(schema: str) -> None:
    from apps.integration.tasks import send_tenant_outbound

    send_tenant_outbound.apply_async(headers={"_schema_name": schema})


register(OutboundProjection())
