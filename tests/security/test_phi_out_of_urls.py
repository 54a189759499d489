"""No phone number in a URL the console makes, nor in the access log of the web process as
the Procfile runs it (security issue: PHI in URLs and logs)."""

import http.client
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import subprocess_env
from tests.servers import free_port, wait_until

ROOT = Path(__file__).resolve().parents[2]
PHONE = "9812345678"


def procfile_web() -> str:
    line = next(
        line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("web:")
    )
    return line.removeprefix("web:").strip()


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
def test_the_web_process_logs_requests_without_their_query_strings(
    django_db_setup: Any, tmp_path: Path
) -> None:
    port = free_port()
    output = tmp_path / "web.log"
    with output.open("w") as sink:
        web = subprocess.Popen(
            ["/bin/bash", "-c", f"exec {procfile_web()}"],
            cwd=ROOT,
            env={
                **subprocess_env(),
                "PORT": str(port),
                "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
            },
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_until(lambda: get(port, "/healthz") == 200, 30, "the web process")
            status = get(port, f"/api/v1/patients/?phone={PHONE}")
        finally:
            web.send_signal(signal.SIGTERM)
            web.wait(10)
    log = output.read_text()

    assert status == 401
    assert re.search(r"GET /api/v1/patients/ 401 ", log), log
    assert PHONE not in log
