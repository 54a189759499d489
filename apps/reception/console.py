"""The reception console: the board, finding and registering patients, booking, visit
actions, payments, refunds and the day-end count. Every change goes through the commands;
the board reads the read models (and the names of the patients on it, an audited read)."""

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from functools import partial
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from django import forms as django_forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext, pgettext
from django.utils.translation import gettext_lazy as _

from apps.audit.trail import record
from apps.billing import commands as billing
from apps.billing.models import Invoice, Method, Payment, Refund
from apps.billing.money import NOT_CHARGES
from apps.billing.selectors import invoice_view
from apps.billing.templatetags.billing import line_in_sentence, method_label
from apps.board.forms import BoardFilterForm
from apps.board.selectors import (
    board_page,
    departments,
    doctor_options,
    minutes_between,
    open_names,
    page_links,
)
from apps.board.wording import STAGE_LABELS, STATUS_LABELS
from apps.clinic.access import may_discount
from apps.clinic.models import Branch, User
from apps.clinic.scoping import branch_in_reach, staff_of, visible_branches
from apps.core import clinictime
from apps.core.dates import OutOfRange, parse_instant
from apps.core.errors import DomainError, NotFound
from apps.core.keys import phone_indexes
from apps.eventstore.projections import catch_up
from apps.reception import forms
from apps.reception.wording import visit_words
from apps.reconciliation import commands as reconciliation
from apps.scheduling import commands
from apps.scheduling.commands import FRONT_DESK, DuplicateVisit
from apps.scheduling.formats import human_clock, human_date, human_time, human_when
from apps.scheduling.lifecycle import allowed_actions
from apps.scheduling.models import Appointment, Doctor, Patient
from apps.scheduling.phones import normalize_phone
from apps.scheduling.read import board_projections, next_visits
from apps.scheduling.selectors import (
    appointments_for,
    patients_for,
    scheduling_rules,
)
from apps.scheduling.slots import free_slots

# action in the URL → (the step of the state machine, what the confirmation says)
ACTIONS = {
    "check-in": ("check_in", _("Checked in %(visit)s.")),
    "complete": ("complete", _("Completed the visit of %(visit)s.")),
    "no-show": ("no_show", _("Marked as a no-show: %(visit)s.")),
    "undo-no-show": ("undo_no_show", _("No-show undone, booked again: %(visit)s.")),
}


def _desk(request: HttpRequest, branch_id: int) -> tuple[User, Branch]:
    user = staff_of(request)
    if user.role not in FRONT_DESK:
        raise PermissionDenied
    return user, get_object_or_404(visible_branches(user), pk=branch_id)


def _desk_reading(request: HttpRequest, branch_id: int) -> tuple[User, Branch]:
    """As `_desk`, for a page that only reads: the branch's row may be a second old."""
    user = staff_of(request)
    if user.role not in FRONT_DESK:
        raise PermissionDenied
    try:
        return user, branch_in_reach(user, branch_id)
    except NotFound:
        raise Http404 from None


def _today(branch: Branch) -> date:
    return timezone.now().astimezone(ZoneInfo(branch.timezone)).date()


def _filters(request: HttpRequest, branch: Branch) -> BoardFilterForm:
    """The board's filters: the query string; for an action posted from the board, the filters
    the page was showing, so its answer is the page the desk was looking at."""
    if request.method == "GET":
        return BoardFilterForm(request.GET, branch=branch)
    # The page sends the filters on screen (a name searched for is never in the URL).
    shown = request.headers.get("X-Board-Query")
    if shown is None:
        shown = urlsplit(request.headers.get("HX-Current-URL", "")).query
    return BoardFilterForm(QueryDict(shown), branch=branch)


