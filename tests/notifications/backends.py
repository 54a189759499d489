"""Test delivery backends: real file writes, with failures and hangs on cue."""

import sys
import time
from pathlib import Path
from typing import ClassVar

from apps.notifications.backends import DeliveryError, FileBackend, Message


class FlakyBackend(FileBackend):
    """Fails the first `failures` sends (transient, or permanent), then writes like the file
    backend. The counters live on the class because a backend is made per send."""

    failures: ClassVar[int] = 0
    permanent: ClassVar[bool] = False
    calls: ClassVar[int] = 0

    def send(self, message: Message) -> str:
        type(self).calls += 1
        if type(self).calls <= type(self).failures:
            raise DeliveryError("provider answered 503", permanent=type(self).permanent)
        return super().send(message)


class CueingBackend(FileBackend):
    """Writes each message, says so on stdout, and hangs at the cue (for SIGKILL tests).

    `hang_before`/`hang_after`: hang before or after writing the n-th message (1-based);
    `delay`: seconds to take per message, so that concurrent dispatchers overlap.
    """

    sends: ClassVar[int] = 0

    def __init__(
        self, directory: str | Path, hang_before: int = 0, hang_after: int = 0, delay: float = 0
    ) -> None:
        super().__init__(directory)
        self.hang_before = hang_before
        self.hang_after = hang_after
        self.delay = delay

    def send(self, message: Message) -> str:
        type(self).sends += 1
        if type(self).sends == self.hang_before:
            self._hang(message)
        time.sleep(self.delay)
        provider_id = super().send(message)
        print("sent", message.key, flush=True)
        if type(self).sends == self.hang_after:
            self._hang(message)
        return provider_id

    def _hang(self, message: Message) -> None:
        print("hanging", message.key, flush=True)
        sys.stdout.flush()
        time.sleep(120)
