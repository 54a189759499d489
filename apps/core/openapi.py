"""The OpenAPI document as the contract: each operation lists the errors it can answer, each
with the body it really has, and every POST its `Idempotency-Key`.

Where each error can happen:
- 400 a POST (any body can be malformed) or an operation with query parameters;
- 401 an operation that reads a token (a bad or expired one is refused even where no sign-in
  is needed); 403 an operation that not every caller may use;
- 404 an operation that names something: an id in the path, the query or the body, or a page;
- 409, 413, 415 and 422 a POST (state conflict, body over the cap, a media type it does not
  read, an `Idempotency-Key` reused with another body); 429 every operation (throttles).
"""

from typing import Any

from drf_spectacular.openapi import AutoSchema
from rest_framework import serializers
from rest_framework.permissions import AllowAny

ERROR_SCHEMA = "Error"
VALIDATION_ERROR_SCHEMA = "ValidationError"


def token_header(description: str) -> dict[str, str]:
    """An authentication extension's security definition: `Authorization: Token <key>`."""
    return {"type": "apiKey", "in": "header", "name": "Authorization", "description": description}


IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"^[!-~]+$"},
    "description": "The same key with the same body returns the first response again.",
}

ERROR = {
    "type": "object",
    "description": 'Every refusal but invalid input: `{"detail": "..."}`, and for some '
    "conflicts a machine-readable `code` with what it conflicts with (e.g. "
    '`{"detail", "code": "duplicate_visit", "existing"}`).',
    "properties": {"detail": {"type": "string"}, "code": {"type": "string"}},
    "required": ["detail"],
    "additionalProperties": True,
}
VALIDATION_ERROR = {
    "type": "object",
    "description": 'Invalid input: `{"field": ["message", ...]}` per field (nested like the '
    'body for lists and objects) or `{"detail": "..."}`.',
    "additionalProperties": True,
}

ERRORS = {
    "400": "Invalid input",
    "401": "No, bad or expired token",
    "403": "The caller's role may not use this",
    "404": "Unknown id, or outside the caller's tenant or branches",
    "409": "Business conflict (slot taken, transition not allowed, over the balance)",
    "413": "The request body is over the size cap",
    "415": "A media type this operation does not read",
    "422": "Idempotency-Key reused with a different request",
    "429": "Throttled or locked out",
    "503": "A part the answer needs is unavailable or full now; nothing changed",
}


def _error(code: str) -> dict[str, Any]:
    name = VALIDATION_ERROR_SCHEMA if code == "400" else ERROR_SCHEMA
    return {
        "description": ERRORS[code],
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}},
    }


# What DRF's CharField takes: no NUL character, and (unless blank is allowed) something
# besides white space, which it trims away.
TEXT = r"^[^\x00]*$"
NOT_BLANK_TEXT = r"^[^\x00]*[^\s\x00][^\x00]*$"
NOT_EMPTY_TEXT = r"^[^\x00]+$"


# Days and instants within apps.core.dates' bounds (1900-01-01..2200-12-31), as request
# patterns: every day a pattern matches is a real one (days 29-31 are left out, and so is
# 2200 for instants, whose offset could carry them past the last day).
DAY = r"(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])"
DATE_PATTERN = rf"^(19[0-9]{{2}}|2[01][0-9]{{2}}|2200)-{DAY}$"
INSTANT_PATTERN = (
    rf"^(19[0-9]{{2}}|2[01][0-9]{{2}})-{DAY}"
    r"T([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?(Z|[+-](0[0-9]|1[0-3]):[0-5][0-9])$"
)


# ISO weeks and months within those bounds (every year has weeks 1-52; the last week of
# 2200 would end in 2201).
WEEK_PATTERN = r"^(19[0-9]{2}|2[01][0-9]{2})-W(0[1-9]|[1-4][0-9]|5[0-2])$"
MONTH_PATTERN = r"^(19[0-9]{2}|2[01][0-9]{2}|2200)-(0[1-9]|1[0-2])$"
PERIOD_PATTERNS = {"week": WEEK_PATTERN, "month": MONTH_PATTERN}


