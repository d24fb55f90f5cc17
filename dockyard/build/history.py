"""The texts Docker 20.10's classic builder writes: `#(nop)` comments in history and
cache keys, Go's %q and %v of the values it formats."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

DEFAULT_SHELL = ["/bin/sh", "-c"]


def go_quote(text: str) -> str:
    """Go's strconv.Quote."""
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ch in "\a\b\f\v":
            out.append({"\a": "\\a", "\b": "\\b", "\f": "\\f", "\v": "\\v"}[ch])
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        elif not ch.isprintable():
            out.append(f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def go_quote_list(items: list[str] | None) -> str:
    """%q of a []string: ["a" "b"]."""
    return "[" + " ".join(go_quote(i) for i in items or []) + "]"


def go_list(items: list[str] | None) -> str:
    """%v of a []string: [a b]."""
    return "[" + " ".join(items or []) + "]"


def go_duration(nanoseconds: int) -> str:
    """time.Duration's String()."""
    if nanoseconds == 0:
        return "0s"
    sign = "-" if nanoseconds < 0 else ""
    ns = abs(nanoseconds)
    if ns < 1000:
        return f"{sign}{ns}ns"
    if ns < 1_000_000:
        return f"{sign}{_trim(ns / 1000)}µs"
    if ns < 1_000_000_000:
        return f"{sign}{_trim(ns / 1_000_000)}ms"
    seconds = ns / 1_000_000_000
    hours, rest = divmod(int(ns), 3600 * 1_000_000_000)
    minutes, rest = divmod(rest, 60 * 1_000_000_000)
    text = f"{_trim(rest / 1_000_000_000)}s"
    if hours:
        return f"{sign}{hours}h{minutes}m{text}"
    if minutes:
        return f"{sign}{minutes}m{text}"
    del seconds
    return sign + text


def _trim(value: float) -> str:
    text = f"{value:.9f}".rstrip("0").rstrip(".")
    return text or "0"


def go_quote_rune(value: int) -> str:
    """%q of an int: a Go rune literal."""
    if value == 39:
        return "'\\''"
    if 0x20 <= value < 0x7F:
        return f"'{chr(value)}'"
    if value < 0x80:
        return f"'\\x{value:02x}'"
    return f"'{chr(value)}'" if chr(value).isprintable() else f"'\\u{value:04x}'"


def healthcheck_text(health: dict[str, Any]) -> str:
    """%q of a *HealthConfig: &{["CMD-SHELL" "..."] "5s" "3s" "1s" '\\x02'}."""
    return (
        "&{"
        + go_quote_list(health.get("Test"))
        + f" {go_quote(go_duration(health.get('Interval', 0)))}"
        + f" {go_quote(go_duration(health.get('Timeout', 0)))}"
        + f" {go_quote(go_duration(health.get('StartPeriod', 0)))}"
        + f" {go_quote_rune(health.get('Retries', 0))}"
        + "}"
    )


def shell_of(config: dict[str, Any]) -> list[str]:
    return list(config.get("Shell") or DEFAULT_SHELL)


def nop_cmd(config: dict[str, Any], comment: str) -> list[str]:
    """withCmdComment: [shell..., "#(nop) ", comment] (two spaces in the joined text)."""
    return [*shell_of(config), "#(nop) ", comment]


def nop_cmd_string(config: dict[str, Any], comment: str) -> list[str]:
    """withCmdCommentString: [shell..., "#(nop) " + comment] (COPY, ADD, WORKDIR)."""
    return [*shell_of(config), "#(nop) " + comment]
