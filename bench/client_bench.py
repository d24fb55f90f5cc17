"""dockyard's registry client against skopeo (Debian), side by side, on the same local
CNCF registry (Debian's docker-registry 2.8).

The image: the debian:bookworm rootfs plus one layer of 256 MiB of random data.

- push (cold): the layers are uncompressed in the source. dockyard pushes from its
  store (ISA-L gzip while uploading); skopeo copies a docker-archive of the same image
  to the registry (Go gzip while uploading).
- push (warm): the compressed blobs exist already. dockyard pushes the image again to
  a fresh registry (the blobs kept from the first push); skopeo copies an OCI layout
  holding the same gzip blobs.
- pull: dockyard pulls into a fresh store (download, verify, extract the layers).
  Two skopeo peers: into a fresh containers-storage (overlay driver, podman's store:
  download, verify, extract: the same work), and into a fresh OCI layout directory
  (download, verify, write: no extraction, so less work than dockyard does).

Every measurement uses a fresh registry (no "already exists", no cross-repository
mount) and is the median of --runs runs, the two tools alternating. ratio = skopeo
time / dockyard time (above 1: dockyard is faster). Usage:

    .venv/bin/python bench/client_bench.py [--runs 3] [--size-mib 256]

Registries started here are stopped here, by PID.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
CONFIG = """version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {storage}
http:
  addr: 127.0.0.1:{port}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Registry:
    def __init__(self, work: Path) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="registry-", dir=work))
        self.port = free_port()
        config = self.directory / "config.yml"
        config.write_text(CONFIG.format(storage=self.directory / "storage", port=self.port))
        self.process = subprocess.Popen(
            ["docker-registry", "serve", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("the CNCF registry did not start")

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.directory, ignore_errors=True)


def run(*args: str, env: dict[str, str] | None = None) -> None:
    result = subprocess.run(args, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {result.stderr.strip()}")


def dockyard(root: Path, *args: str) -> None:
    env = dict(os.environ, DOCKYARD_ROOT=str(root))
    env.pop("DOCKYARD_CONFIG", None)
    run(PYTHON, "-m", "dockyard.cli.main", *args, env=env)


def skopeo(*args: str) -> None:
    run("skopeo", "copy", "-q", "--src-tls-verify=false", "--dest-tls-verify=false", *args)


def unmount_under(path: Path) -> None:
    """containers-storage leaves its overlay directory bind-mounted: undo that."""
    with open("/proc/self/mounts") as mounts:
        points = [line.split()[1] for line in mounts]
    for point in sorted((p for p in points if p.startswith(str(path))), reverse=True):
        subprocess.run(["umount", point], check=False)


def timed(action) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def random_layer(path: Path, size: int) -> None:
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as archive:
        info = tarfile.TarInfo("data/random.bin")
        info.size = size
        info.mtime = 1_700_000_000

        class Random(io.RawIOBase):
            left = size

            def readable(self) -> bool:
                return True

            def readinto(self, buffer):  # type: ignore[no-untyped-def]
                n = min(len(buffer), self.left)
                buffer[:n] = os.urandom(n)
                self.left -= n
                return n

        archive.addfile(info, io.BufferedReader(Random(), 1 << 20))


def build_source(work: Path, size: int) -> tuple[Path, Path]:
    """The image in a dockyard store (uncompressed layers) and as a docker archive."""
    sys.path.insert(0, str(ROOT))
    from dockyard import reference
    from dockyard.devtools.baseimages import ensure_base_image
    from dockyard.engine import Engine

    store_root = work / "source-store"
    engine = Engine(store_root)
    engine.images.import_(str(ensure_base_image("debian")), "debian:bookworm")
    tar = work / "random.tar"
    random_layer(tar, size)
    store = engine.store
    base = store.image(engine.images.resolve("debian:bookworm"))
    with open(tar, "rb") as stream:
        layer = store.add_layer_from_tar(stream, base.top_chain)
    tar.unlink()
    import json

    config = json.loads(store.blobs.read(base.id))
    config["rootfs"]["diff_ids"].append(str(layer.diff_id))
    config.setdefault("history", []).append({"created_by": "random data"})
    raw = json.dumps(config, separators=(",", ":")).encode()
    store.add_image(raw, base.id, reference.parse("bench/image:latest"))
    archive = work / "image.tar"
    with open(archive, "wb") as out:
        engine.images.save(["bench/image:latest"], out)
    engine.close()
    return store_root, archive


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--work", default=None, help="scratch directory (default: a temp dir)")
    options = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="client-bench-", dir=options.work))
    registries: list[Registry] = []

    def fresh() -> Registry:
        registry = Registry(work)
        registries.append(registry)
        return registry

    try:
        print(f"building the image (debian + {options.size_mib} MiB random) ...", flush=True)
        store_root, archive = build_source(work, options.size_mib << 20)
        layout = work / "layout"
        times: dict[str, list[float]] = {
            k: []
            for k in (
                "push cold dockyard",
                "push cold skopeo",
                "push warm dockyard",
                "push warm skopeo",
                "pull dockyard",
                "pull skopeo",
                "pull-oci dockyard",
                "pull-oci skopeo",
            )
        }
        for attempt in range(options.runs):
            # cold push: nothing compressed yet (a copy of the source store each time)
            copy = work / f"store-{attempt}"
            shutil.copytree(store_root, copy, symlinks=True)
            registry = fresh()
            name = f"{registry.host}/bench/image:latest"
            dockyard(copy, "tag", "bench/image:latest", name)
            times["push cold dockyard"].append(
                timed(lambda: dockyard(copy, "push", "-q", name))  # noqa: B023
            )
            registry = fresh()
            target = f"docker://{registry.host}/bench/image:latest"
            times["push cold skopeo"].append(
                timed(lambda: skopeo(f"docker-archive:{archive}", target))  # noqa: B023
            )
            # warm push: the compressed blobs are there already
            registry = fresh()
            warm = f"{registry.host}/bench/image:latest"
            dockyard(copy, "tag", "bench/image:latest", warm)
            times["push warm dockyard"].append(timed(lambda: dockyard(copy, "push", "-q", warm)))  # noqa: B023
            if not layout.exists():
                skopeo(f"docker://{warm}", f"oci:{layout}:latest")
            registry = fresh()
            target = f"docker://{registry.host}/bench/image:latest"
            times["push warm skopeo"].append(timed(lambda: skopeo(f"oci:{layout}:latest", target)))  # noqa: B023
            # pull from one registry holding the image
            pull_store = work / f"pull-store-{attempt}"
            pulled = timed(lambda: dockyard(pull_store, "pull", "-q", warm))  # noqa: B023
            times["pull dockyard"].append(pulled)
            times["pull-oci dockyard"].append(pulled)
            storage = work / f"containers-storage-{attempt}"
            destination = (
                f"containers-storage:[overlay@{storage}/root+{storage}/run]bench/image:latest"
            )
            times["pull skopeo"].append(
                timed(lambda: skopeo(f"docker://{warm}", destination))  # noqa: B023
            )
            pull_dir = work / f"pull-oci-{attempt}"
            times["pull-oci skopeo"].append(
                timed(lambda: skopeo(f"docker://{warm}", f"oci:{pull_dir}:latest"))  # noqa: B023
            )
            unmount_under(storage)
            for path in (copy, pull_store, pull_dir, storage):
                subprocess.run(["rm", "-rf", str(path)], check=False)
            for registry in registries:
                registry.stop()
            registries.clear()
        print(f"runs: {options.runs}, medians")
        labels = {
            "push cold": "push (layers to compress; skopeo from a docker-archive)",
            "push warm": "push (compressed blobs exist; skopeo from an OCI layout)",
            "pull": "pull (skopeo into containers-storage, extracting)",
            "pull-oci": "pull (skopeo into an OCI layout, not extracting)",
        }
        for case, label in labels.items():
            mine = statistics.median(times[f"{case} dockyard"])
            theirs = statistics.median(times[f"{case} skopeo"])
            print(
                f"dockyard {mine:7.3f}s   skopeo {theirs:7.3f}s   ratio {theirs / mine:5.2f}"
                f"   {label}"
            )
        return 0
    finally:
        for registry in registries:
            registry.stop()
        unmount_under(work)
        subprocess.run(["rm", "-rf", str(work)], check=False)


if __name__ == "__main__":
    sys.exit(main())
