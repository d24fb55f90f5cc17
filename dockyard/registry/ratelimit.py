"""Failed sign-ins per client address: too many in a minute get 429 TOOMANYREQUESTS.

The failures are rows in the metadata database, so every node of a registry counts
the same failures: a client cannot get ``limit`` guesses per node by spreading its
attempts over the load balancer. Times are wall-clock seconds (nodes share them).
"""

from __future__ import annotations

import time

from dockyard.registry.metadata import Metadata

WINDOW = 60.0
MAX_FAILURES = 20
PRUNE_EVERY = 256  # failures recorded by this process between two prunes of old rows


class FailureLimiter:
    def __init__(self, meta: Metadata, window: float = WINDOW, limit: int = MAX_FAILURES) -> None:
        self.meta = meta
        self.window = window
        self.limit = limit
        self._recorded = 0

    def blocked(self, key: str) -> bool:
        row = self.meta.one(
            "SELECT COUNT(*) FROM signin_failures WHERE client = ? AND at > ?",
            key,
            time.time() - self.window,
        )
        return row is not None and row[0] >= self.limit

    def failed(self, key: str) -> None:
        now = time.time()
        with self.meta.write() as db:
            db.execute("INSERT INTO signin_failures (client, at) VALUES (?, ?)", (key, now))
            self._recorded += 1
            if self._recorded % PRUNE_EVERY == 0:
                db.execute("DELETE FROM signin_failures WHERE at <= ?", (now - self.window,))
