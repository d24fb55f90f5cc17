"""Record what Docker 20.10's classic builder makes of every corpus case.

    sudo .venv/bin/python tests/build/record_reference.py [CASE ...]

Starts a private containerd + dockerd (Debian's docker.io, the way bench/peers.py
starts one: its own root, state and sockets in a temporary directory, no bridge,
no iptables), loads the busybox base that `python -m dockyard.devtools.baseimages busybox`
builds (`docker import --change 'CMD ["sh"]'`, as dockyard's tests import it), then
for each case runs `DOCKER_BUILDKIT=0 docker build` on the prepared context, saves
the image and writes tests/build/reference/<case>.json: the build's exit code,
masked stdout/stderr, and the image summary (config, layers, history, tree changes).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO)]

from bench.peers import DOCKER_CLI, Docker, install_peers, remove_tree  # noqa: E402
from tests.build.corpus_support import (  # noqa: E402
    REFERENCE,
    build_flags,
    case_names,
    http_files,
    mask_output,
    prepare_context,
    stdin_tar,
    summarise_archive,
    tree_of_tar,
)


def _universal(data: bytes) -> str:
    """Text as subprocess's universal newlines give it (\\r\\n and \\r become \\n)."""
    return data.decode(errors="replace").replace("\r\n", "\n").replace("\r", "\n")


def record(names: list[str]) -> None:
    from dockyard.devtools.baseimages import ensure_base_image

    install_peers()
    busybox = ensure_base_image("busybox")
    base_tree = tree_of_tar(busybox)
    work = Path(tempfile.mkdtemp(prefix="build-reference-"))
    docker = Docker(work)
    docker.env["DOCKER_BUILDKIT"] = "0"
    try:
        docker.start()
        docker.run("import", "--change", 'CMD ["sh"]', str(busybox), "busybox:latest")
        version = docker.version()
        REFERENCE.mkdir(exist_ok=True)
        for name in names:
            context = prepare_context(name, work / "contexts" / name)
            tag = f"corpus:{name}"
            tar = stdin_tar(name, context)
            with http_files(name):
                result = subprocess.run(
                    [DOCKER_CLI, "build", "-t", tag, *build_flags(name),
                     "-" if tar is not None else str(context)],
                    env=docker.env,
                    capture_output=True,
                    input=tar if tar is not None else b"",
                )  # fmt: skip
            result.stdout = _universal(result.stdout)
            result.stderr = _universal(result.stderr)
            entry = {
                "recorded_with": version,
                "exit_code": result.returncode,
                "stdout": mask_output(result.stdout),
                "stderr": mask_output(result.stderr),
            }
            if result.returncode == 0:
                archive = work / f"{name}.tar"
                docker.run("save", "-o", str(archive), tag)
                entry["image"] = summarise_archive(archive, base_tree)
            (REFERENCE / f"{name}.json").write_text(json.dumps(entry, indent=1) + "\n")
            print(f"{name}: exit {result.returncode}", flush=True)
    finally:
        docker.stop()
        remove_tree(work)


if __name__ == "__main__":
    record(sys.argv[1:] or case_names())
