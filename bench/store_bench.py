"""Store benchmark (issue 2): load, import and save of debian:bookworm vs GNU tar extraction.

    .venv/bin/python -m bench.store_bench [--runs N]

Docker 20.10 on this machine (from the issue): load 5.7 s, import 5.7 s, save 0.97 s.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from bench.timing import alternate, sh


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    from dockyard.devtools.baseimages import ensure_base_image

    rootfs = ensure_base_image("debian")
    work = Path(tempfile.mkdtemp(prefix="dockyard-bench-"))
    dockyard = f"{sys.executable} -m dockyard.cli.main"
    root = work / "store"
    archive = work / "debian-save.tar"
    env = f"DOCKYARD_ROOT={root}"
    try:
        sh(f"{env} {dockyard} import {rootfs} debian:bookworm")
        sh(f"{env} {dockyard} save -o {archive} debian:bookworm")

        def empty_store() -> None:
            shutil.rmtree(root, ignore_errors=True)

        def fresh_tar_dir() -> None:
            shutil.rmtree(work / "tarx", ignore_errors=True)
            (work / "tarx").mkdir()

        def store_with_image() -> None:
            if not (root / "dockyard.db").exists():
                sh(f"{env} {dockyard} load -i {archive}")
            Path(work / "out.tar").unlink(missing_ok=True)

        results = alternate(
            {
                "GNU tar -xf (rootfs)": (
                    fresh_tar_dir,
                    lambda: sh(f"tar -C {work}/tarx -xf {rootfs}"),
                ),
                "dockyard import (absent)": (
                    empty_store,
                    lambda: sh(f"{env} {dockyard} import {rootfs} debian:bookworm"),
                ),
                "dockyard load (absent)": (
                    empty_store,
                    lambda: sh(f"{env} {dockyard} load -i {archive}"),
                ),
                "dockyard load (present)": (
                    store_with_image,
                    lambda: sh(f"{env} {dockyard} load -i {archive}"),
                ),
                "dockyard save": (
                    store_with_image,
                    lambda: sh(f"{env} {dockyard} save -o {work}/out.tar debian:bookworm"),
                ),
            },
            runs=args.runs,
        )
        tar = results["GNU tar -xf (rootfs)"].median
        for measurement in results.values():
            print(f"{measurement.row()}  ratio to tar: {measurement.median / tar:.2f}x")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
