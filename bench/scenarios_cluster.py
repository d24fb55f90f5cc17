"""Many registry nodes as one: manifest GETs/s of 3 nodes behind haproxy against 1 node.

    .venv/bin/python -m bench.scenarios_cluster        # this scenario alone (~1 minute)

The nodes are the cluster the tests use (tests/registry/cluster.py): `dockyard registry
serve` processes sharing one storage directory and a throwaway PostgreSQL (or, with
DOCKYARD_BENCH_METADATA=sqlite, the directory's SQLite file), Debian's haproxy in
front (round robin, each request balanced on its own). The load is ``CLIENTS`` curl
processes at once, each sending ``REQUESTS`` manifest GETs on one keep-alive connection.
Contenders, alternating: node0 alone (no balancer), node0 alone behind haproxy (what the
balancer costs), and the three nodes behind haproxy. Besides the wall time, every run
records the CPU time each process took (from /proc for the servers, from wait4 for
the curl clients): on this 2-core machine the cores, not the nodes, are the limit, so
requests per CPU-second of the server side shows how well the work scales.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from bench.harness import Context, run_alone
from tests.registry.cluster import Backend, Balancer, Cluster, haproxy_available, standalone_backend

CLIENTS = 16
REQUESTS = 250  # per client
REPO = "bench/cluster"
ACCEPT = "application/vnd.oci.image.manifest.v1+json"
TICKS = os.sysconf("SC_CLK_TCK")
# what the nodes share besides the storage directory: "postgresql" (a throwaway server, the
# deployment of docs/scale.md) or "sqlite" (the storage directory's database)
METADATA = os.environ.get("DOCKYARD_BENCH_METADATA", "postgresql")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a running process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def tree_cpu_seconds(pid: int) -> float:
    """CPU time of a process and its living descendants (PostgreSQL's backends)."""
    total = 0.0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            total += cpu_seconds(current)
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(child) for child in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def push_small_image(base: str) -> None:
    """A config, one layer and a manifest, through the registry API."""
    config = json.dumps({"architecture": "amd64", "os": "linux"}).encode()
    layer = os.urandom(4096)
    for blob in (config, layer):
        digest = "sha256:" + hashlib.sha256(blob).hexdigest()
        request = urllib.request.Request(
            f"{base}/v2/{REPO}/blobs/uploads/?digest={digest}", data=blob, method="POST"
        )
        urllib.request.urlopen(request, timeout=30).close()
    manifest = {
        "schemaVersion": 2,
        "mediaType": ACCEPT,
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": "sha256:" + hashlib.sha256(config).hexdigest(),
            "size": len(config),
        },
        "layers": [
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": "sha256:" + hashlib.sha256(layer).hexdigest(),
                "size": len(layer),
            }
        ],
    }
    request = urllib.request.Request(
        f"{base}/v2/{REPO}/manifests/latest",
        data=json.dumps(manifest).encode(),
        headers={"Content-Type": ACCEPT},
        method="PUT",
    )
    urllib.request.urlopen(request, timeout=30).close()


def curl_config(directory: Path, host: str) -> Path:
    path = directory / f"get-{host.replace(':', '-')}.curlrc"
    entry = f'url = "http://{host}/v2/{REPO}/manifests/latest"\noutput = "/dev/null"\n'
    path.write_text(f'fail\nheader = "Accept: {ACCEPT}"\n' + entry * REQUESTS)
    return path


def storm(config: Path, servers: dict[str, int]) -> dict:
    """CLIENTS curl processes at once; wall time, requests/s and CPU of every side
    (``servers``: name -> PID; "database" counts with its child processes)."""

    def cpu(name: str, pid: int) -> float:
        return tree_cpu_seconds(pid) if name == "database" else cpu_seconds(pid)

    before = {name: cpu(name, pid) for name, pid in servers.items()}
    start = time.perf_counter()
    processes = [
        subprocess.Popen(["curl", "-s", "-K", str(config)], stdout=subprocess.DEVNULL)
        for _ in range(CLIENTS)
    ]
    client_cpu = 0.0
    for process in processes:
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        client_cpu += usage.ru_utime + usage.ru_stime
    wall = time.perf_counter() - start
    if any(process.returncode for process in processes):
        raise RuntimeError(f"a curl client failed: {[p.returncode for p in processes]}")
    used = {name: cpu(name, pid) - before[name] for name, pid in servers.items()}
    nodes = [value for name, value in used.items() if name.startswith("node")]
    server_cpu = sum(used.values())
    total = CLIENTS * REQUESTS
    return {
        "seconds": wall,
        "GETs/s": total / wall,
        "busiest node CPU %": 100 * max(nodes) / wall,
        "all nodes CPU %": 100 * sum(nodes) / wall,
        "haproxy CPU %": 100 * used.get("haproxy", 0.0) / wall,
        "database CPU %": 100 * used.get("database", 0.0) / wall,
        "curl CPU %": 100 * client_cpu / wall,
        "GETs per server CPU-second": total / server_cpu,
    }


def registry_cluster(ctx: Context) -> None:
    if not ctx.wanted("registry-cluster"):
        return
    if not haproxy_available():
        ctx.log("registry-cluster: haproxy is not installed; skipped")
        return
    scratch = ctx.work / "registry-cluster"
    scratch.mkdir(exist_ok=True)
    with standalone_backend(scratch, METADATA) as backend:
        _measure(ctx, scratch, backend)
    shutil.rmtree(scratch, ignore_errors=True)


def _measure(ctx: Context, scratch: Path, backend: Backend) -> None:
    cluster = Cluster(scratch, backend, nodes=3)
    (scratch / "one").mkdir()
    alone = Balancer(scratch / "one", [cluster.nodes[0]])
    try:
        with ctx.scenario(
            "registry-cluster",
            f"registry: {CLIENTS * REQUESTS} manifest GETs from {CLIENTS} curl clients,"
            f" 3 nodes behind haproxy vs 1 node (metadata: {METADATA})",
            ("1 node", 0.5, "3 nodes ≥ 2x one node's GETs/s (time ≤ 0.5x)"),
            note="2 cores for everything (nodes, haproxy, curl): see the CPU figures",
        ) as scenario:
            scenario.ours = "3 nodes + haproxy"
            cluster.start()
            alone.start()
            push_small_image(cluster.url)
            node0 = cluster.nodes[0]
            configs = {
                "1 node": curl_config(scratch, node0.host),
                "1 node + haproxy": curl_config(scratch, alone.host),
                "3 nodes + haproxy": curl_config(scratch, cluster.host),
            }
            pids = {
                "1 node": {"node0": node0.pid},
                "1 node + haproxy": {"node0": node0.pid, "haproxy": alone.process.pid},
                "3 nodes + haproxy": {
                    **{node.name: node.pid for node in cluster.nodes},
                    "haproxy": cluster.balancer.process.pid,
                },
            }
            if backend.service_pid is not None:
                for shown in pids.values():
                    shown["database"] = backend.service_pid
            ctx.alternate(
                scenario,
                [
                    (label, None, lambda label=label: storm(configs[label], pids[label]))
                    for label in configs
                ],
                runs=ctx.runs,
            )
    finally:
        alone.stop()
        cluster.stop()


ALL = [registry_cluster]


def main() -> int:
    return run_alone(registry_cluster, "dockyard-bench-cluster-", runs=5)


if __name__ == "__main__":
    sys.exit(main())
