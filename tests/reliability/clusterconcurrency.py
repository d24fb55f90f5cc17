"""Many clients on many nodes while one node collects garbage.

    .venv/bin/python -m tests.reliability.clusterconcurrency --full   # 3 x 8 clients x 6 rounds

3 registry nodes share one storage and one metadata database; node2 also runs online gc
(every 0.5 s, 10 s grace, untagged manifests deleted). 8 clients per node each round:
push a pool image that other clients push too, at the same time, through other nodes
(same repository and tag: overlapping uploads of the same blobs); overwrite the tag of
their own repository with a fresh image (the old manifest becomes untagged: gc work);
pull, through the next node, the oldest pool image they pushed (the first round: the
one just pushed). Every push
and pull must succeed the first time; afterwards every tag names a manifest whose
blobs all verify, and once gc has had its grace, only referenced blobs are stored.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import tempfile
import threading
import time
from pathlib import Path

from tests.registry.cluster import Backend, Cluster, add_shared_option, standalone_backend

from .artifacts import ArchiveImage, docker_archive, random_tree
from .gcconcurrency import MANIFEST_TYPES, verify
from .harness import remove_tree, run
from .hostile_registry import request
from .registryfixture import skopeo_push

NODES = 3
POOL = 6
SHARED = random_tree(5151, files=8, size=32768, top="shared")
# The grace must outlast the longest gap between a client's "blob exists" and its manifest
# PUT: with 2 s, 24 clients on 2 cores lost 5 of ~140 pushes (MANIFEST_BLOB_UNKNOWN).
GC_FLAGS = ["--gc-interval", "0.5", "--gc-grace", "10", "--gc-delete-untagged"]


def pool_image(number: int) -> ArchiveImage:
    return ArchiveImage([SHARED, random_tree(5200 + number, files=6, size=32768, top="p")])


class Clients:
    def __init__(self, cluster: Cluster, work: Path, rounds: int) -> None:
        self.cluster = cluster
        self.work = work
        self.rounds = rounds
        self.errors: list[str] = []
        self.tags: dict[str, str] = {}  # repo:tag -> config digest, as last pushed
        self.operations = 0
        self.lock = threading.Lock()
        self.pool = [pool_image(n) for n in range(POOL)]
        for number, image in enumerate(self.pool):
            (work / f"pool{number}.tar").write_bytes(docker_archive([image]))

    def _push(self, archive: Path, host: str, name: str, image_id: str) -> bool:
        try:
            skopeo_push(archive, f"{host}/{name}")
        except RuntimeError as error:
            with self.lock:
                self.errors.append(f"push {name} via {host}: {error}")
            return False
        with self.lock:
            self.tags[name] = image_id
            self.operations += 1
        return True

    def client(self, number: int) -> None:
        nodes = self.cluster.nodes
        home = nodes[number % NODES]
        other = nodes[(number + 1) % NODES]
        store = self.work / f"store{number}"
        pushed: list[int] = []
        for k in range(self.rounds):
            choice = (number + k) % POOL
            if self._push(
                self.work / f"pool{choice}.tar", home.host, f"ov/p{choice}:1", self.pool[choice].id
            ):
                pushed.append(choice)
            own = ArchiveImage([SHARED, random_tree(90_000 + 100 * number + k, files=4, top="o")])
            archive = self.work / f"own{number}-{k}.tar"
            archive.write_bytes(docker_archive([own]))
            self._push(archive, home.host, f"w{number}/img:latest", own.id)
            archive.unlink()
            if pushed:
                target = f"{other.host}/ov/p{pushed[0]}:1"
                pulled = run(store, "pull", "-q", target)
                inspected = run(store, "inspect", target) if pulled.ok else pulled
                if (
                    not pulled.ok
                    or json.loads(inspected.stdout)[0]["Id"] != self.pool[pushed[0]].id
                ):
                    with self.lock:
                        self.errors.append(f"pull {target}: {pulled.line()}")
                else:
                    with self.lock:
                        self.operations += 1
                pushed.append(pushed.pop(0))

    def run(self, clients_per_node: int) -> None:
        threads = [
            threading.Thread(target=self.client, args=(n,)) for n in range(NODES * clients_per_node)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()


def referenced_blobs(host: str, tags: dict[str, str]) -> set[str]:
    found = set()
    for name in tags:
        repo, _, tag = name.partition(":")
        answer = request(
            host, "GET", f"/v2/{repo}/manifests/{tag}", None, {"Accept": MANIFEST_TYPES}
        )
        if answer.status == 200:
            manifest = json.loads(answer.body)
            found.add("sha256:" + hashlib.sha256(answer.body).hexdigest())
            found.update(d["digest"] for d in [manifest["config"], *manifest["layers"]])
    return found


def gc_work(cluster: Cluster) -> tuple[int, int, int]:
    """(gc runs, manifests deleted, blobs deleted) from the gc node's log."""
    runs = manifests = blobs = 0
    for line in cluster.nodes[-1].log_path.read_text(errors="replace").splitlines():
        found = re.search(r"gc: (\d+) manifests, (\d+) blobs", line)
        if found:
            runs += 1
            manifests += int(found.group(1))
            blobs += int(found.group(2))
    return runs, manifests, blobs


