"""Account pages of the console: a signed-in staff member changes their own password."""

from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from apps.clinic.commands import staff_password_change
from apps.clinic.forms import PasswordChangeForm
from apps.clinic.scoping import staff_of
from apps.core.errors import InvalidInput


@login_required
def password_change(request: HttpRequest) -> HttpResponse:
    form = PasswordChangeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = staff_password_change(
                actor=staff_of(request),
                old_password=form.cleaned_data["old_password"],
                new_password=form.cleaned_data["new_password"],
                keep_session=request.session.session_key,
            )
        except InvalidInput as exc:
            refusals = exc.errors or {exc.field or "__all__": [exc.translated()]}
            for field, errors in refusals.items():
                for error in errors:
                    form.add_error(field if field in form.fields else None, error)
        else:
            update_session_auth_hash(request, user)
            messages.success(
                request, "Password changed. Your other sessions and API tokens are signed out."
            )
            return redirect("account-password")
    return render(request, "account/password.html", {"form": form})
