"""Whose data an API response holds, for stores that must forget a patient on erasure."""

from typing import Any

PATIENTS_PATH = "/api/v1/patients/"


def _walk(data: Any, found: set[int]) -> None:
    if isinstance(data, list):
        for item in data:
            _walk(item, found)
    elif isinstance(data, dict):
        for key, value in data.items():
            if key == "patient" and isinstance(value, int) and not isinstance(value, bool):
                found.add(value)
            elif key == "patient" and isinstance(value, dict) and isinstance(value.get("id"), int):
                found.add(value["id"])
            else:
                _walk(value, found)


def patients_named(path: str, data: Any) -> list[str]:
    """`patient:{id}` for every patient a response body names (a patient resource by its
    `id`, anything else by a `patient` field)."""
    found: set[int] = set()
    _walk(data, found)
    if path.startswith(PATIENTS_PATH) and isinstance(data, dict):
        if isinstance(data.get("id"), int):
            found.add(data["id"])
        for row in data.get("results") or []:
            if isinstance(row, dict) and isinstance(row.get("id"), int):
                found.add(row["id"])
    return [f"patient:{pk}" for pk in sorted(found)]
