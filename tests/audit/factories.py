"""Audit test data: an entry is only ever appended by `record`, which chains its hash."""

from typing import Any

import factory

from apps.audit.models import AuditEntry
from apps.audit.trail import record


class AuditEntryFactory(factory.Factory):
    """An entry chained to the trail: the system's unless `actor` is given."""

    class Meta:
        model = AuditEntry

    action = "patient.read"

    @classmethod
    def _create(cls, model_class: type[AuditEntry], **kwargs: Any) -> AuditEntry:
        return record(kwargs.pop("action"), **kwargs)
