"""save / load / import through the CLI, checked with skopeo and against Docker's texts."""

from __future__ import annotations

import gzip
import hashlib
import json
import subprocess
from pathlib import Path

import pytest

SKOPEO = ["skopeo", "--insecure-policy"]


@pytest.fixture
def busybox_id(cli, busybox_tar) -> str:  # type: ignore[no-untyped-def]
    return cli(
        "import", "--change", 'CMD ["sh"]', str(busybox_tar), "busybox:latest"
    ).stdout.strip()


def skopeo(*args: str) -> str:
    return subprocess.run([*SKOPEO, *args], check=True, capture_output=True, text=True).stdout


def test_saved_archive_is_read_by_skopeo(cli, tmp_path, busybox_id) -> None:  # type: ignore[no-untyped-def]
    cli("tag", "busybox:latest", "other/name:v2")
    archive = tmp_path / "save.tar"
    cli("save", "-o", str(archive), "busybox:latest")
    config = subprocess.run(
        [*SKOPEO, "inspect", "--config", "--raw", f"docker-archive:{archive}"],
        check=True,
        capture_output=True,
    ).stdout
    assert "sha256:" + hashlib.sha256(config).hexdigest() == busybox_id
    info = json.loads(skopeo("inspect", f"docker-archive:{archive}"))
    assert len(info["Layers"]) == 1
    skopeo("copy", f"docker-archive:{archive}", f"oci:{tmp_path / 'oci'}:bb")
    index = json.loads((tmp_path / "oci" / "index.json").read_text())
    assert index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"] == "bb"
    # the OCI layout inside the archive is valid on its own too
    subprocess.run(["tar", "-xf", str(archive), "-C", str(tmp_path)], check=True)
    layout = json.loads((tmp_path / "index.json").read_text())
    assert layout["schemaVersion"] == 2 and (tmp_path / "oci-layout").is_file()


def test_archives_written_by_skopeo_load_with_same_id(
    cli, tmp_path, busybox_id, store_root
) -> None:  # type: ignore[no-untyped-def]
    from tests.clirunner import Cli

    archive = tmp_path / "save.tar"
    cli("save", "-o", str(archive), "busybox")
    docker_out = tmp_path / "skopeo-docker.tar"
    oci_out = tmp_path / "skopeo-oci.tar"
    skopeo("copy", f"docker-archive:{archive}", f"docker-archive:{docker_out}:copied/busybox:v9")
    skopeo("copy", f"docker-archive:{archive}", f"oci-archive:{oci_out}:copied/oci:v9")
    fresh = Cli(tmp_path / "fresh-store", tmp_path)
    assert fresh("load", "-i", str(docker_out)).stdout == "Loaded image: copied/busybox:v9\n"
    assert fresh("inspect", "-f", "{{.Id}}", "copied/busybox:v9").stdout.strip() == busybox_id
    # skopeo rewrites the config as an OCI config: the ID is that config's digest
    oci_config = subprocess.run(
        [*SKOPEO, "inspect", "--config", "--raw", f"oci-archive:{oci_out}"],
        check=True,
        capture_output=True,
    ).stdout
    assert fresh("load", "-i", str(oci_out)).stdout == "Loaded image: copied/oci:v9\n"
    assert fresh("inspect", "-f", "{{.Id}}", "copied/oci:v9").stdout.strip() == (
        "sha256:" + hashlib.sha256(oci_config).hexdigest()
    )


def test_save_is_byte_identical_and_load_is_idempotent(cli, tmp_path, busybox_id) -> None:  # type: ignore[no-untyped-def]
    first, second = tmp_path / "a.tar", tmp_path / "b.tar"
    cli("save", "-o", str(first), "busybox:latest")
    with open(second, "wb") as out:
        subprocess.run(
            [
                *__import__("sys").executable.split(),
                "-m",
                "dockyard.cli.main",
                "save",
                "busybox:latest",
            ],
            check=True,
            stdout=out,
            env={**__import__("os").environ, "DOCKYARD_ROOT": str(cli.root)},
        )
    assert first.read_bytes() == second.read_bytes()
    assert cli("load", "-i", str(first)).stdout == "Loaded image: busybox:latest\n"
    assert cli("load", stdin=first.read_bytes()).stdout == "Loaded image: busybox:latest\n"
    assert cli("load", "-q", "-i", str(first)).stdout == "Loaded image: busybox:latest\n"


