"""Concurrency: N CLI clients doing M mixed operations each on one store.

    .venv/bin/python -m tests.reliability.concurrency --full      # 8 clients x 200 operations

Operations: tag, rmi (own tags and shared ones), load (archives sharing layers),
import, run --rm, commit (run, commit, rm), image prune, images/inspect, and pull
from a local dockyard registry when ``--registry`` is given (the full run does).
Every command must succeed or fail only with an error its race explains ("No such
image" when another client removed the source, rmi's conflicts). Afterwards: every
reference points to a complete image whose blobs and layers exist and match their
digests, every tag a client made and did not remove is still there and names the same
image, ``image prune`` leaves no dangling image, nothing is left over (temp files,
unreferenced blobs or layer directories) and ``check`` is consistent.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from .artifacts import ArchiveImage, docker_archive, random_tree
from .harness import Outcome, remove_tree, run
from .scenarios import BUSYBOX, full
from .storestate import read_state

SHARED_BOTTOM = random_tree(500, files=20, top="shared")
ARCHIVES = [
    [
        ArchiveImage([SHARED_BOTTOM, random_tree(600 + k, files=20, top=f"s{k}")], [f"ld{k}:1"]),
        ArchiveImage([SHARED_BOTTOM, random_tree(700 + k, files=10, top=f"u{k}")], []),
    ]
    for k in range(4)
]
ID_RE = re.compile(r"sha256:[0-9a-f]{64}")


@dataclass
class Client:
    number: int
    root: Path
    work: Path
    rng: random.Random
    registry: str | None
    own: dict[str, str] = field(default_factory=dict)  # own tag -> image id
    counts: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    serial: int = 0
    runnable: set[str] = field(default_factory=set)  # images with a shell (busybox below)

    def name(self, kind: str) -> str:
        self.serial += 1
        return f"w{self.number}-{kind}{self.serial}"

    def cli(self, op: str, *args: str, allowed: tuple[str, ...] = ()) -> Outcome:
        outcome = run(self.root, *args, cwd=self.work)
        self.counts[op] += 1
        if not outcome.ok and not any(text in outcome.stderr for text in allowed):
            self.errors.append(f"{' '.join(args)}: {outcome.line()}")
        if "Traceback" in outcome.stderr:
            self.errors.append(f"{' '.join(args)}: traceback: {outcome.stderr[-500:]}")
        return outcome

    def source_image(self) -> str:
        """An image to tag: own ones, loaded ones, and untagged loaded ones (which
        `image prune` may be removing at that very moment)."""
        choices = list(self.own.values()) + [image.id for images in ARCHIVES for image in images]
        return self.rng.choice(choices)

    def runnable_image(self) -> str:
        return self.rng.choice(sorted(self.runnable))

    # -- operations
    def op_tag(self) -> None:
        source, tag = self.source_image(), self.name("t")
        if self.cli("tag", "tag", source, tag, allowed=("No such image",)).ok:
            self.own[tag] = source

    def op_rmi_own(self) -> None:
        if not self.own:
            return self.op_tag()
        tag = self.rng.choice(sorted(self.own))
        if self.cli("rmi", "rmi", tag, allowed=("conflict: unable to",)).ok:
            del self.own[tag]

    def op_rmi_shared(self) -> None:
        k = self.rng.randrange(len(ARCHIVES))
        self.cli("rmi-shared", "rmi", f"ld{k}:1", allowed=("No such image", "conflict: unable to"))

    def op_load(self) -> None:
        k = self.rng.randrange(len(ARCHIVES))
        self.cli("load", "load", "-q", "-i", str(self.work / f"shared{k}.tar"))

    def op_import(self) -> None:
        tag = self.name("imp")
        k = self.rng.randrange(2)
        outcome = self.cli("import", "import", str(self.work / f"flat{k}.tar"), tag)
        if outcome.ok and (match := ID_RE.search(outcome.stdout)):
            self.own[tag] = match.group(0)

    def op_run(self) -> None:
        self.cli("run --rm", "run", "--rm", self.runnable_image(), "true")

    def op_commit(self) -> None:
        container, tag = self.name("c"), self.name("cm")
        made = self.cli(
            "run",
            "run",
            "--name",
            container,
            self.runnable_image(),
            "sh",
            "-c",
            f"echo {tag} > /f",
        )
        if not made.ok:
            return
        outcome = self.cli("commit", "commit", container, tag)
        if outcome.ok and (match := ID_RE.search(outcome.stdout)):
            self.own[tag] = match.group(0)
        self.cli("rm", "rm", container)

    def op_prune(self) -> None:
        self.cli("image prune", "image", "prune", "-f")

    def op_read(self) -> None:
        if self.cli("images", "images", "-a").ok and self.own:
            tag = self.rng.choice(sorted(self.own))
            self.cli("inspect", "inspect", "--format", "{{.Id}}", tag)

    def op_check(self) -> None:
        """`check` beside the others: consistent, whatever is half-way at that moment."""
        self.cli("check", "check")

    def op_pull(self) -> None:
        if self.registry is None:
            return self.op_load()
        k = self.rng.randrange(2)
        self.cli("pull", "pull", "-q", f"{self.registry}/lib/img{k}:1")

    OPS = {
        "op_tag": 20, "op_rmi_own": 14, "op_rmi_shared": 8, "op_load": 14, "op_import": 6,
        "op_run": 6, "op_commit": 4, "op_prune": 8, "op_read": 10, "op_pull": 10, "op_check": 4,
    }  # fmt: skip

    def work_loop(self, operations: int) -> None:
        names, weights = zip(*self.OPS.items(), strict=True)
        for _ in range(operations):
            getattr(self, self.rng.choices(names, weights)[0])()


def write_inputs(work: Path) -> None:
    work.mkdir(parents=True, exist_ok=True)
    for k, images in enumerate(ARCHIVES):
        (work / f"shared{k}.tar").write_bytes(docker_archive(images))
    for k in range(2):
        (work / f"flat{k}.tar").write_bytes(random_tree(900 + k, files=30))


def verify(root: Path, clients: list[Client]) -> list[str]:
    problems: list[str] = []
    for client in clients:
        problems += client.errors
    state = read_state(root)
    problems += [f"visible: {p}" for p in state.visible_problems]
    problems += [f"left over: {p}" for p in state.leftovers]
    for client in clients:
        for tag, image_id in client.own.items():
            if state.refs.get(full(tag)) != image_id:
                problems.append(f"tag {tag} lost: {image_id} -> {state.refs.get(full(tag))}")
    pruned = run(root, "image", "prune", "-f")
    if not pruned.ok:
        problems.append(f"final prune: {pruned.line()}")
    state = read_state(root, with_trees=False)
    parents = {row for row in _parents(root)}
    tagged = set(state.refs.values())
    for image_id in state.images:
        if image_id not in tagged and image_id not in parents:
            problems.append(f"dangling image {image_id} survived image prune")
    check = run(root, "check")
    if not check.ok:
        problems.append(f"check: {check.line()} {check.stdout[-2000:]}")
    return problems


def _parents(root: Path) -> list[str]:
    import sqlite3

    connection = sqlite3.connect(f"file:{root / 'dockyard.db'}?mode=ro", uri=True)
    try:
        return [row[0] for row in connection.execute("SELECT parent FROM images") if row[0]]
    finally:
        connection.close()


def run_clients(
    directory: Path, clients: int, operations: int, seed: int, registry: str | None = None
) -> tuple[list[str], Counter[str], float]:
    work = directory / "inputs"
    write_inputs(work)
    root = directory / "store"
    for args in (["import", str(BUSYBOX), "bb:base"], ["load", "-i", str(work / "shared0.tar")]):
        outcome = run(root, *args)
        if not outcome.ok:
            raise RuntimeError(outcome.line())
    base = ID_RE.search(run(root, "inspect", "--format", "{{.Id}}", "bb:base").stdout)
    assert base is not None
    rng = random.Random(seed)
    team = [
        Client(n, root, work, random.Random(rng.random()), registry, runnable={base.group(0)})
        for n in range(clients)
    ]
    started = time.monotonic()
    threads = [threading.Thread(target=c.work_loop, args=(operations,)) for c in team]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    counts: Counter[str] = Counter()
    for client in team:
        counts.update(client.counts)
    return verify(root, team), counts, elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--full", action="store_true", help="8 clients x 200 operations")
    parser.add_argument("--clients", type=int, default=None)
    parser.add_argument("--operations", type=int, default=None)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--no-registry", action="store_true", help="leave pull out")
    parser.add_argument("--dir", help="work directory (kept)")
    args = parser.parse_args(argv)
    clients = args.clients or (8 if args.full else 4)
    operations = args.operations or (200 if args.full else 20)
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    directory = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="dockyard-conc-"))
    directory.mkdir(parents=True, exist_ok=True)
    registry = None
    if not args.no_registry:
        from .registryfixture import seeded_registry

        registry = seeded_registry(directory / "registry")
    try:
        problems, counts, elapsed = run_clients(
            directory, clients, operations, seed, registry.host if registry else None
        )
    finally:
        if registry is not None:
            registry.stop()
    for problem in problems:
        print(f"FAIL {problem}")
    total = sum(counts.values())
    print(
        f"concurrency: {clients} clients x {operations} operations, {total} commands"
        f" ({', '.join(f'{k} {v}' for k, v in sorted(counts.items()))}) in {elapsed:.0f} s;"
        f" {len(problems)} problems; seed {seed}"
    )
    if not args.dir and not problems:
        remove_tree(directory)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
