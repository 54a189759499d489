from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm

from apps.clinic.signin import LockedOut, sign_in


class StaffLoginForm(AuthenticationForm):
    """Django's login form, signing in through the lock-out."""

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if username is not None and password:
            try:
                self.user_cache = sign_in(self.request, username, password)  # type: ignore[arg-type]
            except LockedOut as exc:
                raise forms.ValidationError(str(exc), code="locked") from exc
            if self.user_cache is None:
                raise self.get_invalid_login_error()
            self.confirm_login_allowed(self.user_cache)
        return self.cleaned_data
