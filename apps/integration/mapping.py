"""The interface engine's mapping: declarative JSON that says which HL7 field feeds which
command field. Tenant-supplied, so it is data, never code: validated against a fixed shape
(known targets, field paths of a fixed grammar, bounded sizes), and read by one extractor.

A mapping:

    {"triggers": {"A04": "register", ...},
     "fields": {"name": {"paths": ["PID.F5.R1.C2", "PID.F5.R1.C3", "PID.F5.R1.C1"]},
                "phone": {"path": "PID.F13.R1.C1", "repeat": "first_nonempty"},
                "date_of_birth": {"path": "PID.F7.R1.C1", "format": "date"},
                "identifier": {"path": "PID.F3.R1.C1", "table": {"old": "new"}}}}

`path` is `SEG.F<n>[.R<n>[.C<n>[.S<n>]]]`; `paths` joins the non-empty values with a space;
`repeat` is `first` (the repetition the path names, R1 by default) or `first_nonempty` (the
first repetition of the field that has a value at that component); `table` is a code table
(a value not in it passes unchanged unless `strict`); `default` fills an empty value;
`required` makes an empty value an error; `format: date` reads YYYYMMDD.
"""

import json
import re
from dataclasses import dataclass
from datetime import date
from typing import Any

import hl7

from apps.integration.parsing import field, repetitions

ACTIONS = ("register", "admit", "update", "discharge", "merge")
TARGETS = ("identifier", "prior_identifier", "name", "phone", "date_of_birth")
FIELD_KEYS = {"path", "paths", "repeat", "table", "strict", "default", "required", "format"}
PATH = re.compile(r"^[A-Z][A-Z0-9]{2}\.F\d{1,3}(\.R\d{1,2}(\.C\d{1,2}(\.S\d{1,2})?)?)?$")
MAX_TABLE_ENTRIES = 500
MAX_TEXT = 200
MAX_DOCUMENT = 64 * 1024

DEFAULT_MAPPING: dict[str, Any] = {
    "triggers": {
        "A01": "admit",
        "A04": "register",
        "A28": "register",
        "A08": "update",
        "A31": "update",
        "A03": "discharge",
        "A40": "merge",
    },
    "fields": {
        "identifier": {"path": "PID.F3.R1.C1", "required": True},
        "prior_identifier": {"path": "MRG.F1.R1.C1"},
        "name": {"paths": ["PID.F5.R1.C2", "PID.F5.R1.C3", "PID.F5.R1.C1"]},
        "phone": {"path": "PID.F13.R1.C1", "repeat": "first_nonempty"},
        "date_of_birth": {"path": "PID.F7.R1.C1", "format": "date"},
    },
}


