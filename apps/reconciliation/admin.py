"""Chain manager screens: daily closes with variance highlighted and signed off, the
month's variance by branch, and charts of takings and no-shows over time."""

import contextlib
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import path
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from apps.billing.templatetags.billing import method_label
from apps.clinic.admin import BranchScopedAdmin, clinic_time_column, money_column
from apps.clinic.scoping import staff_of, visible_branches
from apps.core import clinictime
from apps.core.admin import NoAddOrDelete
from apps.core.errors import DomainError
from apps.reconciliation import reports
from apps.reconciliation.commands import close_sign_off
from apps.reconciliation.compute import close_days
from apps.reconciliation.models import METHODS, DailyClose, SignOff


class SignOffForm(forms.Form):
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        help_text="Required for a day with a variance: say what happened.",
    )


def bar_chart(points: list[tuple[str, float]], label: str) -> dict[str, Any]:
    """Bars for a small inline SVG chart (no scripts, no CDN)."""
    top = max((value for _, value in points), default=0) or 1
    width = 14
    bars = []
    for i, (day, value) in enumerate(points):
        height = round(60 * max(value, 0) / top, 1)
        bars.append(
            {"x": i * width, "height": height, "y": 60 - height, "title": f"{day}: {value:g}"}
        )
    return {"label": label, "width": len(points) * width, "bars": bars, "max": top}


def money_by_method(close: DailyClose) -> list[dict[str, Any]]:
    """Per method: money in, money back, the count declared and how far it is off (declared
    minus recorded: over when positive, short when negative); for card and UPI, what the
    gateway settled of it and what is still in transit."""
    methods = sorted(
        set(close.collected) | set(close.refunded) | set(close.declared),
        key=lambda m: (METHODS.index(m) if m in METHODS else len(METHODS), m),
    )
    rows = []
    for method in methods:
        collected = Decimal(close.collected.get(method, "0"))
        refunded = Decimal(close.refunded.get(method, "0"))
        declared = close.declared.get(method)
        variance = Decimal(close.variance[method]) if method in close.variance else None
        if variance is None:
            verdict, css = "not declared", ""
        elif variance == 0:
            verdict, css = "matches", "variance-nil"
        elif variance > 0:
            verdict, css = f"over by {clinictime.format_money(variance)}", "variance-over"
        else:
            verdict, css = f"short by {clinictime.format_money(-variance)}", "variance-short"
        rows.append(
            {
                "label": method_label(method),
                "collected": clinictime.format_money(collected),
                "refunded": clinictime.format_money(refunded),
                "net": clinictime.format_money(collected - refunded),
                "declared": clinictime.format_money(declared) if declared is not None else "—",
                "variance": variance,
                "verdict": verdict,
                "css": css,
                "settled": _gateway_money(close.settled, close.in_transit, method),
                "in_transit": _gateway_money(close.in_transit, close.in_transit, method),
            }
        )
    return rows


def _gateway_money(book: dict[str, str], in_transit: dict[str, str], method: str) -> str:
    """An amount of a gateway book, or a dash for a method that no gateway settles."""
    if method not in in_transit:
        return "—"
    return clinictime.format_money(Decimal(book.get(method, "0")))


