"""The one place where a subscription says no: routes of a module outside the plan (the
middleware, driven by `modules.GATES`), changes by a suspended tenant's people (a receiver of
every appended domain event), and the plan's limits (asked by the commands that add what is
limited)."""

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.response import TemplateResponse

from apps.core.db import connection
from apps.eventstore.models import Event, event_appended
from apps.plans.errors import ModuleNotInPlan, PlanLimitReached, SubscriptionSuspended
from apps.plans.labels import plan_label
from apps.plans.modules import module_of
from apps.plans.selectors import allowance, module_named, plans_with

# The API's answers are JSON; so are FHIR's (an OperationOutcome is for FHIR's own errors).
JSON_PREFIXES = ("/api/", "/fhir/")

LIMIT_WORDS = {"doctors": "active doctors", "branches": "branches", "bookings": "bookings a month"}


class PlanGateMiddleware:
    """Answers 402 for a route of a module that the tenant's plan does not include: JSON
    `{"detail", "module"}` for the API, the "not in your plan" page for the console, set-up and
    admin. Only paths that belong to a module cost a look-up (kept a second in the process)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        module = module_of(request.path_info)
        if module is not None:
            refused = self.refusal(request, module)
            if refused is not None:
                return refused
        return self.get_response(request)

    def refusal(self, request: HttpRequest, module: str) -> HttpResponse | None:
        allowed = allowance(connection.schema_name)
        if allowed is None or module in allowed.modules:
            return None
        found = module_named(module)
        name = found.name if found else module
        error = ModuleNotInPlan(module, name, allowed.plan_name)
        if request.path_info.startswith(JSON_PREFIXES):
            return JsonResponse(error.as_dict(), status=error.status_code)
        response = TemplateResponse(
            request,
            "plans/not_in_plan.html",
            {
                "module": found,
                "module_code": module,
                "plan_name": plan_label(allowed.plan_slug, allowed.plan_name),
                "plans": plans_with(module),
            },
            status=error.status_code,
        )
        return response.render()


def refuse_changes_while_suspended(sender: Any, event: Event, **kwargs: Any) -> None:
    """A suspended (or closed) tenant's people change nothing: every command appends a domain
    event, and this refusal inside the appending transaction rolls the command back whole.
    Reads, exports and sign-in append no domain event and go on; so does the system's own
    upkeep (events without a person, e.g. an expired waitlist hold)."""
    role = event.metadata.get("actor_role")
    if role == "system":
        return
    allowed = allowance(connection.schema_name)
    if allowed is None or not allowed.read_only:
        return
    if role == "patient":
        raise SubscriptionSuspended(
            "Sorry, this clinic is not taking changes in the app at the moment. "
            "Please call the clinic to book, move or cancel a visit."
        )
    raise SubscriptionSuspended(
        "This clinic's subscription is suspended: you can read and export, but not change "
        "anything. The owner can reactivate it by settling the account."
    )


def require_room(*, limit: str, in_use: int, actor: Any) -> None:
    """Refuses adding one more of `limit` ("doctors", "branches") when `in_use` already
    reaches the plan's limit (402 `plan_limit`). The system actor (onboarding, imports, the
    workload generator) is not limited, like the other desk rules."""
    if actor is None:
        return
    allowed = allowance(connection.schema_name)
    if allowed is None:
        return
    most = allowed.limits.get(limit)
    if most is not None and in_use >= most:
        raise PlanLimitReached(
            f"Your plan ({allowed.plan_name}) allows {most} {LIMIT_WORDS[limit]}: "
            "change to a larger plan to add more.",
            limit=limit,
        )


def connect() -> None:
    event_appended.connect(
        refuse_changes_while_suspended, weak=False, dispatch_uid="plans-suspension"
    )
