"""Docker's live progress lines (jsonmessage): one line per layer ID, redrawn in place."""

from __future__ import annotations

from typing import TextIO

BAR_WIDTH = 50


def progress_bar(current: int, total: int) -> str:
    """Docker's JSONProgress.String() for a wide terminal: '[==>   ]  1.2MB/4MB'."""
    from dockyard.humanize import human_size

    if total <= 0:
        return f"{human_size(current, 4):>8}"
    filled = min(int(current / total * 100) // 2, BAR_WIDTH)
    box = f"[{'=' * filled}>{' ' * (BAR_WIDTH - filled)}] "
    if current > total:
        return box + f"{human_size(current, 4):>8}"
    return box + f"{human_size(current, 4):>8}/{human_size(total, 4)}"


class ProgressBars:
    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.lines: dict[str, int] = {}

    def update(self, line_id: str, status: str, current: int, total: int) -> None:
        text = f"{line_id}: {status} {progress_bar(current, total)}"
        self.show(line_id, text)

    def show(self, line_id: str, text: str) -> None:
        if line_id not in self.lines:
            self.lines[line_id] = len(self.lines)
            self.out.write("\n")
        up = len(self.lines) - self.lines[line_id]
        self.out.write(f"\x1b[{up}A\x1b[2K\r{text}\r\x1b[{up}B")
        self.out.flush()
