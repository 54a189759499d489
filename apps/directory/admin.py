"""The directory, read-only, for platform operators (superusers; no clinic role sees it)."""

from django.contrib import admin

from apps.core.admin import ReadOnlyAdmin
from apps.directory.models import TenantLocation


@admin.register(TenantLocation)
class TenantLocationAdmin(ReadOnlyAdmin):
    list_display = ["slug", "region", "cell", "domain", "changed"]
    list_filter = ["region", "cell"]
    search_fields = ["slug"]
    readonly_fields = ["slug", "region", "cell", "hosts", "created", "changed"]
