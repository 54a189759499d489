"""Platform operators' screens (superusers only: the rows name every schema of the database):
the migration runner's progress and the spare schema pool."""

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.core.admin import ReadOnlyAdmin
from apps.tenants import spares
from apps.tenants.models import SchemaMigration, SpareSchema


class Readiness(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [
            ("ready", "Ready"),
            ("stale", "Behind the code's migrations"),
            ("claimed", "Claimed"),
        ]

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[SpareSchema]
    ) -> QuerySet[SpareSchema]:
        digest = spares.code_migrations()[0]
        if self.value() == "ready":
            return queryset.filter(claimed_at__isnull=True, migrations=digest)
        if self.value() == "stale":
            return queryset.filter(claimed_at__isnull=True).exclude(migrations=digest)
        if self.value() == "claimed":
            return queryset.filter(claimed_at__isnull=False)
        return queryset


@admin.register(SpareSchema)
class SpareSchemaAdmin(ReadOnlyAdmin):
    list_display = [
        "schema_name",
        "state",
        "created_at",
        "method",
        "made_in",
        "migration_count",
        "claimed_at",
        "claimed_as",
    ]
    list_filter = [Readiness, "method"]
    search_fields = ["schema_name", "claimed_as"]
    readonly_fields = [f.name for f in SpareSchema._meta.fields]

    @admin.display(description="state")
    def state(self, spare: SpareSchema) -> str:
        if spare.claimed_at:
            return "claimed"
        return "ready" if spare.migrations == spares.code_migrations()[0] else "behind the code"

    @admin.display(description="made in", ordering="seconds")
    def made_in(self, spare: SpareSchema) -> str:
        return f"{spare.seconds * 1000:.0f} ms"


@admin.register(SchemaMigration)
class SchemaMigrationAdmin(ReadOnlyAdmin):
    list_display = ["schema", "status", "applied", "seconds", "finished_at", "runner", "target"]
    list_filter = ["status"]
    search_fields = ["schema"]
    readonly_fields = [f.name for f in SchemaMigration._meta.fields]

    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(getattr(request.user, "is_superuser", False))

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(getattr(request.user, "is_superuser", False))
