"""Registry and client scenarios.

- dockyard's registry vs the CNCF registry 2.8: curl upload/download/small
  requests (the scenario code of ``bench.registry_bench``), skopeo push/pull, and
  20 clients pulling one image at once.
- Clients against one CNCF registry: dockyard pull/push vs skopeo, docker, podman.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import statistics
import subprocess
import time
from pathlib import Path

from bench import registry_bench
from bench.client_bench import Registry as CncfRegistry
from bench.client_bench import skopeo
from bench.harness import Context
from bench.peers import remove_tree
from bench.report import loadavg
from bench.scenarios_engine import DEBIAN, rmi, variant_rootfs

PULL_REPO = "bench/pull:latest"
WARMUP_REPOSITORIES = 300


# Printed next to a skopeo row's target when it is missed (see docs/bench.md).
WHY_SKOPEO = (
    "most of each run is skopeo's own work (compressing the layer on push, verifying and "
    "writing it on pull); the registries' shares differ by less than the run-to-run spread"
)


def start_server(kind: str, scratch: Path) -> registry_bench.Server:
    if kind == "dockyard":
        return registry_bench.start_dockyard(str(scratch))
    return registry_bench.start_cncf(str(scratch))


def pull_archive(ctx: Context) -> Path:
    """An image of the debian rootfs plus one file: no engine has its layer yet."""
    path = ctx.work / "pull-image.tar"
    if not path.exists():
        from bench.archives import write_archive

        layer = variant_rootfs(ctx, "pull-layer.tar")
        write_archive(path, [("bench/pull:latest", [layer.read_bytes()], {})])
        layer.unlink()
    return path


def registry_curl(ctx: Context, size_mib: int) -> None:
    if not ctx.wanted("registry-curl"):
        return
    scratch = ctx.work / "registry-curl"
    scratch.mkdir(exist_ok=True)
    size = size_mib << 20
    scenarios = {}
    titles = {
        "upload": (f"registry: monolithic upload of {size_mib} MiB (curl)", ("CNCF", 2 / 3, "≥ 1.5x CNCF throughput (time ≤ 0.67x)")),
        "download": (f"registry: download of {size_mib} MiB (curl)", ("CNCF", 1.0, "≥ 1.0x CNCF")),
        "parallel8": (f"registry: 8 parallel downloads of {size_mib} MiB (curl)", ("CNCF", 1.0, "≥ 1.0x CNCF")),
        "ping": ("registry: 2000 GET /v2/ on one connection (curl)", ("CNCF", 1.0, "≥ 1.0x CNCF")),
    }  # fmt: skip
    servers: list[registry_bench.Server] = []
    names = {"dockyard": "dockyard", "cncf": "CNCF"}
    with contextlib.ExitStack() as stack:
        for key, (title, target) in titles.items():
            scenarios[key] = stack.enter_context(
                ctx.scenario(f"registry-curl-{key}", title, target)
            )
        stack.callback(shutil.rmtree, scratch, ignore_errors=True)
        servers = [start_server("dockyard", scratch)]
        stack.callback(servers[0].stop)
        servers.append(start_server("cncf", scratch))
        stack.callback(servers[1].stop)
        for s in scenarios.values():
            s.load.append(loadavg())
        blob = str(scratch / "blob")
        for number in range(ctx.warmup + ctx.runs):
            digest = registry_bench.make_blob(blob, size)  # fresh: nothing deduplicates
            order = servers if number % 2 == 0 else list(reversed(servers))
            for server in order:
                repo = f"bench/run{number}"
                figures = {
                    "upload": registry_bench.upload(server, repo, blob, digest),
                    "download": registry_bench.download(server, repo, digest, 1),
                    "parallel8": registry_bench.download(server, repo, digest, 8),
                    "ping": registry_bench.ping(server, 2000, str(scratch)),
                }
                if number >= ctx.warmup:
                    for key, seconds in figures.items():
                        scenarios[key].add(names[server.name], seconds)
        scenarios["upload"].bytes_per_run = size
        scenarios["download"].bytes_per_run = size
        scenarios["parallel8"].bytes_per_run = 8 * size
        for s in scenarios.values():
            s.load.append(loadavg())
        warm = stack.enter_context(
            ctx.scenario(
                "registry-curl-download-warm",
                f"registry: download of {size_mib} MiB after a conformance-like warm-up (curl)",
                ("CNCF", 1.0, "≥ 1.0x CNCF"),
                note=f"both registries first serve {WARMUP_REPOSITORIES} repositories the way the "
                "OCI conformance suites do (chunked, monolithic and single-POST uploads, a mount, "
                "manifests by tag and digest, a referrer, HEADs, GETs, ranges, tag pages, 404s, "
                "deletions, unfinished upload sessions), on top of the runs above",
            )
        )
        warm.load.append(loadavg())
        for server in servers:
            registry_bench.conformance_warmup(server, WARMUP_REPOSITORIES)
        digest = registry_bench.make_blob(blob, size)
        for server in servers:
            registry_bench.upload(server, "bench/warm", blob, digest)
        for number in range(ctx.warmup + ctx.runs):
            order = servers if number % 2 == 0 else list(reversed(servers))
            for server in order:
                seconds = registry_bench.download(server, "bench/warm", digest, 1)
                if number >= ctx.warmup:
                    warm.add(names[server.name], seconds)
        warm.bytes_per_run = size
        warm.load.append(loadavg())


def registry_skopeo(ctx: Context) -> None:
    """skopeo push (debian archive) and pull (to an OCI layout), each into a fresh registry."""
    if not ctx.wanted("registry-skopeo"):
        return
    archive = ctx.files["debian-archive"]
    scratch = ctx.work / "registry-skopeo"
    scratch.mkdir(exist_ok=True)
    names = {"dockyard": "dockyard", "cncf": "CNCF"}
    with (
        ctx.scenario(
            "registry-skopeo-push",
            "registry: skopeo push of debian (docker-archive → registry)",
            ("CNCF", 1.0, "no slower than CNCF", WHY_SKOPEO),
            note="a fresh registry for each run, so nothing is mounted or skipped",
        ) as push,
        ctx.scenario(
            "registry-skopeo-pull",
            "registry: skopeo pull of debian (registry → OCI layout)",
            ("CNCF", 1.0, "no slower than CNCF", WHY_SKOPEO),
        ) as pull,
    ):
        push.load.append(loadavg())
        pull.load.append(loadavg())
        for number in range(ctx.warmup + ctx.runs):
            for kind in ("dockyard", "cncf") if number % 2 == 0 else ("cncf", "dockyard"):
                server = start_server(kind, scratch)
                layout = scratch / "layout"
                try:
                    target = f"docker://127.0.0.1:{server.port}/bench/debian:latest"
                    start = time.perf_counter()
                    skopeo(f"docker-archive:{archive}", target)
                    pushed = time.perf_counter() - start
                    start = time.perf_counter()
                    skopeo(target, f"oci:{layout}:latest")
                    pulled = time.perf_counter() - start
                finally:
                    server.stop()
                    shutil.rmtree(layout, ignore_errors=True)
                if number >= ctx.warmup:
                    push.add(names[kind], pushed)
                    pull.add(names[kind], pulled)
        push.load.append(loadavg())
        pull.load.append(loadavg())
    shutil.rmtree(scratch, ignore_errors=True)


def _curl_client(config: Path) -> subprocess.Popen:
    return subprocess.Popen(
        ["curl", "-s", "-f", "-L", "-K", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def registry_many_clients(ctx: Context, clients: int = 20) -> None:
    """`clients` curl processes at once, each fetching the manifest and every blob."""
    if not ctx.wanted("registry-clients"):
        return
    scratch = ctx.work / "registry-clients"
    scratch.mkdir(exist_ok=True)
    archive = pull_archive(ctx)
    names = {"dockyard": "dockyard", "cncf": "CNCF"}
    servers = []
    with ctx.scenario(
        "registry-clients",
        f"registry: {clients} clients pulling one image at once (curl)",
        ("CNCF", 1.0, "≥ 1.0x CNCF"),
        note="each client GETs the manifest, the config and the layer (debian, gzip) on one "
        "connection; figures: wall time until all are done, aggregate MiB/s, p99 of one request",
    ) as s:
        try:
            configs = {}
            for kind in ("dockyard", "cncf"):
                server = start_server(kind, scratch)
                servers.append(server)
                base = f"127.0.0.1:{server.port}"
                skopeo(f"docker-archive:{archive}", f"docker://{base}/{PULL_REPO}")
                accept = "application/vnd.docker.distribution.manifest.v2+json"
                manifest = subprocess.run(
                    ["curl", "-s", "-f", "-H", f"Accept: {accept}",
                     f"http://{base}/v2/bench/pull/manifests/latest"],
                    capture_output=True, check=True,
                ).stdout  # fmt: skip
                digests = [json.loads(manifest)["config"]["digest"]]
                digests += [layer["digest"] for layer in json.loads(manifest)["layers"]]
                config = scratch / f"{kind}.curlrc"
                lines = [
                    f'url = "http://{base}/v2/bench/pull/manifests/latest"',
                    'output = "/dev/null"',
                    f'header = "Accept: {accept}"',
                ]
                for digest in digests:
                    lines += [
                        f'url = "http://{base}/v2/bench/pull/blobs/{digest}"',
                        'output = "/dev/null"',
                    ]
                lines.append('write-out = "%{time_total} %{size_download}\\n"')
                config.write_text("\n".join(lines) + "\n")
                configs[kind] = config

            def storm(kind: str):  # type: ignore[no-untyped-def]
                def action() -> dict:
                    start = time.perf_counter()
                    processes = [_curl_client(configs[kind]) for _ in range(clients)]
                    outputs = [p.communicate()[0] for p in processes]
                    wall = time.perf_counter() - start
                    if any(p.returncode for p in processes):
                        raise RuntimeError(f"{kind}: a client failed")
                    times, total = [], 0
                    for output in outputs:
                        for line in output.strip().splitlines():
                            seconds, size = line.split()
                            times.append(float(seconds))
                            total += int(size)
                    p99 = statistics.quantiles(times, n=100)[98] if len(times) > 1 else times[0]
                    return {"seconds": wall, "MiB/s": total / (1 << 20) / wall, "p99_s": p99}

                return action

            ctx.alternate(
                s,
                [(names[kind], None, storm(kind)) for kind in ("dockyard", "cncf")],
                children_cpu=False,  # the children are the curl clients
            )
        finally:
            for server in servers:
                server.stop()
            shutil.rmtree(scratch, ignore_errors=True)


def clients(ctx: Context) -> None:
    """dockyard pull/push vs skopeo, docker and podman, against one CNCF registry."""
    engines = ctx.engines
    archive = ctx.files["debian-archive"]
    scratch = ctx.work / "clients"
    scratch.mkdir(exist_ok=True)
    registries: list[CncfRegistry] = []

    def fresh() -> str:
        for registry in registries:
            registry.stop()
        registries.clear()
        registry = CncfRegistry(scratch)
        registries.append(registry)
        return registry.host

    def push_case(label: str, cold: bool = False):  # type: ignore[no-untyped-def]
        state: dict[str, str] = {}

        def prepare() -> None:
            state["ref"] = f"{fresh()}/bench/debian:latest"
            if label.startswith("dockyard"):
                engine = engines["dockyard"]
                if cold:  # the layers as `load` leaves them: nothing compressed yet
                    rmi(engine, DEBIAN)
                    engine.run("load", "-i", str(archive))
                engine.run("tag", DEBIAN, state["ref"])
            elif label == "docker":
                engines["docker"].run("tag", DEBIAN, state["ref"])

        def action() -> None:
            ref = state["ref"]
            if label.startswith("dockyard"):
                engines["dockyard"].quiet("push", "-q", ref)
                rmi(engines["dockyard"], ref)
            elif label == "docker":
                engines["docker"].quiet("push", "-q", ref)
            elif label == "podman":
                engines["podman"].quiet(
                    "push", "-q", "--tls-verify=false", DEBIAN, f"docker://{ref}"
                )
            else:
                skopeo(f"docker-archive:{archive}", f"docker://{ref}")

        return label, prepare, action

    try:
        if ctx.wanted("client-push"):
            with ctx.scenario(
                "client-push",
                "client: push debian to a CNCF registry",
                ("skopeo", 1.0, "no slower than skopeo"),
                note="a fresh registry before each push (nothing to skip or mount); "
                "`dockyard` starts from the image as `load` left it (layers not compressed "
                "yet), `dockyard (blobs kept)` pushes again after a first push kept the gzip "
                "blob; skopeo pushes the docker-archive; docker and podman compress every time",
            ) as s:
                cases = [push_case("dockyard", cold=True), push_case("dockyard (blobs kept)")]
                cases += [
                    push_case(name)
                    for name in ("skopeo", "docker", "podman")
                    if name in engines or name == "skopeo"
                ]
                try:
                    ctx.alternate(s, cases)
                finally:
                    if "docker" in engines:
                        engines["docker"].run("image", "prune", "-f", check=False)
                        for line in (
                            engines["docker"]
                            .run("images", "--format", "{{.Repository}}:{{.Tag}}")
                            .stdout.split()
                        ):
                            if line.startswith("127.0.0.1:"):
                                rmi(engines["docker"], line)
        if ctx.wanted("client-pull"):
            pull = pull_archive(ctx)
            host = fresh()
            ref = f"{host}/{PULL_REPO}"
            skopeo(f"docker-archive:{pull}", f"docker://{ref}")
            layout = scratch / "layout"
            storage = scratch / "containers-storage"
            store_ref = f"containers-storage:[overlay@{storage}/root+{storage}/run]{PULL_REPO}"

            def pull_action(label: str):  # type: ignore[no-untyped-def]
                def action() -> None:
                    if label == "skopeo":
                        skopeo(f"docker://{ref}", store_ref)
                    elif label == "skopeo (OCI layout)":
                        skopeo(f"docker://{ref}", f"oci:{layout}:latest")
                    elif label == "podman":
                        engines["podman"].quiet("pull", "-q", "--tls-verify=false", ref)
                    else:
                        engines[label].quiet("pull", "-q", ref)

                return action

            def pull_prepare(label: str):  # type: ignore[no-untyped-def]
                def prepare() -> None:
                    if label == "skopeo":
                        remove_tree(storage)
                    elif label == "skopeo (OCI layout)":
                        shutil.rmtree(layout, ignore_errors=True)
                    else:
                        rmi(engines[label], ref)

                return prepare

            with ctx.scenario(
                "client-pull",
                "client: pull (debian-sized layer, absent) from a CNCF registry",
                ("skopeo", 1.0, "no slower than skopeo"),
                note="dockyard, docker and podman download, verify and extract into their "
                "stores; `skopeo` copies into a fresh containers-storage (overlay, extracting: "
                "the same work), `skopeo (OCI layout)` writes the blobs only (less work)",
            ) as s:
                labels = ["dockyard", "skopeo", "skopeo (OCI layout)"]
                labels += [n for n in ("docker", "podman") if n in engines]
                try:
                    ctx.alternate(s, [(n, pull_prepare(n), pull_action(n)) for n in labels])
                finally:
                    remove_tree(storage)
                    for name in labels:
                        if name in engines:
                            rmi(engines[name], ref)
    finally:
        for registry in registries:
            registry.stop()
        remove_tree(scratch)


ALL = [registry_curl, registry_skopeo, registry_many_clients, clients]
