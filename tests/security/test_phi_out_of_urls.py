"""No phone number in a URL the console makes, nor in the access logs of the proxy and the
web process as the Procfile runs them (security issue: PHI in URLs and logs)."""

import http.client
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import subprocess_env
from tests.servers import free_port, wait_until

ROOT = Path(__file__).resolve().parents[2]
PHONE = "9812345678"


def procfile(name: str) -> str:
    prefix = f"{name}:"
    line = next(
        line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith(prefix)
    )
    return line.removeprefix(prefix).strip()


@pytest.fixture(autouse=True)
def monday_morning() -> None:
    """Real time here (not the security tests' frozen Monday): the test waits for servers."""


def get(port: int, path: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path, headers={"Host": "acme.localhost"})
        return conn.getresponse().status
    except OSError:
        return 0
    finally:
        conn.close()


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_the_web_processes_log_requests_without_their_query_strings(
    django_db_setup: Any, tmp_path: Path
) -> None:
    port = free_port()
    # nginx's workers (nobody, when the suite runs as root) must enter it: not under tmp_path.
    local = Path(tempfile.mkdtemp(prefix="mymedic-procfile-"))
    local.chmod(0o755)
    env = {
        **subprocess_env(),
        "PORT": str(port),
        "MYMEDIC_WEB_BIND": f"127.0.0.1:{free_port()}",
        "MYMEDIC_LOCAL_DIR": str(local),
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
    }
    output = tmp_path / "web.log"
    processes = []
    try:
        with output.open("w") as sink:
            try:
                for name in ("web", "proxy"):
                    processes.append(
                        subprocess.Popen(
                            ["/bin/bash", "-c", f"exec {procfile(name)}"],
                            cwd=ROOT,
                            env=env,
                            stdout=sink,
                            stderr=subprocess.STDOUT,
                        )
                    )
                wait_until(lambda: get(port, "/healthz") == 200, 60, "the proxy and web processes")
                status = get(port, f"/api/v1/patients/?phone={PHONE}")
            finally:
                for process in reversed(processes):
                    process.send_signal(signal.SIGTERM)
                    process.wait(30)
        log = output.read_text()
        proxy_log = (local / "nginx" / "access.log").read_text()  # complete: nginx has stopped
    finally:
        shutil.rmtree(local)

    assert status == 401
    assert re.search(r"GET /api/v1/patients/ 401 ", log), log
    assert '"GET /api/v1/patients/ HTTP/1.1" 401' in proxy_log
    assert PHONE not in log + proxy_log
