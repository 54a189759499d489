"""Admin screens for branches and staff, scoped to the branches the signed-in user may see."""

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from apps.clinic import policy
from apps.clinic.commands import (
    BRANCH_BOUND_ROLES,
    branch_create,
    require_not_owner_of_another,
    staff_change,
    staff_create,
    staff_password_reset,
)
from apps.clinic.forms import AdminLoginForm, PasswordResetForm
from apps.clinic.models import Branch, Role, User
from apps.clinic.scoping import scope_to_branches, staff_of
from apps.core import clinictime
from apps.core.errors import DomainError, InvalidInput

# The admin's sign-in goes through the same lock-out as every other door.
admin.site.login_form = AdminLoginForm


def _password_change(request: HttpRequest, extra_context: Any = None) -> HttpResponse:
    """The admin's "Change password" is the staff one, which ends old tokens and sessions."""
    return redirect("account-password")


admin.site.password_change = _password_change  # type: ignore[method-assign,assignment]

admin.site.site_header = "MyMedic"
admin.site.site_title = "MyMedic"
admin.site.index_title = "Your clinic"
# The index is a click away; the lists need the width (money, times, variance).
admin.site.enable_nav_sidebar = False


class RoleAdmin(admin.ModelAdmin):
    """Permissions by role, from the one policy table (`apps.clinic.policy`), not by Django's
    per-model grants. A command's refusal (`DomainError`) of a valid-looking form comes back
    as a form error on its field, never as a server error."""

    def _role(self, request: HttpRequest) -> str | None:
        return getattr(request.user, "role", None)

    def _screen(self) -> policy.Screen:
        return policy.screen(self.model._meta.label_lower)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._role(request) in self._screen().view

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._role(request) in self._screen().view

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self._role(request) in self._screen().add

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._role(request) in self._screen().change

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._role(request) in self._screen().delete

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        # Actions call the commands, which check role and branch again; no bulk delete.
        if not policy.may_act(self.model._meta.label_lower, self._role(request)):
            return {}
        actions = dict(super().get_actions(request))
        actions.pop("delete_selected", None)
        return actions

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form = super().get_form(request, obj, change, **kwargs)
        refusal = getattr(request, "_command_refusal", None)
        if refusal is None:
            return form
        return type(form.__name__, (RefusedForm, form), {"refusal": refusal})

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except DomainError as exc:
            if request.method != "POST" or getattr(request, "_command_refusal", None):
                raise
            # The save rolled back; show the same form again with the command's reason.
            request._command_refusal = exc  # type: ignore[attr-defined]
            return super().changeform_view(request, object_id, form_url, extra_context)


class RefusedForm(forms.BaseForm):
    """A form that carries a command's refusal as errors: on its field when the field is on
    the form, else above the form."""

    refusal: DomainError

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        errors = getattr(self.refusal, "errors", None) or {}
        field = getattr(self.refusal, "field", None)
        if errors:
            for name, messages in errors.items():
                for message in messages if isinstance(messages, list) else [messages]:
                    self.add_error(name if name in self.fields else None, str(message))
        else:
            self.add_error(field if field in self.fields else None, self.refusal.message)
        return cleaned


def clinic_time_column(field: str, description: str) -> Callable[[Any, Any], str]:
    """A list or detail column showing the row's instant `field` on its branch's clock."""

    @admin.display(description=description, ordering=field)
    def column(modeladmin: Any, row: Any) -> str:
        return clinictime.format_datetime(getattr(row, field), row.branch.timezone)

    return column


def money_column(
    field: str, description: str, *, currency: str | None = None
) -> Callable[[Any, Any], str]:
    """A column showing the amount `field` as money, in the row's `currency` attribute when
    one is named (else the tenant's currency)."""

    @admin.display(description=description, ordering=field)
    def column(modeladmin: Any, row: Any) -> str:
        return clinictime.format_money(
            getattr(row, field), getattr(row, currency) if currency else None
        )

    return column


class BranchScopedAdmin(RoleAdmin):
    """Shows only rows of branches the user may see; `branch_field` names the row's branch."""

    branch_field = "branch"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return scope_to_branches(
            super().get_queryset(request), staff_of(request), self.branch_field
        )


@admin.register(Branch)
class BranchAdmin(BranchScopedAdmin):
    branch_field = "pk"
    list_display = ["name", "city", "timezone", "created"]
    search_fields = ["name", "city"]
    readonly_fields = ["created"]

    def save_model(
        self, request: HttpRequest, obj: Branch, form: forms.ModelForm, change: bool
    ) -> None:
        created = branch_create(
            actor=staff_of(request), name=obj.name, city=obj.city, timezone=obj.timezone
        )
        obj.pk = created.pk


