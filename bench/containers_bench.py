"""Container benchmarks: `run --rm --network none busybox true` and `commit` of 100 MB.

    python bench/containers_bench.py [--runs 20] [--runtime crun|runc] [--root DIR]

Each figure is the wall time of the real CLI process (hyperfine style: warm-up
runs, then mean ± standard deviation, min and max). Docker and Podman are
measured the same way when they are installed and answering. Python bytecode
caching is switched on for the measured processes (PYTHONDONTWRITEBYTECODE
unset) as on an installed system.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def measure(
    command: list[str] | Callable[[], None], runs: int, warmup: int = 2, env=None, prepare=None
) -> list[float]:  # type: ignore[no-untyped-def]
    times = []
    for index in range(warmup + runs):
        if prepare is not None:
            prepare()
        start = time.perf_counter()
        if callable(command):
            command()
        else:
            subprocess.run(
                command, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
        elapsed = time.perf_counter() - start
        if index >= warmup:
            times.append(elapsed)
    return times


def report(label: str, times: list[float]) -> None:
    mean = statistics.mean(times)
    dev = statistics.stdev(times) if len(times) > 1 else 0.0
    print(
        f"{label:<55} {mean * 1000:8.1f} ms ± {dev * 1000:5.1f}   min {min(times) * 1000:7.1f}   max {max(times) * 1000:7.1f}   ({len(times)} runs)"
    )


def peer_works(tool: str) -> bool:
    if not shutil.which(tool):
        return False
    try:
        return (
            subprocess.run(
                [tool, "image", "inspect", "busybox"], capture_output=True, timeout=10
            ).returncode
            == 0
        )
    except (OSError, subprocess.TimeoutExpired):
        return False


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--commit-runs", type=int, default=5)
    parser.add_argument("--runtime", default=None)
    parser.add_argument("--root", default=None)
    args = parser.parse_args()

    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(REPO)
    if args.runtime:
        env["DOCKYARD_RUNTIME"] = args.runtime
    with tempfile.TemporaryDirectory(prefix="dockyard-bench-") as tmp:
        root = Path(args.root or Path(tmp) / "store")
        dy = [sys.executable, "-m", "dockyard.cli.main", "--root", str(root)]
        sys.path.insert(0, str(REPO))
        from dockyard.devtools.baseimages import ensure_base_image

        tarball = ensure_base_image("busybox")
        subprocess.run(
            [*dy, "import", "--change", 'CMD ["sh"]', str(tarball), "busybox:latest"],
            check=True,
            env=env,
            stdout=subprocess.DEVNULL,
        )
        runtime = (
            args.runtime
            or subprocess.run(
                [
                    sys.executable,
                    "-c",
                    "from dockyard.runtime.ocirt import get_runtime; print(get_runtime().name)",
                ],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
        )
        print(f"runtime: {runtime}; python {sys.version.split()[0]}; {os.cpu_count()} CPUs")

        report(
            "python -c pass (interpreter start)",
            measure([sys.executable, "-c", "pass"], args.runs, env=env),
        )
        report(
            "dockyard run --rm --network none busybox true",
            measure(
                [*dy, "run", "--rm", "--network", "none", "busybox", "true"], args.runs, env=env
            ),
        )
        for tool in ("docker", "podman"):
            if peer_works(tool):
                report(
                    f"{tool} run --rm --network none busybox true",
                    measure(
                        [tool, "run", "--rm", "--network", "none", "busybox", "true"], args.runs
                    ),
                )

        # commit of a container holding 100 MB of random data
        subprocess.run(
            [
                *dy,
                "run",
                "--name",
                "bench100",
                "busybox",
                "dd",
                "if=/dev/urandom",
                "of=/random.bin",
                "bs=1M",
                "count=100",
            ],
            check=True,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        counter = iter(range(1000))

        def remove_previous() -> None:
            subprocess.run([*dy, "rmi", "-f", "bench:commit"], env=env, capture_output=True)

        def commit() -> None:
            subprocess.run(
                [*dy, "commit", "bench100", "bench:commit"],
                check=True,
                env=env,
                stdout=subprocess.DEVNULL,
            )
            next(counter)

        report(
            "dockyard commit (100 MB of random data)",
            measure(commit, args.commit_runs, warmup=1, prepare=remove_previous),
        )
        subprocess.run([*dy, "rm", "-f", "bench100"], env=env, capture_output=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
