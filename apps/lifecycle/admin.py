"""The operator admin's closure records and the storage each tenant occupies (the close
action itself is on the subscriptions: `apps.lifecycle.actions`)."""

from django.contrib import admin

from apps.core.admin import ReadOnlyAdmin
from apps.lifecycle.models import StorageMonth, TenantClosure
from apps.plans.admin import operator_site


@admin.register(TenantClosure, site=operator_site)
class TenantClosureAdmin(ReadOnlyAdmin):
    list_display = ["slug", "tenant_id", "closed_at", "closed_by", "erase_after", "erased_at"]
    list_filter = ["erased_at"]
    search_fields = ["slug"]
    readonly_fields = [field.name for field in TenantClosure._meta.fields]


@admin.register(StorageMonth, site=operator_site)
class StorageMonthAdmin(ReadOnlyAdmin):
    list_display = [
        "tenant", "month", "schema_bytes", "warehouse_bytes", "files_bytes", "peak_bytes",
        "measured_at",
    ]  # fmt: skip
    list_filter = ["month"]
    search_fields = ["tenant__slug"]
    readonly_fields = [field.name for field in StorageMonth._meta.fields]
