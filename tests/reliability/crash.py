"""Crash safety: SIGKILL dockyard at chosen and at random points, then judge the store.

    .venv/bin/python -m tests.reliability.crash --full        # every traced point + random kills
    .venv/bin/python -m tests.reliability.crash --scenario rmi  # one operation

For each operation (scenarios.py) the harness first runs it once with
``DOCKYARD_FAULT_TRACE`` to learn which fault points it passes (dockyard/faults.py),
then, on a fresh copy of the prepared store each time, kills it at every one of them
(``DOCKYARD_FAULT_POINT=name:count``) and at random moments. After each kill:

1. nothing half-made is visible: every reference, image and layer row names complete,
   correct files (read straight from SQLite and the files), and ``images`` and
   ``inspect`` of every image succeed;
2. nothing that existed before is lost or changed (references, images, layer contents);
3. ``check`` is consistent, or ``check --repair`` makes it so, and no leftover survives;
4. the operation, run again, succeeds and gives the expected result.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .harness import copy_tree, env_for, remove_tree, run, run_killed_after
from .scenarios import REGISTRY, SCENARIOS, Scenario, make_base, prepare, write_inputs
from .storestate import preserved, read_state


@dataclass
class Trial:
    scenario: str
    point: str  # "name:count" or "after:SECONDS"
    killed: bool = False
    check_before_repair: str = ""  # consistent / inconsistent
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


class Workspace:
    """Inputs and one prepared template store per scenario, under one directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.work = directory / "inputs"
        self.templates: dict[str, Path] = {}
        self.durations: dict[str, float] = {}
        write_inputs(self.work)
        self.base = directory / "base" / "store"
        self.base.parent.mkdir()
        make_base(self.base, self.work)
        self.registry = None

    def start_registry(self) -> None:
        """The registry of the pull and push scenarios (a fresh storage per push trial
        is not needed: a push is idempotent)."""
        if self.registry is None:
            from .registryfixture import seeded_registry

            self.registry = seeded_registry(self.directory / "registry")
            REGISTRY["host"] = self.registry.host

    def close(self) -> None:
        if self.registry is not None:
            self.registry.stop()
            self.registry = None

    def template(self, scenario: Scenario) -> Path:
        if scenario.name in ("pull", "push"):
            self.start_registry()
        if scenario.name not in self.templates:
            root = self.directory / f"template-{scenario.name}" / "store"
            root.parent.mkdir()
            copy_tree(self.base, root)
            prepare(scenario, root, self.work)
            self.templates[scenario.name] = root
        return self.templates[scenario.name]

    def fresh(self, scenario: Scenario) -> Path:
        trial = Path(tempfile.mkdtemp(prefix=f"trial-{scenario.name}-", dir=self.directory))
        root = trial / "store"
        copy_tree(self.template(scenario), root)
        return root

    def trace(self, scenario: Scenario) -> list[str]:
        """The fault points the operation passes, as name:count in order."""
        root = self.fresh(scenario)
        trace_file = root.parent / "trace"
        started = time.monotonic()
        outcome = run(
            root,
            *scenario.command(self.work),
            env=env_for(root, DOCKYARD_FAULT_TRACE=str(trace_file)),
        )
        self.durations[scenario.name] = time.monotonic() - started
        if not outcome.ok:
            raise RuntimeError(f"{scenario.name} fails without faults: {outcome.line()}")
        problems = scenario.expect(read_state(root, with_trees=False))
        if problems:
            raise RuntimeError(f"{scenario.name} without faults: {problems}")
        names = trace_file.read_text().split() if trace_file.exists() else []
        remove_tree(root.parent)
        seen: Counter[str] = Counter()
        points = []
        for name in names:
            seen[name] += 1
            points.append(f"{name}:{seen[name]}")
        return points


