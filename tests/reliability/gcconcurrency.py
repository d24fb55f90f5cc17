"""Registry gc beside pushers and pullers.

    .venv/bin/python -m tests.reliability.gcconcurrency --full   # 8 pushers/pullers x 25 rounds

N clients each push fresh images (skopeo, two layers, one shared by everybody) to
their own repository and pull them back with `dockyard pull`, some overwriting a tag
(so the old manifest becomes untagged), while `registry gc --delete-untagged` runs in a
loop with a short grace period. Every push and pull must succeed; afterwards every tag
must name a manifest whose blobs are all served with the right digest.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from .artifacts import ArchiveImage, docker_archive, random_tree
from .harness import dockyard_argv, remove_tree, run
from .hostile_registry import request
from .registryfixture import skopeo_push, start_registry

SHARED = random_tree(4242, files=10, top="shared")
MANIFEST_TYPES = (
    "application/vnd.docker.distribution.manifest.v2+json,"
    "application/vnd.oci.image.manifest.v1+json"
)


def _client(number: int, rounds: int, host: str, work: Path, errors: list[str], tags: dict) -> None:
    store = work / f"store{number}"
    for k in range(rounds):
        tag = str(k % 3)  # tags are overwritten: old manifests become untagged
        image = ArchiveImage([SHARED, random_tree(number * 1000 + k, files=5, top=f"c{number}")])
        archive = work / f"c{number}-{k}.tar"
        archive.write_bytes(docker_archive([image]))
        target = f"{host}/w{number}/img:{tag}"
        try:
            skopeo_push(archive, target)
        except RuntimeError as error:
            errors.append(f"push {target}: {error}")
            continue
        archive.unlink()
        pulled = run(store, "pull", "-q", target)
        if not pulled.ok:
            errors.append(f"pull {target}: {pulled.line()}")
            continue
        tags[f"w{number}/img:{tag}"] = image.id


def _gc_loop(storage: Path, stop: threading.Event, errors: list[str], runs: list[int]) -> None:
    while not stop.is_set():
        result = subprocess.run(
            dockyard_argv("registry", "gc", "--storage", str(storage), "--grace", "20",
                          "--upload-grace", "60", "--delete-untagged"),
            capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        runs[0] += 1
        if result.returncode != 0:
            errors.append(f"gc: {result.stderr.strip()[-300:]}")
        stop.wait(0.5)


def verify(host: str, tags: dict[str, str]) -> list[str]:
    problems = []
    for name, image_id in tags.items():
        repo, _, tag = name.partition(":")
        answer = request(
            host, "GET", f"/v2/{repo}/manifests/{tag}", None, {"Accept": MANIFEST_TYPES}
        )
        if answer.status != 200:
            problems.append(f"{name}: manifest {answer.status}")
            continue
        manifest = json.loads(answer.body)
        if manifest["config"]["digest"] != image_id:
            problems.append(f"{name}: names {manifest['config']['digest']}, expected {image_id}")
        for descriptor in [manifest["config"], *manifest["layers"]]:
            blob = request(host, "GET", f"/v2/{repo}/blobs/{descriptor['digest']}")
            digest = "sha256:" + hashlib.sha256(blob.body).hexdigest()
            if blob.status != 200 or digest != descriptor["digest"]:
                problems.append(f"{name}: blob {descriptor['digest']} {blob.status}")
    return problems


def run_gc_concurrency(directory: Path, clients: int, rounds: int) -> tuple[list[str], int, int]:
    storage = directory / "storage"
    registry = start_registry(storage)
    errors: list[str] = []
    tags: dict[str, str] = {}
    runs = [0]
    stop = threading.Event()
    collector = threading.Thread(target=_gc_loop, args=(storage, stop, errors, runs))
    collector.start()
    try:
        threads = [
            threading.Thread(
                target=_client, args=(n, rounds, registry.host, directory, errors, tags)
            )
            for n in range(clients)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        stop.set()
        collector.join()
        time.sleep(0.1)
        problems = errors + verify(registry.host, tags)
    finally:
        stop.set()
        registry.stop()
    return problems, clients * rounds, runs[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--full", action="store_true", help="8 clients x 25 rounds")
    parser.add_argument("--clients", type=int)
    parser.add_argument("--rounds", type=int)
    args = parser.parse_args(argv)
    clients = args.clients or (8 if args.full else 3)
    rounds = args.rounds or (25 if args.full else 3)
    directory = Path(tempfile.mkdtemp(prefix="dockyard-gc-"))
    started = time.monotonic()
    problems, pushes, gc_runs = run_gc_concurrency(directory, clients, rounds)
    for problem in problems:
        print(f"FAIL {problem}")
    print(
        f"gc concurrency: {clients} clients, {pushes} pushes and pulls beside {gc_runs} gc runs"
        f" in {time.monotonic() - started:.0f} s; {len(problems)} problems"
    )
    if not problems:
        remove_tree(directory)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
