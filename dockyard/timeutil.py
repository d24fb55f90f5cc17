"""RFC 3339 timestamps as Docker writes and reads them (nanoseconds, UTC 'Z').

Pure integer calendar arithmetic: no datetime import on the CLI's start-up path.
"""

from __future__ import annotations

import time

from dockyard.errors import InvalidArgument

ZERO_TIME = "0001-01-01T00:00:00Z"


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


def parse_rfc3339_or_zero(text: str) -> float:
    """Seconds since the epoch, or 0.0 for an empty, zero or malformed value (Go's zero time
    is what Docker shows for those); for timestamps read from configs from outside."""
    if not text or text.startswith("0001-01-01"):
        return 0.0
    try:
        return parse_rfc3339(text)
    except InvalidArgument:
        return 0.0


def now_rfc3339() -> str:
    return format_rfc3339_nano(time.time_ns())
