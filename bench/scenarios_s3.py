"""The registry on S3: dockyard against the CNCF registry 2.8, both on one radosgw.

    .venv/bin/python -m bench.scenarios_s3          # these scenarios alone (RUNS=3)

A throwaway Ceph cluster (tests/cephserver.py: one bluestore OSD, radosgw) serves a
bucket to each registry:

- dockyard: ``registry serve --storage s3://BUCKET?endpoint=...`` (blobs streamed by
  the node) and, as a second contender, the same with ``&redirect=true`` (307 to a
  presigned URL, as the CNCF registry does by default); metadata in SQLite;
- CNCF 2.8 (Debian's docker-registry) with its s3 driver: its bucket made beforehand
  (it does not create one), ``regionendpoint`` (which implies path-style addressing),
  blob GETs redirected (its default); no AWS_CA_BUNDLE in its environment (it refuses
  to start with one).

The image is the registry bench's (bench/registry_bench.py): the debian rootfs and 256
MiB of random data, two gzip layers, about 300 MB. Scenarios, servers alternating:

- skopeo push (OCI layout -> a fresh repository) and pull (-> dir:);
- dockyard's client: pull into a fresh store, then push to a fresh repository;
- 8 clients at once (curl, redirects followed) fetching the manifest, config and layers;
- 2000 sequential manifest GETs on one connection (curl).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from bench import registry_bench
from bench.harness import Context, run_alone
from bench.report import loadavg

ROOT = Path(__file__).resolve().parent.parent
REPO_IMAGE = "bench/s3"
CLIENTS = 8
MANIFEST_GETS = 2000
ACCEPT = "application/vnd.oci.image.manifest.v1+json"
CNCF_S3_CONFIG = """version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  s3:
    accesskey: {access}
    secretkey: {secret}
    region: us-east-1
    regionendpoint: {endpoint}
    bucket: {bucket}
    secure: false
    v4auth: true
    rootdirectory: /registry
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
http:
  addr: 127.0.0.1:{port}
