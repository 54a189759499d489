import csv
from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from apps.audit.models import AuditEntry

CSV_FIELDS = [
    "id", "at", "actor_id", "actor_role", "branch_id", "action", "target", "request_id", "ip",
    "prev_hash", "hash",
]  # fmt: skip


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """The trail for owners and managers: filter it, read it, export it; never change it."""

    list_display = ["id", "at", "action", "target", "actor_id", "actor_role", "branch_id", "ip"]
    list_filter = ["action", "actor_role", "branch_id", ("at", admin.DateFieldListFilter)]
    search_fields = ["target", "request_id", "=actor_id"]
    date_hierarchy = "at"
    readonly_fields = [f.name for f in AuditEntry._meta.fields]
    actions = ["export_csv"]

    def _is_manager(self, request: HttpRequest) -> bool:
        return bool(getattr(request.user, "sees_all_branches", False))

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._is_manager(request)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._is_manager(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description="Export selected entries as CSV")
    def export_csv(self, request: HttpRequest, queryset: QuerySet[AuditEntry]) -> HttpResponse:
        response = HttpResponse(content_type="text/csv")
        response["Content-Disposition"] = 'attachment; filename="audit.csv"'
        writer = csv.writer(response)
        writer.writerow(CSV_FIELDS)
        for entry in queryset.order_by("id").values_list(*CSV_FIELDS):
            writer.writerow(entry)
        return response

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        # Export needs no change permission; Django would hide actions without it.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions
