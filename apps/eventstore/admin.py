from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.core.admin import ReadOnlyAdmin
from apps.eventstore.models import Event, ProjectionState
from apps.eventstore.projections import catch_up, retry


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = ["position", "type", "stream", "version", "occurred_at"]
    list_filter = ["type"]
    search_fields = ["stream"]
    readonly_fields = [f.name for f in Event._meta.fields]


@admin.register(ProjectionState)
class ProjectionStateAdmin(ReadOnlyAdmin):
    list_display = ["name", "position", "status", "parked_position", "parked_type", "parked_at"]
    list_filter = ["status"]
    readonly_fields = [f.name for f in ProjectionState._meta.fields]
    actions = ["retry_parked"]

    @admin.action(description="Retry the parked event and catch up")
    def retry_parked(self, request: HttpRequest, queryset: QuerySet[ProjectionState]) -> None:
        for state in queryset.filter(status=ProjectionState.Status.PARKED):
            retry(state.name)
            result = catch_up([state.name])[state.name]
            if result.parked:
                self.message_user(
                    request, f"{state.name} parked again at the same event.", messages.ERROR
                )
            else:
                self.message_user(request, f"{state.name} caught up to {result.position}.")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Needed for the retry action; every field stays read-only. Platform operators only.
        return bool(getattr(request.user, "is_superuser", False))
