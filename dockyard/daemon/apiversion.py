"""API versions: what /_ping advertises and which /v1.NN/ prefixes are accepted."""

from __future__ import annotations

import os
import re

# What Docker 20.10 (the reference engine) serves; the docker CLI negotiates down to it.
DEFAULT_API_VERSION = "1.41"
MIN_API_VERSION = "1.12"
# Prefixes up to this are accepted (the docker SDK pins 1.45 without negotiating).
MAX_ACCEPTED_VERSION = "1.51"

PREFIX_RE = re.compile(r"^/v(\d+)\.(\d+)(/.*)$")


def advertised() -> str:
    """The version /_ping and /version report ($DOCKYARD_API_VERSION overrides)."""
    return os.environ.get("DOCKYARD_API_VERSION") or DEFAULT_API_VERSION


def parse(version: str) -> tuple[int, int]:
    major, _, minor = version.partition(".")
    return int(major), int(minor or 0)


def split_prefix(path: str) -> tuple[str | None, str]:
    """("1.41", "/images/json") for "/v1.41/images/json"; (None, path) without a prefix."""
    match = PREFIX_RE.match(path)
    if match is None:
        return None, path
    return f"{int(match.group(1))}.{int(match.group(2))}", match.group(3)


def check(version: str) -> str | None:
    """Docker's error text when the client's version is out of range, else None."""
    if parse(version) > parse(MAX_ACCEPTED_VERSION):
        return (
            f"client version {version} is too new. Maximum supported API version is"
            f" {MAX_ACCEPTED_VERSION}"
        )
    if parse(version) < parse(MIN_API_VERSION):
        return (
            f"client version {version} is too old. Minimum supported API version is"
            f" {MIN_API_VERSION}, please upgrade your client to a newer version"
        )
    return None


def at_least(request_version: str | None, wanted: str) -> bool:
    """True when the request speaks wanted or newer (no prefix: the advertised version)."""
    return parse(request_version or advertised()) >= parse(wanted)
