"""The integration node under test: the real `mllp_listen` process on a free loopback port,
against the test database, and a committed tenant with an inbound channel."""

import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django_tenants.utils import schema_context

from apps.integration.commands import channel_add
from apps.integration.models import Channel
from apps.integration.supervisor import is_applier
from apps.tenants.models import Tenant
from tests.conftest import subprocess_env
from tests.servers import free_port, stop, wait_until


def accepts(port: int) -> bool:
    """Whether something accepts connections on the loopback `port`."""
    import socket

    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def children_of(pid: int) -> list[int]:
    """The ids of the processes whose parent is `pid` (zombies included)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except (FileNotFoundError, ProcessLookupError):
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def listeners_of(pid: int) -> list[int]:
    """The listener processes the supervisor `pid` runs (its children but the applier)."""
    return [child for child in children_of(pid) if not is_applier(child)]


def applier_of(pid: int) -> int | None:
    """The applier process the supervisor `pid` runs, if one runs."""
    return next((child for child in children_of(pid) if is_applier(child)), None)


def listener_log(port: int) -> Path:
    """Where the listener on `port` writes its standard error."""
    return Path(tempfile.gettempdir()) / f"mllp-{port}.log"


def start_listener(**env: str) -> tuple[subprocess.Popen[bytes], int]:
    """`manage.py mllp_listen` on a free port; stop it with `stop_listener`."""
    port = free_port()
    log = listener_log(port)
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "mllp_listen"],
            env=subprocess_env(MYMEDIC_MLLP_PORT=str(port), **env),
            stdout=subprocess.DEVNULL,
            stderr=output,
        )
    try:
        wait_until(lambda: accepts(port) or process.poll() is not None, 30, "the MLLP listener")
        assert process.poll() is None, log.read_text()[-2000:]
    except AssertionError:
        stop_listener(process)
        raise
    return process, port


def stop_listener(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM by PID (SIGKILL after 5 s)."""
    stop(process, 5)


@pytest.fixture(scope="module")
def listener() -> Iterator[int]:
    """The port of a listener running for the module's tests; stopped by PID afterwards."""
    process, port = start_listener()
    try:
        yield port
    finally:
        stop_listener(process)


@pytest.fixture
def node(committed_tenant: Tenant, django_db_blocker: Any) -> Iterator[Tenant]:
    """The committed tenant, with the database open to this test (its writes are real)."""
    with django_db_blocker.unblock():
        yield committed_tenant


def inbound(tenant: Tenant, *, hold_on_error: bool = False, max_retries: int = 3) -> Channel:
    """A new inbound channel (each test its own facility code)."""
    with schema_context(tenant.schema_name):
        return channel_add(
            actor=None,
            name="City Hospital",
            sending_facility=f"HOSP{uuid.uuid4().hex[:8].upper()}",
            direction="inbound",
            hold_on_error=hold_on_error,
            max_retries=max_retries,
        )
