"""dockyard's registry against the CNCF registry 2.8 (Debian's docker-registry), side by side.

Both run on 127.0.0.1 with fresh storage directories; curl is the client:

- upload: monolithic upload (POST, then PUT of the body with ?digest=) of a fresh
  256 MiB random blob into a fresh repository;
- download: one GET of that blob;
- parallel: 8 simultaneous GETs of it;
- ping: 2000 sequential GET /v2/ on one keep-alive connection;
- with skopeo (when installed): push of an image with two gzip layers (the debian rootfs
  from ``python -m dockyard.devtools.baseimages debian`` when it is cached, else 100 MiB of text, and
  256 MiB of random data) into a freshly started registry, then a pull of it into a
  ``dir:`` directory (fresh servers for each run, so no blob is deduplicated or mounted).

Each figure is the median of --runs runs, servers alternating; ratio = CNCF time /
dockyard time (above 1: dockyard is faster). Usage:

    .venv/bin/python bench/registry_bench.py [--runs 5] [--size-mib 256] [--only dockyard]

Servers started here are stopped here (by PID), even on errors.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

from dockyard.devtools.registryserve import registry_serve_command

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CNCF_CONFIG = """version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {storage}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_ready(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        result = subprocess.run(
            ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", f"http://127.0.0.1:{port}/v2/"],
            capture_output=True,
            text=True,
        )
        if result.stdout == "200":
            return
        time.sleep(0.1)
    raise RuntimeError("server did not become ready")


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen
    workdir: str
    times: dict[str, list[float]] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT if self.name == "dockyard" else signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.workdir, ignore_errors=True)


DOCKYARD_WORKERS = 1