def _board_context(request: HttpRequest, user: User, branch: Branch) -> dict[str, Any]:
    form = _filters(request, branch)
    wanted = form.wanted()
    address = wanted.for_address_bar()
    day, now = _today(branch), timezone.now()
    board = board_page(branch, day, wanted)
    if board["searched_names"]:
        record(
            "patient.search",
            actor=user,
            branch_id=branch.pk,
            detail={"patients": board["matched_patients"]},
        )
    patient_ids = sorted({row["patient"] for row in board["rows"]})
    names = open_names(patient_ids)
    if patient_ids:
        record("patient.list", actor=user, branch_id=branch.pk, detail={"patients": patient_ids})
    rules, zone = scheduling_rules(), branch.timezone
    rows = [
        {
            **row,
            "time": human_time(row["start"], zone),
            "patient_name": names.get(row["patient"]) or pgettext("board", "(erased)"),
            "status_label": STATUS_LABELS[row["status"]],
            "stage_label": STAGE_LABELS.get(row["stage"] or ""),
            "waiting_minutes": minutes_between(row["waiting_since"], now),
            "can": allowed_actions(row["status"], row["start"], zone, rules, now),
        }
        for row in board["rows"]
    ]
    counts = [
        (STATUS_LABELS[key], key, n, wanted.query(status=key, page=1), address.query(status=key))
        for key, n in board["counts"].items()
    ]
    return {
        "branch": branch,
        "board": board,
        "rows": rows,
        "counts": counts,
        "filters": wanted,
        "form": form,
        "paging": board["paging"],
        "pages": page_links(wanted, board["paging"], address),
        "here": f"{reverse('reception-branch', args=[branch.pk])}?{address.query()}",
        "day": human_date(day),
        "updated": human_clock(now, zone),
        "now_ms": int(now.timestamp() * 1000),
    }


def _board_response(request: HttpRequest, user: User, branch: Branch) -> HttpResponse:
    fragment = bool(request.headers.get("HX-Request"))
    template = "reception/_board.html" if fragment else "reception/board.html"
    context = {**_board_context(request, user, branch), "fragment": fragment}
    if not fragment:
        context["doctor_options"] = doctor_options(branch)
        context["departments"] = departments(branch)
    response = render(request, template, context)
    if fragment and request.method == "GET":
        # A filter or a page the desk chose goes into the address bar and history, without a
        # name searched for (PHI stays out of URLs). A live re-read (from #board) adds no
        # history entry but replaces the address with what it shows: it reads the form as it
        # stands, and it may have overtaken (aborted) the desk's own filter request, whose
        # push then never comes.
        live = request.headers.get("HX-Trigger") == "board"
        response["HX-Replace-Url" if live else "HX-Push-Url"] = context["here"]
    return response


@login_required
def board(request: HttpRequest, pk: int) -> HttpResponse:
    user, branch = _desk_reading(request, pk)
    return _board_response(request, user, branch)


def _show_own_change() -> None:
    """Brings the board's own projections up to the desk's change now, so the next board the
    desk sees has it; the other projections (messages) are the worker's."""
    catch_up(board_projections())


def _board_or_back(
    request: HttpRequest, user: User, branch: Branch, to: str | None = None
) -> HttpResponse:
    """After a desk action: the board fragment for htmx, else a redirect (to the board)."""
    if request.headers.get("HX-Request"):
        return _board_response(request, user, branch)
    return redirect(to or reverse("reception-branch", args=[branch.pk]))


def _after_change(
    request: HttpRequest, user: User, branch: Branch, done: str, to: str | None = None
) -> HttpResponse:
    _show_own_change()
    messages.success(request, done)
    return _board_or_back(request, user, branch, to)


def _back_to(request: HttpRequest, branch: Branch) -> str:
    """Where a visit action returns: the page it was taken on (this site only), or the board."""
    wanted = request.POST.get("next", "")
    if wanted and url_has_allowed_host_and_scheme(wanted, allowed_hosts={request.get_host()}):
        return wanted
    return reverse("reception-branch", args=[branch.pk])


