from collections.abc import Iterator

import pytest

from tests.browser.chromium import clinic_morning


@pytest.fixture(scope="module")
def ten_oclock() -> Iterator[dict[str, str]]:
    """10:00 tomorrow in the clinic, ticking, for the module: its set-up and the servers it
    starts with this environment (`tenant_site(…, **ten_oclock)`) share that clock, so a
    test that needs the rest of a clinic day passes whatever the hour it runs."""
    with clinic_morning() as env:
        yield env
