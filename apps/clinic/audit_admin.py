"""The audit trail for owners and managers: newest first, with names, in clinic time.

Patient-data reads are most of the trail (every board refresh lists its patients), so the
list opens on changes and security events; reads are one filter away, or summed up per
person and day on their own page. Every entry stays: the trail is append-only.
"""

import csv
import re
from datetime import date
from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import BigIntegerField, Case, Count, OuterRef, QuerySet, Subquery, When
from django.db.models.functions import Cast, Substr, TruncDate
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from apps.audit.models import AuditEntry
from apps.clinic.admin import RoleAdmin
from apps.clinic.models import Branch, Role, User
from apps.core import clinictime

# Entries that record someone looking at patient data (no change to anything).
READ_ACTIONS = ("patient.read", "patient.list", "patient.search")

ACTION_LABELS = {
    "event.appended": "Change",
    "login": "Signed in",
    "login.token": "Signed in (app)",
    "login.failed": "Failed sign-in",
    "permission.denied": "Refused request",
    "staff.created": "Staff added",
    "staff.changed": "Staff changed",
    "patient.read": "Opened a patient",
    "patient.list": "Listed patients",
    "patient.search": "Searched patients",
    "patient.login": "Patient signed in",
    "patient.login.failed": "Patient sign-in failed",
    "patient.logout": "Patient signed out",
    "patient.code_sent": "Sign-in code sent",
}

# `at` in the clinic's time with its offset (unambiguous and sortable); ids beside names.
CSV_FIELDS = [
    "id",
    "at",
    "actor_id",
    "actor",
    "actor_role",
    "branch_id",
    "branch",
    "action",
    "target",
    "request_id",
    "ip",
    "prev_hash",
    "hash",
]


class EntryKindFilter(admin.SimpleListFilter):
    title = "what"
    parameter_name = "kind"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("reads", "Patient-data reads"), ("all", "Everything")]

    def choices(self, changelist: Any) -> Any:
        yield {
            "selected": self.value() is None,
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "display": "Changes and security",
        }
        for value, label in self.lookup_choices:
            yield {
                "selected": self.value() == value,
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": label,
            }

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "reads":
            return queryset.filter(action__in=READ_ACTIONS)
        if self.value() == "all":
            return queryset
        return queryset.exclude(action__in=READ_ACTIONS)


class ActionFilter(admin.SimpleListFilter):
    title = "action"
    parameter_name = "action"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return list(ACTION_LABELS.items())

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(action=self.value()) if self.value() else queryset