"""


@dataclass
class S3Server:
    label: str
    port: int
    process: subprocess.Popen

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _bucket(ceph, name: str) -> None:
    from dockyard.registry.storage.s3 import open_s3

    url = f"s3://{name}?endpoint={ceph.endpoint}"
    open_s3(url, access_key=ceph.access_key, secret_key=ceph.secret_key).close()  # creates it


def start_dockyard(ceph, work: Path, redirect: bool) -> S3Server:
    bucket = f"dy-{uuid.uuid4().hex[:10]}"
    port = registry_bench.free_port()
    query = f"?endpoint={ceph.endpoint}" + ("&redirect=true" if redirect else "")
    log = open(work / f"dockyard-{port}.log", "wb")  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "-m", "dockyard.cli.main", "registry", "serve",
         "--addr", f"127.0.0.1:{port}", "--storage", f"s3://{bucket}{query}",
         "--metadata", f"sqlite:///{work / bucket}.db"],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **ceph.env()},
    )  # fmt: skip
    log.close()
    server = S3Server("dockyard (redirect)" if redirect else "dockyard", port, process)
    _wait(server)
    return server


def start_cncf(ceph, work: Path) -> S3Server:
    binary = shutil.which("docker-registry")
    if binary is None:
        raise RuntimeError("docker-registry is not installed")
    bucket = f"cncf-{uuid.uuid4().hex[:10]}"
    _bucket(ceph, bucket)
    port = registry_bench.free_port()
    config = work / f"cncf-{port}.yml"
    config.write_text(
        CNCF_S3_CONFIG.format(
            access=ceph.access_key,
            secret=ceph.secret_key,
            endpoint=ceph.endpoint,
            bucket=bucket,
            port=port,
        )  # fmt: skip
    )
    env = {k: v for k, v in os.environ.items() if k != "AWS_CA_BUNDLE"}
    log = open(work / f"cncf-{port}.log", "wb")  # noqa: SIM115
    process = subprocess.Popen(
        [binary, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT, env=env
    )
    log.close()
    server = S3Server("CNCF", port, process)
    _wait(server)
    return server


def _wait(server: S3Server) -> None:
    try:
        registry_bench.wait_ready(server.port, server.process)
    except BaseException:
        server.stop()
        raise


def _skopeo(*args: str) -> None:
    subprocess.run(
        ["skopeo", "copy", "--insecure-policy", "--src-tls-verify=false",
         "--dest-tls-verify=false", *args],
        check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip


def _dockyard(root: Path, *args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "dockyard.cli.main", *args],
        check=True, stdout=subprocess.DEVNULL, cwd=ROOT,
        env={**os.environ, "DOCKYARD_ROOT": str(root), "DOCKER_CONFIG": str(root / "cfg"),
             "DOCKYARD_CONFIG": str(root / "daemon.json")},
    )  # fmt: skip


def _fetch_config(server: S3Server, scratch: Path, repo: str, clients: int) -> list[Path]:
    manifest = json.loads(
        subprocess.run(
            [
                "curl",
                "-s",
                "-f",
                "-H",
                f"Accept: {ACCEPT}",
                f"http://{server.host}/v2/{repo}/manifests/latest",
            ],
            capture_output=True,
            check=True,
        ).stdout  # fmt: skip
    )
    digests = [manifest["config"]["digest"]] + [layer["digest"] for layer in manifest["layers"]]
    configs = []
    for index in range(clients):
        path = scratch / f"client-{index}.curlrc"
        lines = [f'header = "Accept: {ACCEPT}"\n'  # curl sends it with every URL
                 f'url = "http://{server.host}/v2/{repo}/manifests/latest"\n'
                 'output = "/dev/null"\n']  # fmt: skip
        lines += [
            f'url = "http://{server.host}/v2/{repo}/blobs/{d}"\noutput = "/dev/null"\n'
            for d in digests
        ]
        path.write_text("".join(lines))
        configs.append(path)
    return configs


def _parallel(configs: list[Path]) -> float:
    start = time.perf_counter()
    processes = [
        subprocess.Popen(["curl", "-s", "-f", "-L", "-K", str(c)], stdout=subprocess.DEVNULL)
        for c in configs
    ]
    codes = [p.wait() for p in processes]
    if any(codes):
        raise RuntimeError(f"a parallel client failed: {codes}")
    return time.perf_counter() - start


def _manifest_gets(server: S3Server, scratch: Path, repo: str) -> float:
    config = scratch / f"gets-{server.port}.curlrc"
    one = f'url = "http://{server.host}/v2/{repo}/manifests/latest"\noutput = "/dev/null"\n'
    config.write_text(f'header = "Accept: {ACCEPT}"\n' + one * MANIFEST_GETS)  # one for all
    start = time.perf_counter()
    subprocess.run(["curl", "-s", "-f", "-K", str(config)], check=True)
    return time.perf_counter() - start


def registry_s3(ctx: Context) -> None:
    if not ctx.wanted("registry-s3"):
        return
    from tests.cephserver import CephUnavailable, start_cluster

    scratch = ctx.work / "registry-s3"
    scratch.mkdir(exist_ok=True)
    try:
        ceph = start_cluster(scratch / "ceph")
    except CephUnavailable as error:
        ctx.log(f"registry-s3: {error}; skipped")
        return
    try:
        layout = str(scratch / "layout")
        registry_bench.make_layout(layout, 256, random_as_tar=True)
        image_bytes = sum(f.stat().st_size for f in (Path(layout) / "blobs" / "sha256").iterdir())
        starters = {
            "dockyard": lambda: start_dockyard(ceph, scratch, redirect=False),
            "dockyard (redirect)": lambda: start_dockyard(ceph, scratch, redirect=True),
            "CNCF": lambda: start_cncf(ceph, scratch),
        }
        _run_scenarios(ctx, starters, layout, scratch, image_bytes)
    finally:
        ceph.stop()
        shutil.rmtree(scratch, ignore_errors=True)


def _run_scenarios(
    ctx: Context, starters: dict, layout: str, scratch: Path, image_bytes: int
) -> None:
    """Fresh registries (fresh buckets) for every run: nothing is mounted or skipped."""
    target = ("CNCF", 2 / 3, "≥ 1.5x CNCF throughput (time ≤ 0.67x)")
    mb = image_bytes / 1e6
    with (
        ctx.scenario("registry-s3-skopeo-push", f"registry on S3: skopeo push of {mb:.0f} MB",
                     target) as push,
        ctx.scenario("registry-s3-skopeo-pull", f"registry on S3: skopeo pull of {mb:.0f} MB",
                     target) as pull,
        ctx.scenario("registry-s3-client-pull", f"registry on S3: dockyard pull of {mb:.0f} MB",
                     target, note="into a fresh store each run") as client_pull,
        ctx.scenario("registry-s3-client-push", f"registry on S3: dockyard push of {mb:.0f} MB",
                     target, note="to a fresh repository each run") as client_push,
        ctx.scenario("registry-s3-parallel8", f"registry on S3: {CLIENTS} clients pulling at once "
                     "(curl)", target, note="manifest, config and both layers each; redirects "
                     "followed") as parallel,
        ctx.scenario("registry-s3-manifests", f"registry on S3: {MANIFEST_GETS} manifest GETs "
                     "on one connection (curl)", target) as manifests,
    ):  # fmt: skip
        every = (push, pull, client_pull, client_push, parallel, manifests)
        for s in every:
            s.load.append(loadavg())
        for number in range(ctx.warmup + ctx.runs):
            order = list(starters) if number % 2 == 0 else list(reversed(starters))
            for label in order:
                server = starters[label]()
                try:
                    figures = _one_run(server, layout, scratch)
                finally:
                    server.stop()
                fresh = starters[label]()  # dockyard's push goes to an empty registry
                try:
                    figures["client_push"] = _client_push(fresh, scratch)
                finally:
                    fresh.stop()
                if number >= ctx.warmup:
                    for scenario, key in zip(every, KEYS, strict=True):
                        scenario.add(label, figures[key])
        for s in (push, pull, client_pull, client_push):
            s.bytes_per_run = image_bytes
        parallel.bytes_per_run = CLIENTS * image_bytes
        for s in every:
            s.load.append(loadavg())


STORE = "store"
KEYS = ("push", "pull", "client_pull", "client_push", "parallel", "gets")  # as ``every``


def _one_run(server: S3Server, layout: str, scratch: Path) -> dict[str, float]:
    repo = REPO_IMAGE
    image = f"docker://{server.host}/{repo}:latest"
    figures = {}
    started = time.perf_counter()
    _skopeo(f"oci:{layout}:bench", image)
    figures["push"] = time.perf_counter() - started
    target_dir = scratch / "pulled"
    started = time.perf_counter()
    _skopeo(image, f"dir:{target_dir}")
    figures["pull"] = time.perf_counter() - started
    shutil.rmtree(target_dir, ignore_errors=True)
    root = scratch / STORE
    shutil.rmtree(root, ignore_errors=True)
    (root / "cfg").mkdir(parents=True)
    (root / "daemon.json").write_text("{}")
    started = time.perf_counter()
    _dockyard(root, "pull", f"{server.host}/{repo}:latest")
    figures["client_pull"] = time.perf_counter() - started
    _dockyard(root, "tag", f"{server.host}/{repo}:latest", f"{REPO_IMAGE}:latest")
    figures["parallel"] = _parallel(_fetch_config(server, scratch, repo, CLIENTS))
    figures["gets"] = _manifest_gets(server, scratch, repo)
    return figures


def _client_push(server: S3Server, scratch: Path) -> float:
    """dockyard push of the image the last run pulled, into ``server`` (empty)."""
    root = scratch / STORE
    _dockyard(root, "tag", f"{REPO_IMAGE}:latest", f"{server.host}/{REPO_IMAGE}:latest")
    started = time.perf_counter()
    _dockyard(root, "push", f"{server.host}/{REPO_IMAGE}:latest")
    return time.perf_counter() - started


ALL = [registry_s3]


def main() -> int:
    return run_alone(registry_s3, "dockyard-bench-s3-", runs=3)


if __name__ == "__main__":
    sys.exit(main())
