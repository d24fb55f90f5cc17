"""Hostile archives through `import` and `load`: each refused with one clear line,
nothing written outside the store, the store unchanged."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

MARK = "evil-" + uuid.uuid4().hex[:8]


def _tar(
    entries: list[tarfile.TarInfo | tuple[tarfile.TarInfo, bytes]], fmt: int = tarfile.GNU_FORMAT
) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=fmt) as archive:
        for entry in entries:
            if isinstance(entry, tuple):
                info, data = entry
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
            else:
                archive.addfile(entry)
    return buffer.getvalue()


def _file(name: str, data: bytes = b"pwned\n") -> tuple[tarfile.TarInfo, bytes]:
    return (tarfile.TarInfo(name), data)


def _link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info


def _dir(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = 0o755
    return info


def _lying_pax() -> bytes:
    info = tarfile.TarInfo("liar")
    info.pax_headers = {"size": "99999999"}
    return _tar([_file("ok", b"x" * 100), (info, b"y" * 10)], fmt=tarfile.PAX_FORMAT)


def hostile_layers(outside: Path) -> dict[str, bytes]:
    return {
        "dotdot": _tar([_file(f"../{MARK}")]),
        "deep-dotdot": _tar([_dir("a"), _file(f"a/../../../{MARK}")]),
        "absolute": _tar([_file(f"{outside}/{MARK}")]),
        "symlink-to-outside-then-write": _tar([_link("link", str(outside)), _file(f"link/{MARK}")]),
        "symlink-dotdot-then-write": _tar([_link("link", ".."), _file(f"link/{MARK}")]),
        "relative-symlink-chain": _tar([_dir("a"), _link("a/up", "../.."), _file(f"a/up/{MARK}")]),
        "hardlink-outside-relative": _tar([_link(MARK, f"../../{MARK}", tarfile.LNKTYPE)]),
        "hardlink-absolute": _tar([_link(MARK, "/etc/passwd", tarfile.LNKTYPE)]),
        "hardlink-through-symlink": _tar(
            [_link("etc-link", "/etc"), _link(MARK, "etc-link/passwd", tarfile.LNKTYPE)]
        ),
        "dir-replaced-by-symlink": _tar([_dir("d"), _link("d", str(outside)), _file(f"d/{MARK}")]),
        "whiteout-dotdot": _tar([_file(".wh..."), _file(f"x/.wh.../{MARK}")]),
        "whiteout-escaping": _tar([_file(f"../.wh.{MARK}")]),
        "name-64k": _tar([_file("a" * 65536)], fmt=tarfile.PAX_FORMAT),
        "truncated": _tar([_file("big", b"z" * 100_000)])[:20_000],
        "garbage": bytes(range(256)) * 40,
        "text": b"this is not a tar archive\n" * 10,
        "pax-size-lie": _lying_pax(),
        "symlink-parent-of-hardlink-target": _tar(
            [_link("p", str(outside)), _file("p2"), _link(f"p/{MARK}", "p2", tarfile.LNKTYPE)]
        ),
    }


def snapshot(root: Path) -> list[tuple[str, str]]:
    """Every file under the store (temp dir and SQLite's side files aside), with a hash."""
    result = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if rel.parts[0] in ("tmp",) or path.name.startswith("dockyard.db") or path.name == "lock":
            continue
        digest = ""
        if path.is_file() and not path.is_symlink():
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
        result.append((str(rel), digest))
    return result


def assert_nothing_escaped(tmp_path: Path, outside: Path) -> None:
    assert list(outside.iterdir()) == [outside / "sentinel"]
    assert (outside / "sentinel").read_text() == "keep\n"
    for directory, _dirs, files in os.walk(tmp_path):
        assert not any(MARK in name for name in files + _dirs), directory
    assert not Path("/", MARK).exists() and not Path("/etc", MARK).exists()
    assert Path("/etc/passwd").stat().st_nlink == 1


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    directory = tmp_path / "outside"
    directory.mkdir()
    (directory / "sentinel").write_text("keep\n")
    return directory


def docker_archive(
    layer: bytes, diff_id: str | None = None, extra: Callable | None = None
) -> bytes:
    diff = diff_id or "sha256:" + hashlib.sha256(layer).hexdigest()
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": [diff]},
        }
    ).encode()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    manifest = [{"Config": config_name, "RepoTags": ["hostile:1"], "Layers": ["l/layer.tar"]}]
    files = {
        "manifest.json": json.dumps(manifest).encode(),
        config_name: config,
        "l/layer.tar": layer,
    }
    if extra:
        extra(files)
    return _tar([_file(name, data) for name, data in files.items()])


