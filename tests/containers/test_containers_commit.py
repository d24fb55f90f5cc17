"""commit, diff, export and cp against real overlay mounts; the tutorial's commit steps."""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.containers.support import (
    NEEDS_RUNTIME,
    busybox_store,
    dy,
)

pytestmark = NEEDS_RUNTIME


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory, busybox_tar: Path) -> Iterator[Path]:
    yield from busybox_store(tmp_path_factory, busybox_tar, "commit")


def inspect(root: Path, name: str) -> dict:
    return json.loads(dy(root, "inspect", name).stdout)[0]


def test_tutorial_commit_twice(root: Path) -> None:
    dy(
        root,
        "run",
        "-i",
        "--name",
        "commit_test",
        "busybox",
        "sh",
        "-c",
        "echo first_test! >> first",
    )
    assert dy(root, "container", "diff", "commit_test").stdout == b"A /first\n"
    out = dy(
        root,
        "commit",
        "-a",
        "yceffort-test",
        "-m",
        "my first commit",
        "commit_test",
        "commit_test:first",
    ).stdout.decode()
    assert out.startswith("sha256:") and len(out.strip()) == 71
    first = inspect(root, "commit_test:first")
    base = inspect(root, "busybox:latest")
    assert first["Id"] == out.strip()
    assert first["RootFS"]["Layers"][:-1] == base["RootFS"]["Layers"]
    assert len(first["RootFS"]["Layers"]) == len(base["RootFS"]["Layers"]) + 1
    assert first["Parent"] == base["Id"]
    assert first["Author"] == "yceffort-test" and first["Comment"] == "my first commit"
    container = inspect(root, "commit_test")
    assert first["Container"] == container["Id"]
    assert first["Config"]["Cmd"] == ["sh", "-c", "echo first_test! >> first"]
    assert first["ContainerConfig"]["Hostname"] == container["Id"][:12]
    from dockyard.engine import Engine

    engine = Engine(root)
    top = engine.images.history("commit_test:first")[0]
    engine.close()
    assert (top["CreatedBy"], top["Comment"]) == (
        "sh -c echo first_test! >> first",
        "my first commit",
    )

    dy(
        root,
        "run",
        "-i",
        "--name",
        "commit_test2",
        "commit_test:first",
        "sh",
        "-c",
        "echo second_test! >> second",
    )
    assert dy(root, "diff", "commit_test2").stdout == b"A /second\n"
    dy(
        root,
        "commit",
        "-a",
        "yceffort",
        "-m",
        "my second commit",
        "commit_test2",
        "commit_test:second",
    )
    second = inspect(root, "commit_test:second")
    assert second["RootFS"]["Layers"][:-1] == first["RootFS"]["Layers"]
    assert second["Parent"] == first["Id"]
    out = dy(root, "run", "--rm", "commit_test:second", "sh", "-c", "cat /first /second")
    assert out.stdout == b"first_test!\nsecond_test!\n"

    # rmi while a stopped container uses the image (Docker's rule and text)
    rmi = dy(root, "rmi", "commit_test:first", code=1)
    assert b"(must force) - container " in rmi.stderr
    dy(root, "rm", "commit_test2")
    assert dy(root, "rmi", "commit_test:first").stdout == b"Untagged: commit_test:first\n"
    lines = dy(root, "rmi", "commit_test:second").stdout.decode().splitlines()
    assert lines[0] == "Untagged: commit_test:second" and len(lines) == 5
    assert all(line.startswith("Deleted: sha256:") for line in lines[1:])
    dy(root, "rm", "commit_test")


def test_commit_running_container_and_changes(root: Path) -> None:
    dy(root, "run", "-d", "--name", "live", "busybox", "sh", "-c", "echo data > /data; sleep 60")
    dy(root, "exec", "live", "test", "-f", "/data")
    image_id = (
        dy(root, "commit", "-c", "ENV FOO=bar", "-c", 'CMD ["cat", "/data"]', "live", "live:1")
        .stdout.decode()
        .strip()
    )
    config = inspect(root, image_id)["Config"]
    assert "FOO=bar" in config["Env"] and config["Cmd"] == ["cat", "/data"]
    assert dy(root, "inspect", "--format", "{{.State.Status}}", "live").stdout == b"running\n"
    assert dy(root, "run", "--rm", "live:1").stdout == b"data\n"
    bad = dy(root, "commit", "--change", "FOO bar", "live", "foo:bad", code=1)
    assert bad.stderr == b"Error: foo is not a valid change command\n"
    dy(root, "rm", "-f", "live")
    dy(root, "rmi", "live:1")


