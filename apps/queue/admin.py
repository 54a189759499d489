"""The admin's view of the waiting-room display links: listed per branch, revoked by an
action that calls the command. Links are made on the console's Displays screen, which shows
the new link's key once."""

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.clinic.admin import BranchScopedAdmin, clinic_time_column
from apps.clinic.scoping import staff_of
from apps.core import clinictime
from apps.core.errors import DomainError
from apps.queue import commands
from apps.queue.models import DisplayLink


@admin.register(DisplayLink)
class DisplayLinkAdmin(BranchScopedAdmin):
    list_display = ["name", "branch", "language", "made", "revoked"]
    list_filter = [("branch", admin.RelatedOnlyFieldListFilter), "language"]
    list_select_related = ["branch"]
    readonly_fields = ("name", "branch", "language", "made", "revoked", "created_by")
    fields = readonly_fields
    actions = ["revoke"]

    made = clinic_time_column("created", "Made")

    @admin.display(description="Revoked")
    def revoked(self, link: DisplayLink) -> str:
        if link.revoked_at is None:
            return "—"
        return clinictime.format_datetime(link.revoked_at, link.branch.timezone)

    @admin.action(description="Revoke (its screens stop at once)")
    def revoke(self, request: HttpRequest, queryset: QuerySet[DisplayLink]) -> None:
        count = 0
        for link in queryset:
            try:
                commands.display_link_revoke(actor=staff_of(request), link=link)
                count += 1
            except DomainError as exc:
                self.message_user(request, f"{link.name}: {exc.message}", messages.ERROR)
        if count:
            self.message_user(request, f"Revoked: {count}.")
