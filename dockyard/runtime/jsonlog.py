"""Docker's json-file log driver: one JSON object per line, stdout and stderr apart.

{"log":"hello\\n","stream":"stdout","time":"2026-11-28T17:21:48.216896078Z"}
"""

from __future__ import annotations

import json
import os
import time
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path

from dockyard.datarecord import dataclass
from dockyard.gojson import go_json
from dockyard.timeutil import now_rfc3339

MAX_PARTIAL = 16 * 1024  # Docker flushes a line without newline at 16 KiB


class LogWriter:
    def __init__(self, path: Path) -> None:
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
        self._partial: dict[str, bytes] = {"stdout": b"", "stderr": b""}

    def write(self, stream: str, data: bytes) -> None:
        buffered = self._partial[stream] + data
        lines = buffered.split(b"\n")
        rest = lines.pop()
        entries = [line + b"\n" for line in lines]
        while len(rest) >= MAX_PARTIAL:
            entries.append(rest[:MAX_PARTIAL])
            rest = rest[MAX_PARTIAL:]
        self._partial[stream] = rest
        self._emit(stream, entries)

    def _emit(self, stream: str, entries: list[bytes]) -> None:
        if not entries:
            return
        stamp = now_rfc3339()
        out = "".join(
            go_json({"log": entry.decode("utf-8", "replace"), "stream": stream, "time": stamp})
            + "\n"
            for entry in entries
        )
        os.write(self._fd, out.encode())

    def close(self) -> None:
        for stream, rest in self._partial.items():
            if rest:
                self._emit(stream, [rest])
        self._partial = {"stdout": b"", "stderr": b""}
        os.close(self._fd)


@dataclass
class LogEntry:
    stream: str
    text: str
    time: str


def _parse(line: str) -> LogEntry | None:
    try:
        obj = json.loads(line)
        return LogEntry(obj.get("stream", "stdout"), obj.get("log", ""), obj.get("time", ""))
    except ValueError:
        return None


def read_entries(path: Path, tail: int | None = None) -> list[LogEntry]:
    try:
        with open(path, encoding="utf-8", errors="replace") as src:
            lines = deque(src, maxlen=tail) if tail is not None else list(src)
    except FileNotFoundError:
        return []
    if tail == 0:
        return []
    return [entry for entry in map(_parse, lines) if entry is not None]


def follow(
    path: Path, tail: int | None, still_running: Callable[[], bool], poll: float = 0.05
) -> Iterator[LogEntry]:
    """Entries of the log, then new ones as they are written, until the container stops."""
    try:
        src = open(path, encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return
    with src:
        lines = deque(src, maxlen=tail) if tail is not None else list(src)
        if tail == 0:
            lines = deque()
        for line in lines:
            entry = _parse(line)
            if entry:
                yield entry
        pending = ""
        while True:
            chunk = src.readline()
            if chunk:
                pending += chunk
                if pending.endswith("\n"):
                    entry = _parse(pending)
                    pending = ""
                    if entry:
                        yield entry
                continue
            if not still_running():
                rest = src.read()
                for line in (pending + rest).splitlines():
                    entry = _parse(line)
                    if entry:
                        yield entry
                return
            time.sleep(poll)
