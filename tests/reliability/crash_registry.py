"""Crash safety of the registry: SIGKILL the server in the middle of pushes, and
`registry gc` in the middle of a collection; then every tag must name a manifest
whose blobs are all served with the right digest, and the push or gc, run again,
must succeed.

    .venv/bin/python -m tests.reliability.crash_registry --full    # 20 + 20 kills
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from .artifacts import ArchiveImage, docker_archive, random_tree
from .gcconcurrency import verify
from .harness import dockyard_argv, remove_tree
from .registryfixture import skopeo_push, start_registry

BIG = [random_tree(7000 + n, files=40, size=65536, top=f"big{n}") for n in range(4)]  # ~10 MiB


@dataclass
class RegistryTrial:
    kind: str
    delay: float
    killed: bool = False
    problems: list[str] = field(default_factory=list)


def tags_of(storage: Path) -> dict[str, str]:
    """repo:tag -> config digest, for every tag the registry's metadata holds."""
    connection = sqlite3.connect(f"file:{storage / 'registry.db'}?mode=ro", uri=True, timeout=60)
    try:
        rows = connection.execute("SELECT repo, tag, digest FROM tags").fetchall()
    finally:
        connection.close()
    result = {}
    for repo, tag, digest in rows:
        algorithm, _, hexpart = digest.partition(":")
        path = storage / "blobs" / algorithm / hexpart[:2] / hexpart / "data"
        config = json.loads(path.read_bytes())["config"]["digest"] if path.exists() else "?"
        result[f"{repo}:{tag}"] = config
    return result


def push_trial(directory: Path, delay: float, number: int) -> RegistryTrial:
    trial = RegistryTrial("server killed during a push", delay)
    storage = directory / "storage"
    registry = start_registry(storage)
    archive = directory / f"push{number}.tar"
    image = ArchiveImage([*BIG, random_tree(number, files=3, top="small")])
    archive.write_bytes(docker_archive([image]))
    target = f"{registry.host}/crash/img:{number}"
    push = subprocess.Popen(
        ["skopeo", "copy", "--quiet", "--dest-tls-verify=false", f"docker-archive:{archive}",
         f"docker://{target}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    time.sleep(delay)
    trial.killed = registry.process.poll() is None and push.poll() is None
    registry.kill()
    push.wait(timeout=120)
    registry = start_registry(storage, port=None)
    try:
        tags = tags_of(storage)
        trial.problems += [f"after kill: {p}" for p in verify(registry.host, tags)]
        target = f"{registry.host}/crash/img:{number}"
        try:
            skopeo_push(archive, target)
        except RuntimeError as error:
            trial.problems.append(f"push again: {error}")
        tags = tags_of(storage)
        if tags.get(f"crash/img:{number}") != image.id:
            trial.problems.append(f"crash/img:{number} not there after the push again")
        trial.problems += [f"after push again: {p}" for p in verify(registry.host, tags)]
    finally:
        registry.stop()
    return trial


def gc_trial(directory: Path, delay: float, number: int) -> RegistryTrial:
    """gc with no grace deleting untagged manifests and their blobs, killed midway."""
    trial = RegistryTrial("registry gc killed", delay)
    storage = directory / "storage"
    registry = start_registry(storage)
    try:
        for k in range(3):  # overwritten tags leave untagged manifests and orphan blobs
            image = ArchiveImage([BIG[k % 2], random_tree(100 * number + k, files=3, top="g")])
            archive = directory / f"gc{number}-{k}.tar"
            archive.write_bytes(docker_archive([image]))
            skopeo_push(archive, f"{registry.host}/gc/img{number}:latest")
        before = tags_of(storage)
    finally:
        registry.stop()
    argv = dockyard_argv(
        "registry", "gc", "--storage", str(storage), "--grace", "0", "--delete-untagged"
    )
    collector = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(delay)
    trial.killed = collector.poll() is None
    collector.kill()
    collector.wait()
    registry = start_registry(storage)
    try:
        after = tags_of(storage)
        if after != before:
            trial.problems.append(f"tags changed: {before} -> {after}")
        trial.problems += [f"after kill: {p}" for p in verify(registry.host, after)]
    finally:
        registry.stop()
    again = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    if again.returncode != 0:
        trial.problems.append(f"gc again: {again.stderr.strip()[-300:]}")
    registry = start_registry(storage)
    try:
        trial.problems += [f"after gc again: {p}" for p in verify(registry.host, tags_of(storage))]
    finally:
        registry.stop()
    return trial


def run_trials(directory: Path, pushes: int, collections: int, seed: int) -> list[RegistryTrial]:
    rng = random.Random(seed)
    trials = []
    for n in range(pushes):
        place = directory / f"push-{n}"
        place.mkdir()
        trials.append(push_trial(place, rng.uniform(0.1, 0.8), n))
    for n in range(collections):
        place = directory / f"gc-{n}"
        place.mkdir()
        trials.append(gc_trial(place, rng.uniform(0.02, 0.35), n))
    return trials


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--full", action="store_true", help="20 server kills and 20 gc kills")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args(argv)
    count = 20 if args.full else 3
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    directory = Path(tempfile.mkdtemp(prefix="dockyard-crash-registry-"))
    started = time.monotonic()
    trials = run_trials(directory, count, count, seed)
    for trial in trials:
        status = "FAIL" if trial.problems else "ok"
        print(f"{status:4} {trial.kind:30} after {trial.delay:.2f} s killed={trial.killed}")
        for problem in trial.problems:
            print(f"     {problem}")
    failed = [t for t in trials if t.problems]
    print(
        f"crash (registry): {len(trials)} trials, {sum(t.killed for t in trials)} killed,"
        f" {len(trials) - len(failed)} passed, {len(failed)} failed; seed {seed};"
        f" {time.monotonic() - started:.0f} s"
    )
    if not failed:
        remove_tree(directory)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
