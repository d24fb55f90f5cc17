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


# --- calendar arithmetic (proleptic Gregorian, no imports) -------------------


def _days_from_civil(year: int, month: int, day: int) -> int:
    year -= month <= 2
    era = year // 400
    yoe = year - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def _civil_from_days(days: int) -> tuple[int, int, int]:
    days += 719468
    era = days // 146097
    doe = days - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (month <= 2), month, day


def _days_in_month(year: int, month: int) -> int:
    if month == 2:
        leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
        return 29 if leap else 28
    return 30 if month in (4, 6, 9, 11) else 31


def _digits(text: str, start: int, count: int) -> int:
    part = text[start : start + count]
    if len(part) != count or not (part.isascii() and part.isdigit()):
        raise ValueError
    return int(part)


def parse_rfc3339_ns(text: str) -> int:
    """Parse an RFC 3339 timestamp (optional fraction up to nanoseconds, ``Z``
    or ``±hh:mm``) into integer nanoseconds since the Unix epoch."""
    try:
        year = _digits(text, 0, 4)
        month = _digits(text, 5, 2)
        day = _digits(text, 8, 2)
        hour = _digits(text, 11, 2)
        minute = _digits(text, 14, 2)
        second = _digits(text, 17, 2)
        if text[4] != "-" or text[7] != "-" or text[10] not in "Tt" or text[13] != ":":
            raise ValueError
        if text[16] != ":":
            raise ValueError
        pos = 19
        nanos = 0
        if pos < len(text) and text[pos] in ".,":
            end = pos + 1
            while end < len(text) and "0" <= text[end] <= "9":
                end += 1
            fraction = text[pos + 1 : end]
            if not fraction:
                raise ValueError
            nanos = int((fraction + "000000000")[:9])
            pos = end
        zone = text[pos:]
        if zone in ("Z", "z"):
            offset = 0
        elif len(zone) == 6 and zone[0] in "+-" and zone[3] == ":":
            offset = _digits(zone, 1, 2) * 3600 + _digits(zone, 4, 2) * 60
            if zone[0] == "-":
                offset = -offset
        else:
            raise ValueError
        if not (1 <= month <= 12 and 1 <= day <= _days_in_month(year, month)):
            raise ValueError
        if hour > 23 or minute > 59 or second > 59:
            raise ValueError
    except (ValueError, IndexError):
        raise InvalidArgument(
            f'parsing time "{text}" as "2006-01-02T15:04:05Z07:00": cannot parse'
        ) from None
    seconds = _days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second
    return (seconds - offset) * 1_000_000_000 + nanos


def parse_rfc3339(text: str) -> float:
    """Parse an RFC 3339 timestamp into seconds since the Unix epoch."""
    ns = parse_rfc3339_ns(text)
    return ns // 1_000_000_000 + (ns % 1_000_000_000) / 1e9


def _split_seconds(seconds: int) -> tuple[int, int, int, int, int, int]:
    days, rest = divmod(seconds, 86400)
    year, month, day = _civil_from_days(days)
    return year, month, day, rest // 3600, rest // 60 % 60, rest % 60


def format_rfc3339_nano(ts_ns: int) -> str:
    """Go's ``t.UTC().Format(time.RFC3339Nano)``: fraction without trailing zeros."""
    seconds, nanos = divmod(int(ts_ns), 1_000_000_000)
    year, month, day, hour, minute, second = _split_seconds(seconds)
    text = f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}"
    if nanos:
        text += "." + f"{nanos:09d}".rstrip("0")
    return text + "Z"


def _zone(seconds: int, local: bool) -> tuple[int, str]:
    """(offset seconds east of UTC, zone abbreviation) for a Unix time."""
    if not local:
        return 0, "UTC"
    tm = time.localtime(seconds)
    return tm.tm_gmtoff, tm.tm_zone or ""


def format_rfc3339(timestamp: float, local: bool = False) -> str:
    """Go's ``time.Unix(t, 0).Format(time.RFC3339)`` ("2026-11-28T17:21:50Z").

    UTC by default; ``local=True`` uses the process time zone as Go's
    ``time.Local`` does (``docker history -H=false``).
    """
    seconds = int(timestamp // 1)
    offset, _ = _zone(seconds, local)
    year, month, day, hour, minute, second = _split_seconds(seconds + offset)
    text = f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}"
    if offset == 0:
        return text + "Z"
    sign = "+" if offset > 0 else "-"
    offset = abs(offset)
    return f"{text}{sign}{offset // 3600:02d}:{offset // 60 % 60:02d}"


def format_go_time(timestamp: float, local: bool = False) -> str:
    """Go's ``time.Unix(t, 0).String()`` ("2026-11-28 17:21:50 +0000 UTC"),
    the CreatedAt field of ``docker images --format``."""
    seconds = int(timestamp // 1)
    offset, zone = _zone(seconds, local)
    year, month, day, hour, minute, second = _split_seconds(seconds + offset)
    sign = "+" if offset >= 0 else "-"
    off = abs(offset)
    zone_text = zone or f"{sign}{off // 3600:02d}{off // 60 % 60:02d}"
    return (
        f"{year:04d}-{month:02d}-{day:02d} {hour:02d}:{minute:02d}:{second:02d} "
        f"{sign}{off // 3600:02d}{off // 60 % 60:02d} {zone_text}"
    )