class MappingInvalid(Exception):
    """The mapping document does not have the shape above; `errors` says where."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


class MappingError(Exception):
    """A message that the mapping cannot turn into a command (our own wording, no values)."""


class NotHandled(MappingError):
    """A message type or trigger event that is not handled at all (an application ACK says
    `AR`, refused, rather than `AE`)."""


def validate(document: Any) -> dict[str, Any]:
    """The mapping, checked; raises MappingInvalid naming every problem."""
    errors: list[str] = []
    if len(json.dumps(document)) > MAX_DOCUMENT:
        raise MappingInvalid([f"A mapping is at most {MAX_DOCUMENT} characters of JSON."])
    if not isinstance(document, dict) or set(document) - {"triggers", "fields"}:
        raise MappingInvalid(["A mapping is an object with `triggers` and `fields`."])
    triggers = document.get("triggers")
    if not isinstance(triggers, dict) or not triggers:
        errors.append("`triggers` maps event codes (A04) to actions.")
    else:
        for trigger, action in triggers.items():
            if not re.fullmatch(r"[A-Z][0-9A-Z]{2}", str(trigger)):
                errors.append(f"triggers: `{str(trigger)[:10]}` is not an event code like A04.")
            if action not in ACTIONS:
                errors.append(f"triggers.{trigger}: the action is one of {', '.join(ACTIONS)}.")
    fields = document.get("fields")
    if not isinstance(fields, dict):
        errors.append("`fields` maps targets to field specifications.")
    else:
        for target, spec in fields.items():
            errors.extend(_field_errors(str(target)[:30], spec))
        if "identifier" not in fields:
            errors.append("fields: `identifier` is needed to know the patient.")
    if errors:
        raise MappingInvalid(errors)
    return document


def _field_errors(target: str, spec: Any) -> list[str]:
    where = f"fields.{target}"
    if target not in TARGETS:
        return [f"{where}: the targets are {', '.join(TARGETS)}."]
    if not isinstance(spec, dict) or set(spec) - FIELD_KEYS:
        return [f"{where}: a field has only {', '.join(sorted(FIELD_KEYS))}."]
    errors = []
    paths = [spec["path"]] if "path" in spec else spec.get("paths")
    if (
        not isinstance(paths, list)
        or not 1 <= len(paths) <= 5
        or ("path" in spec) == ("paths" in spec)
    ):
        errors.append(f"{where}: give one `path` or a list of up to five `paths`.")
    else:
        errors += [
            f"{where}: `{str(p)[:30]}` is not a path like PID.F5.R1.C1."
            for p in paths
            if not (isinstance(p, str) and PATH.match(p))
        ]
    if spec.get("repeat", "first") not in ("first", "first_nonempty"):
        errors.append(f"{where}: `repeat` is first or first_nonempty.")
    table = spec.get("table", {})
    if not isinstance(table, dict) or len(table) > MAX_TABLE_ENTRIES:
        errors.append(f"{where}: `table` is an object of at most {MAX_TABLE_ENTRIES} codes.")
    elif any(
        not isinstance(v, str) or len(k) > MAX_TEXT or len(v) > MAX_TEXT for k, v in table.items()
    ):
        errors.append(f"{where}: table codes and values are short strings.")
    if not isinstance(spec.get("default", ""), str) or len(spec.get("default", "")) > MAX_TEXT:
        errors.append(f"{where}: `default` is a short string.")
    for flag in ("required", "strict"):
        if not isinstance(spec.get(flag, False), bool):
            errors.append(f"{where}: `{flag}` is true or false.")
    if spec.get("format", "text") not in ("text", "date"):
        errors.append(f"{where}: `format` is text or date.")
    return errors


@dataclass(frozen=True)
class Extracted:
    action: str
    trigger: str
    values: dict[str, Any]


def _one(message: hl7.Message, path: str, repeat: str) -> str:
    if repeat == "first_nonempty":
        segment_field = ".".join(path.split(".")[:2])
        for number in range(1, repetitions(message, segment_field) + 1):
            if value := field(message, _REPETITION.sub(f".R{number}", path, count=1)):
                return value
        return ""
    return field(message, path)


_REPETITION = re.compile(r"\.R\d+")


def _hl7_date(value: str, target: str) -> date:
    digits = value[:8]
    try:
        return date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        raise MappingError(f"{target} is not a date (YYYYMMDD).") from None


def extract(message: hl7.Message, trigger: str, mapping: dict[str, Any]) -> Extracted:
    """What the mapping makes of `message`: the action for its trigger and the values."""
    action = mapping["triggers"].get(trigger)
    if action is None:
        raise NotHandled(f"Event {trigger[:10]} is not handled by this channel's mapping.")
    values: dict[str, Any] = {}
    for target, spec in mapping["fields"].items():
        repeat = spec.get("repeat", "first")
        paths = [spec["path"]] if "path" in spec else spec["paths"]
        value = " ".join(v for v in (_one(message, p, repeat) for p in paths) if v)
        table = spec.get("table", {})
        if value and table:
            if value in table:
                value = table[value]
            elif spec.get("strict"):
                raise MappingError(f"{target}: the code is not in the code table.")
        value = value or spec.get("default", "")
        if not value:
            if spec.get("required"):
                raise MappingError(f"{target} is empty.")
            continue
        values[target] = _hl7_date(value, target) if spec.get("format") == "date" else value
    return Extracted(action=action, trigger=trigger, values=values)