class StaffAddForm(forms.ModelForm):
    password = forms.CharField(widget=forms.PasswordInput, strip=False)

    class Meta:
        model = User
        fields = ["name", "email", "role", "branches"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = [c for c in Role.choices if c[0] != Role.OWNER]  # type: ignore[attr-defined]

    def clean_email(self) -> str:
        return User.objects.normalize_email(self.cleaned_data["email"]).lower()

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("role") in BRANCH_BOUND_ROLES and not cleaned.get("branches"):
            self.add_error("branches", "Give this role at least one branch.")
        if password := cleaned.get("password"):
            candidate = User(email=cleaned.get("email", ""), name=cleaned.get("name", ""))
            try:
                validate_password(password, candidate)
            except ValidationError as exc:
                self.add_error("password", exc)
        return cleaned


class StaffChangeForm(forms.ModelForm):
    """Refuses, next to the field, what `staff_change` would refuse."""

    actor: User | None = None

    class Meta:
        model = User
        fields = ["name", "branches", "is_active"]

    def clean_is_active(self) -> bool:
        is_active = bool(self.cleaned_data.get("is_active"))
        if not is_active and self.instance.pk is not None:
            stored = User.objects.get(pk=self.instance.pk)
            try:
                require_not_owner_of_another(self.actor, stored, "deactivate")
            except DomainError as exc:
                raise ValidationError(exc.message) from exc
        return is_active


@admin.register(User)
class StaffAdmin(BranchScopedAdmin):
    branch_field = "branches"
    list_display = ["email", "name", "role", "is_active", "date_joined"]
    list_filter = ["role", "is_active", ("branches", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["email", "name"]
    filter_horizontal = ["branches"]
    fields = [
        "name",
        "email",
        "role",
        "branches",
        "is_active",
        "password_reset",
        "last_login",
        "date_joined",
    ]
    readonly_fields = ["email", "role", "password_reset", "last_login", "date_joined"]

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        if obj is None:
            kwargs["form"] = StaffAddForm
            kwargs["fields"] = ["name", "email", "password", "role", "branches"]
            return super().get_form(request, obj, change, **kwargs)
        kwargs["form"] = StaffChangeForm
        form = super().get_form(request, obj, change, **kwargs)
        form.actor = staff_of(request)
        return form

    @admin.display(description="Password")
    def password_reset(self, obj: User) -> str:
        if obj.pk is None:
            return ""
        url = reverse("admin:clinic_user_password_reset", args=[obj.pk])
        return format_html('<a href="{}">Reset the password…</a>', url)

    def get_urls(self) -> list[Any]:
        view = self.admin_site.admin_view(self.password_reset_view)
        return [
            path("<int:pk>/password/", view, name="clinic_user_password_reset"),
            *super().get_urls(),
        ]

    def password_reset_view(self, request: HttpRequest, pk: int) -> Any:
        """Sets a forgotten password; the member's tokens and sessions end with it."""
        if not self.has_change_permission(request):
            raise PermissionDenied
        member = get_object_or_404(self.get_queryset(request), pk=pk)
        form = PasswordResetForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                staff_password_reset(
                    actor=staff_of(request),
                    user=member,
                    new_password=form.cleaned_data["new_password"],
                )
            except InvalidInput as exc:
                for error in exc.errors.get("new_password", [exc.message]):
                    form.add_error("new_password", error)
            except DomainError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(
                    request, f"Password of {member.email} reset; their sessions and tokens ended."
                )
                return redirect("admin:clinic_user_change", pk)
        return TemplateResponse(
            request,
            "admin/clinic/password_reset.html",
            {
                **self.admin_site.each_context(request),
                "title": f"Reset the password of {member}",
                "member": member,
                "form": form,
                "opts": self.model._meta,
            },
        )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.readonly_fields if obj is not None else []

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ["name", "email", "password", "role", "branches"]
        return self.fields

    def save_model(
        self, request: HttpRequest, obj: User, form: forms.ModelForm, change: bool
    ) -> None:
        if change:
            staff_change(
                actor=staff_of(request),
                user=obj,
                name=form.cleaned_data["name"],
                is_active=form.cleaned_data["is_active"],
                branches=list(form.cleaned_data["branches"]),
            )
            return
        created = staff_create(
            actor=staff_of(request),
            name=form.cleaned_data["name"],
            email=form.cleaned_data["email"],
            password=form.cleaned_data["password"],
            role=form.cleaned_data["role"],
            branches=list(form.cleaned_data["branches"]),
        )
        obj.pk = created.pk

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        """Branches are set by the commands, in their transaction."""


class TenantSettingsAdmin(RoleAdmin):
    """A tenant's one-row settings: owners and managers change them through `update`, a
    command; there is nothing to add once the row exists and nothing to delete."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return super().has_add_permission(request) and not self.model.objects.exists()

    def update(self, request: HttpRequest, obj: Any, changed: list[str]) -> Any:
        raise NotImplementedError

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        saved = self.update(request, obj, list(form.changed_data))
        obj.pk = saved.pk


from apps.clinic import audit_admin  # noqa: E402,F401  (the trail, with staff names)
