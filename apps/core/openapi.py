"""OpenAPI additions shared by every operation: the error answers of the contract."""

from typing import Any

ERROR_REF = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "maxLength": 255},
    "description": "The same key with the same body returns the first response again.",
}

ERROR = {
    "type": "object",
    "description": '`{"detail": "..."}` or `{"field": ["message", ...]}`',
    "additionalProperties": True,
}

ERRORS = {
    "400": "Invalid input",
    "401": "No or bad token",
    "403": "The caller's role may not use this",
    "404": "Unknown id, or outside the caller's tenant or branches",
    "409": "Business conflict (slot taken, transition not allowed, over the balance)",
    "422": "Idempotency-Key reused with a different request",
    "429": "Throttled or locked out",
}


def document_errors(
    result: dict[str, Any], generator: Any, request: Any, public: bool
) -> dict[str, Any]:
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            responses = operation.setdefault("responses", {})
            for code, text in ERRORS.items():
                if code == "422" and method != "post":
                    continue
                responses.setdefault(code, {"description": text, "content": ERROR_REF})
            if method == "post":
                operation.setdefault("parameters", []).append(IDEMPOTENCY_KEY)
    return result