@pytest.mark.parametrize("case", sorted(hostile_layers(Path("/x"))))
def test_hostile_layer_via_import_and_load(cli, tmp_path, outside, busybox_tar, case) -> None:  # type: ignore[no-untyped-def]
    cli("import", str(busybox_tar), "busybox:latest")
    layer = hostile_layers(outside)[case]
    before = snapshot(cli.root)
    flat = tmp_path / "layer.tar"
    flat.write_bytes(layer)
    archive = tmp_path / "archive.tar"
    archive.write_bytes(docker_archive(layer))
    for command in (("import", str(flat), "hostile:1"), ("load", "-i", str(archive))):
        result = cli(*command, check=False)
        assert result.returncode == 1, (case, command, result)
        assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith("Error: ")
        assert "Traceback" not in result.stderr
        assert snapshot(cli.root) == before, (case, command)
        assert_nothing_escaped(tmp_path, outside)
    assert cli("images", "-q", "hostile").stdout == ""


ARCHIVE_CASES: dict[str, Callable[[dict[str, bytes]], None]] = {
    "manifest-points-outside": lambda f: f.__setitem__(
        "manifest.json", f["manifest.json"].replace(b"l/layer.tar", b"../../etc/passwd")
    ),
    "manifest-points-at-missing": lambda f: f.__setitem__(
        "manifest.json", f["manifest.json"].replace(b"l/layer.tar", b"l/nothere.tar")
    ),
    "manifest-not-json": lambda f: f.__setitem__("manifest.json", b"[{"),
    "config-digest-mismatch": lambda f: f.__setitem__(
        next(n for n in f if n.endswith(".json") and n != "manifest.json"),
        f[next(n for n in f if n.endswith(".json") and n != "manifest.json")] + b" ",
    ),
}


@pytest.mark.parametrize("case", sorted(ARCHIVE_CASES))
def test_hostile_archive_structure(cli, tmp_path, outside, busybox_tar, case) -> None:  # type: ignore[no-untyped-def]
    layer = _tar([_file("hello", b"hi\n")])
    archive = tmp_path / "archive.tar"
    archive.write_bytes(docker_archive(layer, extra=ARCHIVE_CASES[case]))
    cli("check")
    before = snapshot(cli.root)
    result = cli("load", "-i", str(archive), check=False)
    assert result.returncode == 1 and len(result.stderr.splitlines()) == 1, result
    assert snapshot(cli.root) == before
    assert_nothing_escaped(tmp_path, outside)


def test_diff_id_mismatch_is_refused(cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    layer = _tar([_file("hello", b"hi\n")])
    archive = tmp_path / "archive.tar"
    archive.write_bytes(docker_archive(layer, diff_id="sha256:" + "1" * 64))
    result = cli("load", "-i", str(archive), check=False)
    assert result.returncode == 1
    assert "does not match" in result.stderr
    assert cli("check").stdout == "store is consistent\n"
    assert list((cli.root / "layers").iterdir()) == []


def _archive(layers: dict[str, bytes], tag: str) -> bytes:
    diff_ids = ["sha256:" + hashlib.sha256(layer).hexdigest() for layer in layers.values()]
    config = json.dumps(
        {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": diff_ids}}
    ).encode()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    manifest = [{"Config": config_name, "RepoTags": [tag], "Layers": list(layers)}]
    files = {"manifest.json": json.dumps(manifest).encode(), config_name: config, **layers}
    return _tar([_file(name, data) for name, data in files.items()])


@pytest.mark.parametrize("bottom_present", [False, True], ids=["fresh", "bottom-present"])
def test_one_bad_layer_of_several_leaves_the_store_as_it_was(cli, tmp_path, bottom_present) -> None:  # type: ignore[no-untyped-def]
    """The layers of an archive are taken at once (each in a thread of its own when the
    copy runs without an event loop): a bad layer fails the load, the good ones taken
    beside it are dropped, and those recorded below it are removed again (not one the
    store had before)."""
    good = [_tar([_file(f"f{n}-{i}", b"x" * 4096) for i in range(300)]) for n in range(3)]
    bad = _tar([_file("big", b"z" * 100_000)])[:20_000]
    if bottom_present:
        (tmp_path / "one.tar").write_bytes(_archive({"a/layer.tar": good[0]}, "one:1"))
        cli("load", "-i", str(tmp_path / "one.tar"))
    archive = tmp_path / "four.tar"
    layers = {"a/layer.tar": good[0], "b/layer.tar": good[1], "c/layer.tar": bad}
    archive.write_bytes(_archive({**layers, "d/layer.tar": good[2]}, "four:1"))
    cli("check")
    before = snapshot(cli.root)
    result = cli("load", "-i", str(archive), check=False)
    assert result.returncode == 1, result
    assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith("Error: "), result
    assert snapshot(cli.root) == before
    assert len(list((cli.root / "layers").iterdir())) == int(bottom_present)
    assert cli("check").stdout == "store is consistent\n"
