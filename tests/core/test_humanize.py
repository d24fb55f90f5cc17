"""dockyard.humanize against docker/go-units and the docker transcript."""

from __future__ import annotations

import pytest

from dockyard.errors import InvalidArgument
from dockyard.humanize import (
    bytes_size,
    from_human_size,
    human_duration,
    human_size,
    ram_in_bytes,
    time_ago,
)
from dockyard.timeutil import (
    format_go_time,
    format_rfc3339,
    format_rfc3339_nano,
    parse_rfc3339,
    parse_rfc3339_ns,
)

KB, MB, GB, TB, PB = 1000, 1000**2, 1000**3, 1000**4, 1000**5
KiB, MiB, GiB, TiB, PiB = 1024, 1024**2, 1024**3, 1024**4, 1024**5


@pytest.mark.parametrize(
    ("size", "precision", "expected"),
    [
        # docker images SIZE (precision 3) and VirtualSize / system df (4)
        (116609356, 3, "117MB"),
        (116609356, 4, "116.6MB"),
        (116609368, 3, "117MB"),
        (1986000, 3, "1.99MB"),
        (1986000, 4, "1.986MB"),
        (12, 3, "12B"),
        (13, 3, "13B"),
        (0, 3, "0B"),
        (302, 4, "302B"),
        (235218712, 4, "235.2MB"),
        (999, 3, "999B"),
        (999_900, 3, "1e+03kB"),  # Go's %.3g rounds into the exponent form too
        # go-units TestHumanSize (HumanSize = precision 4)
        (1000, 4, "1kB"),
        (1024, 4, "1.024kB"),
        (1000000, 4, "1MB"),
        (1048576, 4, "1.049MB"),
        (2 * MB, 4, "2MB"),
        (3.42 * GB, 4, "3.42GB"),
        (5.372 * TB, 4, "5.372TB"),
        (2.22 * PB, 4, "2.22PB"),
        (10000000000000 * PB, 4, "1e+04YB"),
    ],
)
def test_human_size(size: float, precision: int, expected: str) -> None:
    assert human_size(size, precision) == expected


def test_human_size_default_precision_is_docker_images() -> None:
    assert human_size(116609356) == "117MB"


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        (1024, "1KiB"),
        (1024 * 1024, "1MiB"),
        (2 * MiB, "2MiB"),
        (3.42 * GiB, "3.42GiB"),
        (5.372 * TiB, "5.372TiB"),
        (2.22 * PiB, "2.22PiB"),
        (KiB * KiB * KiB * KiB * KiB * PiB, "1.049e+06YiB"),
        (1.5 * GiB, "1.5GiB"),
        (25275613184, "23.54GiB"),  # docker info: Total Memory
        (100, "100B"),
    ],
)
def test_bytes_size(size: float, expected: str) -> None:
    assert bytes_size(size) == expected


MINUTE, HOUR, DAY = 60, 3600, 86400
WEEK, MONTH, YEAR = 7 * DAY, 30 * DAY, 365 * DAY


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        # go-units TestHumanDuration
        (0.45, "Less than a second"),
        (1, "1 second"),
        (45, "45 seconds"),
        (46, "46 seconds"),
        (59, "59 seconds"),
        (60, "About a minute"),
        (3 * MINUTE, "3 minutes"),
        (35 * MINUTE, "35 minutes"),
        (35 * MINUTE + 40, "35 minutes"),
        (45 * MINUTE, "45 minutes"),
        (45 * MINUTE + 40, "45 minutes"),
        (46 * MINUTE, "46 minutes"),
        (59 * MINUTE, "59 minutes"),
        (HOUR, "About an hour"),
        (HOUR + 29 * MINUTE, "About an hour"),
        (HOUR + 31 * MINUTE, "2 hours"),
        (HOUR + 59 * MINUTE, "2 hours"),
        (3 * HOUR, "3 hours"),
        (3 * HOUR + 29 * MINUTE, "3 hours"),
        (3 * HOUR + 31 * MINUTE, "4 hours"),
        (3 * HOUR + 59 * MINUTE, "4 hours"),
        (3 * HOUR + 60 * MINUTE, "4 hours"),
        (24 * HOUR, "24 hours"),
        (DAY + 12 * HOUR, "36 hours"),
        (2 * DAY, "2 days"),
        (7 * DAY, "7 days"),
        (13 * DAY + 5 * HOUR, "13 days"),
        (2 * WEEK, "2 weeks"),
        (2 * WEEK + 4 * DAY, "2 weeks"),
        (3 * WEEK, "3 weeks"),
        (4 * WEEK, "4 weeks"),
        (4 * WEEK + 3 * DAY, "4 weeks"),
        (MONTH, "4 weeks"),
        (MONTH + 2 * WEEK, "6 weeks"),
        (2 * MONTH, "2 months"),
        (2 * MONTH + 2 * WEEK, "2 months"),
        (3 * MONTH, "3 months"),
        (3 * MONTH + WEEK, "3 months"),
        (5 * MONTH + 2 * WEEK, "5 months"),
        (13 * MONTH, "13 months"),
        (23 * MONTH, "23 months"),
        (24 * MONTH, "24 months"),
        (24 * MONTH + 2 * WEEK, "2 years"),
        (3 * YEAR + 2 * MONTH, "3 years"),
        # from the transcript
        (0.9, "Less than a second"),
        (34 * MINUTE + 59, "34 minutes"),
        (-5, "Less than a second"),
    ],
)
def test_human_duration(seconds: float, expected: str) -> None:
    assert human_duration(seconds) == expected


