"""The docker CLI through dockyard's Engine API daemon vs through real Docker 20.10.

    .venv/bin/python bench/daemon_bench.py [--runs 15] [--cli /usr/local/bin/docker]
                                           [--no-install] [--work DIR] [--results DIR]

Starts a private Docker Engine 20.10 (Debian's docker.io: its own containerd and
dockerd, data root under the scratch directory, no bridge, no iptables) and a
dockyard daemon on its own store and socket, imports the same busybox rootfs into
both, then times the same docker CLI binary against each, alternately, after a
warm-up. Rows: `docker images`, `docker run --rm --network none busybox true` (the
two the issue names) and `docker ps -a`, `docker inspect`, `docker run -d` + `rm -f`,
`docker exec`. Ratios are dockyard's median over Docker's (below 1: dockyard is
faster). Writes bench/results/daemon-<date>.{md,json} and daemon-latest.{md,json};
stops what it started, by PID, and checks nothing is left behind.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import harness, peers, report  # noqa: E402
from bench.harness import Context  # noqa: E402

RESULTS = REPO / "bench" / "results"
RUN = ("run", "--rm", "--network", "none", "busybox", "true")


class Client(peers.Docker):
    """A docker CLI binary pointed at a daemon (nothing to start or stop)."""

    def __init__(self, work: Path, host: str, cli: str, name: str) -> None:
        super().__init__(work, host=host)
        self.cli = cli
        self.name = name

    def cmd(self, *args: str) -> list[str]:
        return [self.cli, *args]

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass


def scenarios(ctx: Context, ours: Client, theirs: Client) -> None:
    pair = (("dockyard", ours), ("docker", theirs))

    def cases(action, prepare=None):  # type: ignore[no-untyped-def]
        return [
            (
                label,
                (lambda c=client: prepare(c)) if prepare else None,
                lambda c=client: action(c),
            )
            for label, client in pair
        ]

    with ctx.scenario(
        "daemon-images", "`docker images` (4 names, 2 images)", ("docker", 1.0, "≤ 1.0x Docker")
    ) as s:
        ctx.alternate(s, cases(lambda c: c.quiet("images")), runs=ctx.fast_runs)
    with ctx.scenario(
        "daemon-run",
        "`docker run --rm --network none busybox true`",
        ("docker", 1.0, "≤ 1.0x Docker"),
    ) as s:
        ctx.alternate(s, cases(lambda c: c.quiet(*RUN)), runs=ctx.fast_runs)
    with ctx.scenario("daemon-ps", "`docker ps -a` (1 container)") as s:
        ctx.alternate(s, cases(lambda c: c.quiet("ps", "-a")), runs=ctx.fast_runs)
    with ctx.scenario("daemon-inspect", "`docker inspect busybox`") as s:
        ctx.alternate(s, cases(lambda c: c.quiet("inspect", "busybox")), runs=ctx.fast_runs)
    with ctx.scenario("daemon-run-d", "`docker run -d ... sleep 60` then `docker rm -f`") as s:

        def detached(client: Client) -> None:
            client.quiet("run", "-d", "--name", "bench-d", "--network", "none", "busybox",
                         "sleep", "60")  # fmt: skip
            client.quiet("rm", "-f", "bench-d")

        ctx.alternate(s, cases(detached), runs=ctx.runs)
    with ctx.scenario("daemon-exec", "`docker exec` of `true` in a running container") as s:
        ctx.alternate(s, cases(lambda c: c.quiet("exec", "bench-exec", "true")), runs=ctx.fast_runs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="counted runs of slow rows")
    parser.add_argument("--fast-runs", type=int, default=15, help="counted runs of quick rows")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument(
        "--cli",
        default=shutil.which("docker") or peers.DOCKER_CLI,
        help="the docker CLI used against both daemons",
    )
    parser.add_argument("--no-install", action="store_true", help="do not apt-get docker.io")
    parser.add_argument("--work", default=None, help="parent of the scratch directory")
    parser.add_argument("--results", default=str(RESULTS))
    options = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("needs root (dockerd, containers)", file=sys.stderr)
        return 2
    if not options.no_install:
        peers.install_peers()
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="dockyard-daemon-bench-", dir=options.work))
    ctx = Context(work, runs=options.runs, fast_runs=options.fast_runs, warmup=options.warmup)
    dockyard = peers.Dockyard(work)
    docker = peers.Docker(work)
    ctx.engines = {"dockyard": dockyard, "docker": docker}
    meta: dict = {
        "date": report.now(),
        "machine": report.machine(),
        "loadavg_start": [round(x, 2) for x in os.getloadavg()],
        "runs": options.runs,
        "fast_runs": options.fast_runs,
        "warmup": options.warmup,
        "versions": {},
    }
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    exit_code = 0
    try:
        ctx.log("starting Docker 20.10 (containerd + dockerd) and dockyard's daemon")
        docker.start()
        dockyard.start_daemon()
        ours = Client(work, f"unix://{dockyard.socket}", options.cli, "dockyard")
        theirs = Client(work, f"unix://{docker.socket}", options.cli, "docker")
        meta["versions"] = {
            "docker CLI": ours.run("version", "--format", "{{.Client.Version}}").stdout.strip(),
            "Docker": docker.version(),
            "dockyard": dockyard.version(),
            "containerd": peers.package_version("containerd"),
            "runc": peers.package_version("runc"),
            "crun": peers.package_version("crun"),
        }
        from dockyard.devtools.baseimages import ensure_base_image

        tarball = ensure_base_image("busybox")
        for client in (ours, theirs):
            client.run("import", "--change", 'CMD ["sh"]', str(tarball), "busybox:latest")
            client.run("tag", "busybox:latest", "bench/a:1")
            client.run("import", str(tarball), "bench/b:1")
            client.run("tag", "bench/b:1", "bench/b:2")
            client.run("run", "-d", "--name", "bench-exec", "--network", "none", "busybox",
                       "sleep", "3600")  # fmt: skip
        scenarios(ctx, ours, theirs)
        for client in (ours, theirs):
            client.run("rm", "-f", "bench-exec", check=False)
    except KeyboardInterrupt:
        harness.STOPPING = True
        exit_code = 130
    finally:
        for engine in (dockyard, docker):
            try:
                engine.stop()
            except Exception as error:  # noqa: BLE001 - keep stopping the other
                ctx.log(f"stopping {engine.name}: {error}")
        peers.remove_tree(work)
        left = peers.leftovers(work)
        meta["leftovers"] = "; ".join(left)
        meta["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
        meta["duration_s"] = round(time.monotonic() - started)
    text = report.markdown(ctx.scenarios, meta)
    results = Path(options.results)
    results.mkdir(parents=True, exist_ok=True)
    stamp = meta["date"].replace(":", "").replace("-", "")[:15]
    data = {"meta": meta, "scenarios": [s.as_json() for s in ctx.scenarios]}
    for name in (f"daemon-{stamp}", "daemon-latest"):
        (results / f"{name}.md").write_text(text)
        (results / f"{name}.json").write_text(json.dumps(data, indent=1) + "\n")
    print(text)
    if left:
        print("LEFT BEHIND: " + "; ".join(left), file=sys.stderr)
        return 1
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
