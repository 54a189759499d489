"""The branch board's Server-Sent Events stream, for signed-in staff of that branch."""

from django.http import HttpRequest, HttpResponse, JsonResponse
from django_eventstream.views import events

from apps.clinic.models import User
from apps.clinic.scoping import can_see_branch
from apps.core.db import release_connection


def branch_events(request: HttpRequest, branch_id: int) -> HttpResponse:
    user = request.user
    if not isinstance(user, User):
        return JsonResponse({"detail": "Sign in to follow the board."}, status=401)
    if not can_see_branch(user, branch_id):
        return JsonResponse({"detail": "Not found."}, status=404)
    response = events(request, branch_id=branch_id)
    # The stream stays open as long as the board is on screen and needs no database
    # meanwhile: give the connection back now rather than hold one per open board.
    release_connection()
    return response
