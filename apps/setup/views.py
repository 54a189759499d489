"""The set-up screens for owners and managers, the sign-in link after sign-up, staff
invitations and password reset. Views parse forms and call the commands; nothing here
saves a domain model."""

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse_lazy
from django.utils.translation import gettext

from apps.audit.trail import record
from apps.billing import commands as billing
from apps.billing.models import BillingSettings, TaxRule
from apps.clinic import commands as clinic
from apps.clinic.handoff import LinkRefused, redeem_sign_in_link
from apps.clinic.language import in_visitors_language
from apps.clinic.models import Branch, Role, User
from apps.clinic.scoping import staff_of
from apps.clinic.signin import forget_failures, reset_email_allowed
from apps.core.clinictime import format_date
from apps.core.errors import DomainError
from apps.core.hosts import host_url
from apps.scheduling import commands as scheduling
from apps.scheduling.models import BranchClosure, Doctor, DoctorLeave
from apps.setup import forms as setup_forms
from apps.setup.checklist import SETUP_ROLES, setup_checklist
from apps.setup.hours import WeeklyHoursForm, copy_monday, grid_initial
from apps.tenants.verification import is_live, send_verification

View = Callable[..., HttpResponse]


def setup_view(view: View) -> View:
    """Signed-in owners and managers only; any other role gets 403 (audited)."""

    @login_required
    @wraps(view)
    def run(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if staff_of(request).role not in SETUP_ROLES:
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return run


def _show(exc: DomainError, form: forms.Form) -> None:
    """A command's refusal, shown next to its field when the form has one."""
    form.add_error(exc.field if exc.field in form.fields else None, exc.translated())


def _page(request: HttpRequest, template: str, context: dict[str, Any]) -> HttpResponse:
    invalid = any(
        isinstance(value, forms.Form) and value.is_bound and value.errors
        for value in context.values()
    )
    return render(request, template, context, status=400 if invalid else 200)


def _site_url(request: HttpRequest) -> str:
    return request.build_absolute_uri("/").rstrip("/")


# --- sign-in link after sign-up ---------------------------------------------------------


def welcome(request: HttpRequest, token: str) -> HttpResponse:
    try:
        user = redeem_sign_in_link(token)
    except LinkRefused:
        return render(request, "setup/link_refused.html", status=400)
    login(request, user, backend="apps.clinic.signin.LockoutBackend")
    messages.success(request, gettext("Welcome! A few steps and your clinic is ready to book."))
    return redirect("setup")


# --- overview -----------------------------------------------------------------------------


@setup_view
def overview(request: HttpRequest) -> HttpResponse:
    checklists = [setup_checklist(branch) for branch in Branch.objects.order_by("name")]
    owner = User.objects.filter(role=Role.OWNER).order_by("id").first()
    return render(
        request,
        "setup/overview.html",
        {
            "checklists": checklists,
            "clinic_live": is_live(),
            "owner_email": owner.email if owner else "",
            "unverified_days": settings.MYMEDIC_UNVERIFIED_TENANT_DAYS,
        },
    )


@setup_view
def verify_email_resend(request: HttpRequest) -> HttpResponse:
    """Sends the sign-up confirmation link again to the owner (the link opens the public site)."""
    owner = User.objects.filter(role=Role.OWNER).order_by("id").first()
    if request.method == "POST" and owner is not None and not is_live():
        site = host_url(request, settings.BASE_DOMAIN)
        send_verification(request.tenant, owner.email, site, owner.language)  # type: ignore[attr-defined]
        record("tenant.verification_resent", actor=staff_of(request), target=f"user:{owner.pk}")
        messages.success(
            request, gettext("Confirmation email sent again to %(email)s.") % {"email": owner.email}
        )
    return redirect("setup")


# --- branches and closures ---------------------------------------------------------------


@setup_view
def branches(request: HttpRequest) -> HttpResponse:
    return render(request, "setup/branches.html", {"branches": Branch.objects.order_by("name")})


@setup_view
def branch_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    user = staff_of(request)
    branch = get_object_or_404(Branch, pk=pk) if pk is not None else None
    initial = (
        {key: getattr(branch, key) for key in ("name", "city", "address", "phone", "timezone")}
        if branch
        else {"timezone": request.tenant.timezone}  # type: ignore[attr-defined]
    )
    form = setup_forms.BranchForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            if branch is None:
                branch = clinic.branch_create(actor=user, **form.cleaned_data)
                messages.success(request, gettext("Branch %(name)s added.") % {"name": branch.name})
            else:
                branch = clinic.branch_update(actor=user, branch=branch, **form.cleaned_data)
                messages.success(request, gettext("Branch %(name)s saved.") % {"name": branch.name})
        except DomainError as exc:
            _show(exc, form)
        else:
            return redirect("setup-branches")
    return _page(request, "setup/branch_form.html", {"branch": branch, "form": form})


@dataclass(frozen=True)
class DatedList:
    """A page of one owner's dated rows (a branch's closures, a doctor's leave): its form
    adds a row, each row's button removes one."""

    page: str
    fragment: str  # the list alone, shown again in place after an htmx removal
    url: str  # the page's URL name; its `pk` is the owner's
    form: type[forms.Form]
    context: Callable[[Any, forms.Form], dict[str, Any]]
    error_field: str | None = None  # where a refusal goes; else by `_show`

    def show(
        self, request: HttpRequest, owner: Branch | Doctor, add: Callable[[dict[str, Any]], str]
    ) -> HttpResponse:
        """The page; on a valid POST, `add` runs the command and says what it did."""
        form = self.form(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                done = add(form.cleaned_data)
            except DomainError as exc:
                if self.error_field is None:
                    _show(exc, form)
                else:
                    form.add_error(self.error_field, exc.translated())
            else:
                messages.success(request, done)
                return redirect(self.url, pk=owner.pk)
        return _page(request, self.page, {**self.context(owner, form), "form": form})

    def remove(
        self, request: HttpRequest, owner: Branch | Doctor, remove: Callable[[], str]
    ) -> HttpResponse:
        """Removes one row (on POST) and shows the list again: in place for htmx, else by
        going back to its page."""
        if request.method == "POST":
            messages.success(request, remove())
        if request.headers.get("HX-Request"):
            return render(request, self.fragment, self.context(owner, self.form()))
        return redirect(self.url, pk=owner.pk)


def _closures_context(branch: Branch, form: forms.Form) -> dict[str, Any]:
    closures = BranchClosure.objects.filter(branch=branch, removed=False).order_by("date")
    return {"branch": branch, "closures": closures, "form": form}


CLOSURES = DatedList(
    "setup/closures.html",
    "setup/_closure_list.html",
    "setup-closures",
    setup_forms.ClosureForm,
    _closures_context,
    error_field="day",
)


@setup_view
def closures(request: HttpRequest, pk: int) -> HttpResponse:
    branch = get_object_or_404(Branch, pk=pk)

    def add(data: dict[str, Any]) -> str:
        scheduling.branch_closure_add(
            actor=staff_of(request), branch=branch, day=data["day"], reason=data["reason"]
        )
        return gettext("%(branch)s is closed on %(day)s.") % {
            "branch": branch.name,
            "day": format_date(data["day"]),
        }

    return CLOSURES.show(request, branch, add)


@setup_view
def closure_remove(request: HttpRequest, pk: int, cid: int) -> HttpResponse:
    branch = get_object_or_404(Branch, pk=pk)
    closure = get_object_or_404(BranchClosure, pk=cid, branch=branch, removed=False)

    def remove() -> str:
        scheduling.branch_closure_remove(actor=staff_of(request), closure=closure)
        return gettext("%(branch)s is open again on %(day)s.") % {
            "branch": branch.name,
            "day": format_date(closure.date),
        }

    return CLOSURES.remove(request, branch, remove)


# --- doctors and leave -------------------------------------------------------------------


@setup_view
def doctors(request: HttpRequest) -> HttpResponse:
    listed = Doctor.objects.select_related("branch").order_by("branch__name", "name")
    return render(request, "setup/doctors.html", {"doctors": listed})


@setup_view
def doctor_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    user = staff_of(request)
    doctor = get_object_or_404(Doctor, pk=pk) if pk is not None else None
    if doctor is not None:
        initial: dict[str, Any] = {
            "name": doctor.name,
            "specialty": doctor.specialty,
            "active": doctor.active,
            "consultation_fee": doctor.consultation_fee,
            "slot_minutes": doctor.slot_minutes,
            **grid_initial(doctor.weekly_hours),
        }
    else:
        initial = {"branch": request.GET.get("branch"), "slot_minutes": 15}
    data = request.POST if request.method == "POST" else None
    if data is not None and data.get("copy") in ("weekdays", "all"):
        # "Copy Monday to …": show the grid again with the copies, nothing saved yet.
        initial, data = copy_monday(data, data["copy"]), None
    form = setup_forms.DoctorForm(data, initial=initial, editing=doctor is not None)
    form.fields["consultation_fee"].label = gettext("Consultation fee (%(currency)s)") % {
        "currency": billing.tenant_currency()
    }
    hours = WeeklyHoursForm(data, initial=initial)
    if data is not None and form.is_valid() and hours.is_valid():
        fields = {**form.cleaned_data, "weekly_hours": hours.cleaned_data["weekly_hours"]}
        try:
            if doctor is None:
                branch = get_object_or_404(Branch, pk=fields.pop("branch"))
                doctor = scheduling.doctor_add(actor=user, branch=branch, **fields)
                messages.success(request, gettext("%(name)s added.") % {"name": doctor.name})
            else:
                doctor = scheduling.doctor_update(actor=user, doctor=doctor, **fields)
                messages.success(request, gettext("%(name)s saved.") % {"name": doctor.name})
        except DomainError as exc:
            if exc.field == "weekly_hours":
                hours.add_error(None, exc.translated())
            else:
                _show(exc, form)
        else:
            return redirect("setup-doctors")
    return _page(
        request, "setup/doctor_form.html", {"doctor": doctor, "form": form, "hours": hours}
    )


def _leave_context(doctor: Doctor, form: forms.Form) -> dict[str, Any]:
    leaves = DoctorLeave.objects.filter(doctor=doctor, removed=False).order_by("start_date")
    return {"doctor": doctor, "leaves": leaves, "form": form}


LEAVE = DatedList(
    "setup/leave.html",
    "setup/_leave_list.html",
    "setup-leave",
    setup_forms.LeaveForm,
    _leave_context,
)


@setup_view
def leave(request: HttpRequest, pk: int) -> HttpResponse:
    doctor = get_object_or_404(Doctor.objects.select_related("branch"), pk=pk)

    def add(data: dict[str, Any]) -> str:
        scheduling.doctor_leave_grant(actor=staff_of(request), doctor=doctor, **data)
        return gettext("Leave added for %(name)s.") % {"name": doctor.name}

    return LEAVE.show(request, doctor, add)


@setup_view
def leave_remove(request: HttpRequest, pk: int, lid: int) -> HttpResponse:
    doctor = get_object_or_404(Doctor, pk=pk)
    taken = get_object_or_404(DoctorLeave, pk=lid, doctor=doctor, removed=False)

    def remove() -> str:
        scheduling.doctor_leave_remove(actor=staff_of(request), leave=taken)
        return gettext("Leave from %(day)s removed.") % {"day": format_date(taken.start_date)}

    return LEAVE.remove(request, doctor, remove)


# --- staff ---------------------------------------------------------------------------------


@setup_view
def staff(request: HttpRequest) -> HttpResponse:
    form = setup_forms.InviteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            invited = clinic.staff_invite(
                actor=staff_of(request),
                name=data["name"],
                email=data["email"],
                role=data["role"],
                branches=list(Branch.objects.filter(pk__in=data["branches"])),
                site_url=_site_url(request),
            )
        except DomainError as exc:
            _show(exc, form)
        else:
            messages.success(
                request, gettext("Invitation sent to %(email)s.") % {"email": invited.email}
            )
            return redirect("setup-staff")
    people = [
        {"user": person, "pending": clinic.invitation_pending(person)}
        for person in User.objects.prefetch_related("branches").order_by("name")
    ]
    return _page(request, "setup/staff.html", {"form": form, "people": people})


@setup_view
def staff_resend(request: HttpRequest, pk: int) -> HttpResponse:
    person = get_object_or_404(User.objects.exclude(role=Role.OWNER), pk=pk)
    if request.method == "POST":
        try:
            clinic.staff_invite_resend(
                actor=staff_of(request), user=person, site_url=_site_url(request)
            )
        except DomainError as exc:
            messages.error(request, exc.translated())
        else:
            messages.success(
                request, gettext("Invitation sent again to %(email)s.") % {"email": person.email}
            )
    return redirect("setup-staff")


# --- billing -------------------------------------------------------------------------------


@setup_view
def billing_settings(request: HttpRequest) -> HttpResponse:
    user = staff_of(request)
    current = BillingSettings.current()
    posted = request.POST.get("form") if request.method == "POST" else None
    settings_form = setup_forms.BillingForm(
        request.POST if posted == "settings" else None,
        initial={
            "cancellation_policy": current.cancellation_policy,
            "no_show_fee": current.no_show_fee,
            "no_show_deposit": current.no_show_deposit,
        },
    )
    tax_form = setup_forms.TaxRuleForm(request.POST if posted == "tax" else None)
    try:
        if posted == "settings" and settings_form.is_valid():
            data = settings_form.cleaned_data
            # Saving the defaults once still records them: the checklist counts that step.
            if data["cancellation_policy"] != current.cancellation_policy or current._state.adding:
                billing.billing_settings_update(
                    actor=user, cancellation_policy=data["cancellation_policy"]
                )
            if (data["no_show_fee"], data["no_show_deposit"]) != (
                current.no_show_fee,
                current.no_show_deposit,
            ):
                billing.no_show_charges_update(
                    actor=user,
                    no_show_fee=data["no_show_fee"],
                    no_show_deposit=data["no_show_deposit"],
                )
            messages.success(request, gettext("Billing settings saved."))
            return redirect("setup-billing")
        if posted == "tax" and tax_form.is_valid():
            data = tax_form.cleaned_data
            branch = get_object_or_404(Branch, pk=data["branch"]) if data["branch"] else None
            billing.tax_rule_add(actor=user, name=data["name"], rate=data["rate"], branch=branch)
            added = gettext("%(name)s %(rate)s%% added.")
            messages.success(request, added % {"name": data["name"], "rate": data["rate"]})
            return redirect("setup-billing")
    except DomainError as exc:
        _show(exc, settings_form if posted == "settings" else tax_form)
    rules = TaxRule.objects.filter(active=True).select_related("branch").order_by("name")
    return _page(
        request,
        "setup/billing.html",
        {
            "settings_form": settings_form,
            "tax_form": tax_form,
            "rules": rules,
            "currency": billing.tenant_currency(),
        },
    )


# --- invitations and password reset (Django's views, our templates) ------------------------


class InvitationAcceptView(auth_views.PasswordResetConfirmView):
    """The invitee chooses a password, is signed in and lands in the console."""

    template_name = "registration/invitation_confirm.html"
    post_reset_login = True
    post_reset_login_backend = "apps.clinic.signin.LockoutBackend"
    success_url = reverse_lazy("reception")

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        record("staff.invitation_accepted", actor=form.user, target=f"user:{form.user.pk}")
        messages.success(self.request, gettext("Your password is set. Welcome!"))
        return response


class PasswordResetView(auth_views.PasswordResetView):
    """Django's reset request, throttled: over the limit it answers the same and sends
    nothing (so it tells no one whether the address is staff either way)."""

    template_name = "registration/password_reset_form.html"
    email_template_name = "registration/password_reset_email.txt"
    subject_template_name = "registration/password_reset_subject.txt"
    success_url = reverse_lazy("password_reset_done")
    form_class = setup_forms.QueuedPasswordResetForm

    def form_valid(self, form: Any) -> HttpResponse:
        if not reset_email_allowed(self.request, form.cleaned_data["email"]):
            return HttpResponseRedirect(self.get_success_url())
        return super().form_valid(form)


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "registration/password_reset_confirm.html"
    success_url = reverse_lazy("password_reset_complete")

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        forget_failures(form.user.email)
        clinic.end_access(form.user)  # every token and session made with the old password ends
        record("password.reset", actor=form.user, target=f"user:{form.user.pk}")
        return response


password_reset = in_visitors_language(PasswordResetView.as_view())
password_reset_done = in_visitors_language(
    auth_views.PasswordResetDoneView.as_view(template_name="registration/password_reset_done.html")
)
password_reset_confirm = in_visitors_language(PasswordResetConfirmView.as_view())
password_reset_complete = in_visitors_language(
    auth_views.PasswordResetCompleteView.as_view(
        template_name="registration/password_reset_complete.html"
    )
)