def judge(ws: Workspace, scenario: Scenario, root: Path, trial: Trial, before) -> None:  # type: ignore[no-untyped-def]
    problems = trial.problems
    mid = read_state(root)
    problems += [f"visible after kill: {p}" for p in mid.visible_problems]
    problems += [f"lost after kill: {p}" for p in preserved(before, mid, scenario.may_remove)]
    listed = run(root, "images", "-a", "-q", "--no-trunc")
    if not listed.ok:
        problems.append(f"images fails after kill: {listed.line()}")
    elif ids := sorted(set(listed.stdout.split())):
        inspected = run(root, "inspect", *ids)
        if not inspected.ok:
            problems.append(f"inspect fails after kill: {inspected.line()}")
    check = run(root, "check")
    trial.check_before_repair = "consistent" if check.ok else "inconsistent"
    if not check.ok:
        repair = run(root, "check", "--repair")
        if not repair.ok:
            problems.append(f"check --repair fails: {repair.line()}")
        again = run(root, "check")
        if not again.ok:
            problems.append(f"check after repair: {again.line()}")
    repaired = read_state(root)
    problems += [f"after repair: {p}" for p in repaired.visible_problems]
    problems += [f"left after repair: {p}" for p in repaired.leftovers]
    problems += [
        f"lost after repair: {p}" for p in preserved(before, repaired, scenario.may_remove)
    ]
    rerun = run(root, *scenario.command(ws.work))
    if not rerun.ok and not (scenario.done_error and scenario.done_error in rerun.stderr):
        problems.append(f"rerun fails: {rerun.line()}")
    final = read_state(root)
    problems += [f"after rerun: {p}" for p in final.visible_problems]
    problems += [f"left after rerun: {p}" for p in final.leftovers]
    problems += [f"lost after rerun: {p}" for p in preserved(before, final, scenario.may_remove)]
    problems += [f"result after rerun: {p}" for p in scenario.expect(final)]


def run_trial(ws: Workspace, scenario: Scenario, point: str) -> Trial:
    root = ws.fresh(scenario)
    trial = Trial(scenario.name, point)
    try:
        before = read_state(root)
        command = scenario.command(ws.work)
        if point.startswith("after:"):
            outcome = run_killed_after(root, float(point[6:]), *command)
        else:
            outcome = run(root, *command, env=env_for(root, DOCKYARD_FAULT_POINT=point))
        trial.killed = outcome.killed
        if not outcome.killed and not outcome.ok:
            trial.problems.append(f"failed without being killed: {outcome.line()}")
        judge(ws, scenario, root, trial, before)
    finally:
        if trial.ok:
            remove_tree(root.parent)
    return trial


def plan(
    ws: Workspace, scenarios: list[Scenario], randoms: int, rng: random.Random
) -> list[tuple[Scenario, str]]:
    trials: list[tuple[Scenario, str]] = []
    for scenario in scenarios:
        points = ws.trace(scenario)
        trials += [(scenario, point) for point in points]
        duration = ws.durations[scenario.name]
        trials += [(scenario, f"after:{rng.uniform(0.05, duration):.3f}") for _ in range(randoms)]
    return trials


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--full", action="store_true", help="every scenario, every point")
    parser.add_argument("--scenario", action="append", help="only these scenarios")
    parser.add_argument("--random", type=int, default=None, help="random-time kills per scenario")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--dir", help="work directory (kept); default a temp dir, removed")
    parser.add_argument("--json", help="write the trials as JSON here")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    randoms = args.random if args.random is not None else (4 if args.full else 1)
    chosen = [s for s in SCENARIOS if not args.scenario or s.name in args.scenario]
    directory = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="dockyard-crash-"))
    directory.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    ws = Workspace(directory)
    trials = []
    try:
        planned = plan(ws, chosen, randoms, rng)
    except BaseException:
        ws.close()
        raise
    for scenario, point in planned:
        trial = run_trial(ws, scenario, point)
        trials.append(trial)
        status = "ok" if trial.ok else "FAIL"
        print(
            f"{status:4} {scenario.name:14} {point:32} killed={trial.killed!s:5} "
            f"check={trial.check_before_repair}",
            flush=True,
        )
        for problem in trial.problems:
            print(f"     {problem}", flush=True)
    ws.close()
    killed = sum(t.killed for t in trials)
    failed = [t for t in trials if not t.ok]
    print(
        f"crash: {len(trials)} trials, {killed} killed, {len(trials) - len(failed)} passed, "
        f"{len(failed)} failed; seed {seed}; {time.monotonic() - started:.0f} s"
    )
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(t) | {"ok": t.ok} for t in trials], indent=1))
    if not args.dir and not failed:
        remove_tree(directory)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
