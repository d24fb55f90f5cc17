"""WWW-Authenticate challenges (RFC 7235) as registries send them."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_PARAM = re.compile(r'\s*([A-Za-z0-9_.-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*,?')


@dataclass(frozen=True)
class Challenge:
    scheme: str  # lower case: "bearer" or "basic"
    params: dict[str, str] = field(default_factory=dict)

    @property
    def realm(self) -> str:
        return self.params.get("realm", "")


def parse_challenge(header: str) -> Challenge | None:
    """The first challenge of a header value: 'Bearer realm="...",service="..."'."""
    header = header.strip()
    if not header:
        return None
    scheme, _, rest = header.partition(" ")
    params: dict[str, str] = {}
    position = 0
    while position < len(rest):
        match = _PARAM.match(rest, position)
        if not match or match.end() == position:
            break
        key, quoted, bare = match.groups()
        value = quoted if quoted is not None else bare
        params[key.lower()] = re.sub(r"\\(.)", r"\1", value)
        position = match.end()
    return Challenge(scheme.lower(), params)


def pick_challenge(headers: list[str]) -> Challenge | None:
    """Bearer is preferred to Basic, as Docker does."""
    parsed = [c for c in (parse_challenge(h) for h in headers) if c is not None]
    for scheme in ("bearer", "basic"):
        for challenge in parsed:
            if challenge.scheme == scheme:
                return challenge
    return None
