"""The manager's settlements page in the console: upload the gateway's report and the bank
statement, see settlements, and work the exception queue (resolve with a note)."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from apps.clinic.models import User
from apps.clinic.scoping import staff_of
from apps.core.api import get_visible
from apps.core.errors import DomainError
from apps.settlements import commands, problems
from apps.settlements.models import ExceptionItem
from apps.settlements.selectors import exceptions_for, settlements_with_figures

RESOLVED_SHOWN = 20


class UploadForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("Kind of file"),
        choices=[("gateway", _("Razorpay settlement report")), ("bank", _("Bank statement"))],
        widget=forms.RadioSelect,
        initial="gateway",
    )
    file = forms.FileField(label=_("CSV file"))


class ResolveForm(forms.Form):
    note = forms.CharField(max_length=500, label=_("What was done"))


def _manager(request: HttpRequest) -> User:
    user = staff_of(request)
    if user.role not in commands.SETTLEMENT_MANAGERS:
        raise PermissionDenied
    return user


def _import(user: User, kind: str, raw: bytes, name: str) -> str:
    run = commands.gateway_file_import if kind == "gateway" else commands.bank_statement_import
    result = run(actor=user, raw=raw, name=name)
    if result.already_imported:
        if name:
            return gettext("%(name)s was imported before; nothing changed.") % {"name": name}
        return gettext("This file was imported before; nothing changed.")
    return gettext(
        "Imported %(new)s new row(s) of %(rows)s; %(skipped)s already known or not yet "
        "settled; %(exceptions)s new exception(s)."
    ) % {
        "new": result.new_rows,
        "rows": result.rows,
        "skipped": result.skipped,
        "exceptions": result.exceptions,
    }


@login_required
def queue(request: HttpRequest) -> HttpResponse:
    user = _manager(request)
    form = UploadForm(request.POST or None, request.FILES or None)
    line_problems: list[str] = []
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            message = _import(user, form.cleaned_data["kind"], upload.read(), upload.name or "")
        except DomainError as exc:
            # Every refused line at once (one alert, then the list), so a file is fixed in
            # one go rather than one line per upload.
            rows = getattr(exc, "errors", {}).get("rows", [])
            line_problems = [problems.shown(row) for row in rows]
            form.add_error(
                "file",
                gettext("Nothing was imported: fix the lines below and upload the file again.")
                if line_problems
                else exc.translated(),
            )
        else:
            messages.success(request, message)
            return redirect("settlements")
    items = exceptions_for(user)
    return render(
        request,
        "settlements/queue.html",
        {
            "form": form,
            "line_problems": line_problems,
            "open_items": [
                (item, ResolveForm(prefix=f"i{item.pk}")) for item in items.filter(status="open")
            ],
            "resolved_items": items.filter(status="resolved")[:RESOLVED_SHOWN],
            "settlements": settlements_with_figures(limit=20),
        },
    )


@login_required
@require_POST
def resolve(request: HttpRequest, pk: int) -> HttpResponse:
    user = _manager(request)
    item = get_visible(exceptions_for(user), pk, "Exception")
    form = ResolveForm(request.POST, prefix=f"i{item.pk}")
    if not form.is_valid():
        messages.error(request, gettext("Say what was done about it before resolving."))
        return redirect("settlements")
    try:
        commands.exception_resolve(actor=user, item=item, note=form.cleaned_data["note"])
    except DomainError as exc:
        messages.error(request, exc.translated())
    else:
        messages.success(
            request, gettext("Resolved: %(what)s.") % {"what": ExceptionItem.Kind(item.kind).label}
        )
    return redirect("settlements")
