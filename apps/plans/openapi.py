"""The 402 answers in the OpenAPI document, from the same table the gate uses: every operation
of a module's route may answer 402 `{"detail", "module"}`, and every write on a tenant host
402 with a `code` (a plan limit reached, a suspended subscription)."""

from typing import Any

from django.urls import URLPattern

from apps.plans.modules import module_of
from mymedic import urls_public

PAYMENT_REQUIRED = {
    "description": "Not paid for: a module outside the tenant's plan "
    '(`{"detail", "module"}`), a plan limit reached (`code` `plan_limit`, with `limit`) or a '
    "suspended subscription (`code` `subscription_suspended`)",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}
WRITES = ("post", "put", "patch", "delete")


def _public_paths() -> set[str]:
    return {
        "/" + str(entry.pattern)
        for entry in urls_public.urlpatterns
        if isinstance(entry, URLPattern) and str(entry.pattern).startswith("api/v1/")
    }


def document_payment_required(
    result: dict[str, Any], generator: Any, request: Any, public: bool
) -> dict[str, Any]:
    public_paths = {path.split("<")[0] for path in _public_paths()}
    for path, item in result.get("paths", {}).items():
        if any(path.startswith(prefix) for prefix in public_paths):
            continue
        gated = module_of(path) is not None
        for method, operation in item.items():
            if gated or method in WRITES:
                operation["responses"].setdefault("402", PAYMENT_REQUIRED)
    return result
