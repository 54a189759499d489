"""Platform operators' view of the migration runner's progress (superusers only: the rows
name every schema of the database)."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from apps.core.admin import ReadOnlyAdmin
from apps.tenants.models import SchemaMigration


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