def test_load_after_rmi_restores_files_and_tags(cli, tmp_path, busybox_id, store_root) -> None:  # type: ignore[no-untyped-def]
    cli("tag", "busybox:latest", "busybox:extra")
    archive = tmp_path / "two.tar"
    cli("save", "-o", str(archive), "busybox")
    manifest = json.loads(
        subprocess.run(
            ["tar", "-xOf", str(archive), "manifest.json"], check=True, capture_output=True
        ).stdout
    )
    assert manifest[0]["RepoTags"] == ["busybox:extra", "busybox:latest"]
    cli("rmi", "busybox:extra", "busybox:latest")
    assert cli("images", "-aq").stdout == ""
    compressed = tmp_path / "two.tar.gz"
    compressed.write_bytes(gzip.compress(archive.read_bytes(), 1))
    assert cli("load", "-i", str(compressed)).stdout == (
        "Loaded image: busybox:extra\nLoaded image: busybox:latest\n"
    )
    layer_dirs = list((store_root / "layers").glob("*/diff"))
    assert len(layer_dirs) == 1 and (layer_dirs[0] / "bin" / "busybox").is_file()


def test_save_by_id_has_no_tags(cli, tmp_path, busybox_id) -> None:  # type: ignore[no-untyped-def]
    archive = tmp_path / "byid.tar"
    cli("save", "-o", str(archive), busybox_id[7:19])
    names = subprocess.run(
        ["tar", "-tf", str(archive)], check=True, capture_output=True, text=True
    ).stdout.split()
    assert "repositories" not in names
    manifest = json.loads(
        subprocess.run(
            ["tar", "-xOf", str(archive), "manifest.json"], check=True, capture_output=True
        ).stdout
    )
    assert manifest[0]["RepoTags"] is None
    cli("rmi", "busybox")
    assert cli("load", "-i", str(archive)).stdout == f"Loaded image ID: {busybox_id}\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("save", "-o", "x.tar", "nosuchimage"), "Error: No such image: nosuchimage\n"),
        (("save", "-o", "x.tar", "busybox:nosuchtag"), "Error: reference does not exist\n"),
        (
            ("load", "-i", "/nonexistent.tar"),
            "Error: open /nonexistent.tar: no such file or directory\n",
        ),
        (
            ("import", "/nonexistent.tar", "x:1"),
            "Error: open /nonexistent.tar: no such file or directory\n",
        ),
    ],
)
def test_error_texts(cli, busybox_id, args, message) -> None:  # type: ignore[no-untyped-def]
    before = sorted(p.name for p in (cli.root / "blobs" / "sha256").iterdir())
    result = cli(*args, check=False)
    assert (result.returncode, result.stderr) == (1, message)
    assert sorted(p.name for p in (cli.root / "blobs" / "sha256").iterdir()) == before
    assert not (cli.cwd / "x.tar").exists()


