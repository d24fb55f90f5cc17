"""What pull and push report while they work, in the shape of Docker's jsonmessage
stream: plain lines, per-item status lines and per-item progress bars. The CLI draws
them; the daemon can turn them into JSON messages."""

from __future__ import annotations

from typing import Protocol


class Events(Protocol):
    def line(self, text: str) -> None:
        """A message without an item ID ('latest: Pulling from library/busybox')."""

    def status(self, item: str, text: str) -> None:
        """'<item>: <text>' ('a3ed95caeb02: Pull complete')."""

    def progress(self, item: str, action: str, current: int, total: int) -> None:
        """A progress bar for an item ('Downloading', 'Extracting', 'Pushing')."""


class NoEvents:
    def line(self, text: str) -> None:
        pass

    def status(self, item: str, text: str) -> None:
        pass

    def progress(self, item: str, action: str, current: int, total: int) -> None:
        pass