@login_required
def appointment_action(request: HttpRequest, pk: int, aid: int, action: str) -> HttpResponse:
    user, branch = _desk(request, pk)
    if request.method != "POST":
        return redirect("reception-branch", pk=branch.pk)
    appointment = get_object_or_404(appointments_for(user).filter(branch=branch), pk=aid)
    back = _back_to(request, branch)
    try:
        if action == "cancel":
            reason = request.POST.get("reason") or request.POST.get(f"visit-{aid}-reason", "")
            form = forms.CancelForm({"reason": reason})
            if not form.is_valid():
                messages.error(request, gettext("Give a reason to cancel."))
                return _board_or_back(request, user, branch, back)
            done = commands.appointment_cancel(
                actor=user, appointment=appointment, reason=form.cleaned_data["reason"]
            )
            said = gettext("Cancelled %(visit)s.") % {"visit": visit_words(done)}
        elif action in ACTIONS:
            if action == "no-show" and request.POST.get("confirm") != "yes":
                # One click next to "Check in" must not mark a no-show: ask on the visit's page.
                url = reverse("reception-visit", args=[branch.pk, aid])
                return redirect(f"{url}?confirm=no-show")
            step, wording = ACTIONS[action]
            done = commands.VISIT_STEPS[step](actor=user, appointment=appointment)
            said = str(wording) % {"visit": visit_words(done)}
        else:
            raise PermissionDenied
    except DomainError as exc:
        messages.error(request, exc.translated())
        return _board_or_back(request, user, branch, back)
    return _after_change(request, user, branch, said, back)


@login_required
def patients(request: HttpRequest, pk: int) -> HttpResponse:
    user, branch = _desk(request, pk)
    # Searching is a POST: a phone number never travels in a URL (history, logs, referrers).
    searching = request.method == "POST" and request.POST.get("intent") == "search"
    search = forms.PhoneSearchForm(request.POST if searching else None)
    register = forms.RegisterForm(
        request.POST if request.method == "POST" and not searching else None,
        initial={"phone": request.POST.get("phone", "") if searching else ""},
    )
    found: list[Patient] = []
    if search.is_valid():
        try:
            found = list(
                patients_for(user).filter(
                    phone_index__in=phone_indexes(normalize_phone(search.cleaned_data["phone"]))
                )
            )
            record(
                "patient.search",
                actor=user,
                branch_id=branch.pk,
                detail={"patients": [p.pk for p in found]},
            )
        except DomainError as exc:
            search.add_error("phone", exc.translated())
    if register.is_bound and register.is_valid():
        try:
            patient = commands.patient_register(actor=user, branch=branch, **register.cleaned_data)
        except DomainError as exc:
            register.add_error(
                exc.field if exc.field in register.fields else None, exc.translated()
            )
        else:
            messages.success(request, gettext("Patient registered."))
            return redirect(f"/reception/branches/{branch.pk}/book/?patient={patient.pk}")
    reach = list(visible_branches(user).values_list("pk", flat=True))
    upcoming = next_visits([p.pk for p in found], reach)
    doctors = dict(
        Doctor.objects.filter(pk__in={v.doctor_id for v in upcoming.values()}).values_list(
            "pk", "name"
        )
    )
    zones = dict(visible_branches(user).values_list("pk", "timezone"))
    results = [
        {
            "patient": p,
            "next": (
                gettext("%(when)s with %(doctor)s")
                % {
                    "when": human_when(upcoming[p.pk].start, zones[upcoming[p.pk].branch_id]),
                    "doctor": doctors.get(upcoming[p.pk].doctor_id, "—"),
                }
            )
            if p.pk in upcoming
            else None,
        }
        for p in found
    ]
    return render(
        request,
        "reception/patients.html",
        {"branch": branch, "search": search, "register": register, "results": results},
    )


