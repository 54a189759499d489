"""`make bench --only hl7 --hl7-modes …`: the acknowledgment modes a run takes."""

import pytest
from django.core.management.base import CommandError

from apps.bench.management.commands.bench import _hl7_modes


def test_the_modes_given_are_read() -> None:
    assert _hl7_modes("original,enhanced") == ["original", "enhanced"]
    assert _hl7_modes(" enhanced ") == ["enhanced"]


@pytest.mark.parametrize("given", ["enhancd", "", "original,AL"])
def test_a_mode_not_known_is_refused_not_skipped(given: str) -> None:
    with pytest.raises(CommandError, match="--hl7-modes takes original and enhanced"):
        _hl7_modes(given)
