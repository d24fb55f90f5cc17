"""`pull-300`: issue 15's pull at the limit of the machine.

The image: two gzip layers, the debian:bookworm minbase rootfs and one 256 MiB file of
random data (about 300 MB compressed), pushed once by skopeo into a CNCF registry on
loopback. Each engine pulls it into a fresh store every run: dockyard into a new
``DOCKYARD_ROOT``, podman with ``--root NEW --runroot NEW2``, Docker through a dockerd
(and containerd) started on a new data root before the run (not timed; dockerd treats
127.0.0.0/8 registries as insecure). Runs in the tmpfs pass and in the disk pass (the
stores then live on the disk, the registry's storage too).
"""

from __future__ import annotations

import io
import os
import tarfile
import tempfile
from pathlib import Path

from bench.client_bench import Registry as CncfRegistry
from bench.client_bench import skopeo
from bench.harness import Context
from bench.peers import Docker, Dockyard, remove_tree

REPO = "bench/pull300:latest"
RANDOM_MIB = 256
KEYS = ("pull-300",)


def _random_layer(size: int) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        info = tarfile.TarInfo("data/random.bin")
        info.size = size
        info.mtime = 1_700_000_000
        archive.addfile(info, io.BytesIO(os.urandom(size)))
    return buffer.getvalue()


def image_archive(ctx: Context) -> Path:
    """A docker-archive of the image (skopeo gzips its layers on the way to the registry)."""
    from bench.archives import write_archive

    path = ctx.work / "pull-300.tar"
    if not path.exists():
        debian = Path(ctx.files["debian"]).read_bytes()
        write_archive(path, [(REPO, [debian, _random_layer(RANDOM_MIB << 20)], {})])
    return path


def pull_300(ctx: Context) -> None:
    if not ctx.wanted("pull-300"):
        return
    scratch = ctx.work / "pull-300"
    scratch.mkdir(exist_ok=True)
    registry: CncfRegistry | None = None
    docker: list[Docker] = []  # the dockerd of the current run
    engines = ctx.engines
    try:
        archive = image_archive(ctx)
        registry = CncfRegistry(scratch)
        ref = f"{registry.host}/{REPO}"
        skopeo(f"docker-archive:{archive}", f"docker://{ref}")
        archive.unlink()
        stores = scratch / "stores"

        def fresh_store() -> None:
            for engine in docker:
                engine.stop()
            docker.clear()
            remove_tree(stores)
            stores.mkdir()

        def dockyard_pull() -> None:
            Dockyard(stores).quiet("pull", "-q", ref)

        def podman_pull() -> None:
            # podman refuses a run root longer than 50 characters: a short one in /tmp
            with tempfile.TemporaryDirectory(prefix="pull300-run-") as runroot:
                engines["podman"].quiet(
                    "--root", str(stores / "root"), "--runroot", runroot,
                    "pull", "-q", "--tls-verify=false", ref,
                )  # fmt: skip
                remove_tree(Path(runroot))

        def docker_prepare() -> None:
            fresh_store()
            engine = Docker(stores)
            docker.append(engine)
            engine.start()

        def docker_pull() -> None:
            docker[0].quiet("pull", "-q", ref)

        cases = [("dockyard", fresh_store, dockyard_pull)]
        if "podman" in engines:
            cases.append(("podman", fresh_store, podman_pull))
        if "docker" in engines:
            cases.append(("docker", docker_prepare, docker_pull))
        note = (
            "debian minbase + one 256 MiB file, two gzip layers (~300 MB) from a CNCF registry "
            "on loopback, each engine into a fresh store every run (Docker: a dockerd started "
            "on a new data root before the run, not timed)"
        )
        with (
            ctx.scenario(
                "pull-300", "pull of the 300 MB image into a fresh store",
                ("podman", 0.5, "≤ 0.5x podman"), note=note,
            ) as versus_podman,
            ctx.scenario(
                "pull-300-docker", "pull of the 300 MB image into a fresh store (vs Docker)",
                ("docker", 0.3, "≤ 0.3x Docker"), note="the runs of pull-300",
            ) as versus_docker,
        ):  # fmt: skip
            versus_docker.samples = versus_podman.samples  # one set of runs, two targets
            versus_docker.extras = versus_podman.extras
            versus_docker.load = versus_podman.load
            ctx.alternate(versus_podman, cases)
    finally:
        for engine in docker:
            engine.stop()
        if registry is not None:
            registry.stop()
        remove_tree(scratch)


ALL = [pull_300]
