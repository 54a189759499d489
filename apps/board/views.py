"""The per-doctor summary of a branch's day, for the front desk: one page of doctors at a
time, by department, live like the board. No patient is named on it."""

from datetime import date
from zoneinfo import ZoneInfo

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone

from apps.board.forms import SummaryFilterForm
from apps.board.selectors import departments, doctor_summary, page_links
from apps.clinic.scoping import staff_of, visible_branches
from apps.scheduling.commands import FRONT_DESK
from apps.scheduling.formats import human_clock, human_date


@login_required
def doctors(request: HttpRequest, pk: int) -> HttpResponse:
    user = staff_of(request)
    if user.role not in FRONT_DESK:
        raise PermissionDenied
    branch = get_object_or_404(visible_branches(user), pk=pk)
    now = timezone.now()
    day: date = now.astimezone(ZoneInfo(branch.timezone)).date()
    form = SummaryFilterForm(request.GET, branch=branch)
    wanted = form.wanted()
    summary = doctor_summary(branch, day, wanted, now)
    fragment = bool(request.headers.get("HX-Request"))
    context = {
        "branch": branch,
        "summary": summary,
        "rows": summary["rows"],
        "paging": summary["paging"],
        "pages": page_links(wanted, summary["paging"], wanted),
        "filters": wanted,
        "form": form,
        "day": human_date(day),
        "updated": human_clock(now, branch.timezone),
        "now_ms": int(now.timestamp() * 1000),
        "fragment": fragment,
    }
    if not fragment:
        context["departments"] = departments(branch)
    template = "board/_doctors.html" if fragment else "board/doctors.html"
    return render(request, template, context)
