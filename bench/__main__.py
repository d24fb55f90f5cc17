"""dockyard against Docker, Podman, skopeo and the CNCF registry, side by side.

    .venv/bin/python -m bench [--runs 5] [--fast-runs 15] [--only KEY ...] [--no-install]

Installs the peers from Debian if missing, starts private copies of them under a
temporary directory (loopback only), runs every scenario alternately, writes
bench/results/bench-<date>.{md,json} and latest.{md,json}, stops what it started
and checks that nothing is left behind. See docs/bench.md.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import (
    harness,
    peers,
    report,
    scenarios_cluster,
    scenarios_engine,
    scenarios_registry,
    scenarios_s3,
)
from bench.harness import Context

RESULTS = Path(__file__).resolve().parent / "results"


def _terminate(signum, frame):  # type: ignore[no-untyped-def]
    print(f"signal {signum} received: stopping", flush=True)
    harness.STOPPING = True
    for other in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(other, signal.SIG_IGN)  # one way out, taken once
    raise KeyboardInterrupt(f"signal {signum}")


def compile_bytecode() -> None:
    """As scripts/install.sh does: the CLI must start from bytecode, as installed."""
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", "-j", "0", str(peers.REPO / "dockyard"),
         str(peers.REPO / "bench")],
        check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip


def versions(engines: dict[str, peers.Engine]) -> dict[str, str]:
    found = {name: engine.version() for name, engine in engines.items()}
    found["containerd"] = peers.package_version("containerd")
    found["runc"] = peers.package_version("runc")
    found["crun"] = peers.package_version("crun")
    found["skopeo"] = peers.package_version("skopeo")
    found["CNCF registry"] = peers.package_version("docker-registry")
    found["GNU tar"] = peers.package_version("tar")
    found["curl"] = peers.package_version("curl")
    commit = subprocess.run(
        ["git", "-C", str(peers.REPO), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    found["dockyard commit"] = commit or "?"
    return found


def stop_engines(ctx: Context, engines: dict[str, peers.Engine]) -> None:
    """Stop each engine once (a second call finds it stopped)."""
    for engine in reversed(list(engines.values())):
        try:
            engine.stop()
        except Exception as error:  # keep stopping the others
            ctx.log(f"stopping {engine.name}: {error}")
    engines.clear()


def filesystem(path: Path) -> str:
    """The type of the filesystem holding ``path`` (ext4, xfs, ...)."""
    found, best = "?", ""
    with open("/proc/self/mounts") as mounts:
        for line in mounts:
            fields = line.split()
            mount_point = fields[1]
            if str(path).startswith(mount_point.rstrip("/") + "/") and len(mount_point) > len(best):
                found, best = fields[2], mount_point
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="counted runs of slow scenarios")
    parser.add_argument("--fast-runs", type=int, default=15, help="counted runs of quick commands")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument(
        "--size-mib", type=int, default=256, help="blob size for registry curl runs"
    )
    parser.add_argument("--only", nargs="*", help="scenario keys (prefixes) to run")
    parser.add_argument("--no-install", action="store_true", help="do not apt-get the peers")
    parser.add_argument("--no-docker", action="store_true")
    parser.add_argument("--no-podman", action="store_true")
    parser.add_argument("--work", default=None, help="parent of the scratch directory")
    parser.add_argument(
        "--disk",
        action="store_true",
        help="keep the scratch directory on the disk instead of a private tmpfs (one pass)",
    )
    parser.add_argument(
        "--no-disk",
        action="store_true",
        help="skip the second pass of the engine scenarios on disk",
    )
    parser.add_argument(
        "--disk-dir",
        default="/var/tmp",
        help="where the disk pass keeps every engine's store (one filesystem for all)",
    )
    parser.add_argument("--results", default=str(RESULTS))
    options = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, _terminate)
    signal.signal(signal.SIGHUP, _terminate)

    started = time.monotonic()
    if not options.no_install:
        peers.install_peers()
    compile_bytecode()
    work = Path(tempfile.mkdtemp(prefix="dockyard-bench-", dir=options.work))
    if not options.disk:  # other I/O on a shared disk must not decide the figures
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=16g,mode=0700", "dockyard-bench", str(work)],
            check=True,
        )
    ctx = Context(work, runs=options.runs, fast_runs=options.fast_runs, warmup=options.warmup)
    ctx.only = set(options.only) if options.only else None

    def make_engines(where: Path) -> dict[str, peers.Engine]:
        made: dict[str, peers.Engine] = {"dockyard": peers.Dockyard(where)}
        if not options.no_docker:
            made["docker"] = peers.Docker(where)
        if not options.no_podman:
            made["podman"] = peers.Podman(where)
        return made

    engines = make_engines(work)
    ctx.engines = engines
    meta: dict = {
        "date": report.now(),
        "machine": report.machine(),
        "loadavg_start": [round(x, 2) for x in os.getloadavg()],
        "runs": options.runs,
        "fast_runs": options.fast_runs,
        "warmup": options.warmup,
        "scratch": "disk (" + str(work.parent) + ")" if options.disk else "tmpfs",
    }
    disk_work: Path | None = None
    disk_engines: dict[str, peers.Engine] = {}
    if not (options.disk or options.no_disk) and any(
        ctx.wanted(key) for key in scenarios_engine.KEYS
    ):
        disk_work = Path(tempfile.mkdtemp(prefix="dockyard-bench-disk-", dir=options.disk_dir))
        meta["scratch"] += f"; rows marked [disk]: {disk_work.parent} ({filesystem(disk_work)})"
    exit_code = 0
    results = Path(options.results)

    def checkpoint() -> None:  # the table so far, in case the run is cut short
        partial = dict(meta, loadavg_end=[round(x, 2) for x in os.getloadavg()])
        partial.setdefault("versions", {})
        (results / "partial.md").parent.mkdir(parents=True, exist_ok=True)
        (results / "partial.md").write_text(report.markdown(ctx.scenarios, partial))

    ctx.checkpoint = checkpoint
    try:
        for engine in engines.values():
            ctx.log(f"starting {engine.name}")
            engine.start()
        meta["versions"] = versions(engines)
        ctx.log("importing the base images into each engine")
        scenarios_engine.import_base_images(ctx)
        for scenario in scenarios_engine.ALL:
            scenario(ctx)
        for scenario in scenarios_registry.ALL:
            if scenario is scenarios_registry.registry_curl:
                scenario(ctx, options.size_mib)
            else:
                scenario(ctx)
        for scenario in scenarios_cluster.ALL + scenarios_s3.ALL:
            scenario(ctx)
        scenarios_engine.through_daemon(ctx)
        stop_engines(ctx, engines)
        if disk_work is not None:
            # The same engine scenarios with every store on the disk: one filesystem for
            # dockyard and its peers, started after the tmpfs engines stopped.
            disk = Context(disk_work, runs=options.runs, fast_runs=options.fast_runs,
                           warmup=options.warmup, scenarios=ctx.scenarios, only=ctx.only,
                           checkpoint=checkpoint, variant="disk")  # fmt: skip
            disk_engines = disk.engines = make_engines(disk_work)
            for engine in disk_engines.values():
                disk.log(f"starting {engine.name} on disk")
                engine.start()
            scenarios_engine.import_base_images(disk)
            for scenario in scenarios_engine.ALL:
                scenario(disk)
    except KeyboardInterrupt:
        harness.STOPPING = True
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_IGN)
        ctx.log("interrupted: stopping everything")
        exit_code = 130
    finally:
        stop_engines(ctx, engines)
        stop_engines(ctx, disk_engines)
        ctx.log("removing the scratch directory")
        left = []
        for where in (work, disk_work):
            if where is not None:
                peers.remove_tree(where)
                left += peers.leftovers(where)
        meta["leftovers"] = "; ".join(left)
        meta["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
        meta["duration_s"] = round(time.monotonic() - started)
        meta.setdefault("versions", {})
    md, js = report.write(results, ctx.scenarios, meta)
    (results / "partial.md").unlink(missing_ok=True)
    print(report.markdown(ctx.scenarios, meta))
    ctx.log(f"wrote {md} and {js} in {meta['duration_s']} s")
    if left:
        print("LEFT BEHIND: " + "; ".join(left), file=sys.stderr)
        return 1
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
