from typing import Any

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _

from apps.clinic.signin import LockedOut, sign_in


class LockoutLoginMixin(AuthenticationForm):
    """Signs in through the lock-out and says so when the account is locked."""

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if username is not None and password:
            try:
                self.user_cache = sign_in(self.request, username, password)  # type: ignore[arg-type]
            except LockedOut as exc:
                raise forms.ValidationError(exc.translated(), code="locked") from exc
            if self.user_cache is None:
                raise self.get_invalid_login_error()
            self.confirm_login_allowed(self.user_cache)
        return self.cleaned_data


class StaffLoginForm(LockoutLoginMixin):
    """The staff sign-in page (/login/), in the visitor's language: the e-mail field's label and
    the wrong-password refusal name the field in the page's language (Django names it by the
    model field's untranslated name)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["username"].label = _("Email")

    def get_invalid_login_error(self) -> forms.ValidationError:
        return forms.ValidationError(
            self.error_messages["invalid_login"],
            code="invalid_login",
            params={"username": _("email")},
        )


class AdminLoginForm(LockoutLoginMixin, AdminAuthenticationForm):
    """The admin's sign-in page (/admin/login/): the same lock-out as every other door."""


class PasswordChangeForm(forms.Form):
    """A signed-in staff member's own new password (checked by `staff_password_change`)."""

    old_password = forms.CharField(
        label=_("Current password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    new_password = forms.CharField(
        label=_("New password"),
        strip=False,
        help_text=_("At least 10 characters, not a common one."),
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    new_password_again = forms.CharField(
        label=_("New password again"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("new_password") != cleaned.get("new_password_again"):
            self.add_error("new_password_again", "The two new passwords differ.")
        return cleaned


class PasswordResetForm(forms.Form):
    """An owner's or manager's new password for a staff member (`staff_password_reset`)."""

    new_password = forms.CharField(
        label=_("New password"),
        strip=False,
        help_text="Tell it to the staff member in person.",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
