"""The runner shared by the scenarios: alternate rounds, warm-up, load average."""

from __future__ import annotations

import contextlib
import resource
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bench.peers import Engine
from bench.report import Scenario, Target, loadavg

# Set when the run is interrupted: clean-ups that only tidy a store (rmi of what a
# scenario added) are skipped, since the whole scratch directory goes anyway.
STOPPING = False

# (label, prepare or None, action): an action returns None (its wall time is the
# sample), a float (the sample, for actions that time only part of their work),
# or a dict with "seconds" and extra named figures.
Case = tuple[str, Callable[[], object] | None, Callable[[], object]]

# Contenders whose whole work happens in the child process the harness waits for: their
# CPU time (user and kernel) is recorded beside the wall time. A docker or podman CLI's
# work happens mostly in the daemon or in processes it does not wait for.
CPU_LABELS = {"dockyard", "dockyard (blobs kept)", "dockyard (pip install)", "GNU tar"}


def _children_cpu() -> tuple[float, float]:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime, usage.ru_stime


@dataclass
class Context:
    work: Path
    runs: int = 5  # counted runs of the slow scenarios
    fast_runs: int = 15  # counted runs of the scenarios that take well under a second
    warmup: int = 1
    engines: dict[str, Engine] = field(default_factory=dict)
    scenarios: list[Scenario] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict)
    only: set[str] | None = None
    checkpoint: Callable[[], None] | None = None  # called after each scenario
    # "disk" for the pass whose stores live on the disk: keys get "-disk", titles "[disk]"
    variant: str = ""

    def log(self, message: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')} load {loadavg():.1f}] {message}", flush=True)

    def wanted(self, key: str) -> bool:
        return self.only is None or any(key.startswith(prefix) for prefix in self.only)

    @contextlib.contextmanager
    def scenario(
        self,
        key: str,
        title: str,
        target: tuple[str, float, str] | tuple[str, float, str, str] | None = None,
        note: str = "",
    ) -> Iterator[Scenario]:
        if self.variant:
            key, title = f"{key}-{self.variant}", f"{title} [{self.variant}]"
        scenario = Scenario(key, title, note=note)
        if target is not None:
            scenario.target = Target(*target)
        self.scenarios.append(scenario)
        self.log(f"{key}: {title}")
        started = time.monotonic()
        try:
            yield scenario
        except Exception as error:  # one failed scenario must not end the run
            scenario.error = (
                str(error).strip().splitlines()[-1][:300] if str(error) else repr(error)
            )
            self.log(f"{key} FAILED: {error}")
            traceback.print_exc(file=sys.stdout)
        else:
            ratios = ", ".join(f"/{k} {v:.2f}x" for k, v in scenario.ratios().items())
            self.log(f"{key} done in {time.monotonic() - started:.0f} s: {ratios}")
        finally:
            if self.checkpoint is not None:
                self.checkpoint()

    def alternate(
        self,
        scenario: Scenario,
        cases: list[Case],
        runs: int | None = None,
        warmup: int | None = None,
        children_cpu: bool = True,
    ) -> None:
        """Run the cases alternately. ``children_cpu``: record the CPU time of the
        CPU_LABELS contenders' child processes (not when the work is in a daemon)."""
        runs = self.runs if runs is None else runs
        warmup = self.warmup if warmup is None else warmup
        scenario.load.append(loadavg())
        for round_number in range(warmup + runs):
            for label, prepare, action in cases:
                if prepare is not None:
                    prepare()
                cpu_before = _children_cpu()
                start = time.perf_counter()
                outcome = action()
                elapsed = time.perf_counter() - start
                cpu_after = _children_cpu()
                extra: dict[str, float] = {}
                if children_cpu and label in CPU_LABELS:
                    extra["user_s"] = cpu_after[0] - cpu_before[0]
                    extra["sys_s"] = cpu_after[1] - cpu_before[1]
                if isinstance(outcome, float):
                    elapsed = outcome
                elif isinstance(outcome, dict):
                    extra.update(outcome)
                    elapsed = extra.pop("seconds", elapsed)
                if round_number >= warmup:
                    scenario.add(label, elapsed, **extra)
        scenario.load.append(loadavg())


def run_alone(scenario: Callable[[Context], None], prefix: str, runs: int) -> int:
    """Run one scenario module from a shell (``RUNS`` overrides ``runs``): print its
    markdown table and each contender's samples; exit status 1 when it failed."""
    import json
    import os
    import shutil
    import tempfile

    from bench.report import machine, markdown, now

    work = Path(tempfile.mkdtemp(prefix=prefix))
    ctx = Context(work, runs=int(os.environ.get("RUNS", str(runs))))
    started_load = [round(x, 2) for x in os.getloadavg()]
    try:
        scenario(ctx)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    meta = {
        "date": now(),
        "machine": machine(),
        "loadavg_start": started_load,
        "loadavg_end": [round(x, 2) for x in os.getloadavg()],
        "versions": {},
        "warmup": ctx.warmup,
    }
    print(markdown(ctx.scenarios, meta))
    for done in ctx.scenarios:
        print(json.dumps(done.as_json()["contenders"], indent=1))
    return 1 if any(s.error for s in ctx.scenarios) else 0