def test_commit_without_changes_twice(root: Path) -> None:
    dy(root, "create", "--name", "empty_c", "busybox", "true")
    one = dy(root, "commit", "empty_c").stdout.decode().strip()
    two = dy(root, "commit", "empty_c").stdout.decode().strip()
    for image in (one, two):
        layers = inspect(root, image)["RootFS"]["Layers"]
        assert len(layers) == len(inspect(root, "busybox")["RootFS"]["Layers"]) + 1
        dy(root, "run", "--rm", image, "true")
    dy(root, "rm", "empty_c")


def test_diff_and_commit_agree_on_deletes_and_replaced_dirs(root: Path) -> None:
    script = "rm /etc/group; echo x >> /etc/passwd; rm -r /home; mkdir /home; touch /home/new; mkdir -p /tmp/d/e; touch /tmp/d/e/f"
    dy(root, "run", "--name", "difftest", "busybox", "sh", "-c", script)
    changes = dy(root, "diff", "difftest").stdout.decode().splitlines()
    for line in (
        "D /etc/group",
        "C /etc/passwd",
        "A /home/new",
        "A /tmp/d",
        "A /tmp/d/e",
        "A /tmp/d/e/f",
        "C /etc",
    ):
        assert line in changes, changes
    image = dy(root, "commit", "difftest", "difftest:1").stdout.decode().strip()
    out = dy(
        root,
        "run",
        "--rm",
        image,
        "sh",
        "-c",
        "test -e /etc/group || echo gone; tail -1 /etc/passwd; ls -A /home; ls /tmp/d/e",
    ).stdout.decode()
    assert out.splitlines() == ["gone", "x", "new", "f"]
    dy(root, "rm", "difftest")
    dy(root, "rmi", "difftest:1")


def test_export_import_and_cp(root: Path, tmp_path: Path) -> None:
    dy(root, "run", "--name", "exp", "busybox", "sh", "-c", "echo first_test! > /first")
    target = tmp_path / "exp.tar"
    dy(root, "export", "-o", str(target), "exp")
    with tarfile.open(target) as archive:
        names = set(archive.getnames())
    for name in (
        "first",
        ".dockerenv",
        "etc/hostname",
        "etc/hosts",
        "etc/resolv.conf",
        "bin/busybox",
    ):
        assert name in names
    streamed = dy(root, "export", "exp").stdout
    with tarfile.open(fileobj=io.BytesIO(streamed)) as archive:
        assert archive.extractfile("first").read() == b"first_test!\n"
    dy(root, "import", str(target), "exported:latest")
    out = dy(root, "run", "--rm", "exported:latest", "cat", "/first")
    assert out.stdout == b"first_test!\n"
    assert (
        dy(root, "export", "-o", str(tmp_path / "x.tar"), "nosuchcontainer", code=1).stderr
        == b"Error response from daemon: No such container: nosuchcontainer\n"
    )

    # cp both ways; a symlink pointing out of the container stays inside it
    dy(root, "cp", "exp:/first", str(tmp_path / "copied"))
    assert (tmp_path / "copied").read_text() == "first_test!\n"
    (tmp_path / "host.txt").write_text("from host\n")
    dy(root, "cp", str(tmp_path / "host.txt"), "exp:/host.txt")
    dy(root, "run", "--name", "linker", "busybox", "ln", "-s", "/", "/escape")
    dy(root, "cp", str(tmp_path / "host.txt"), "linker:/escape/tmp/")
    assert not Path("/tmp/host.txt").exists() or Path("/tmp/host.txt").read_text() != "from host\n"
    assert "A /host.txt" in dy(root, "diff", "exp").stdout.decode()
    dy(root, "rm", "exp", "linker")
    dy(root, "rmi", "exported:latest")
