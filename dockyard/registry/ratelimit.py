"""Failed sign-ins per client address: too many in a minute get 429 TOOMANYREQUESTS."""

from __future__ import annotations

import time
from collections import deque

WINDOW = 60.0
MAX_FAILURES = 20


class FailureLimiter:
    def __init__(self, window: float = WINDOW, limit: int = MAX_FAILURES) -> None:
        self.window = window
        self.limit = limit
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, key: str, now: float) -> deque[float]:
        failures = self._failures.setdefault(key, deque())
        while failures and failures[0] < now - self.window:
            failures.popleft()
        return failures

    def blocked(self, key: str) -> bool:
        return len(self._recent(key, time.monotonic())) >= self.limit

    def failed(self, key: str) -> None:
        now = time.monotonic()
        self._recent(key, now).append(now)
        if len(self._failures) > 10000:
            for stale in [
                k for k, v in self._failures.items() if not v or v[-1] < now - self.window
            ]:
                del self._failures[stale]
