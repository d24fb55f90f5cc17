"""The main job: the Docker tutorial walked through with dockyard, each command printed
with its output. Offline: base images are built locally (see docs/base-images.md).

    python -m dockyard.devtools.demo [--root DIR] [--keep]
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from dockyard.devtools.registryserve import registry_serve_command


class Walkthrough:
    def __init__(self, root: Path, workdir: Path) -> None:
        self.root = root
        self.workdir = workdir
        self.failures = 0

    def section(self, title: str) -> None:
        print(f"\n######## {title} ########", flush=True)

    def run(self, command: str, expect: int = 0, stdin: bytes | None = None) -> str:
        """Run `dockyard ...` (or a shell line using it) and print command and output."""
        print(f"\n$ {command}", flush=True)
        env = dict(os.environ, DOCKYARD_ROOT=str(self.root))
        bindir = Path(sys.executable).parent
        env["PATH"] = f"{bindir}:{env.get('PATH', '')}"
        result = subprocess.run(
            command,
            shell=True,
            cwd=self.workdir,
            env=env,
            input=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        output = result.stdout.decode(errors="replace")
        sys.stdout.write(output)
        if result.returncode != 0:
            print(f"[exit code {result.returncode}]")
        if result.returncode != expect:
            self.failures += 1
            print(f"!! expected exit code {expect}")
        sys.stdout.flush()
        return output


def image_steps(walk: Walkthrough, busybox_tar: Path, debian_tar: Path | None) -> None:
    run = walk.run
    walk.section("1. base images, imported from rootfs tarballs built offline")
    from dockyard.devtools.baseimages import BASE_IMAGES

    for name, tarball in (("busybox", busybox_tar), ("debian", debian_tar)):
        if tarball is None:
            continue
        spec = BASE_IMAGES[name]
        changes = " ".join(f"--change {shlex.quote(c)}" for c in spec["changes"])
        run(f"dockyard import {changes} {shlex.quote(str(tarball))} {spec['tag']}")
    run("dockyard images")
    walk.section("2. inspect and history")
    run("dockyard inspect busybox:latest")
    run(
        "dockyard inspect --format 'Id={{.Id}} Comment={{.Comment}} Cmd={{json .Config.Cmd}}"
        " RootFS={{json .RootFS}}' busybox"
    )
    run("dockyard history busybox:latest")
    run("dockyard history --no-trunc -H=false busybox:latest")
    walk.section("3. tag")
    run("dockyard tag busybox:latest mybusybox:v1")
    run("dockyard tag busybox someuser/busybox")
    run("dockyard images")
    run("dockyard tag busybox:latest UPPER:case", expect=1)
    walk.section("4. save and load")
    run("dockyard save -o busybox.tar busybox:latest mybusybox:v1")
    run("tar tvf busybox.tar")
    run("tar xOf busybox.tar manifest.json; echo")
    run("dockyard rmi mybusybox:v1 someuser/busybox")
    run("dockyard rmi busybox:latest")
    run("dockyard images -a")
    run("dockyard load -i busybox.tar")
    run("dockyard load < busybox.tar")
    run("dockyard images")
    walk.section("5. import with a message and changes, dangling images, prune")
    run(
        f"dockyard import -m 'imported by hand' --change 'ENV FOO=bar' --change 'WORKDIR /tmp'"
        f" {shlex.quote(str(busybox_tar))} imported:latest"
    )
    run("dockyard inspect -f '{{json .Config}} {{.Comment}}' imported:latest")
    run(f"dockyard import {shlex.quote(str(busybox_tar))}")
    run("dockyard images --filter dangling=true")
    run("dockyard image prune -f")
    run("dockyard rmi -f imported mybusybox:v1")
    walk.section("6. errors")
    run("dockyard rmi nosuchimage", expect=1)
    run("dockyard inspect nosuchimage", expect=1)
    run("dockyard load -i /nonexistent.tar", expect=1)
    run("echo 'not a tar' > notatar.txt; dockyard import notatar.txt text:1", expect=1)
    walk.section("7. the store is consistent")
    run("dockyard system df")
    run("dockyard check")


def container_steps(walk: Walkthrough) -> None:
    """The heart of the tutorial: run, change a file, commit as a new layer, and Docker's
    rules for removing what depends on what."""
    run = walk.run
    walk.section("8. run a container, change a file, commit it")
    run(
        "echo 'echo first_test! >> first; cat first' |"
        " dockyard run -i --network none --name commit_test debian:bookworm"
    )
    run("dockyard ps -a")
    run("dockyard container diff commit_test")
    run("dockyard commit -a 'yceffort-test' -m 'my first commit' commit_test commit_test:first")
    run("dockyard images")
    walk.section("9. a second container from the committed image, a second commit")
    run(
        "dockyard run -i --network none --name commit_test2 commit_test:first"
        " sh -c 'echo second_test! >> second'"
    )
    run("dockyard container diff commit_test2")
    run("dockyard commit -a 'yceffort' -m 'my second commit' commit_test2 commit_test:second")
    run("dockyard images")
    run('dockyard run --rm --network none commit_test:second sh -c "cat /first /second"')
    walk.section("10. inspect: the child's layers are the parent's plus one")
    for name in ("debian:bookworm", "commit_test:first", "commit_test:second"):
        run(
            "dockyard inspect --format 'Parent={{.Parent}} Author={{.Author}}"
            f" Comment={{{{.Comment}}}} RootFS={{{{json .RootFS.Layers}}}}' {name}"
        )
    run("dockyard history commit_test:second")
    walk.section("11. rmi: conflicts, untag only, delete")
    run("dockyard rmi commit_test:first", expect=1)
    run("dockyard run --network none --name both commit_test:second true")
    run("dockyard export -o both.tar both")
    run("dockyard rm commit_test2 both")
    run("dockyard rmi commit_test:first")
    run("dockyard images -a")
    run("dockyard rmi commit_test:second")
    walk.section("12. export / import")
    run(
        "dockyard import -m 'imported from export' --change 'CMD [\"sh\"]' both.tar exported:latest"
    )
    run("dockyard history exported:latest")
    run("dockyard run --rm --network none exported:latest cat /first /second")
    run("dockyard rm commit_test")


def build_steps(walk: Walkthrough) -> None:
    """The commit_test image again, written down as a Dockerfile: built, rebuilt from the
    cache, and its history."""
    run = walk.run
    walk.section("12b. the same image from a Dockerfile: build, a cached rebuild, history")
    context = walk.workdir / "commit_test"
    context.mkdir(exist_ok=True)
    (context / "Dockerfile").write_text(
        "FROM debian:bookworm\nRUN echo first_test! >> first\nRUN echo second_test! >> second\n"
    )
    run("cat commit_test/Dockerfile")
    run("dockyard build -t commit_test:built commit_test")
    run('dockyard run --rm --network none commit_test:built sh -c "cat /first /second"')
    run("dockyard build -t commit_test:built commit_test")
    run("dockyard history commit_test:built")
    run("dockyard rmi commit_test:built")


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def registry_steps(walk: Walkthrough) -> None:
    """The tutorial's Docker Hub: dockyard's own registry on loopback, used as the default
    search index and as a mirror of docker.io, then the sharing step (push, rmi, pull, run)."""
    import json
    import time
    import urllib.request

    run = walk.run
    port = free_port()
    registry = f"127.0.0.1:{port}"
    storage = walk.workdir / "registry"
    walk.section("13. a registry of our own: push, search, the web page")
    print(f"\n$ dockyard registry serve --addr {registry} --storage {storage} &", flush=True)
    server = subprocess.Popen(
        registry_serve_command(registry, "--storage", str(storage)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://{registry}/v2/", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        config = walk.workdir / "daemon.json"
        config.write_text(
            json.dumps(
                {"registry-mirrors": [f"http://{registry}"], "index-server": f"http://{registry}"}
            )
        )
        os.environ["DOCKYARD_CONFIG"] = str(config)
        print(f"\n$ cat {config}\n{config.read_text()}")
        run(f"dockyard tag busybox:latest {registry}/library/busybox:latest")
        run(f"dockyard push {registry}/library/busybox:latest")
        run(f"dockyard tag debian:bookworm {registry}/library/debian:bookworm")
        run(f"dockyard push {registry}/library/debian:bookworm")
        run(
            f"dockyard registry repo set-description --storage {storage} library/busybox 'Busybox base image.'"
        )
        run(f"dockyard registry repo set-official --storage {storage} library/busybox")
        run(
            f"dockyard registry repo set-description --storage {storage} library/debian 'Debian is a Linux distribution.'"
        )
        run(f"dockyard registry repo set-official --storage {storage} library/debian")
        run("dockyard search busybox")
        run("dockyard search --filter is-official=true --format '{{.Name}}: {{.Description}}' b")
        run(f"curl -s http://{registry}/v2/_catalog; echo")
        run(f"curl -s 'http://{registry}/?q=deb' | grep -o '<a class=\"repo\"[^>]*>[^<]*</a>'")
        walk.section("14. sharing: commit, push, remove, pull back, run")
        run("dockyard run --network none --name share busybox sh -c 'echo shared! > /shared'")
        run(f"dockyard commit -m 'to share' share {registry}/yceffort/commit_test:first")
        run(f"dockyard push {registry}/yceffort/commit_test:first")
        run(f"dockyard rm share && dockyard rmi {registry}/yceffort/commit_test:first")
        run(f"dockyard pull {registry}/yceffort/commit_test:first")
        run(f"dockyard run --rm --network none {registry}/yceffort/commit_test:first cat /shared")
        run(f"dockyard rmi {registry}/library/busybox:latest busybox:latest")
        run("dockyard pull busybox")
        run("dockyard images --digests")
        automated_build_steps(walk, registry, storage)
    finally:
        os.environ.pop("DOCKYARD_CONFIG", None)
        server.terminate()
        server.wait(timeout=30)


def automated_build_steps(walk: Walkthrough, registry: str, storage: Path) -> None:
    """The registry builds the commit_test image from its Dockerfile (section 12b's) and
    pushes it into itself; search shows the repository as AUTOMATED."""
    run = walk.run
    walk.section("15. an automated build: the registry builds commit_test from its Dockerfile")
    source = walk.workdir / "commit_test"
    admin = f"--storage {storage}"
    run(f"dockyard registry repo set-automated {admin} --tag built yceffort/commit_test {source}")
    run(
        f"dockyard registry repo set-description {admin} yceffort/commit_test"
        " 'The tutorial image, from its Dockerfile.'"
    )
    run(f"dockyard registry build {admin} --registry {registry} yceffort/commit_test")
    run("dockyard search commit_test")
    run(f"curl -s http://{registry}/r/yceffort/commit_test/build | grep -o 'build-status\">[a-z]*'")
    run(f"dockyard pull {registry}/yceffort/commit_test:built")
    run(
        f"dockyard run --rm --network none {registry}/yceffort/commit_test:built cat /first /second"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", help="store to use (default: a fresh temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary store")
    parser.add_argument("--no-debian", action="store_true", help="skip debian:bookworm")
    args = parser.parse_args(argv)

    from dockyard.devtools.baseimages import ensure_base_image

    print("building base images (cached after the first run) ...", flush=True)
    busybox_tar = ensure_base_image("busybox")
    debian_tar = None if args.no_debian else ensure_base_image("debian")
    workdir = Path(tempfile.mkdtemp(prefix="dockyard-demo-"))
    root = Path(args.root) if args.root else workdir / "store"
    walk = Walkthrough(root, workdir)
    try:
        image_steps(walk, busybox_tar, debian_tar)
        if debian_tar is not None:
            container_steps(walk)
            build_steps(walk)
            registry_steps(walk)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    print(
        f"\n{'all steps behaved as expected' if not walk.failures else f'{walk.failures} step(s) failed'}"
    )
    return 1 if walk.failures else 0


if __name__ == "__main__":
    sys.exit(main())