def test_save_of_a_layer_whose_tree_changed_is_one_error_and_no_archive(
    cli, tmp_path, busybox_id
) -> None:  # type: ignore[no-untyped-def]
    import os
    import sys

    good = tmp_path / "good.tar"
    cli("save", "-o", str(good), "busybox:latest")
    (layer,) = [p for p in (cli.root / "layers").iterdir() if (p / "tar-split").is_file()]
    busybox = layer / "diff" / "bin" / "busybox"
    data = bytearray(busybox.read_bytes())
    data[len(data) // 2] ^= 1  # same size, one bit other
    busybox.write_bytes(data)
    out = tmp_path / "out"
    out.mkdir()
    result = cli("save", "-o", str(out / "bad.tar"), "busybox:latest", check=False)
    assert result.returncode == 1 and len(result.stderr.splitlines()) == 1
    assert "no longer give the tar of its diff ID" in result.stderr
    assert "run `dockyard check`" in result.stderr and "Traceback" not in result.stderr
    assert list(out.iterdir()) == []  # neither the archive nor its temporary file
    # to a pipe: the bytes stop before the archive's end (its last bytes wait for the check)
    piped = subprocess.run(
        [sys.executable, "-m", "dockyard.cli.main", "save", "busybox:latest"],
        env=dict(os.environ, DOCKYARD_ROOT=str(cli.root)),
        capture_output=True,
    )
    assert piped.returncode == 1 and len(piped.stderr.splitlines()) == 1
    assert len(piped.stdout) < good.stat().st_size


@pytest.mark.parametrize("kind", ["garbage", "text", "empty", "flat-rootfs"])
def test_bad_archives_leave_store_unchanged(cli, tmp_path, busybox_tar, busybox_id, kind) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.tar"
    if kind == "garbage":
        bad.write_bytes(bytes(range(256)) * 64)
    elif kind == "text":
        bad.write_text("this is not a tar file\n")
    elif kind == "empty":
        bad.write_bytes(b"")
    else:
        bad.write_bytes(Path(busybox_tar).read_bytes())
    state = snapshot(cli.root)
    result = cli("load", "-i", str(bad), check=False)
    assert result.returncode == 1
    assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith("Error: ")
    assert "Traceback" not in result.stderr
    assert snapshot(cli.root) == state
    assert cli("check").stdout == "store is consistent\n"


def snapshot(root: Path) -> list[str]:
    return sorted(
        str(p.relative_to(root))
        for p in root.rglob("*")
        if "tmp" not in p.relative_to(root).parts[:1]
        and not p.name.startswith("dockyard.db")
        and p.name != "lock"
    )


def test_import_errors_and_empty_file(cli, tmp_path, busybox_id) -> None:  # type: ignore[no-untyped-def]
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(bytes(range(256)) * 64)
    text = tmp_path / "notatar.txt"
    text.write_text("hello\n")
    state = snapshot(cli.root)
    for bad in (garbage, text):
        result = cli("import", str(bad), "bad:1", check=False)
        assert result.returncode == 1 and len(result.stderr.splitlines()) == 1
        assert snapshot(cli.root) == state
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    image_id = cli("import", str(empty), "empty:1").stdout.strip()
    layers = json.loads(cli("inspect", "-f", "{{json .RootFS.Layers}}", "empty:1").stdout)
    assert layers == ["sha256:" + hashlib.sha256(b"").hexdigest()]
    assert image_id.startswith("sha256:")


def test_import_message_changes_and_stdin(cli, tmp_path, busybox_tar) -> None:  # type: ignore[no-untyped-def]
    cli(
        "import",
        "-m",
        "imported from export",
        "--change",
        "ENV FOO=bar",
        "--change",
        "WORKDIR /tmp",
        "--change",
        'ENTRYPOINT ["/bin/sh","-c"]',
        "--change",
        "LABEL a=b",
        str(busybox_tar),
        "exported:changes",
    )
    config = json.loads(cli("inspect", "-f", "{{json .Config}}", "exported:changes").stdout)
    assert config["Env"] == ["FOO=bar"] and config["WorkingDir"] == "/tmp"
    assert config["Entrypoint"] == ["/bin/sh", "-c"] and config["Labels"] == {"a": "b"}
    assert config["Cmd"] is None
    assert (
        cli("inspect", "-f", "{{.Comment}}", "exported:changes").stdout == "imported from export\n"
    )
    cli("import", "-", "exported:stdin", stdin=Path(busybox_tar).read_bytes())
    assert (
        cli("history", "--format", "{{.Comment}}", "exported:stdin").stdout == "Imported from -\n"
    )
    result = cli("import", "--change", "RUN echo hi", str(busybox_tar), "exported:bad", check=False)
    assert (result.returncode, result.stderr) == (1, "Error: run is not a valid change command\n")