@login_required
def book(request: HttpRequest, pk: int) -> HttpResponse:
    user, branch = _desk(request, pk)
    patient = get_object_or_404(
        patients_for(user), pk=request.GET.get("patient") or request.POST.get("patient") or 0
    )
    record("patient.read", actor=user, branch_id=branch.pk, target=f"patient:{patient.pk}")
    doctors = list(Doctor.objects.filter(branch=branch, active=True).order_by("name"))
    form = forms.BookForm(
        request.GET if "doctor" in request.GET else None, initial={"date": _today(branch)}
    )
    form.fields["doctor"].choices = [(d.pk, f"{d.name} — {d.specialty}") for d in doctors]  # type: ignore[attr-defined]
    slots: list[Any] = []
    chosen = None
    if form.is_valid():
        chosen = next(d for d in doctors if d.pk == form.cleaned_data["doctor"])
        day = form.cleaned_data["date"]
        slots = _slot_choices(chosen, day, patient)
    duplicate = None
    if request.method == "POST":
        doctor = get_object_or_404(
            Doctor.objects.filter(branch=branch), pk=request.POST.get("doctor") or 0
        )
        try:
            booked = commands.appointment_book(
                actor=user,
                doctor=doctor,
                patient=patient,
                start=parse_instant(request.POST.get("start", "")),
                confirm_duplicate=request.POST.get("confirm_duplicate") == "yes",
            )
        except DuplicateVisit as exc:
            # Ask again, on purpose: the same slot with a confirm button.
            duplicate = {
                "message": exc.translated(),
                "start": request.POST.get("start", ""),
                "when": human_when(datetime.fromisoformat(request.POST["start"]), branch.timezone),
                "doctor": doctor,
                "date": request.POST.get("date", ""),
                "existing": exc.existing,
            }
        except (DomainError, ValueError) as exc:
            messages.error(request, _slot_problem(exc))
            day = request.POST.get("date", "")
            return redirect(f"{request.path}?patient={patient.pk}&doctor={doctor.pk}&date={day}")
        else:
            return _after_change(
                request,
                user,
                branch,
                gettext("Booked %(visit)s.") % {"visit": visit_words(booked)},
                reverse("reception-visit", args=[branch.pk, booked.pk]),
            )
    return render(
        request,
        "reception/book.html",
        {
            "branch": branch,
            "patient": patient,
            "form": form,
            "slots": slots,
            "doctor": chosen,
            "duplicate": duplicate,
        },
    )


def _slot_choices(doctor: Doctor, day: date, patient: Patient) -> list[dict[str, str]]:
    """The doctor's free slots that day (one held for this patient counts as free), as the
    booking and moving pages offer them: the instant, and its time on the branch's clock."""
    zone = doctor.branch.timezone
    return [
        {"value": slot.start.isoformat(), "label": clinictime.format_time(slot.start, zone)}
        for slot in free_slots(doctor, day, patient=patient)
    ]


def _slot_problem(exc: Exception) -> str:
    if isinstance(exc, DomainError):
        return exc.translated()
    if isinstance(exc, OutOfRange):
        return str(exc)
    return gettext("Choose a free slot.")


@login_required
def reschedule(request: HttpRequest, pk: int, aid: int) -> HttpResponse:
    """Moves a booked visit to another free slot of its doctor (same appointment)."""
    user, branch = _desk(request, pk)
    appointment = get_object_or_404(
        appointments_for(user).filter(branch=branch).select_related("doctor", "patient"), pk=aid
    )
    if request.method == "POST":
        was = human_when(appointment.start, branch.timezone)
        try:
            moved = commands.appointment_reschedule(
                actor=user,
                appointment=appointment,
                start=parse_instant(request.POST.get("start", "")),
            )
        except (DomainError, ValueError) as exc:
            messages.error(request, _slot_problem(exc))
        else:
            now_at = human_when(moved.start, branch.timezone)
            return _after_change(
                request,
                user,
                branch,
                gettext("Moved %(patient)s with %(doctor)s from %(was)s to %(now)s.")
                % {
                    "patient": moved.patient.name,
                    "doctor": moved.doctor.name,
                    "was": was,
                    "now": now_at,
                },
                reverse("reception-visit", args=[branch.pk, moved.pk]),
            )
    form = forms.RescheduleForm(request.GET or None, initial={"date": _today(branch)})
    day = form.cleaned_data["date"] if form.is_valid() else _today(branch)
    slots = _slot_choices(appointment.doctor, day, appointment.patient)
    record(
        "patient.read", actor=user, branch_id=branch.pk, target=f"patient:{appointment.patient_id}"
    )
    return render(
        request,
        "reception/reschedule.html",
        {
            "branch": branch,
            "appointment": appointment,
            "form": form,
            "slots": slots,
            "day": human_date(day),
            "when": human_when(appointment.start, branch.timezone),
        },
    )


