"""Which tests run alone under xdist (tests/isolation.py): every `timing` test and every
`fault` test, except a fault test that says `fault(alone=False)` (it breaks only servers it
started and asserts no wall-clock bound), which runs beside the others."""

import pytest

from tests.conftest import ONE_AT_A_TIME
from tests.isolation import runs_alone


def group_of(request: pytest.FixtureRequest) -> str | None:
    marker = request.node.get_closest_marker("xdist_group")
    return str(marker.args[0]) if marker else None


@pytest.mark.fault
def test_a_fault_test_runs_alone(request: pytest.FixtureRequest) -> None:
    assert runs_alone(request.node)
    assert group_of(request) == ONE_AT_A_TIME


@pytest.mark.fault(alone=False)
def test_a_fault_test_that_breaks_only_its_own_servers_runs_beside_the_others(
    request: pytest.FixtureRequest,
) -> None:
    assert not runs_alone(request.node)
    assert group_of(request) is None


@pytest.mark.timing
@pytest.mark.fault(alone=False)
def test_a_timing_test_runs_alone_whatever_its_fault_mark_says(
    request: pytest.FixtureRequest,
) -> None:
    assert runs_alone(request.node)
    assert group_of(request) == ONE_AT_A_TIME