def run_cluster_concurrency(
    work: Path, clients_per_node: int, rounds: int, backend: Backend
) -> tuple[list[str], int, tuple[int, int, int]]:
    """(problems, successful pushes and pulls, gc work during the clients' run);
    ``backend``: what the nodes share, in ``work / "cluster"``."""
    directory = work / "cluster"
    cluster = Cluster(
        directory,
        backend,
        nodes=NODES,
        node_extra={NODES - 1: GC_FLAGS},
    )
    cluster.start()
    try:
        clients = Clients(cluster, work, rounds)
        clients.run(clients_per_node)
        problems = list(clients.errors)
        problems += verify(cluster.host, clients.tags)
        during = gc_work(cluster)
        # the untagged manifests and their layers go once the grace has passed
        referenced = referenced_blobs(cluster.host, clients.tags)
        deadline = time.monotonic() + 30
        while cluster.backend.stored_blobs() != referenced and time.monotonic() < deadline:
            time.sleep(0.5)
        stored = cluster.backend.stored_blobs()
        if stored != referenced:
            problems.append(
                f"gc left {len(stored - referenced)} unreferenced blobs,"
                f" lost {len(referenced - stored)} referenced ones"
            )
        problems += [f"after gc: {p}" for p in verify(cluster.host, clients.tags)]
    finally:
        cluster.stop()
    return problems, clients.operations, during


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--full", action="store_true", help="8 clients per node x 6 rounds")
    parser.add_argument("--clients", type=int, help="clients per node (default 8)")
    parser.add_argument("--rounds", type=int)
    add_shared_option(parser)
    args = parser.parse_args(argv)
    clients = args.clients or 8
    rounds = args.rounds or (6 if args.full else 3)
    work = Path(tempfile.mkdtemp(prefix="dockyard-cluster-"))
    started = time.monotonic()
    with standalone_backend(work / "cluster", args.shared) as backend:
        problems, operations, (runs, manifests, blobs) = run_cluster_concurrency(
            work, clients, rounds, backend
        )
    for problem in problems:
        print(f"FAIL {problem}")
    print(
        f"cluster concurrency ({args.shared}): {NODES} nodes x {clients} clients x {rounds} rounds:"
        f" {operations} pushes and pulls beside {runs} gc runs on node{NODES - 1}"
        f" ({manifests} manifests, {blobs} blobs deleted meanwhile)"
        f" in {time.monotonic() - started:.0f} s; {len(problems)} problems (lost or corrupt)"
    )
    if not problems:
        remove_tree(work)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