@admin.register(DailyClose)
class DailyCloseAdmin(NoAddOrDelete, BranchScopedAdmin):
    list_display = [
        "day",
        "branch",
        "status_badge",
        "bookings",
        "no_shows",
        "expected_money",
        "net_taken",
        "variance_summary",
        "signed_off",
    ]
    list_filter = [
        "status",
        ("branch", admin.RelatedOnlyFieldListFilter),
        ("date", admin.DateFieldListFilter),
    ]
    date_hierarchy = "date"
    ordering = ["-date", "branch"]
    readonly_fields = (
        "branch",
        "day",
        "status_badge",
        "bookings",
        "cancellations",
        "no_shows",
        "completed",
        "expected_money",
        "net_taken",
        "money_table",
        "computed_at",
    )
    fields = readonly_fields
    actions = ["sign_off"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        """Only days that have begun somewhere: a branch's close is listed up to its today."""
        queryset = super().get_queryset(request).select_related("branch")
        zones = set(queryset.values_list("branch__timezone", flat=True).distinct())
        up_to_today = Q(pk__in=[])
        for zone in zones:
            today = timezone.now().astimezone(clinictime.zone(zone)).date()
            up_to_today |= Q(branch__timezone=zone, date__lte=today)
        return queryset.filter(up_to_today)

    @admin.display(description="Date", ordering="date")
    def day(self, close: DailyClose) -> str:
        return clinictime.format_date(close.date)

    expected_money = money_column("expected", "Expected")
    computed_at = clinic_time_column("computed", "Recomputed")

    @admin.display(description="Money by method")
    def money_table(self, close: DailyClose) -> str:
        return render_to_string(
            "admin/reconciliation/money_table.html", {"rows": money_by_method(close)}
        )

    @admin.display(description="Status")
    def status_badge(self, close: DailyClose) -> str:
        colour = {"variance": "#b00020", "balanced": "#0b6e4f"}.get(close.status, "#5b6675")
        return format_html(
            '<strong style="color:{}">{}</strong>', colour, close.get_status_display()
        )

    @admin.display(description="Net taken")
    def net_taken(self, close: DailyClose) -> str:
        return clinictime.format_money(close.net)

    @admin.display(description="Counted vs recorded")
    def variance_summary(self, close: DailyClose) -> str:
        rows = [r for r in money_by_method(close) if r["variance"] is not None]
        if not rows:
            return "Not declared"
        return format_html_join(
            mark_safe("<br>"),  # noqa: S308  (a constant)
            '<span class="{}">{}: {}</span>',
            ((r["css"], r["label"], r["verdict"]) for r in rows),
        )

    @admin.display(description="Signed off", boolean=True)
    def signed_off(self, close: DailyClose) -> bool:
        return SignOff.objects.filter(branch_id=close.branch_id, date=close.date).exists()

    @admin.action(description="Sign off the selected days")
    def sign_off(self, request: HttpRequest, queryset: QuerySet[DailyClose]) -> HttpResponse | None:
        form = SignOffForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            done = 0
            for close in queryset.select_related("branch"):
                try:
                    close_sign_off(
                        actor=staff_of(request),
                        branch=close.branch,
                        day=close.date,
                        note=form.cleaned_data["note"],
                    )
                    done += 1
                except DomainError as exc:
                    self.message_user(request, f"{close}: {exc.message}", messages.ERROR)
            if done:
                self.message_user(request, f"Signed off {done} day(s).")
            return None
        return render(
            request,
            "admin/reconciliation/sign_off.html",
            {
                **self.admin_site.each_context(request),
                "closes": queryset,
                "form": form,
                "title": "Sign off daily closes",
                "opts": self.model._meta,
            },
        )

    def get_urls(self) -> list[Any]:
        view = self.admin_site.admin_view
        return [
            path("month/", view(self.month_view), name="reconciliation_month"),
            path("week/", view(self.week_view), name="reconciliation_week"),
            *super().get_urls(),
        ]

    def week_view(self, request: HttpRequest) -> HttpResponse:
        """The chain's week at a glance: visits, no-shows and takings per day, by branch."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        today = timezone.localdate()
        monday = today - timedelta(days=today.weekday())
        if week := request.GET.get("week"):
            with contextlib.suppress(ValueError, IndexError):  # a bad week shows this one
                monday, _ = reports.week_bounds(week)
        days = [monday + timedelta(days=n) for n in range(7)]
        branches = list(visible_branches(staff_of(request)))
        closes = close_days(days[0], days[-1], {b.pk for b in branches})
        by_day: dict[date, list[DailyClose]] = {}
        for close in closes:
            by_day.setdefault(close.date, []).append(close)

        def per_day(value: Any) -> list[tuple[str, float]]:
            return [
                (clinictime.format_date(d), float(sum((value(c) for c in by_day.get(d, [])), 0)))
                for d in days
            ]

        charts = [
            bar_chart(per_day(lambda c: c.bookings), "Visits"),
            bar_chart(per_day(lambda c: c.no_shows), "No-shows"),
            bar_chart(per_day(lambda c: c.net), "Takings (net)"),
        ]
        rows = [
            {"branch": branch, **reports.totals([c for c in closes if c.branch_id == branch.pk])}
            for branch in branches
        ]
        return render(
            request,
            "admin/reconciliation/week.html",
            {
                **self.admin_site.each_context(request),
                "title": f"Chain week from {clinictime.format_date(monday)}",
                "days": days,
                "charts": charts,
                "rows": rows,
                "opts": self.model._meta,
                "previous": (monday - timedelta(days=7)).strftime("%G-W%V"),
                "next": (monday + timedelta(days=7)).strftime("%G-W%V"),
            },
        )

    def month_view(self, request: HttpRequest) -> HttpResponse:
        today = timezone.localdate()
        month = request.GET.get("month") or today.strftime("%Y-%m")
        try:
            first, last = reports.month_bounds(month)
        except ValueError:
            month, (first, last) = (
                today.strftime("%Y-%m"),
                reports.month_bounds(today.strftime("%Y-%m")),
            )
        branches = list(visible_branches(staff_of(request)))
        report = reports.monthly(month, branches)
        start = max(first, last - timedelta(days=29))
        closes = DailyClose.objects.filter(branch__in=branches, date__range=(start, last)).order_by(
            "date"
        )
        per_day: dict[date, list[DailyClose]] = {}
        for close in closes:
            per_day.setdefault(close.date, []).append(close)
        days = [start + timedelta(days=n) for n in range((last - start).days + 1)]
        takings = [
            (clinictime.format_date(d), float(sum((c.net for c in per_day.get(d, [])), Decimal(0))))
            for d in days
        ]
        no_shows = [
            (clinictime.format_date(d), float(sum(c.no_shows for c in per_day.get(d, []))))
            for d in days
        ]
        return render(
            request,
            "admin/reconciliation/month.html",
            {
                **self.admin_site.each_context(request),
                "title": f"Variance for {clinictime.format_month(first)}",
                "month": month,
                "report": report,
                "charts": [bar_chart(takings, "Takings (net)"), bar_chart(no_shows, "No-shows")],
                "opts": self.model._meta,
            },
        )


@admin.register(SignOff)
class SignOffAdmin(NoAddOrDelete, BranchScopedAdmin):
    list_display = ["date", "branch", "note", "created"]
    list_filter = [("branch", admin.RelatedOnlyFieldListFilter)]
    readonly_fields = [f.name for f in SignOff._meta.fields]
