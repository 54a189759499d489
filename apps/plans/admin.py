"""The platform operator's admin on the public host (`/admin/` of the base domain): plans,
modules, every tenant's subscription with the lifecycle actions, and the change history.
Superusers only (made with `createsuperuser`); no tenant's staff can sign in here."""

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import AdminSite
from django.db.models import QuerySet, Sum
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.core.admin import ReadOnlyAdmin
from apps.core.errors import DomainError
from apps.lifecycle.actions import close_and_erase
from apps.lifecycle.selectors import storage_of
from apps.metering.selectors import usage_of
from apps.plans import commands
from apps.plans.models import Module, Plan, Statement, Subscription, SubscriptionChange
from apps.plans.summary import billing_period

Status = Subscription.Status


class OperatorSite(AdminSite):
    site_header = "MyMedic platform"
    site_title = "MyMedic platform"
    index_title = "Plans and subscriptions"
    # Not the tenant admin's index (its chain dashboard): the plain list of screens.
    index_template = "plans/operator_index.html"

    def has_permission(self, request: HttpRequest) -> bool:
        user = request.user
        return bool(user.is_active and getattr(user, "is_superuser", False))


operator_site = OperatorSite(name="operator")


@admin.register(Module, site=operator_site)
class ModuleAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "monthly_price"]
    readonly_fields = ["code"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # a module exists only with the routes that name it (apps.plans.modules)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Plan, site=operator_site)
class PlanAdmin(admin.ModelAdmin):
    list_display = [
        "name", "slug", "pricing", "unit_price", "max_doctors", "max_branches", "max_bookings",
        "trial_days", "grace_days", "for_kind",
    ]  # fmt: skip
    filter_horizontal = ["modules"]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # subscriptions and their history name plans


def _transition(to: str, label: str) -> Any:
    def action(
        model_admin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Subscription]
    ) -> None:
        done = 0
        for subscription in queryset.select_related("tenant"):
            try:
                commands.subscription_change_status(
                    actor=request.user.get_username(),
                    tenant=subscription.tenant,
                    to=to,
                    reason=f"operator: {label.lower()}",
                )
            except DomainError as exc:
                model_admin.message_user(
                    request, f"{subscription.tenant}: {exc.message}", messages.ERROR
                )
            else:
                done += 1
        if done:
            model_admin.message_user(request, f"{label}: {done} subscription(s).")

    action.__name__ = f"make_{to}"
    return admin.action(description=label)(action)


@admin.register(Subscription, site=operator_site)
class SubscriptionAdmin(admin.ModelAdmin):
    list_display = ["tenant", "plan", "status", "trial_ends_at", "grace_ends_at", "changed_at"]
    list_filter = ["status", "plan"]
    search_fields = ["tenant__slug", "tenant__name"]
    fields = [
        "tenant", "plan", "status", "gstin", "started_at", "trial_ends_at", "grace_ends_at",
        "due_at", "changed_at", "usage_this_month",
    ]  # fmt: skip
    readonly_fields = [
        "tenant", "status", "started_at", "trial_ends_at", "grace_ends_at", "due_at", "changed_at",
        "usage_this_month",
    ]  # fmt: skip
    actions = [
        _transition(Status.ACTIVE, "Activate or reactivate (payment received)"),
        _transition(Status.PAST_DUE, "Mark past due (payment missed)"),
        _transition(Status.SUSPENDED, "Suspend (read-only)"),
        # Closing is for good and leads to erasure: one tenant, its slug typed to confirm.
        close_and_erase,
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # a sign-up starts its subscription

    @admin.display(description="usage this month")
    def usage_this_month(self, subscription: Subscription) -> str:
        """Read from the tenant's own usage model (one schema visit, on this page only)."""
        start, _ = billing_period(timezone.now())
        with schema_context(subscription.tenant.schema_name):
            usage = usage_of(start)
        shown = ", ".join(f"{metric.replace('_', ' ')} {value}" for metric, value in usage.items())
        storage = storage_of(subscription.tenant_id, start)
        if storage is None:
            return f"{shown}, storage not measured yet"
        return (
            f"{shown}, storage {storage.total_bytes:,} bytes (schema {storage.schema_bytes:,}, "
            f"warehouse {storage.warehouse_bytes:,}, files {storage.files_bytes:,}; "
            f"measured {storage.measured_at:%Y-%m-%d %H:%M} UTC)"
        )

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Subscription, form: Any, change: bool) -> None:
        """Plan changes go through the command (history and audit); the GSTIN is a detail."""
        if "plan" in form.changed_data:
            commands.subscription_change_plan(
                actor=request.user.get_username(), tenant=obj.tenant, plan=obj.plan
            )
        if "gstin" in form.changed_data:
            Subscription.objects.filter(pk=obj.pk).update(gstin=obj.gstin)


@admin.register(SubscriptionChange, site=operator_site)
class SubscriptionChangeAdmin(ReadOnlyAdmin):
    list_display = ["at", "tenant", "from_status", "to_status", "plan", "by", "reason"]
    list_filter = ["to_status", "by"]
    search_fields = ["tenant__slug"]


@admin.register(Statement, site=operator_site)
class StatementAdmin(ReadOnlyAdmin):
    """The platform's invoices; the list's foot sums what the filters show (revenue)."""

    list_display = ["number", "tenant", "month", "plan", "subtotal", "gst", "total", "gstin"]
    list_filter = ["month", "plan"]
    search_fields = ["number", "tenant__slug"]
    readonly_fields = [f.name for f in Statement._meta.fields]

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        response = super().changelist_view(request, extra_context)
        context = getattr(response, "context_data", None)
        if context and "cl" in context:
            context["revenue"] = context["cl"].queryset.aggregate(
                subtotal=Sum("subtotal"), gst=Sum("gst"), total=Sum("total")
            )
        return response