def _payment_initial(invoice: dict[str, Any]) -> dict[str, Any]:
    """Take what is due, as the balance once something was paid (a deposit first)."""
    due = invoice["balance_due"]
    kind = Payment.Kind.BALANCE if invoice["payments"] else Payment.Kind.DEPOSIT
    return {"kind": kind, "amount": due if due > 0 else None}


def _refund_initial(invoice: dict[str, Any], row: dict[str, Any]) -> dict[str, Any]:
    """Offer back what was paid beyond the bill, as far as this payment covers it."""
    back = min(invoice["overpaid"], Decimal(row["refundable"]))
    if back > 0:
        return {"kind": Refund.Kind.OVERPAYMENT, "amount": back}
    return {"kind": Refund.Kind.CONCESSION}


def _charge_lines(invoice: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            **line,
            "index": index,
            "withdrawable": invoice["id"] is not None
            and invoice["status"] == "issued"
            and line["kind"] not in NOT_CHARGES
            and not line.get("withdrawn"),
        }
        for index, line in enumerate(invoice["lines"])
    ]


def _domain_error(form: django_forms.Form, exc: DomainError) -> None:
    """Shows a command's refusal next to the field it concerns (a conflict of amounts next
    to the amount), so the desk sees it where it typed."""
    if exc.field in form.fields:
        form.add_error(exc.field, exc.translated())
    elif exc.status_code == 409 and "amount" in form.fields:
        form.add_error("amount", exc.translated())
    else:
        form.add_error(None, exc.translated())


