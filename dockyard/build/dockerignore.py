"""`.dockerignore` patterns with Docker's rules (docker/cli's dockerignore.ReadAll and
moby's fileutils.PatternMatcher of 20.10): comments, `!` exceptions, `**`, leading `/`
dropped, a pattern also matching a path's parent directories."""

from __future__ import annotations

import posixpath
import re


def read_patterns(text: str) -> list[str]:
    patterns = []
    for number, line in enumerate(text.splitlines()):
        if number == 0:
            line = line.removeprefix("\ufeff")
        if line.startswith("#"):
            continue
        pattern = line.strip()
        if not pattern:
            continue
        invert = pattern.startswith("!")
        if invert:
            pattern = pattern[1:].strip()
        if pattern:
            pattern = posixpath.normpath(pattern)
            if len(pattern) > 1 and pattern.startswith("/"):
                pattern = pattern.lstrip("/") or "/"
        patterns.append("!" + pattern if invert else pattern)
    return patterns


def _regex(pattern: str) -> re.Pattern[str]:
    out = "^"
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        i += 1
        if ch == "*":
            if i < len(pattern) and pattern[i] == "*":
                i += 1
                if i < len(pattern) and pattern[i] == "/":
                    i += 1
                out += ".*" if i >= len(pattern) else "(.*/)?"
            else:
                out += "[^/]*"
        elif ch == "?":
            out += "[^/]"
        elif ch in ".$":
            out += "\\" + ch
        elif ch == "\\":
            if i < len(pattern):
                out += "\\" + pattern[i]
                i += 1
            else:
                out += "\\\\"
        else:
            out += ch
    try:
        return re.compile(out + "$", re.DOTALL)
    except re.error:
        return re.compile(re.escape(pattern) + "$")


class _Pattern:
    def __init__(self, text: str) -> None:
        self.exclusion = text.startswith("!")
        self.text = text[1:] if self.exclusion else text
        self.dirs = self.text.split("/")
        self.regex = _regex(self.text)


class PatternMatcher:
    def __init__(self, patterns: list[str]) -> None:
        self.patterns = [_Pattern(p) for p in patterns if p not in ("", "!")]

    @property
    def has_exclusions(self) -> bool:
        return any(p.exclusion for p in self.patterns)

    def matches(self, path: str) -> bool:
        """Whether the context-relative path is ignored."""
        parent = posixpath.dirname(path) or "."
        parent_dirs = parent.split("/")
        matched = False
        for pattern in self.patterns:
            hit = bool(pattern.regex.match(path))
            if not hit and parent != "." and len(pattern.dirs) <= len(parent_dirs):
                hit = bool(pattern.regex.match("/".join(parent_dirs[: len(pattern.dirs)])))
            if hit:
                matched = not pattern.exclusion
        return matched

    def may_keep_inside(self, directory: str) -> bool:
        """An ignored directory must still be walked when an exception may keep a path in it."""
        prefix = directory + "/"
        return any(p.exclusion and (p.text + "/").startswith(prefix) for p in self.patterns)