def start_dockyard(scratch: str) -> Server:
    workdir = tempfile.mkdtemp(prefix="dockyard-", dir=scratch)
    port = free_port()
    process = subprocess.Popen(
        registry_serve_command(
            f"127.0.0.1:{port}",
            "--storage",
            os.path.join(workdir, "storage"),
            "--workers",
            str(DOCKYARD_WORKERS),
        ),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server = Server("dockyard", port, process, workdir)
    try:
        wait_ready(port, process)
    except BaseException:
        server.stop()
        raise
    return server


def start_cncf(scratch: str) -> Server:
    binary = shutil.which("docker-registry")
    if binary is None:
        raise SystemExit("docker-registry is not installed (apt-get install docker-registry)")
    workdir = tempfile.mkdtemp(prefix="cncf-", dir=scratch)
    port = free_port()
    config = os.path.join(workdir, "config.yml")
    with open(config, "w") as stream:
        stream.write(CNCF_CONFIG.format(storage=os.path.join(workdir, "storage"), port=port))
    process = subprocess.Popen(
        [binary, "serve", config], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    server = Server("cncf", port, process, workdir)
    try:
        wait_ready(port, process)
    except BaseException:
        server.stop()
        raise
    return server


def curl(*args: str) -> str:
    result = subprocess.run(["curl", "-s", *args], capture_output=True, text=True, check=True)
    return result.stdout


def make_blob(path: str, size: int) -> str:
    hasher = hashlib.sha256()
    with open(path, "wb") as stream:
        remaining = size
        while remaining:
            chunk = os.urandom(min(remaining, 8 << 20))
            hasher.update(chunk)
            stream.write(chunk)
            remaining -= len(chunk)
        stream.flush()
        os.fsync(stream.fileno())  # its writeback must not compete with the upload measured
    return "sha256:" + hasher.hexdigest()


def upload(server: Server, repo: str, path: str, digest: str) -> float:
    headers = curl(
        "-D", "-", "-o", "/dev/null", "-X", "POST", f"{server.base}/v2/{repo}/blobs/uploads/"
    )
    location = next(
        line.split(":", 1)[1].strip()
        for line in headers.splitlines()
        if line.lower().startswith("location:")
    )
    if location.startswith("/"):
        location = server.base + location
    url = location + ("&" if "?" in location else "?") + f"digest={digest}"
    start = time.perf_counter()
    status = curl(
        "-o", "/dev/null", "-w", "%{http_code}", "-X", "PUT",
        "-H", "Content-Type: application/octet-stream", "-T", path, url,
    )  # fmt: skip
    elapsed = time.perf_counter() - start
    if status != "201":
        raise RuntimeError(f"{server.name}: upload answered {status}")
    return elapsed


def download(server: Server, repo: str, digest: str, parallel: int) -> float:
    url = f"{server.base}/v2/{repo}/blobs/{digest}"
    start = time.perf_counter()
    processes = [
        subprocess.Popen(["curl", "-s", "-f", "-o", "/dev/null", url]) for _ in range(parallel)
    ]
    codes = [p.wait() for p in processes]
    elapsed = time.perf_counter() - start
    if any(codes):
        raise RuntimeError(f"{server.name}: download failed {codes}")
    return elapsed


def _session_path(server: Server, response) -> str:  # type: ignore[no-untyped-def]
    location = response.getheader("Location") or ""
    return location[len(server.base) :] if location.startswith("http") else location


def _chunked_upload(connection, server: Server, repo: str, data: bytes) -> tuple[str, int]:  # type: ignore[no-untyped-def]
    """POST, two PATCHes, PUT ?digest=: the chunked upload of the conformance suites."""
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    connection.request("POST", f"/v2/{repo}/blobs/uploads/")
    response = connection.getresponse()
    response.read()
    path = _session_path(server, response)
    half = len(data) // 2
    for start, end in ((0, half), (half, len(data))):
        headers = {
            "Content-Type": "application/octet-stream",
            "Content-Range": f"{start}-{end - 1}",
        }
        connection.request("PATCH", path, body=data[start:end], headers=headers)
        response = connection.getresponse()
        response.read()
        path = _session_path(server, response) or path
    connection.request("PUT", f"{path}{'&' if '?' in path else '?'}digest={digest}")
    response = connection.getresponse()
    response.read()
    if response.status != 201:
        raise RuntimeError(f"{server.name}: chunked upload answered {response.status}")
    return digest, len(data)


def _monolithic_upload(connection, server: Server, repo: str, data: bytes) -> str:  # type: ignore[no-untyped-def]
    """POST, then PUT of the body with ?digest= (the suites' monolithic push)."""
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    connection.request("POST", f"/v2/{repo}/blobs/uploads/")
    response = connection.getresponse()
    response.read()
    path = _session_path(server, response)
    connection.request(
        "PUT", f"{path}{'&' if '?' in path else '?'}digest={digest}", body=data,
        headers={"Content-Type": "application/octet-stream"},
    )  # fmt: skip
    response = connection.getresponse()
    response.read()
    if response.status != 201:
        raise RuntimeError(f"{server.name}: monolithic upload answered {response.status}")
    return digest


def conformance_warmup(server: Server, repositories: int) -> None:
    """What the OCI conformance suites (distribution-spec's and the CNCF registry's) leave
    behind, on ``repositories`` repositories: chunked, monolithic and single-POST uploads,
    a cross-repository mount, a manifest pushed by tag and one by digest with a ``subject``
    (a referrer), reads (HEAD and GET of manifests and blobs, tag lists with ``n``/``last``,
    the referrers list, unknown names and digests: 404), deletions (a blob, a tag, a
    manifest) and upload sessions left unfinished (some holding data)."""
    import http.client
    import json

    manifest_type = "application/vnd.oci.image.manifest.v1+json"
    config_type = "application/vnd.oci.image.config.v1+json"
    layer_type = "application/vnd.oci.image.layer.v1.tar"
    missing = "sha256:" + "0" * 64

    def manifest_of(config, layers, **extra):  # type: ignore[no-untyped-def]
        return json.dumps({
            "schemaVersion": 2, "mediaType": manifest_type,
            "config": {"mediaType": config_type, "digest": config[0], "size": config[1]},
            "layers": [{"mediaType": layer_type, "digest": digest, "size": size}
                       for digest, size in layers],
            **extra,
        }).encode()  # fmt: skip

    for number in range(repositories):
        repo = f"conformance/repo{number}"
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        try:
            layers = [_chunked_upload(connection, server, repo, os.urandom(4096 + number))
                      for _ in range(3)]  # fmt: skip
            config = _chunked_upload(connection, server, repo, json.dumps({"n": number}).encode())
            mono = os.urandom(2048 + number)
            layers.append((_monolithic_upload(connection, server, repo, mono), len(mono)))
            single = os.urandom(1024 + number)
            single_digest = "sha256:" + hashlib.sha256(single).hexdigest()
            manifest = manifest_of(config, layers)
            manifest_digest = "sha256:" + hashlib.sha256(manifest).hexdigest()
            referrer = manifest_of(
                config, [(single_digest, len(single))], artifactType="application/vnd.bench.sig",
                subject={"mediaType": manifest_type, "digest": manifest_digest,
                         "size": len(manifest)},
            )  # fmt: skip
            referrer_digest = "sha256:" + hashlib.sha256(referrer).hexdigest()
            mounted = f"conformance/mount{number}"
            requests = [
                ("POST", f"/v2/{repo}/blobs/uploads/?digest={single_digest}", single,
                 {"Content-Type": "application/octet-stream"}),
                ("PUT", f"/v2/{repo}/manifests/v{number}", manifest, {"Content-Type": manifest_type}),
                ("PUT", f"/v2/{repo}/manifests/{referrer_digest}", referrer,
                 {"Content-Type": manifest_type}),
                ("PUT", f"/v2/{repo}/manifests/extra{number}", manifest, {"Content-Type": manifest_type}),
                ("POST", f"/v2/{mounted}/blobs/uploads/?mount={layers[0][0]}&from={repo}", None, {}),
                ("HEAD", f"/v2/{repo}/manifests/v{number}", None, {"Accept": manifest_type}),
                ("GET", f"/v2/{repo}/manifests/v{number}", None, {"Accept": manifest_type}),
                ("GET", f"/v2/{repo}/manifests/{manifest_digest}", None, {"Accept": manifest_type}),
                ("GET", f"/v2/{repo}/tags/list", None, {}),
                ("GET", f"/v2/{repo}/tags/list?n=1", None, {}),
                ("GET", f"/v2/{repo}/tags/list?n=1&last=extra{number}", None, {}),
                ("GET", f"/v2/{repo}/referrers/{manifest_digest}", None, {}),
                ("HEAD", f"/v2/{repo}/blobs/{layers[0][0]}", None, {}),
                ("GET", f"/v2/{repo}/blobs/{layers[0][0]}", None, {}),
                ("GET", f"/v2/{repo}/blobs/{layers[2][0]}", None, {"Range": "bytes=0-99"}),
                ("GET", f"/v2/{repo}/blobs/{missing}", None, {}),
                ("GET", f"/v2/{repo}/manifests/nosuchtag", None, {"Accept": manifest_type}),
                ("GET", f"/v2/conformance/nosuchrepo{number}/tags/list", None, {}),
                ("DELETE", f"/v2/{repo}/manifests/extra{number}", None, {}),
                ("DELETE", f"/v2/{repo}/manifests/{referrer_digest}", None, {}),
                ("DELETE", f"/v2/{repo}/blobs/{layers[1][0]}", None, {}),
            ]  # fmt: skip
            for method, path, body, headers in requests:
                connection.request(method, path, body=body, headers=headers)
                connection.getresponse().read()
            for left in range(4):  # sessions never finished, every other one holding data
                connection.request("POST", f"/v2/{repo}/blobs/uploads/")
                response = connection.getresponse()
                response.read()
                if left % 2:
                    connection.request(
                        "PATCH", _session_path(server, response), body=os.urandom(1 << 16),
                        headers={"Content-Type": "application/octet-stream"},
                    )  # fmt: skip
                    connection.getresponse().read()
        finally:
            connection.close()


def ping(server: Server, count: int, scratch: str) -> float:
    config = os.path.join(scratch, "ping.curlrc")
    with open(config, "w") as stream:
        for _ in range(count):
            stream.write(f'url = "{server.base}/v2/"\noutput = "/dev/null"\n')
    start = time.perf_counter()
    subprocess.run(["curl", "-s", "-f", "-K", config], check=True)
    return time.perf_counter() - start


def base_rootfs() -> bytes:
    cache = os.environ.get("DOCKYARD_BASE_CACHE", "/var/cache/dockyard/base")
    path = os.path.join(cache, "debian-bookworm.tar")
    if os.path.exists(path):
        with open(path, "rb") as stream:
            return stream.read()
    words = b"".join(b"line %d of a compressible layer\n" % i for i in range(100_000))
    return (words * (100 * 1024 * 1024 // len(words) + 1))[: 100 * 1024 * 1024]


def _tar_of(name: str, data: bytes) -> bytes:
    import io
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        info.mode = 0o644
        archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def make_layout(path: str, random_mib: int, random_as_tar: bool = False) -> None:
    """An OCI layout ``path:bench`` with two gzip layers (``random_as_tar``: the random
    data in a tar, for clients that unpack layers)."""
    import gzip
    import json

    try:
        from isal import igzip as fast_gzip
    except ImportError:
        fast_gzip = gzip
    os.makedirs(os.path.join(path, "blobs", "sha256"))

    def blob(data: bytes) -> dict:
        digest = hashlib.sha256(data).hexdigest()
        with open(os.path.join(path, "blobs", "sha256", digest), "wb") as stream:
            stream.write(data)
        return {"digest": f"sha256:{digest}", "size": len(data)}

    random = os.urandom(random_mib << 20)
    raws = [base_rootfs(), _tar_of("random.bin", random) if random_as_tar else random]
    layers = []
    for raw in raws:
        compressed = fast_gzip.compress(raw, compresslevel=1)
        layers.append(
            {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", **blob(compressed)}
        )
    diff_ids = ["sha256:" + hashlib.sha256(raw).hexdigest() for raw in raws]
    config = json.dumps(
        {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": diff_ids}}
    ).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **blob(config)},
            "layers": layers,
        }
    ).encode()
    entry = {
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        **blob(manifest),
        "annotations": {"org.opencontainers.image.ref.name": "bench"},
    }
    with open(os.path.join(path, "index.json"), "w") as stream:
        json.dump({"schemaVersion": 2, "manifests": [entry]}, stream)
    with open(os.path.join(path, "oci-layout"), "w") as stream:
        json.dump({"imageLayoutVersion": "1.0.0"}, stream)
    os.sync()


def skopeo_round(server: Server, layout: str, scratch: str, run: int) -> tuple[float, float]:
    image = f"docker://127.0.0.1:{server.port}/bench/skopeo{run}:latest"
    start = time.perf_counter()
    subprocess.run(
        ["skopeo", "copy", "--insecure-policy", "--dest-tls-verify=false", f"oci:{layout}:bench", image],
        check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    push = time.perf_counter() - start
    target = os.path.join(scratch, f"pulled-{server.name}-{run}")
    start = time.perf_counter()
    subprocess.run(
        ["skopeo", "copy", "--insecure-policy", "--src-tls-verify=false", image, f"dir:{target}"],
        check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    pull = time.perf_counter() - start
    shutil.rmtree(target, ignore_errors=True)
    return push, pull


def record(server: Server, key: str, value: float) -> None:
    server.times.setdefault(key, []).append(value)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--pings", type=int, default=2000)
    parser.add_argument("--only", choices=("dockyard", "cncf"))
    parser.add_argument("--scratch", default=None, help="directory for storage and blobs")
    parser.add_argument("--no-skopeo", action="store_true", help="skip the skopeo push/pull")
    parser.add_argument(
        "--workers", type=int, default=1, help="dockyard's `registry serve --workers` (default 1)"
    )
    args = parser.parse_args()
    global DOCKYARD_WORKERS
    DOCKYARD_WORKERS = args.workers

    scratch = tempfile.mkdtemp(prefix="registry-bench-", dir=args.scratch)
    servers: list[Server] = []
    try:
        if args.only != "cncf":
            servers.append(start_dockyard(scratch))
        if args.only != "dockyard":
            servers.append(start_cncf(scratch))
        blob = os.path.join(scratch, "blob")
        for run in range(args.runs):
            digest = make_blob(blob, args.size_mib << 20)  # a fresh blob: nothing deduplicates
            order = servers if run % 2 == 0 else list(reversed(servers))
            for server in order:
                repo = f"bench/run{run}"
                record(server, "upload", upload(server, repo, blob, digest))
                record(server, "download", download(server, repo, digest, 1))
                record(server, "parallel8", download(server, repo, digest, 8))
                record(server, "ping2000", ping(server, args.pings, scratch))
            print(f"run {run + 1}/{args.runs} done", file=sys.stderr)
        for server in servers:
            server.stop()
        if not args.no_skopeo and shutil.which("skopeo"):
            layout = os.path.join(scratch, "layout")
            make_layout(layout, args.size_mib)
            starters = {"dockyard": start_dockyard, "cncf": start_cncf}
            for run in range(args.runs):
                order = servers if run % 2 == 0 else list(reversed(servers))
                for server in order:
                    fresh = starters[server.name](scratch)
                    try:
                        push, pull = skopeo_round(fresh, layout, scratch, run)
                    finally:
                        fresh.stop()
                    record(server, "skopeo-push", push)
                    record(server, "skopeo-pull", pull)
                print(f"skopeo run {run + 1}/{args.runs} done", file=sys.stderr)
    finally:
        for server in servers:
            server.stop()
        shutil.rmtree(scratch, ignore_errors=True)

    labels = {
        "upload": f"monolithic upload {args.size_mib} MiB",
        "download": "one download",
        "parallel8": "8 parallel downloads",
        "ping2000": f"{args.pings} GET /v2/ keep-alive",
        "skopeo-push": "skopeo push (2 gzip layers)",
        "skopeo-pull": "skopeo pull",
    }
    by_name = {s.name: s for s in servers}
    print(f"{'benchmark':32} {'dockyard':>10} {'cncf 2.8':>10} {'ratio':>7}")
    for key, label in labels.items():
        ours = by_name.get("dockyard")
        theirs = by_name.get("cncf")
        a = statistics.median(ours.times[key]) if ours and key in ours.times else None
        b = statistics.median(theirs.times[key]) if theirs and key in theirs.times else None
        ratio = f"{b / a:6.2f}x" if a and b else "-"
        print(
            f"{label:32} {f'{a:.3f} s' if a else '-':>10} {f'{b:.3f} s' if b else '-':>10} {ratio:>7}"
        )
    print(
        f"ratio = CNCF time / dockyard time (above 1: dockyard is faster); medians of {args.runs}"
        f"; dockyard with {args.workers} worker(s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