def test_time_ago() -> None:
    created = parse_rfc3339("2026-11-28T16:47:27.855031758Z")
    now = parse_rfc3339("2026-11-28T17:21:50Z")
    assert time_ago(created, now) == "34 minutes ago"
    assert time_ago(now, now) == "Less than a second ago"
    assert time_ago(now - 1.2, now) == "1 second ago"


def test_parse_rfc3339_nanoseconds() -> None:
    ns = parse_rfc3339_ns("2026-11-28T16:47:27.855031758Z")
    assert ns % 1_000_000_000 == 855031758
    assert format_rfc3339_nano(ns) == "2026-11-28T16:47:27.855031758Z"
    assert parse_rfc3339("1970-01-01T00:00:00Z") == 0
    assert parse_rfc3339("1970-01-01T00:00:01.5Z") == 1.5


def test_parse_rfc3339_offsets() -> None:
    utc = parse_rfc3339_ns("2026-11-28T17:21:50Z")
    assert parse_rfc3339_ns("2026-11-28T18:21:50+01:00") == utc
    assert parse_rfc3339_ns("2026-11-28T12:51:50-04:30") == utc
    assert parse_rfc3339_ns("2026-11-28t17:21:50z") == utc


def test_parse_rfc3339_before_epoch() -> None:
    assert parse_rfc3339("0001-01-01T00:00:00Z") == -62135596800
    assert format_rfc3339_nano(parse_rfc3339_ns("0001-01-01T00:00:00Z")) == ("0001-01-01T00:00:00Z")
    ns = parse_rfc3339_ns("1969-12-31T23:59:59.25Z")
    assert ns == -750_000_000
    assert format_rfc3339_nano(ns) == "1969-12-31T23:59:59.25Z"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "2026-11-28",
        "2026-11-28T17:21:50",
        "2026-13-28T17:21:50Z",
        "2026-02-30T17:21:50Z",
        "2026-11-28T24:00:00Z",
        "2026-11-28T17:21:50.Z",
        "2026-11-28T17:21:50+0100",
        "2026-11-28 17:21:50Z",
    ],
)
def test_parse_rfc3339_rejects(text: str) -> None:
    with pytest.raises(InvalidArgument):
        parse_rfc3339(text)


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-28T17:21:49.031968705Z",
        "2026-11-28T17:21:50.4Z",
        "2026-11-28T17:20:23.85684Z",
        "2024-02-29T00:00:00Z",
        "2000-03-01T12:00:00.000000001Z",
    ],
)
def test_rfc3339_nano_round_trip(text: str) -> None:
    assert format_rfc3339_nano(parse_rfc3339_ns(text)) == text


def test_format_rfc3339_nano_trims_zeros() -> None:
    assert format_rfc3339_nano(1_764_350_510_100_000_000) == "2025-11-28T17:21:50.1Z"
    assert format_rfc3339_nano(1_764_350_510_000_000_000) == "2025-11-28T17:21:50Z"


def test_format_rfc3339_and_go_time_utc() -> None:
    # docker history -H=false CREATED AT and docker images CreatedAt
    ts = parse_rfc3339("2026-11-28T17:21:50.441865492Z")
    assert format_rfc3339(ts) == "2026-11-28T17:21:50Z"
    assert format_go_time(ts) == "2026-11-28 17:21:50 +0000 UTC"
    assert format_go_time(parse_rfc3339("2026-11-28T16:47:26Z")) == (
        "2026-11-28 16:47:26 +0000 UTC"
    )


def test_format_local_time_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    time = pytest.importorskip("time")
    if not hasattr(time, "tzset"):
        pytest.skip("no tzset")
    monkeypatch.setenv("TZ", "CET-1")
    time.tzset()
    try:
        ts = parse_rfc3339("2026-11-28T17:21:50Z")
        assert format_rfc3339(ts, local=True) == "2026-11-28T18:21:50+01:00"
        assert format_go_time(ts, local=True) == "2026-11-28 18:21:50 +0100 CET"
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("32", 32),
        ("32b", 32),
        ("32B", 32),
        ("32k", 32 * KB),
        ("32K", 32 * KB),
        ("32kb", 32 * KB),
        ("32Kb", 32 * KB),
        ("32Mb", 32 * MB),
        ("32Gb", 32 * GB),
        ("32Tb", 32 * TB),
        ("32Pb", 32 * PB),
        ("32.5kB", 32500),
        ("32.5 kB", 32500),
        ("32.5 B", 32),
        ("0.3 K", 300),
    ],
)
def test_from_human_size(text: str, expected: int) -> None:
    assert from_human_size(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("32", 32),
        ("32k", 32 * KiB),
        ("32Kib", 32 * KiB),
        ("32KIB", 32 * KiB),
        ("32Mb", 32 * MiB),
        ("32PB", 32 * PiB),
        ("32P", 32 * PiB),
        ("32.3", 32),
        ("32.3 mb", int(32.3 * MiB)),
        ("0.3MB", int(0.3 * MiB)),
    ],
)
def test_ram_in_bytes(text: str, expected: int) -> None:
    assert ram_in_bytes(text) == expected


@pytest.mark.parametrize("text", ["", "hello", "-32", ".3kB", " 32 ", "32m b", "32bm"])
def test_size_parsing_errors(text: str) -> None:
    with pytest.raises(InvalidArgument):
        from_human_size(text)
    with pytest.raises(InvalidArgument):
        ram_in_bytes(text)
