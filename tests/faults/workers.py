"""Celery workers started from the Procfile's lines, on the test database and Redis.

Each runs in its own session (process group) so that stopping it by its PID also stops its
pool's processes; `running_worker` stops it on the way out, failures included.
"""

import contextlib
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import subprocess_env

ROOT = Path(__file__).resolve().parents[2]
READY_SECONDS = 60


def procfile_command(process: str, app: str = "mymedic") -> list[str]:
    """The Procfile's command for `process`, run by this interpreter, with Celery app `app`."""
    lines = (ROOT / "Procfile").read_text(encoding="utf-8").splitlines()
    [line] = [line for line in lines if line.startswith(f"{process}:")]
    words = shlex.split(line.split(":", 1)[1])
    assert words[:3] == ["celery", "-A", "mymedic"], words
    return [sys.executable, "-m", "celery", "-A", app, *words[3:]]


class Worker:
    def __init__(self, process: str, log: Path, app: str = "mymedic", **env: str) -> None:
        self.log = log
        self.handle = log.open("ab")
        self.popen = subprocess.Popen(
            procfile_command(process, app),
            cwd=ROOT,
            env=subprocess_env(**env),
            stdout=self.handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.pid = self.popen.pid

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_SECONDS
        while time.monotonic() < deadline:
            if " ready." in self.output():
                return
            if self.popen.poll() is not None:
                raise AssertionError(f"the worker exited:\n{self.output()[-3000:]}")
            time.sleep(0.1)
        raise AssertionError(f"the worker was not ready in time:\n{self.output()[-3000:]}")

    def terminate(self, seconds: float) -> int:
        """SIGTERM (warm shutdown); returns the exit code, waiting at most `seconds`."""
        self.popen.send_signal(signal.SIGTERM)
        return self.popen.wait(seconds)

    def kill(self) -> None:
        """SIGKILL to the worker's process group (its pool dies with it)."""
        if self.popen.poll() is None or _group_alive(self.pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGKILL)
        self.popen.wait(10)
        self.handle.close()


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@contextmanager
def running_worker(process: str, log: Path, app: str = "mymedic", **env: str) -> Iterator[Worker]:
    worker = Worker(process, log, app, **env)
    try:
        worker.wait_ready()
        yield worker
    finally:
        worker.kill()