class RoleFilter(admin.SimpleListFilter):
    title = "role"
    parameter_name = "actor_role"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [
            *((str(code), str(label)) for code, label in Role.choices),
            ("patient", "Patient"),
            ("system", "System"),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(actor_role=self.value()) if self.value() else queryset


class BranchIdFilter(admin.SimpleListFilter):
    title = "branch"
    parameter_name = "branch_id"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(str(pk), name) for pk, name in Branch.objects.values_list("pk", "name")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        return queryset.filter(branch_id=value) if value and value.isdigit() else queryset


def event_label(kind: str) -> str:
    """ "AppointmentBooked" → "Appointment booked"."""
    words = re.findall(r"[A-Z][a-z]*|[a-z]+|[0-9]+", kind)
    return " ".join([words[0], *(w.lower() for w in words[1:])]) if words else kind


def _names(entries: list[AuditEntry]) -> tuple[dict[int, str], dict[int, str]]:
    actor_ids = {e.actor_id for e in entries if e.actor_id}
    branch_ids = {e.branch_id for e in entries if e.branch_id}
    actors = dict(User.objects.filter(pk__in=actor_ids).values_list("pk", "name"))
    branches = dict(Branch.objects.filter(pk__in=branch_ids).values_list("pk", "name"))
    return actors, branches


def actor_name(entry: AuditEntry, actors: dict[int, str]) -> str:
    if entry.actor_id is None:
        return "System"
    if entry.actor_role == "patient":
        return f"Patient #{entry.actor_id}"
    return actors.get(entry.actor_id) or f"Staff #{entry.actor_id}"


def role_label(code: str) -> str:
    if code in Role.values:
        return str(Role(code).label)
    return code.capitalize() if code else "—"


@admin.register(AuditEntry)
class AuditEntryAdmin(RoleAdmin):
    """Filter it, read it, export it; never change it."""

    list_display = ["when", "who", "role", "what", "subject", "branch"]
    list_filter = [EntryKindFilter, ActionFilter, RoleFilter, BranchIdFilter]
    search_fields = ["target", "request_id", "=actor_id"]
    date_hierarchy = "at"
    ordering = ["-id"]
    list_per_page = 50
    readonly_fields = (
        "when",
        "who",
        "role",
        "what",
        "subject",
        "target",
        "branch",
        "details",
        "request_id",
        "ip",
        "prev_hash",
        "hash",
    )
    fields = readonly_fields
    actions = ["export_csv"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        # Names by subquery: one query for the page, whatever its size.
        return (
            super()
            .get_queryset(request)
            .annotate(
                actor_name=Subquery(User.objects.filter(pk=OuterRef("actor_id")).values("name")),
                subject_name=Case(
                    When(
                        target__regex=r"^user:[0-9]{1,18}$",
                        then=Subquery(
                            User.objects.filter(
                                pk=Cast(Substr(OuterRef("target"), 6), BigIntegerField())
                            ).values("name")
                        ),
                    )
                ),
                branch_name=Subquery(
                    Branch.objects.filter(pk=OuterRef("branch_id")).values("name")
                ),
            )
            .order_by("-id")
        )

    @admin.display(description="When", ordering="at")
    def when(self, entry: AuditEntry) -> str:
        return clinictime.format_datetime(entry.at)

    @admin.display(description="Who")
    def who(self, entry: AuditEntry) -> str:
        name = getattr(entry, "actor_name", None)
        return actor_name(entry, {entry.actor_id: name} if entry.actor_id and name else {})

    @admin.display(description="Role")
    def role(self, entry: AuditEntry) -> str:
        return role_label(entry.actor_role)

    @admin.display(description="What", ordering="action")
    def what(self, entry: AuditEntry) -> str:
        label = ACTION_LABELS.get(entry.action, entry.action)
        if entry.action == "event.appended" and (kind := entry.detail.get("type")):
            return f"{label}: {event_label(kind)}"
        if entry.action == "patient.list" and (ids := entry.detail.get("patients")):
            return f"{label} ({len(ids)})"
        return label

    @admin.display(description="Of")
    def subject(self, entry: AuditEntry) -> str:
        kind, _, ident = entry.target.partition(":")
        if kind == "user" and (name := getattr(entry, "subject_name", None)):
            return f"Staff: {name}"
        if kind in {"user", "patient", "event", "appointment"} and ident.isdigit():
            return f"{'Staff' if kind == 'user' else kind.capitalize()} #{ident}"
        return entry.target or "—"

    @admin.display(description="Branch")
    def branch(self, entry: AuditEntry) -> str:
        if entry.branch_id is None:
            return "—"
        return getattr(entry, "branch_name", None) or f"Branch #{entry.branch_id}"

    @admin.display(description="Details")
    def details(self, entry: AuditEntry) -> str:
        rows = [
            (key.replace("_", " ").capitalize(), _plain(value))
            for key, value in sorted(entry.detail.items())
        ]
        if not rows:
            return "—"
        body = format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", rows)
        return format_html('<table class="details">{}</table>', body)

    def get_urls(self) -> list[Any]:
        view = self.admin_site.admin_view
        return [path("reads/", view(self.reads_view), name="audit_reads"), *super().get_urls()]

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        extra = {"reads_url": "reads/", **(extra_context or {})}
        return super().changelist_view(request, extra)

    def reads_view(self, request: HttpRequest) -> HttpResponse:
        """Patient-data reads summed per person and clinic day, newest day first."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        rows = list(
            AuditEntry.objects.filter(action__in=READ_ACTIONS)
            .annotate(day=TruncDate("at", tzinfo=timezone.get_current_timezone()))
            .values("day", "actor_id", "actor_role", "action")
            .annotate(count=Count("id"))
            .order_by("-day", "actor_id", "action")[:500]
        )
        actors = dict(
            User.objects.filter(pk__in={r["actor_id"] for r in rows if r["actor_id"]}).values_list(
                "pk", "name"
            )
        )
        table = [
            {
                "day": clinictime.format_date(r["day"]),
                "iso_day": r["day"].isoformat() if isinstance(r["day"], date) else "",
                "who": actor_name(
                    AuditEntry(actor_id=r["actor_id"], actor_role=r["actor_role"]), actors
                ),
                "role": role_label(r["actor_role"]),
                "what": ACTION_LABELS.get(r["action"], r["action"]),
                "count": r["count"],
            }
            for r in rows
        ]
        return render(
            request,
            "admin/audit/reads.html",
            {
                **self.admin_site.each_context(request),
                "rows": table,
                "title": "Patient-data reads by person and day",
                "opts": self.model._meta,
            },
        )

    @admin.action(description="Export selected entries as CSV")
    def export_csv(self, request: HttpRequest, queryset: QuerySet[AuditEntry]) -> HttpResponse:
        response = HttpResponse(content_type="text/csv")
        response["Content-Disposition"] = 'attachment; filename="audit.csv"'
        writer = csv.writer(response)
        writer.writerow(CSV_FIELDS)
        entries = list(queryset.order_by("-id"))
        actors, branches = _names(entries)
        for e in entries:
            writer.writerow(
                [
                    e.id,
                    clinictime.in_zone(e.at).isoformat(),
                    e.actor_id or "",
                    actor_name(e, actors),
                    e.actor_role,
                    e.branch_id or "",
                    branches.get(e.branch_id or 0, ""),
                    e.action,
                    e.target,
                    e.request_id,
                    e.ip or "",
                    e.prev_hash,
                    e.hash,
                ]
            )
        return response


def _plain(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items())
    return str(value)
