"""Docker's detach keys (`--detach-keys`, default ctrl-p,ctrl-q) on a TTY attach's input."""

from __future__ import annotations

from dockyard.daemon.errors import bad_request

DEFAULT = b"\x10\x11"
SPECIAL = {"@": 0, "[": 27, "\\": 28, "]": 29, "^": 30, "_": 31}


def parse(text: str | None) -> bytes:
    """ "ctrl-p,ctrl-q" -> b"\\x10\\x11"; "ctrl-a,x" -> b"\\x01x"."""
    if not text:
        return DEFAULT
    keys = bytearray()
    for part in text.split(","):
        part = part.strip()
        if part.startswith("ctrl-") and len(part) == 6:
            char = part[5].lower()
            if "a" <= char <= "z":
                keys.append(ord(char) - ord("a") + 1)
            elif char in SPECIAL:
                keys.append(SPECIAL[char])
            else:
                raise bad_request(f"Invalid escape keys ({text}) provided")
        elif len(part) == 1:
            keys.append(ord(part))
        else:
            raise bad_request(f"Invalid escape keys ({text}) provided")
    return bytes(keys)
