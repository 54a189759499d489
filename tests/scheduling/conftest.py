"""Every scheduling test runs on the suite's frozen Monday morning."""

import pytest
import time_machine


@pytest.fixture(autouse=True)
def on_monday_morning(monday_morning: time_machine.Coordinates) -> None:
    """Every test here runs on the suite's frozen Monday morning (`tests/conftest.py`)."""
