"""Docker's timestamp format: RFC 3339 with nanoseconds, UTC ("...T17:21:48.216896078Z")."""

from __future__ import annotations

import time
from datetime import UTC, datetime

ZERO_TIME = "0001-01-01T00:00:00Z"


def now_rfc3339() -> str:
    return format_ns(time.time_ns())


def format_ns(ns: int) -> str:
    seconds, frac = divmod(ns, 1_000_000_000)
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    return f"{base}.{frac:09d}Z"


def parse_rfc3339(text: str) -> float | None:
    """Seconds since the epoch, or None for the zero time or garbage."""
    if not text or text.startswith("0001-01-01"):
        return None
    text = text.rstrip("Z")
    whole, _, frac = text.partition(".")
    try:
        moment = datetime.strptime(whole, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        return None
    return moment.timestamp() + (float("0." + frac) if frac.isdigit() else 0.0)
