"""Failover: SIGKILL one node of a 2-node registry (haproxy in front) in the middle of
pushes and pulls; the client goes on through the balancer.

    .venv/bin/python -m tests.reliability.failover --full      # 120 kill points

Each trial starts a client command against the balancer (dockyard push, skopeo copy to
the registry, dockyard pull, skopeo copy from the registry), kills one node (alternately
node0 and node1) after a delay spread over the command's run, and restarts the node at
once. A command that fails is run again, as a user would, up to ``ATTEMPTS`` times.
After every trial the image must be whole (every blob served with its digest). At the
end garbage (blobs nothing references) is pushed and `registry gc` runs: it must remove
exactly the unreferenced blobs and the killed upload sessions, nothing else.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.registry.cluster import Backend, Cluster, add_shared_option, standalone_backend

from .artifacts import ArchiveImage, docker_archive, random_tree
from .clusterconcurrency import referenced_blobs
from .gcconcurrency import verify
from .harness import dockyard_argv, env_for, remove_tree, run
from .hostile_registry import request

ATTEMPTS = 4
BASE = random_tree(9100, files=24, size=65536, top="base")  # ~1.5 MiB, shared by all
KINDS = ("dockyard push", "skopeo push", "dockyard pull", "skopeo pull")


@dataclass
class Trial:
    kind: str
    fraction: float  # the kill comes this far into the command's usual run time
    node: str | None  # None: a warm-up run, nothing killed
    target: str
    delay: float = 0.0
    seconds: float = 0.0  # the first run's wall time
    killed_during: bool = False  # the command was still running when the node died
    attempts: int = 0
    first_error: str = ""
    problems: list[str] = field(default_factory=list)


def trial_image(number: int) -> ArchiveImage:
    """~6 MiB of fresh layers on the shared base: every push moves real bytes."""
    fresh = [
        random_tree(9200 + 10 * number + k, files=30, size=65536, top=f"t{k}") for k in (0, 1, 2)
    ]
    return ArchiveImage([BASE, *fresh], comment=f"failover {number}")


class Failover:
    def __init__(self, cluster: Cluster, work: Path) -> None:
        self.cluster = cluster
        self.work = work
        self.pusher = work / "pusher-store"
        self.pushed: dict[str, str] = {}  # repo:tag -> config digest, every good push
        self.usual: dict[str, float] = {}  # kind -> seconds of its warm-up run

    # -- the client commands (argv lists run to completion, maybe killed midway) --

    def _command(self, trial: Trial, number: int) -> tuple[list[str], dict | None]:
        if trial.kind == "dockyard push":
            return dockyard_argv("push", "-q", trial.target), env_for(self.pusher)
        if trial.kind == "skopeo push":
            archive = self.work / f"trial{number}.tar"
            return [
                "skopeo", "copy", "--quiet", "--dest-tls-verify=false",
                f"docker-archive:{archive}", f"docker://{trial.target}",
            ], None  # fmt: skip
        if trial.kind == "dockyard pull":
            return dockyard_argv("pull", "-q", trial.target), env_for(self.work / f"s{number}")
        copied = self.work / f"copy{number}"
        return [
            "skopeo", "copy", "--quiet", "--src-tls-verify=false",
            f"docker://{trial.target}", f"dir:{copied}",
        ], None  # fmt: skip

    def _prepare(self, trial: Trial, number: int) -> ArchiveImage | str:
        """Push trials: the image to push (archive written, loaded for dockyard).
        Pull trials: the config digest the pulled image must have."""
        if trial.kind.endswith("pull"):
            return self.pushed[trial.target.split("/", 1)[1]]
        image = trial_image(number)
        archive = self.work / f"trial{number}.tar"
        archive.write_bytes(docker_archive([image]))
        if trial.kind == "dockyard push":
            loaded = run(self.pusher, "load", "-q", "-i", str(archive))
            assert loaded.ok, loaded.line()
            tagged = run(self.pusher, "tag", image.id, trial.target)
            assert tagged.ok, tagged.line()
        return image

    def run_trial(self, trial: Trial, number: int) -> Trial:
        for node in self.cluster.nodes:
            if not node.alive():
                node.launch()
            node.wait_ready()
        expected = self._prepare(trial, number)
        argv, env = self._command(trial, number)
        victim = next((node for node in self.cluster.nodes if node.name == trial.node), None)
        trial.delay = trial.fraction * self.usual.get(trial.kind, 1.0)
        for attempt in range(1, ATTEMPTS + 1):
            trial.attempts = attempt
            started = time.monotonic()
            process = subprocess.Popen(
                argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
            if attempt == 1 and victim is not None:
                time.sleep(trial.delay)
                trial.killed_during = process.poll() is None
                victim.kill()
                victim.launch()  # back at once: it rejoins when haproxy's check sees it
            out, err = process.communicate(timeout=300)
            if attempt == 1:
                trial.seconds = time.monotonic() - started
                if victim is None and process.returncode == 0:
                    self.usual[trial.kind] = trial.seconds
            if process.returncode == 0:
                break
            if not trial.first_error:
                said = (err or out).strip().splitlines()
                trial.first_error = said[-1][:200] if said else f"exit {process.returncode}"
            time.sleep(0.5)
        else:
            trial.problems.append(f"failed {ATTEMPTS} times: {trial.first_error}")
            return trial
        self._check(trial, number, expected)
        return trial

    def _check(self, trial: Trial, number: int, expected: ArchiveImage | str) -> None:
        name = trial.target.split("/", 1)[1]
        if isinstance(expected, ArchiveImage):
            problems = verify(self.cluster.host, {name: expected.id})
            trial.problems += problems
            if not problems:
                self.pushed[name] = expected.id
            (self.work / f"trial{number}.tar").unlink(missing_ok=True)
            return
        if trial.kind == "dockyard pull":
            store = self.work / f"s{number}"
            inspected = run(store, "inspect", trial.target)
            if not inspected.ok or json.loads(inspected.stdout)[0]["Id"] != expected:
                trial.problems.append(f"pulled image is not {expected}: {inspected.line()}")
            remove_tree(store)
            return
        copied = self.work / f"copy{number}"
        trial.problems += verify_copy(copied, expected)
        remove_tree(copied)


def verify_copy(copied: Path, config_digest: str) -> list[str]:
    """A skopeo ``dir:`` copy (the registry's manifest as it was, a file per blob named
    by its hex digest): every blob hashes to its name, all are there, config right."""
    problems = []
    manifest = json.loads((copied / "manifest.json").read_bytes())
    if manifest["config"]["digest"] != config_digest:
        problems.append(f"{copied.name}: config {manifest['config']['digest']}")
    for descriptor in [manifest["config"], *manifest["layers"]]:
        blob = copied / descriptor["digest"].split(":")[1]
        if not blob.exists():
            problems.append(f"{copied.name}: blob {descriptor['digest']} missing")
        elif "sha256:" + hashlib.sha256(blob.read_bytes()).hexdigest() != descriptor["digest"]:
            problems.append(f"{copied.name}: blob {descriptor['digest']} does not match")
    return problems


def plan(count: int, seed: int) -> list[Trial]:
    """A warm-up run of each kind (its time is the "usual"), then ``count`` kill points:
    kinds and victims alternating, kill times spread over 5-95% of the usual run."""
    rng = random.Random(seed)
    trials = [Trial(kind, 0.0, None, target="") for kind in KINDS]
    for n in range(count):
        fraction = 0.05 + (n * 0.618034) % 0.85 + rng.uniform(0, 0.05)
        trials.append(Trial(KINDS[n % 4], fraction, f"node{(n // 4) % 2}", target=""))
    return trials


def garbage_collection_check(cluster: Cluster, pushed: dict[str, str]) -> list[str]:
    """Push blobs nothing references, run gc with no grace: exactly those (and every
    upload session the kills left) go; every pushed image stays whole."""
    problems = []
    garbage = []
    for k in range(5):
        data = f"garbage {k} {time.time()}".encode() * 1000
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        answer = request(cluster.host, "POST", f"/v2/junk/blobs/uploads/?digest={digest}", data)
        if answer.status != 201:
            problems.append(f"garbage push: {answer.status}")
        garbage.append(digest)
    result = cluster.cli("gc", "--grace", "0", "--upload-grace", "0")
    if result.returncode != 0:
        problems.append(f"gc: {result.stderr.strip()[-300:]}")
    referenced = referenced_blobs(cluster.host, pushed)
    stored = cluster.backend.stored_blobs()
    if stored != referenced:
        problems.append(
            f"after gc: {len(stored - referenced)} unreferenced blobs kept,"
            f" {len(referenced - stored)} referenced blobs gone"
        )
    if set(garbage) & stored:
        problems.append("gc kept garbage blobs")
    if cluster.backend.stored_uploads():
        problems.append(f"upload sessions left: {cluster.backend.stored_uploads()[:3]}")
    problems += [f"after gc: {p}" for p in verify(cluster.host, pushed)]
    return problems


def run_failover(
    work: Path, count: int, seed: int, backend: Backend
) -> tuple[list[Trial], list[str]]:
    """``backend``: what the nodes share, in ``work / "cluster"``."""
    cluster = Cluster(work / "cluster", backend, nodes=2)
    cluster.start()
    try:
        failover = Failover(cluster, work)
        trials = plan(count, seed)
        for number, trial in enumerate(trials):
            if trial.kind.endswith("push"):
                repo = "fo/dockyard" if trial.kind.startswith("dockyard") else "fo/skopeo"
                trial.target = f"{cluster.host}/{repo}:t{number}"
            else:
                names = sorted(failover.pushed) or ["fo/missing:none"]
                trial.target = f"{cluster.host}/{names[number % len(names)]}"
            failover.run_trial(trial, number)
        for node in cluster.nodes:
            node.wait_ready()
        final = garbage_collection_check(cluster, failover.pushed)
    finally:
        cluster.stop()
    return trials, final


def summary(trials: list[Trial]) -> list[str]:
    lines = []
    for kind in KINDS:
        chosen = [t for t in trials if t.kind == kind and t.node is not None]
        if not chosen:
            continue
        during = sum(t.killed_during for t in chosen)
        retried = sum(t.attempts > 1 for t in chosen)
        failed = sum(bool(t.problems) for t in chosen)
        most = max(t.attempts for t in chosen)
        lines.append(
            f"{kind:14} {len(chosen):3} kills, {during:3} during the command,"
            f" {retried:3} needed the command again (at most {most} runs), {failed} failed"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--full", action="store_true", help="120 kill points")
    parser.add_argument("--count", type=int)
    parser.add_argument("--seed", type=int, default=None)
    add_shared_option(parser)
    args = parser.parse_args(argv)
    count = args.count or (120 if args.full else 52)
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    work = Path(tempfile.mkdtemp(prefix="dockyard-failover-"))
    started = time.monotonic()
    with standalone_backend(work / "cluster", args.shared) as backend:
        trials, final = run_failover(work, count, seed, backend)
    for trial in trials:
        status = "FAIL" if trial.problems else "ok"
        print(
            f"{status:4} {trial.kind:14} kill {trial.node} after {trial.delay:.2f} s"
            f" of {trial.seconds:.2f} during={trial.killed_during} runs={trial.attempts}"
            f" {trial.first_error}"
        )
        for problem in trial.problems:
            print(f"     {problem}")
    print("\n".join(summary(trials)))
    for problem in final:
        print(f"FAIL {problem}")
    failed = [t for t in trials if t.problems]
    print(
        f"failover ({args.shared}): {sum(t.node is not None for t in trials)} kill points, {len(failed)} failed trials,"
        f" {len(final)} problems after gc; seed {seed}; {time.monotonic() - started:.0f} s"
    )
    if not failed and not final:
        remove_tree(work)
    return 1 if failed or final else 0


if __name__ == "__main__":
    sys.exit(main())