@login_required
def pay(request: HttpRequest, pk: int, aid: int) -> HttpResponse:
    user, branch = _desk(request, pk)
    appointment = get_object_or_404(
        appointments_for(user).filter(branch=branch).select_related("patient", "doctor"), pk=aid
    )
    invoice = invoice_view(appointment)
    posted = request.POST.get("form", "") if request.method == "POST" else ""
    data = request.POST if posted else None
    payment_form = forms.PaymentForm(
        data if posted == "payment" else None, initial=_payment_initial(invoice)
    )

    def money(amount: Any) -> str:
        return clinictime.format_money(amount, invoice["currency"])

    discount_form = forms.DiscountForm(data if posted == "discount" else None, prefix="discount")
    if may_discount(user):
        limit_of_user = billing.discount_limit(user, invoice["lines"])
        if limit_of_user is not None:
            cap, limit = limit_of_user
            discount_form.fields["amount"].help_text = gettext(
                "You may take up to %(cap)s%% (%(limit)s) off this bill in all; a manager can "
                "give more."
            ) % {"cap": f"{cap.normalize():f}", "limit": money(limit)}
    refund_forms = {
        row["id"]: forms.RefundForm(
            data if posted == f"refund-{row['id']}" else None,
            prefix=f"refund-{row['id']}",
            initial=_refund_initial(invoice, row),
        )
        for row in invoice["payments"]
    }
    lines = _charge_lines(invoice)
    withdraw_forms = {
        line["index"]: forms.WithdrawForm(
            data if posted == f"withdraw-{line['index']}" else None,
            prefix=f"withdraw-{line['index']}",
        )
        for line in lines
        if line["withdrawable"]
    }
    patient = appointment.patient.name or gettext("the patient")

    def take(cleaned: dict[str, Any]) -> str:
        taken = billing.payment_take(actor=user, appointment=appointment, **cleaned)
        return gettext("Took %(amount)s from %(patient)s by %(method)s (%(kind)s).") % {
            "amount": money(taken.amount),
            "patient": patient,
            "method": Method(taken.method).label,
            "kind": taken.get_kind_display().lower(),
        }

    def discount(cleaned: dict[str, Any]) -> str:
        adjustment = billing.invoice_discount(actor=user, appointment=appointment, **cleaned)
        return gettext(
            "%(category)s discount for %(patient)s: %(off)s off the bill, now %(total)s."
        ) % {
            "category": adjustment.get_category_display(),
            "patient": patient,
            "off": money(adjustment.total_reduction),
            "total": money(adjustment.invoice.total),
        }

    def refund(payment_id: int, cleaned: dict[str, Any]) -> str:
        payment = get_object_or_404(Payment.objects.filter(appointment=appointment), pk=payment_id)
        paid_back = billing.payment_refund_of_kind(actor=user, payment=payment, **cleaned)
        done = gettext(
            "Refund recorded. Paid back %(amount)s to %(patient)s by %(method)s (%(kind)s)."
        ) % {
            "amount": money(paid_back.amount),
            "patient": patient,
            "method": Method(paid_back.method).label,
            "kind": paid_back.get_kind_display().lower(),
        }
        if paid_back.adjustment is not None:
            done += " " + gettext("%(category)s concession: %(off)s off the bill.") % {
                "category": paid_back.adjustment.get_category_display(),
                "off": money(paid_back.adjustment.total_reduction),
            }
        return done

    def withdraw(index: int, cleaned: dict[str, Any]) -> str:
        invoice_row = get_object_or_404(Invoice, appointment=appointment)
        note = billing.invoice_line_withdraw(actor=user, invoice=invoice_row, line=index, **cleaned)
        return gettext(
            "Credit note %(number)s for %(patient)s: %(off)s off the bill for the withdrawn "
            "%(what)s."
        ) % {
            "number": note.number,
            "patient": patient,
            "off": money(note.total_reduction),
            "what": line_in_sentence(invoice["lines"][index]),
        }

    # Each form of the page by its name in the POST, with the change it makes and says.
    actions: dict[str, tuple[django_forms.Form, Callable[[dict[str, Any]], str]]] = {
        "payment": (payment_form, take)
    }
    if may_discount(user):
        actions["discount"] = (discount_form, discount)
    for payment_id, refund_form in refund_forms.items():
        actions[f"refund-{payment_id}"] = (refund_form, partial(refund, payment_id))
    for index, withdraw_form in withdraw_forms.items():
        actions[f"withdraw-{index}"] = (withdraw_form, partial(withdraw, index))
    form, act = actions.get(posted, (None, None))
    if form is not None and act is not None and form.is_valid():
        try:
            return _paid(request, branch, appointment, act(form.cleaned_data))
        except DomainError as exc:
            _domain_error(form, exc)
    record(
        "patient.read", actor=user, branch_id=branch.pk, target=f"patient:{appointment.patient_id}"
    )
    status = 400 if form is not None and form.errors else 200
    rows = [{**row, "form": refund_forms[row["id"]]} for row in invoice["payments"]]
    return render(
        request,
        "reception/pay.html",
        {
            "branch": branch,
            "appointment": appointment,
            "invoice": invoice,
            "payment_form": payment_form,
            "discount_form": discount_form if may_discount(user) else None,
            "payment_rows": rows,
            "lines": [{**line, "form": withdraw_forms.get(line["index"])} for line in lines],
        },
        status=status,
    )


def _paid(
    request: HttpRequest, branch: Branch, appointment: Appointment, done: str
) -> HttpResponse:
    _show_own_change()
    messages.success(request, done)
    return redirect("reception-pay", pk=branch.pk, aid=appointment.pk)


@login_required
def declare(request: HttpRequest, pk: int) -> HttpResponse:
    user, branch = _desk(request, pk)
    form = forms.DeclarationForm(request.POST if request.method == "POST" else None)
    today = _today(branch)
    if request.method == "POST" and form.is_valid():
        declared = []
        try:
            with transaction.atomic():  # every method of the count, or none of them
                for method, amount in form.counted():
                    reconciliation.declaration_make(
                        actor=user, branch=branch, day=today, method=method, amount=amount
                    )
                    declared.append(f"{method_label(method)} {clinictime.format_money(amount)}")
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.translated())
        else:
            messages.success(
                request,
                gettext("Declared %(counts)s for %(day)s.")
                % {"counts": ", ".join(declared), "day": human_date(today)},
            )
            return redirect("reception-declare", pk=branch.pk)
    return render(
        request,
        "reception/declare.html",
        {"branch": branch, "form": form, "today": human_date(today)},
    )
