"""Timing helpers for the benchmarks: alternate runs, warm-up, medians and ratios."""

from __future__ import annotations

import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Measurement:
    name: str
    seconds: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    def row(self) -> str:
        return (
            f"{self.name}: median {self.median:.3f}s"
            f" (min {min(self.seconds):.3f}, max {max(self.seconds):.3f}, n={len(self.seconds)})"
        )


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def alternate(
    cases: dict[str, tuple[Callable[[], object], Callable[[], object]]],
    runs: int = 5,
    warmup: int = 1,
) -> dict[str, Measurement]:
    """Run each case's (prepare, action) in turn, A B A B ..., timing only the action."""
    results = {name: Measurement(name) for name in cases}
    for round_number in range(warmup + runs):
        for name, (prepare, action) in cases.items():
            prepare()
            elapsed = timed(action)
            if round_number >= warmup:
                results[name].seconds.append(elapsed)
    return results


def sh(command: str) -> None:
    subprocess.run(command, shell=True, check=True, stdout=subprocess.DEVNULL)
