"""The reception console: server-rendered pages for front-desk staff."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from apps.clinic.scoping import staff_of, visible_branches


@login_required
def branch_choice(request: HttpRequest) -> HttpResponse:
    branches = list(visible_branches(staff_of(request)))
    if len(branches) == 1:
        return redirect("reception-branch", pk=branches[0].pk)
    return render(request, "reception/branch_choice.html", {"branches": branches})


@login_required
def branch_home(request: HttpRequest, pk: int) -> HttpResponse:
    branch = get_object_or_404(visible_branches(staff_of(request)), pk=pk)
    return render(request, "reception/branch_home.html", {"branch": branch})