def decimal_pattern(field: serializers.DecimalField) -> str:
    """The decimal strings `field` takes: at most its digits, no sign below a zero minimum,
    and no zero when the minimum is above it."""
    whole = (field.max_digits or 20) - (field.decimal_places or 0)
    places = field.decimal_places or 0
    fraction = rf"(\.[0-9]{{1,{places}}})?" if places else ""
    minimum = field.min_value
    if minimum is None:
        return rf"^-?(0|[1-9][0-9]{{0,{whole - 1}}}){fraction}$"
    if minimum > 0 and places:
        below_one = rf"0\.[1-9][0-9]{{0,{places - 1}}}"
        if places > 1:
            below_one += rf"|0\.0[0-9]{{0,{places - 2}}}[1-9]"
        return rf"^([1-9][0-9]{{0,{whole - 1}}}{fraction}|{below_one})$"
    return rf"^(0|[1-9][0-9]{{0,{whole - 1}}}){fraction}$"


def refine_request_field(field: Any, schema: dict[str, Any]) -> None:
    """State in the schema what DRF's own validation of `field` refuses."""
    if schema.get("type") != "string" or "enum" in schema or "$ref" in schema:
        return
    if hasattr(field, "_spectacular_annotation"):  # the field states its own schema
        return
    if schema.get("format") == "date":
        schema["pattern"] = DATE_PATTERN
    elif schema.get("format") == "date-time":
        schema["pattern"] = INSTANT_PATTERN
    elif isinstance(field, serializers.RegexField) and field.field_name in PERIOD_PATTERNS:
        schema["pattern"] = PERIOD_PATTERNS[field.field_name]
    elif isinstance(field, serializers.DecimalField):
        schema["pattern"] = decimal_pattern(field)
    elif type(field) is serializers.CharField and "pattern" not in schema:
        if field.allow_blank:
            schema["pattern"] = TEXT
        elif field.trim_whitespace:
            schema["pattern"] = NOT_BLANK_TEXT
        else:
            schema["pattern"] = NOT_EMPTY_TEXT


class ContractSchema(AutoSchema):
    """drf-spectacular's AutoSchema, stating DRF's own field rules in request bodies and
    adding the error answers each operation can give."""

    def _map_serializer_field(
        self, field: Any, direction: str, bypass_extensions: bool = False
    ) -> dict[str, Any]:
        schema: dict[str, Any] = super()._map_serializer_field(field, direction, bypass_extensions)
        if direction == "request":
            refine_request_field(field, schema)
        return schema

    def error_codes(self, operation: dict[str, Any]) -> list[str]:
        post = self.method == "POST"
        parameters = operation.get("parameters", [])
        queried = any(p.get("in") == "query" for p in parameters)
        named = any(p.get("in") == "path" for p in parameters) or queried or post
        open_to_all = all(
            isinstance(permission, AllowAny) for permission in self.view.get_permissions()
        )
        codes = []
        if post or queried:
            codes.append("400")
        if self.view.get_authenticators():
            codes.append("401")
        if not open_to_all:
            codes.append("403")
        if named:
            codes.append("404")
        if post:
            codes += ["409", "413", "415", "422"]
        codes.append("429")
        # Views that may answer 503 (a part they need is down or full) say so.
        codes += getattr(self.view, "unavailable_codes", [])
        return codes

    def get_operation(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        operation: dict[str, Any] | None = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        responses = operation["responses"]
        for code in self.error_codes(operation):
            responses.setdefault(code, _error(code))
        if self.method == "POST":
            operation.setdefault("parameters", []).append(IDEMPOTENCY_KEY)
        return operation


def document_errors(
    result: dict[str, Any], generator: Any, request: Any, public: bool
) -> dict[str, Any]:
    """The error components every operation's answers refer to."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas[ERROR_SCHEMA] = ERROR
    schemas[VALIDATION_ERROR_SCHEMA] = VALIDATION_ERROR
    return result
