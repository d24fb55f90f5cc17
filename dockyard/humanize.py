"""Sizes, durations and timestamps printed exactly as the docker CLI prints them.

The size and duration helpers follow github.com/docker/go-units; the time helpers
follow Go's time package (RFC 3339 with nanoseconds, ``time.Time.String()``).
Only cheap built-in modules are imported: this module is loaded by ``images``.
"""

from __future__ import annotations

import time

from dockyard.errors import InvalidArgument

_DECIMAL_UNITS = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")
_BINARY_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB")


def _scale(size: float, base: float, units: tuple[str, ...]) -> tuple[float, str]:
    index = 0
    while size >= base and index < len(units) - 1:
        size /= base
        index += 1
    return size, units[index]


def human_size(size: float, precision: int = 3) -> str:
    """go-units HumanSizeWithPrecision: decimal units, ``%.*g``.

    ``docker images`` prints SIZE with precision 3 (117MB); go-units' HumanSize
    (used for VirtualSize, ``system df``) is precision 4 (116.6MB).
    """
    value, unit = _scale(float(size), 1000.0, _DECIMAL_UNITS)
    # Python's %g rounds and chooses between %e and %f exactly like Go's %g
    # when a precision is given.
    return f"{value:.{max(precision, 1)}g}{unit}"


def bytes_size(size: float) -> str:
    """go-units BytesSize: binary units with 4 significant digits (1.5GiB)."""
    value, unit = _scale(float(size), 1024.0, _BINARY_UNITS)
    return f"{value:.4g}{unit}"


def _parse_size(text: str, base: int) -> int:
    """go-units parseSize: ``(?i)^(\\d+(\\.\\d+)*) ?([kmgtp])?i?b?$``."""
    end = 0
    while end < len(text) and (text[end].isascii() and text[end].isdigit() or text[end] == "."):
        end += 1
    number, rest = text[:end], text[end:].lower()
    parts = number.split(".")
    if not number or not all(part.isdigit() for part in parts):
        raise InvalidArgument(f"invalid size: '{text}'")
    if rest.startswith(" "):
        rest = rest[1:]
    exponent = "kmgtp".find(rest[:1]) + 1 if rest[:1] and rest[:1] in "kmgtp" else 0
    rest = rest[1:] if exponent else rest
    rest = rest[1:] if rest.startswith("i") else rest
    rest = rest[1:] if rest.startswith("b") else rest
    if rest:
        raise InvalidArgument(f"invalid size: '{text}'")
    if len(parts) > 2:
        raise InvalidArgument(f'strconv.ParseFloat: parsing "{number}": invalid syntax')
    return int(float(number) * base**exponent)


def from_human_size(text: str) -> int:
    """go-units FromHumanSize: "32kB" -> 32000 (decimal units)."""
    return _parse_size(text, 1000)


def ram_in_bytes(text: str) -> int:
    """go-units RAMInBytes: "32m" -> 33554432 (binary units)."""
    return _parse_size(text, 1024)


def human_duration(seconds: float) -> str:
    """go-units HumanDuration for a duration given in seconds."""
    whole = int(seconds)
    if whole < 1:
        return "Less than a second"
    if whole == 1:
        return "1 second"
    if whole < 60:
        return f"{whole} seconds"
    minutes = int(seconds / 60)
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = int(seconds / 3600 + 0.5)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{int(seconds / 3600) // 24 // 365} years"


def time_ago(timestamp: float, now: float | None = None) -> str:
    """``docker images`` CREATED column: HumanDuration(now - t) + " ago"."""
    if now is None:
        now = time.time()
    return human_duration(now - timestamp) + " ago"
