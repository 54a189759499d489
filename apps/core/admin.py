"""Admin pieces shared by every app's admin."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest


class NoAddOrDelete:
    """Rows that only the commands (or the system) write: the admin never adds or deletes
    them, whatever the role. Put it before the admin base class it narrows."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyAdmin(NoAddOrDelete, admin.ModelAdmin):
    """Shown, never edited."""

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
